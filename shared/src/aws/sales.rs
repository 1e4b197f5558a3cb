//! [`SalesStore`] over DynamoDB's `state` table (`docs/architecture.md`, "Sales events"): one
//! item per sale, pk `SALES#<company id>`, sk [`SaleEvent::key`] (`<platform>#<sale id>`), with
//! the event's fields (a KDP row's [`crate::domain::sales::KdpDetail`] as the map `kdp`). A page
//! of sales is one BatchGetItem per 100 of its keys, then one BatchWriteItem per 25 of those not
//! stored yet: a sync or an upload that reads the same sales again writes nothing.
//!
//! The view reads by date: every sale item is also in the `sales_date` index (all attributes),
//! `sd_pk = SALES#<company id>`, `sd_sk = <YYYY-MM-DD>#<platform>#<sale id>`, so a company's sales
//! of a range of days is one Query per 1 MB of matching items (about 2,000 sales), a platform
//! filtered on the server (the read capacity counts the filtered ones). A sale stored before the
//! index existed (without `sd_pk`) counts as not stored and is written again, once, with it.

use std::collections::HashSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::dependency_error;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;

use super::item::{Item, key, millis, n, number, s, text, time, unreadable};
use crate::domain::ports::{DependencyError, SalesStore};
use crate::domain::sales::{SaleEvent, SalesRange};

/// The index of sales by company and date.
pub const SALES_DATE_INDEX: &str = "sales_date";

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

/// `sd_sk` of a sale: its day, platform and id.
fn date_sort_key(day: NaiveDate, sale: &SaleEvent) -> String {
    format!(
        "{}#{}#{}",
        day.format("%Y-%m-%d"),
        sale.platform,
        sale.sale_id
    )
}

fn sale_item(sale: &SaleEvent) -> Result<Item, DependencyError> {
    let mut item = sale_key(sale);
    item.insert("sd_pk".to_owned(), s(sales_pk(&sale.company_id)));
    item.insert("sd_sk".to_owned(), s(date_sort_key(sale.day(), sale)));
    if let Some(kdp) = &sale.kdp {
        let value = serde_dynamo::to_attribute_value(kdp)
            .map_err(|e| DependencyError::Other(format!("cannot encode a KDP sale: {e}")))?;
        item.insert("kdp".to_owned(), value);
    }
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
    item.insert("refunded".to_owned(), AttributeValue::Bool(sale.refunded));
    Ok(item)
}

/// A stored sale item as the event it was written from.
fn read_sale(item: &Item, table: &str) -> Result<SaleEvent, DependencyError> {
    let field = |name: &str| {
        text(item, name)
            .map(str::to_owned)
            .ok_or_else(|| unreadable(table, format!("a sale without {name}")))
    };
    let kdp = item
        .get("kdp")
        .map(|value| serde_dynamo::from_attribute_value(value.clone()))
        .transpose()
        .map_err(|e| unreadable(table, e))?;
    Ok(SaleEvent {
        platform: field("platform")?,
        company_id: field("company_id")?,
        sale_id: field("sale_id")?,
        date: time(item, "date").ok_or_else(|| unreadable(table, "a sale without date"))?,
        product_id: text(item, "product_id").map(str::to_owned),
        product_name: text(item, "product_name").map(str::to_owned),
        units: number(item, "units").unwrap_or(0),
        gross_minor: number(item, "gross_minor").unwrap_or(0),
        net_minor: number(item, "net_minor"),
        currency: field("currency")?,
        refunded: matches!(item.get("refunded"), Some(AttributeValue::Bool(true))),
        kdp,
    })
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
                .filter(|item| item.contains_key("sd_pk"))
                .filter_map(|item| {
                    Some((text(item, "pk")?.to_owned(), text(item, "sk")?.to_owned()))
                })
                .collect();
        let new: Vec<Item> = sales
            .iter()
            .filter(|sale| !stored.contains(&(sales_pk(&sale.company_id), sale.key())))
            .map(|sale| sale_item(sale))
            .collect::<Result<_, _>>()?;
        let written = new.len() as u64;
        self.put_all(new).await?;
        Ok(written)
    }

    async fn sales_between(
        &self,
        range: &SalesRange,
        max: usize,
    ) -> Result<(Vec<SaleEvent>, bool), DependencyError> {
        let mut sales = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(SALES_DATE_INDEX)
                .key_condition_expression("sd_pk = :pk AND sd_sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(sales_pk(&range.company_id)))
                .expression_attribute_values(":from", s(range.from.format("%Y-%m-%d").to_string()))
                // `~` sorts after `#`: every sale of the last day.
                .expression_attribute_values(":to", s(format!("{}~", range.to.format("%Y-%m-%d"))))
                .set_exclusive_start_key(start);
            if let Some(platform) = &range.platform {
                query = query
                    .filter_expression("platform = :platform")
                    .expression_attribute_values(":platform", s(platform));
            }
            let output = query.send().await.map_err(|e| dependency_error(&e))?;
            for item in output.items() {
                if sales.len() == max {
                    return Ok((sales, true));
                }
                sales.push(read_sale(item, &self.table)?);
            }
            start = output.last_evaluated_key.filter(|last| !last.is_empty());
            if start.is_none() {
                return Ok((sales, false));
            }
        }
    }
}
