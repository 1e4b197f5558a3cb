//! [`ClaimStore`] over DynamoDB's `webhook-events` table.
//!
//! A claim keeps its queue message deflated (`message`, binary; text as written before). While a
//! claim waits for its processing it is in the sparse index [`PENDING_INDEX`]: ingest's write
//! sets `pending` to one of [`PENDING_SHARDS`] keys (a hash of the claim's key, so a burst of
//! webhooks spreads over as many index partitions), the index's sort key is `lock_until`, and the
//! processor's PROCESSED or FAILED mark removes `pending` in the update it makes anyway. The
//! stuck-ingest watchdog Queries each shard for locks that ended long ago instead of scanning the
//! table; a claim it strands moves to the key [`STRANDED`], out of those Queries.

use crate::domain::ports::{ClaimStore, ProcessingLog, ReadPage, StuckClaims};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dependency_error;
use super::item::{self, Item, n, s};
use crate::domain::ports::DependencyError;
use crate::domain::webhooks::claims::{
    ClaimOutcome, ClaimRecord, ClaimStatus, MAX_STORED_MESSAGE_BYTES, ProcessingMark,
};

/// The webhook-events table.
#[derive(Debug, Clone)]
pub struct DynamoClaims {
    pub client: Client,
    pub table: String,
}

impl DynamoClaims {
    /// The stack's webhook-events table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.webhook_events.clone(),
        }
    }
}

const TABLE: &str = "webhook-events";

const CLAIM_CONDITION: &str =
    "attribute_not_exists(pk) OR expires_at < :now OR (#status = :received AND lock_until < :now)";

/// The sparse index of the claims waiting for their processing (`pending`, `lock_until`; keys
/// only).
pub const PENDING_INDEX: &str = "pending";
/// The partition keys of [`PENDING_INDEX`] a waiting claim is spread over (`P#0` … `P#7`).
pub const PENDING_SHARDS: u8 = 8;
/// The [`PENDING_INDEX`] key of a stranded claim: out of the watchdog's Queries, and listed by one
/// Query of its own.
pub const STRANDED: &str = "STRANDED";

/// The [`PENDING_INDEX`] shard of the claim `pk`.
fn pending_shard(pk: &str) -> u8 {
    Sha256::digest(pk.as_bytes())[0] % PENDING_SHARDS
}

fn pending_key(shard: u8) -> String {
    format!("P#{shard}")
}

/// The claim's item: the record, its message deflated, and its place in [`PENDING_INDEX`].
fn claim_item(record: &ClaimRecord) -> Result<Item, DependencyError> {
    let mut item = item::to_item(record, "claim")?;
    if let Some(message) = &record.message {
        item.insert("message".to_owned(), item::deflated(message.as_bytes()));
    }
    if record.status == ClaimStatus::Received {
        item.insert(
            "pending".to_owned(),
            s(pending_key(pending_shard(&record.pk))),
        );
    }
    Ok(item)
}

/// A `webhook-events` item as a record, its message inflated.
pub fn claim_record(mut item: Item) -> Result<ClaimRecord, DependencyError> {
    if let Some(stored) = item.get("message") {
        let bytes = item::inflated(TABLE, "message", stored, MAX_STORED_MESSAGE_BYTES)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| item::unreadable(TABLE, "message is not UTF-8"))?;
        item.insert("message".to_owned(), s(text));
    }
    item::from_item(item, TABLE)
}

fn record_from(item: Option<&Item>) -> Result<Option<Box<ClaimRecord>>, DependencyError> {
    item.filter(|item| !item.is_empty())
        .map(|item| claim_record(item.clone()).map(Box::new))
        .transpose()
}

impl ClaimStore for DynamoClaims {
    async fn claim(
        &self,
        record: &ClaimRecord,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, DependencyError> {
        let item = claim_item(record)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":received", s(ClaimStatus::Received.as_str()))
            // The replaced record on success (a takeover), the blocking one on failure: either
            // way no second request.
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(ClaimOutcome::Claimed {
                taken_over: record_from(output.attributes())?,
            }),
            Err(error) => match error.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => {
                    let existing = match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            record_from(c.item())?
                        }
                        _ => None,
                    };
                    existing.map(ClaimOutcome::Exists).ok_or_else(|| {
                        DependencyError::Other(
                            "condition failed without the existing item".to_owned(),
                        )
                    })
                }
                _ => Err(dependency_error(&error)),
            },
        }
    }

    async fn release(&self, pk: &str, claim_id: &str) -> Result<(), DependencyError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .condition_expression("claim_id = :claim_id")
            .expression_attribute_values(":claim_id", s(claim_id))
            .send()
            .await;
        // Not applied: someone took the claim over meanwhile, theirs to keep.
        super::applied(result)?;
        Ok(())
    }
}

