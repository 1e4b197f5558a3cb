//! [`ClaimStore`] over DynamoDB's `webhook-events` table.

use crate::domain::ports::{ClaimStore, ProcessingLog, ScanPage, StuckClaims};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::dependency_error;
use super::item::{self, Item, n, s};
use crate::domain::ports::DependencyError;
use crate::domain::webhooks::claims::{ClaimOutcome, ClaimRecord, ClaimStatus, ProcessingMark};

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

const CLAIM_CONDITION: &str =
    "attribute_not_exists(pk) OR expires_at < :now OR (#status = :received AND lock_until < :now)";

fn record_from(item: Option<&Item>) -> Result<Option<Box<ClaimRecord>>, DependencyError> {
    item.filter(|item| !item.is_empty())
        .map(|item| item::from_item(item.clone(), "webhook-events").map(Box::new))
        .transpose()
}

impl ClaimStore for DynamoClaims {
    async fn claim(
        &self,
        record: &ClaimRecord,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, DependencyError> {
        let item = item::to_item(record, "claim")?;
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
                     attempts = :attempt REMOVE last_error, message",
                )
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(
                    ":status",
                    s(ClaimStatus::Processed.as_str()),
                )
                .expression_attribute_values(
                    ":at",
                    s(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                )
                .expression_attribute_values(":latency", n(latency_ms))
                .expression_attribute_values(":attempt", n(attempt)),
            ProcessingMark::Failed { at, attempt, error } => request
                .update_expression(
                    "SET #status = :status, failed_at = :at, attempts = :attempt, last_error = :error",
                )
                .condition_expression("attribute_exists(pk) AND #status <> :processed")
                .expression_attribute_values(
                    ":status",
                    s(ClaimStatus::Failed.as_str()),
                )
                .expression_attribute_values(
                    ":processed",
                    s(ClaimStatus::Processed.as_str()),
                )
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

impl StuckClaims for DynamoClaims {
    async fn stuck_claims(
        &self,
        locked_before: i64,
        now: i64,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ScanPage<ClaimRecord>, DependencyError> {
        let page =
            super::maintenance::scan_page(&self.client, &self.table, cursor, limit, |request| {
                request
                    .filter_expression(
                        "#status = :received AND lock_until < :locked_before \
                         AND expires_at > :now AND attribute_not_exists(stranded_at)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":received", s(ClaimStatus::Received.as_str()))
                    .expression_attribute_values(":locked_before", n(locked_before))
                    .expression_attribute_values(":now", n(now))
            })
            .await?;
        Ok(ScanPage {
            items: page
                .items
                .into_iter()
                .map(|item| item::from_item(item, "webhook-events"))
                .collect::<Result<_, _>>()?,
            scanned: page.scanned,
            next: page.next,
        })
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
            "SET stranded_at = :now, stranded_reason = :reason",
            vec![(":now", n(now)), (":reason", s(reason))],
        )
        .await
    }
}
