//! [`ConnectionStore`] over DynamoDB's `state` table (`docs/architecture.md`, "Gumroad"), two
//! items per connection, written and removed together in one transaction:
//!
//! - the connection: pk `CONNECTION#gumroad#<company id>`, sk [`CONNECTION_SK`]: `seller_id`,
//!   `connected_by`, `connected_at`, the sealed `access_token` and `refresh_token` (never a token
//!   in clear), `ping_token_hash`, `subscriptions` (Gumroad's ids), `status`, `initial_sync`;
//! - its ping route: pk `PING#gumroad#<SHA-256 of the ping token, hex>`, sk [`ROUTE_SK`]:
//!   `company_id`, `seller_id`, `token_hash`. A ping reads it with one GetItem;
//! - its entry in the list of connections: pk [`LIST_PK`], sk the company id. The schedule's
//!   sync reads the list with one Query.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::dependency_error;
use super::item::{self, Item, key, n, number, s, text};
use crate::domain::connections::{Connection, ConnectionStatus, PingRoute};
use crate::domain::ports::{ConnectionStore, DependencyError};

/// The sort key of a connection.
pub const CONNECTION_SK: &str = "CONNECTION";
/// The sort key of a ping route.
pub const ROUTE_SK: &str = "ROUTE";
/// The partition of the list of connected companies.
pub const LIST_PK: &str = "CONNECTIONS#gumroad";
const TABLE: &str = "state";

/// The partition key of a company's Gumroad connection.
pub fn connection_pk(company_id: &str) -> String {
    format!("CONNECTION#gumroad#{company_id}")
}

/// The partition key of a ping token's route.
pub fn route_pk(token_hash: &str) -> String {
    format!("PING#gumroad#{token_hash}")
}

/// Gumroad connections in the state table.
#[derive(Debug, Clone)]
pub struct DynamoConnections {
    pub client: Client,
    pub table: String,
}

impl DynamoConnections {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, DependencyError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| DependencyError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete_key(&self, item: Item) -> Result<TransactWriteItem, DependencyError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item))
            .build()
            .map_err(|e| DependencyError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), DependencyError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| dependency_error(&error))
    }
}

fn connection_item(connection: &Connection) -> Item {
    let mut item = key(connection_pk(&connection.company_id), CONNECTION_SK);
    for (name, value) in [
        ("company_id", &connection.company_id),
        ("seller_id", &connection.seller_id),
        ("connected_by", &connection.connected_by),
        ("access_token", &connection.access_token),
        ("ping_token_hash", &connection.ping_token_hash),
        ("initial_sync", &connection.initial_sync),
    ] {
        item.insert(name.to_owned(), s(value));
    }
    if let Some(refresh) = &connection.refresh_token {
        item.insert("refresh_token".to_owned(), s(refresh));
    }
    item.insert("connected_at".to_owned(), n(connection.connected_at));
    item.insert("status".to_owned(), s(connection.status.as_str()));
    item.insert(
        "subscriptions".to_owned(),
        AttributeValue::L(connection.subscriptions.iter().map(s).collect()),
    );
    item
}

fn read_connection(item: &Item) -> Result<Connection, DependencyError> {
    let field = |name: &str| {
        text(item, name)
            .map(str::to_owned)
            .ok_or_else(|| item::unreadable(TABLE, format!("a connection without {name}")))
    };
    Ok(Connection {
        company_id: field("company_id")?,
        seller_id: field("seller_id")?,
        connected_by: field("connected_by")?,
        connected_at: number(item, "connected_at").unwrap_or_default(),
        access_token: field("access_token")?,
        refresh_token: text(item, "refresh_token").map(str::to_owned),
        ping_token_hash: field("ping_token_hash")?,
        subscriptions: match item.get("subscriptions") {
            Some(AttributeValue::L(ids)) => ids
                .iter()
                .filter_map(|id| id.as_s().ok().cloned())
                .collect(),
            _ => Vec::new(),
        },
        status: text(item, "status")
            .and_then(ConnectionStatus::parse)
            .ok_or_else(|| item::unreadable(TABLE, "a connection without a known status"))?,
        initial_sync: field("initial_sync")?,
    })
}

impl ConnectionStore for DynamoConnections {
    async fn save(&self, connection: &Connection) -> Result<(), DependencyError> {
        let mut route = key(route_pk(&connection.ping_token_hash), ROUTE_SK);
        route.insert("company_id".to_owned(), s(&connection.company_id));
        route.insert("seller_id".to_owned(), s(&connection.seller_id));
        route.insert("token_hash".to_owned(), s(&connection.ping_token_hash));
        self.transact(vec![
            self.put(connection_item(connection))?,
            self.put(route)?,
            self.put(key(LIST_PK, &connection.company_id))?,
        ])
        .await
    }

    async fn get(&self, company_id: &str) -> Result<Option<Connection>, DependencyError> {
        item::get(
            &self.client,
            &self.table,
            key(connection_pk(company_id), CONNECTION_SK),
        )
        .await?
        .map(|item| read_connection(&item))
        .transpose()
    }

    async fn ping_route(&self, token_hash: &str) -> Result<Option<PingRoute>, DependencyError> {
        let Some(item) = item::get(
            &self.client,
            &self.table,
            key(route_pk(token_hash), ROUTE_SK),
        )
        .await?
        else {
            return Ok(None);
        };
        let field = |name: &str| {
            text(&item, name)
                .map(str::to_owned)
                .ok_or_else(|| item::unreadable(TABLE, format!("a ping route without {name}")))
        };
        Ok(Some(PingRoute {
            company_id: field("company_id")?,
            seller_id: field("seller_id")?,
            token_hash: field("token_hash")?,
        }))
    }

    async fn set_status(
        &self,
        company_id: &str,
        status: ConnectionStatus,
        access_token: Option<&str>,
    ) -> Result<(), DependencyError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_pk(company_id), CONNECTION_SK)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()));
        update = match access_token {
            Some(sealed) => update
                .update_expression("SET #status = :status, access_token = :access")
                .expression_attribute_values(":access", s(sealed)),
            None => update.update_expression("SET #status = :status"),
        };
        // A connection removed meanwhile has nothing to mark.
        super::applied(update.send().await).map(|_| ())
    }

    async fn set_initial_sync(
        &self,
        company_id: &str,
        initial_sync: &str,
    ) -> Result<(), DependencyError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_pk(company_id), CONNECTION_SK)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET initial_sync = :initial_sync")
            .expression_attribute_values(":initial_sync", s(initial_sync));
        super::applied(update.send().await).map(|_| ())
    }

    async fn connected_companies(&self) -> Result<Vec<String>, DependencyError> {
        let items = super::dynamo::query_partition(&self.client, &self.table, LIST_PK).await?;
        Ok(items
            .iter()
            .filter_map(|item| text(item, "sk").map(str::to_owned))
            .collect())
    }

    async fn delete(&self, connection: &Connection) -> Result<(), DependencyError> {
        self.transact(vec![
            self.delete_key(key(connection_pk(&connection.company_id), CONNECTION_SK))?,
            self.delete_key(key(route_pk(&connection.ping_token_hash), ROUTE_SK))?,
            self.delete_key(key(LIST_PK, &connection.company_id))?,
        ])
        .await
    }
}
