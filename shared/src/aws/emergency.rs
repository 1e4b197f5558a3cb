//! [`EmergencyStore`] over DynamoDB's `state` table: one item per provider, pk
//! `EMERGENCY#<provider>` ([`emergency_pk`]), sk [`EMERGENCY_SK`], holding when it was switched
//! on (`since`, epoch milliseconds), who switched it (`by`) and why (`reason`), and `expires_at`
//! (epoch seconds, the table's TTL attribute). TTL deletes late, so readers honour `expires_at`
//! themselves ([`crate::domain::emergency::Emergency::is_on`]).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::dependency_error;
use super::item::{self, Item, key};
use crate::domain::emergency::Emergency;
use crate::domain::ports::{DependencyError, EmergencyStore};

/// The sort key of every emergency item.
pub const EMERGENCY_SK: &str = "EMERGENCY";
const PK_PREFIX: &str = "EMERGENCY#";

/// The partition key of `provider`'s switch.
pub fn emergency_pk(provider: &str) -> String {
    format!("{PK_PREFIX}{provider}")
}

fn emergency_key(provider: &str) -> Item {
    key(emergency_pk(provider), EMERGENCY_SK)
}

/// The emergency switches in the state table.
#[derive(Debug, Clone)]
pub struct DynamoEmergencies {
    pub client: Client,
    pub table: String,
}

impl DynamoEmergencies {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

/// An emergency item as stored.
#[derive(Debug, Serialize, Deserialize)]
struct EmergencyItem {
    pk: String,
    sk: String,
    provider: String,
    since: i64,
    expires_at: i64,
    by: String,
    reason: String,
}

impl EmergencyItem {
    fn new(emergency: &Emergency) -> Self {
        Self {
            pk: emergency_pk(&emergency.provider),
            sk: EMERGENCY_SK.to_owned(),
            provider: emergency.provider.clone(),
            since: emergency.since.timestamp_millis(),
            expires_at: emergency.expires_at.timestamp(),
            by: emergency.by.clone(),
            reason: emergency.reason.clone(),
        }
    }

    fn read(self) -> Result<Emergency, DependencyError> {
        let time = |time: Option<DateTime<Utc>>, what| {
            time.ok_or_else(|| item::unreadable("emergency", what))
        };
        Ok(Emergency {
            since: time(Utc.timestamp_millis_opt(self.since).single(), "since")?,
            expires_at: time(Utc.timestamp_opt(self.expires_at, 0).single(), "expires_at")?,
            provider: self.provider,
            by: self.by,
            reason: self.reason,
        })
    }
}

fn from_item(item: Item) -> Result<Emergency, DependencyError> {
    item::from_item::<EmergencyItem>(item, "emergency")?.read()
}

impl EmergencyStore for DynamoEmergencies {
    async fn load(&self, provider: &str) -> Result<Option<Emergency>, DependencyError> {
        item::get(&self.client, &self.table, emergency_key(provider))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn save(&self, emergency: &Emergency) -> Result<(), DependencyError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::to_item(
                &EmergencyItem::new(emergency),
                "emergency",
            )?))
            .send()
            .await
            .map(drop)
            .map_err(|e| dependency_error(&e))
    }

    async fn remove(&self, provider: &str) -> Result<Option<Emergency>, DependencyError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(emergency_key(provider)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output
            .attributes
            .filter(|old| !old.is_empty())
            .map(from_item)
            .transpose()
    }

    async fn list(&self) -> Result<Vec<Emergency>, DependencyError> {
        let mut stored =
            super::dynamo::per_provider(&self.client, &self.table, emergency_key, from_item)
                .await?;
        stored.sort_by(|a, b| a.provider.cmp(&b.provider));
        Ok(stored)
    }
}
