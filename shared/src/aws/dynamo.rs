//! DynamoDB adapters.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::dependency_error;
use crate::domain::ports::{DependencyError, TableProbe, TableStatus};

impl TableProbe for Client {
    async fn describe_table(&self, table: &str) -> Result<TableStatus, DependencyError> {
        let output = self
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        let status = output
            .table()
            .and_then(|t| t.table_status())
            .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned());
        Ok(TableStatus { status })
    }
}

/// The item of each provider in `table` (`key` names it by the provider's name), each read by
/// `read`: items kept per provider (breakers, emergency switches) are found with one BatchGetItem
/// of their keys, no Scan of a table that mostly holds memberships.
pub(crate) async fn per_provider<T>(
    client: &Client,
    table: &str,
    key: fn(&str) -> HashMap<String, AttributeValue>,
    read: fn(HashMap<String, AttributeValue>) -> Result<T, DependencyError>,
) -> Result<Vec<T>, DependencyError> {
    let keys = crate::edge::config::Provider::ALL
        .iter()
        .map(|p| key(p.as_str()))
        .collect();
    batch_get(client, table, keys)
        .await?
        .into_iter()
        .map(read)
        .collect()
}

/// Every item of the partition `pk` of `table`: one Query a page, eventually consistent.
pub(crate) async fn query_partition(
    client: &Client,
    table: &str,
    pk: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, DependencyError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|last| !last.is_empty());
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Keys per BatchGetItem request (DynamoDB's limit).
const BATCH_GET_LIMIT: usize = 100;
/// Requests per chunk before unprocessed keys are an error.
const BATCH_GET_ATTEMPTS: u32 = 4;

/// The items of `table` at `keys` (absent ones left out, in any order), with consistent reads:
/// one BatchGetItem per 100 keys, asking again, with a short backoff, for keys DynamoDB leaves
/// unprocessed under load.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<HashMap<String, AttributeValue>>, DependencyError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_GET_LIMIT) {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| DependencyError::Other(e.to_string()))?,
        );
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let Some(request) = pending.take() else {
                break;
            };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            let mut output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| dependency_error(&e))?;
            if let Some(items) = output.responses.as_mut().and_then(|r| r.remove(table)) {
                found.extend(items);
            }
            pending = output
                .unprocessed_keys
                .as_mut()
                .and_then(|u| u.remove(table))
                .filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(DependencyError::Other(
                "BatchGetItem kept leaving keys unprocessed".to_owned(),
            ));
        }
    }
    Ok(found)
}
