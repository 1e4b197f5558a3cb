//! [`SalesStore`] over DynamoDB's `state` table (`docs/architecture.md`, "Sales events"): one
//! item per sale, pk `SALES#<company id>`, sk [`SaleEvent::key`] (`<platform>#<sale id>`), with
//! the event's fields. A page of sales is one BatchGetItem of its keys, then one BatchWriteItem
//! per 25 of those not stored yet: a sync that reads the same sales again writes nothing.

use std::collections::HashSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::dependency_error;
use super::item::{Item, key, millis, n, s, text};
use crate::domain::ports::{DependencyError, SalesStore};
use crate::domain::sales::SaleEvent;

/// Puts per BatchWriteItem request (DynamoDB's limit).
const BATCH_WRITE_LIMIT: usize = 25;
/// Requests per chunk before unprocessed puts are an error.
const BATCH_WRITE_ATTEMPTS: u32 = 4;

/// The partition of a company's sales.
pub fn sales_pk(company_id: &str) -> String {
    format!("SALES#{company_id}")
}

/// Sales events in the state table.
#[derive(Debug, Clone)]
pub struct DynamoSales {
    pub client: Client,
    pub table: String,
}

impl DynamoSales {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }

    /// Puts `items`, 25 a request, asking again for those DynamoDB leaves unprocessed.
    async fn put_all(&self, items: Vec<Item>) -> Result<(), DependencyError> {
        for chunk in items.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| DependencyError::Other(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for attempt in 0..BATCH_WRITE_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let mut output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| dependency_error(&e))?;
                pending = output
                    .unprocessed_items
                    .as_mut()
                    .and_then(|u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(DependencyError::Other(
                    "BatchWriteItem kept leaving sales unprocessed".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

fn sale_key(sale: &SaleEvent) -> Item {
    key(sales_pk(&sale.company_id), sale.key())
}

fn sale_item(sale: &SaleEvent) -> Item {
    let mut item = sale_key(sale);
    for (name, value) in [
        ("platform", Some(&sale.platform)),
        ("sale_id", Some(&sale.sale_id)),
        ("company_id", Some(&sale.company_id)),
        ("currency", Some(&sale.currency)),
        ("product_id", sale.product_id.as_ref()),
        ("product_name", sale.product_name.as_ref()),
    ] {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    item.insert("date".to_owned(), millis(sale.date));
    item.insert("units".to_owned(), n(sale.units));
    item.insert("gross_minor".to_owned(), n(sale.gross_minor));
    if let Some(net) = sale.net_minor {
        item.insert("net_minor".to_owned(), n(net));
    }
    item.insert(
        "refunded".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::Bool(sale.refunded),
    );
    item
}

impl SalesStore for DynamoSales {
    async fn record(&self, sales: &[SaleEvent]) -> Result<u64, DependencyError> {
        // A page may list a sale twice (narrowed ranges share a day): one key once.
        let mut seen = HashSet::new();
        let sales: Vec<&SaleEvent> = sales
            .iter()
            .filter(|sale| seen.insert((sale.company_id.clone(), sale.key())))
            .collect();
        let keys = sales.iter().map(|sale| sale_key(sale)).collect();
        let stored: HashSet<(String, String)> =
            super::dynamo::batch_get(&self.client, &self.table, keys)
                .await?
                .iter()
                .filter_map(|item| {
                    Some((text(item, "pk")?.to_owned(), text(item, "sk")?.to_owned()))
                })
                .collect();
        let new: Vec<Item> = sales
            .iter()
            .filter(|sale| !stored.contains(&(sales_pk(&sale.company_id), sale.key())))
            .map(|sale| sale_item(sale))
            .collect();
        let written = new.len() as u64;
        self.put_all(new).await?;
        Ok(written)
    }
}