impl ProcessingLog for DynamoClaims {
    async fn mark(&self, pk: &str, mark: &ProcessingMark) -> Result<bool, DependencyError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .expression_attribute_names("#status", "status");
        let request = match mark {
            ProcessingMark::Processed {
                at,
                latency_ms,
                attempt,
            } => request
                .update_expression(
                    "SET #status = :status, processed_at = :at, latency_ms = :latency, \
                     attempts = :attempt REMOVE last_error, message, pending",
                )
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":status", s(ClaimStatus::Processed.as_str()))
                .expression_attribute_values(
                    ":at",
                    s(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                )
                .expression_attribute_values(":latency", n(latency_ms))
                .expression_attribute_values(":attempt", n(attempt)),
            ProcessingMark::Failed { at, attempt, error } => request
                .update_expression(
                    "SET #status = :status, failed_at = :at, attempts = :attempt, \
                     last_error = :error REMOVE pending",
                )
                .condition_expression("attribute_exists(pk) AND #status <> :processed")
                .expression_attribute_values(":status", s(ClaimStatus::Failed.as_str()))
                .expression_attribute_values(":processed", s(ClaimStatus::Processed.as_str()))
                .expression_attribute_values(
                    ":at",
                    s(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                )
                .expression_attribute_values(":attempt", n(attempt))
                .expression_attribute_values(":error", s(error)),
        };
        Ok(super::applied(request.send().await)?.is_some())
    }
}

/// The condition of maintenance's writes to a stuck claim: still the RECEIVED claim it read, with
/// the same lock (a re-enqueue moves the lock, so a second maintenance run's write fails).
const STUCK_CONDITION: &str = "#status = :received AND claim_id = :claim_id \
     AND lock_until = :seen_lock AND attribute_not_exists(stranded_at)";

impl DynamoClaims {
    /// A conditional update of a stuck claim as maintenance read it; whether it applied.
    async fn update_stuck(
        &self,
        record: &ClaimRecord,
        update: &str,
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
    ) -> Result<bool, DependencyError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&record.pk))
            .update_expression(update)
            .condition_expression(STUCK_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":received", s(ClaimStatus::Received.as_str()))
            .expression_attribute_values(":claim_id", s(&record.claim_id))
            .expression_attribute_values(":seen_lock", n(record.lock_until));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        Ok(super::applied(request.send().await)?.is_some())
    }
}

/// Where the watchdog's read of [`PENDING_INDEX`] goes on: a shard, and the last key read in it.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PendingCursor {
    shard: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<(String, i64)>,
}

impl PendingCursor {
    /// The cursor `text` encodes; the first shard for one that does not read back (the read then
    /// starts over, which is safe: every write the watchdog makes is conditional).
    fn decode(text: Option<&str>) -> Self {
        text.and_then(|text| serde_json::from_str::<Self>(text).ok())
            .filter(|cursor| cursor.shard < PENDING_SHARDS)
            .unwrap_or_default()
    }

    fn encode(&self) -> Result<String, DependencyError> {
        serde_json::to_string(self)
            .map_err(|e| DependencyError::Other(format!("cannot encode a claims cursor: {e}")))
    }

    /// The index key to start after.
    fn start_key(&self) -> Option<Item> {
        let (pk, lock_until) = self.after.as_ref()?;
        Some(Item::from([
            ("pk".to_owned(), s(pk)),
            ("pending".to_owned(), s(pending_key(self.shard))),
            ("lock_until".to_owned(), n(lock_until)),
        ]))
    }

    /// Where the read goes on after a page that ended at `last` (DynamoDB's last evaluated key):
    /// further in this shard, in the next one, or nowhere.
    fn next(self, last: Option<&Item>) -> Option<Self> {
        let after = last.and_then(|key| {
            Some((
                item::text(key, "pk")?.to_owned(),
                item::number(key, "lock_until")?,
            ))
        });
        match after {
            Some(after) => Some(Self {
                shard: self.shard,
                after: Some(after),
            }),
            None if self.shard + 1 < PENDING_SHARDS => Some(Self {
                shard: self.shard + 1,
                after: None,
            }),
            None => None,
        }
    }
}

