//! The maintenance adapters: the conditional sweep of expired items in bounded scans with a
//! resumable cursor, and the scan cursors in the `state` table. The stuck-claim and stalled-run
//! reads (Queries of an index) are in [`super::claims`] and [`super::sync`], beside the writes
//! they guard; secret ages in [`super::secrets`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::item::{self, Item, key, n, s};
use super::{applied, dependency_error};
use crate::domain::ports::{
    DependencyError, ExpiredItems, ExpiringTable, ScanCursors, SweepCounts,
};

/// Conditional deletes of one sweep page in flight at once.
const DELETE_CONCURRENCY: usize = 8;

/// One page of a Scan, its items as read.
struct RawPage {
    items: Vec<Item>,
    scanned: u64,
    next: Option<String>,
}

/// A table key (every key attribute of these tables is a string) as an opaque cursor.
fn encode_cursor(key: &Item) -> Result<String, DependencyError> {
    let strings: BTreeMap<&str, &str> = key
        .iter()
        .map(|(name, value)| value.as_s().map(|text| (name.as_str(), text.as_str())))
        .collect::<Result<_, _>>()
        .map_err(|_| DependencyError::Other("a table key is not made of strings".to_owned()))?;
    serde_json::to_string(&strings)
        .map_err(|e| DependencyError::Other(format!("cannot encode a scan cursor: {e}")))
}

/// The key an [`encode_cursor`] cursor names; `None` for a cursor that does not read back (the
/// scan then starts over, which is safe: every write it makes is conditional).
fn decode_cursor(cursor: &str) -> Option<Item> {
    let strings: HashMap<String, String> = serde_json::from_str(cursor).ok()?;
    Some(
        strings
            .into_iter()
            .map(|(name, value)| (name, s(value)))
            .collect(),
    )
}

/// One Scan page of `table` of at most `limit` items read, from `cursor`; `more` adds the
/// filter and projection.
async fn scan_page(
    client: &Client,
    table: &str,
    cursor: Option<&str>,
    limit: u32,
    more: impl FnOnce(ScanFluentBuilder) -> ScanFluentBuilder,
) -> Result<RawPage, DependencyError> {
    let request = client
        .scan()
        .table_name(table)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(cursor.and_then(decode_cursor));
    let output = more(request)
        .send()
        .await
        .map_err(|e| dependency_error(&e))?;
    let next = output
        .last_evaluated_key()
        .filter(|key| !key.is_empty())
        .map(encode_cursor)
        .transpose()?;
    Ok(RawPage {
        scanned: u64::try_from(output.scanned_count()).unwrap_or(0),
        items: output.items.unwrap_or_default(),
        next,
    })
}

/// The tables maintenance sweeps, and the cursors it keeps in `state`.
#[derive(Debug, Clone)]
pub struct DynamoMaintenance {
    pub client: Client,
    pub webhook_events_table: String,
    pub sessions_table: String,
    pub state_table: String,
}

impl DynamoMaintenance {
    pub fn of(app: &crate::App) -> Self {
        let tables = &app.config.tables;
        Self {
            client: app.dynamodb.clone(),
            webhook_events_table: tables.webhook_events.clone(),
            sessions_table: tables.sessions.clone(),
            state_table: tables.state.clone(),
        }
    }

    fn table(&self, table: ExpiringTable) -> &str {
        match table {
            ExpiringTable::WebhookEvents => &self.webhook_events_table,
            ExpiringTable::Sessions => &self.sessions_table,
            ExpiringTable::State => &self.state_table,
        }
    }

    /// Deletes the item at `key` if its `expires_at` is still before `now`; whether it did.
    async fn delete_if_expired(
        &self,
        table: &str,
        key: Item,
        now: i64,
    ) -> Result<bool, DependencyError> {
        let result = self
            .client
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression("expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        Ok(applied(result)?.is_some())
    }
}

/// The cursors' item in `state`.
const CURSOR_PK: &str = "MAINTENANCE";

fn cursor_key(name: &str) -> Item {
    key(CURSOR_PK, format!("CURSOR#{name}"))
}

impl ExpiredItems for DynamoMaintenance {
    async fn sweep_expired(
        &self,
        table: ExpiringTable,
        now: i64,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(SweepCounts, Option<String>), DependencyError> {
        let name = self.table(table);
        // `sk` is the state table's sort key; the other tables have none, and projecting a
        // missing attribute is no error.
        let page = scan_page(&self.client, name, cursor, limit, |request| {
            request
                .filter_expression("expires_at < :now")
                .projection_expression("pk, sk")
                .expression_attribute_values(":now", n(now))
        })
        .await?;
        let expired = page.items.len() as u64;
        let deleted = stream::iter(page.items)
            .map(|key| self.delete_if_expired(name, key, now))
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_fold(0u64, |deleted, done| async move {
                Ok(deleted + u64::from(done))
            })
            .await?;
        Ok((
            SweepCounts {
                scanned: page.scanned,
                expired,
                deleted,
            },
            page.next,
        ))
    }
}

impl ScanCursors for DynamoMaintenance {
    async fn load_cursor(&self, name: &str) -> Result<Option<String>, DependencyError> {
        let stored = item::get(&self.client, &self.state_table, cursor_key(name)).await?;
        Ok(stored.and_then(|item| item::text(&item, "cursor").map(str::to_owned)))
    }

    async fn save_cursor(&self, name: &str, cursor: Option<&str>) -> Result<(), DependencyError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.state_table)
            .set_key(Some(cursor_key(name)));
        let request = match cursor {
            Some(cursor) => request
                .update_expression("SET #cursor = :cursor")
                .expression_attribute_values(":cursor", s(cursor)),
            None => request.update_expression("REMOVE #cursor"),
        };
        request
            .expression_attribute_names("#cursor", "cursor")
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_key_it_encodes() {
        let key = key("RATE#203.0.113.9#1700000000", "RATE");

        let cursor = encode_cursor(&key).unwrap();

        assert_eq!(decode_cursor(&cursor), Some(key));
    }

    #[test]
    fn a_cursor_that_does_not_read_back_starts_the_scan_over() {
        assert_eq!(decode_cursor("not json"), None);
    }

    #[test]
    fn a_key_with_a_number_is_no_cursor() {
        let key = HashMap::from([("pk".to_owned(), AttributeValue::N("1".to_owned()))]);

        assert!(encode_cursor(&key).is_err());
    }
}