impl StuckClaims for DynamoClaims {
    async fn stuck_claims(
        &self,
        locked_before: i64,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ReadPage<ClaimRecord>, DependencyError> {
        let cursor = PendingCursor::decode(cursor);
        // Keys only: the index costs the least to write on every webhook, and the few claims it
        // finds are read whole, consistently (the index lags its table).
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("pending = :pending AND lock_until < :locked_before")
            .expression_attribute_values(":pending", s(pending_key(cursor.shard)))
            .expression_attribute_values(":locked_before", n(locked_before))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(cursor.start_key())
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        let keys: Vec<Item> = output
            .items()
            .iter()
            .filter_map(|key| {
                key.get("pk")
                    .map(|pk| Item::from([("pk".to_owned(), pk.clone())]))
            })
            .collect();
        let read = keys.len() as u64;
        let items = super::dynamo::batch_get(&self.client, &self.table, keys)
            .await?
            .into_iter()
            .map(claim_record)
            .collect::<Result<_, _>>()?;
        let next = cursor
            .next(output.last_evaluated_key().filter(|key| !key.is_empty()))
            .map(|next| next.encode())
            .transpose()?;
        Ok(ReadPage { items, read, next })
    }

    async fn take_for_requeue(
        &self,
        record: &ClaimRecord,
        lock_until: i64,
        now: i64,
    ) -> Result<bool, DependencyError> {
        self.update_stuck(
            record,
            "SET lock_until = :lock, requeued_at = :now, \
             requeues = if_not_exists(requeues, :zero) + :one",
            vec![
                (":lock", n(lock_until)),
                (":now", n(now)),
                (":zero", n(0)),
                (":one", n(1)),
            ],
        )
        .await
    }

    async fn strand(
        &self,
        record: &ClaimRecord,
        reason: &str,
        now: i64,
    ) -> Result<bool, DependencyError> {
        self.update_stuck(
            record,
            "SET stranded_at = :now, stranded_reason = :reason, pending = :stranded",
            vec![
                (":now", n(now)),
                (":reason", s(reason)),
                (":stranded", s(STRANDED)),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claims_cursor_goes_through_every_shard_and_on_within_one() {
        let first = PendingCursor::decode(None);
        assert_eq!(first, PendingCursor::default());
        let last = Item::from([
            ("pk".to_owned(), s("whop#evt_1")),
            ("pending".to_owned(), s("P#0")),
            ("lock_until".to_owned(), n(1_800_000_000)),
        ]);

        let within = first.next(Some(&last)).unwrap();
        let text = within.encode().unwrap();
        let decoded = PendingCursor::decode(Some(&text));

        assert_eq!(decoded.start_key(), Some(last));
        let mut cursor = Some(decoded);
        let mut shards = Vec::new();
        while let Some(current) = cursor {
            shards.push(current.shard);
            cursor = current.next(None);
        }
        assert_eq!(shards, (0..PENDING_SHARDS).collect::<Vec<_>>());
    }

    #[test]
    fn a_claims_cursor_that_does_not_read_back_starts_over() {
        assert_eq!(
            PendingCursor::decode(Some("not json")),
            PendingCursor::default()
        );
        assert_eq!(
            PendingCursor::decode(Some(r#"{"shard":200}"#)),
            PendingCursor::default()
        );
    }

    #[test]
    fn a_claim_keeps_its_message_deflated_and_reads_back_as_it_was_or_as_text() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let message = format!(r#"{{"raw":"{}"}}"#, "membership ".repeat(100));
        let record = ClaimRecord::new("whop", "evt_1", "membership.activated", "ab".into(), at)
            .with_message(&message);

        let item = claim_item(&record).unwrap();

        assert!(item["message"].as_b().unwrap().as_ref().len() < message.len() / 4);
        assert_eq!(item["pending"], s(pending_key(pending_shard(&record.pk))));
        assert_eq!(claim_record(item.clone()).unwrap(), record);
        let mut as_text = item;
        as_text.insert("message".to_owned(), s(&message));
        assert_eq!(claim_record(as_text).unwrap(), record);
    }

    #[test]
    fn claims_spread_over_every_pending_shard() {
        let shards: std::collections::BTreeSet<u8> = (0..200)
            .map(|i| pending_shard(&format!("whop#evt_{i}")))
            .collect();

        assert_eq!(shards.len(), usize::from(PENDING_SHARDS));
    }
}
