//! The notification pipeline's AWS side (`docs/architecture.md`, "Notifications"):
//!
//! - [`SqsNotifications`]: the `notifications` queue the processor puts a job on (one
//!   `SendMessage` per event that opens or closes a signal);
//! - [`DynamoNotificationClaims`]: one claim per message in the `state` table, pk
//!   `NOTIFY#<idempotency key>`, sk `NOTIFY`, with `status` (`sending`, then `sent`, `refused`
//!   or `suppressed`), `claimed_at` (epoch ms), the provider and its message id or refusal code
//!   once recorded, and `expires_at` (epoch seconds, the table's TTL attribute) 30 days on, past
//!   any redelivery and the provider's own 24-hour idempotency window. No address, no content.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::{self, key, millis, n, s};
use super::{applied, dependency_error};
use crate::domain::notify::{Delivery, Job};
use crate::domain::ports::{
    Claim, DependencyError, NotificationClaims, NotificationQueue, Publisher,
};

/// The sort key of a message claim.
pub const CLAIM_SK: &str = "NOTIFY";
/// How long a claim is kept.
pub const CLAIM_TTL_DAYS: i64 = 30;

/// The partition key of the claim of the message with idempotency key `key`.
pub fn claim_pk(key: &str) -> String {
    format!("NOTIFY#{key}")
}

/// The `notifications` queue.
#[derive(Debug, Clone)]
pub struct SqsNotifications<P = aws_sdk_sqs::Client> {
    pub publisher: P,
    pub queue_url: String,
}

impl<P: Publisher> NotificationQueue for SqsNotifications<P> {
    async fn enqueue(&self, job: &Job) -> Result<(), DependencyError> {
        self.publisher
            .publish(&self.queue_url, &job.message()?)
            .await?;
        Ok(())
    }
}

/// Message claims in the state table.
#[derive(Debug, Clone)]
pub struct DynamoNotificationClaims {
    pub client: Client,
    pub table: String,
}

impl DynamoNotificationClaims {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

impl NotificationClaims for DynamoNotificationClaims {
    async fn claim(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, DependencyError> {
        let stale = now - chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::zero());
        let expires = now + chrono::Duration::days(CLAIM_TTL_DAYS);
        let mut claim = key(claim_pk(key_hash), CLAIM_SK);
        claim.insert("status".into(), s("sending"));
        claim.insert("claimed_at".into(), millis(now));
        claim.insert("expires_at".into(), n(expires.timestamp()));
        let written = applied(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(claim))
                .condition_expression(
                    "attribute_not_exists(pk) OR (#status = :sending AND claimed_at < :stale)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":sending", s("sending"))
                .expression_attribute_values(":stale", millis(stale))
                .return_values(ReturnValue::AllOld)
                .send()
                .await,
        )?;
        if let Some(output) = written {
            // The old item comes back only when a stale `sending` claim was taken over.
            return Ok(Claim::Won {
                resumed: output.attributes.is_some_and(|old| !old.is_empty()),
            });
        }
        // The condition failed: finished, or held within its lease (one read, duplicates only).
        let found = item::get(&self.client, &self.table, key(claim_pk(key_hash), CLAIM_SK)).await?;
        Ok(match found.as_ref().and_then(|f| item::text(f, "status")) {
            Some("sending") => Claim::InFlight,
            Some(_) => Claim::Finished,
            // Deleted in between (TTL): the next delivery claims it afresh.
            None => Claim::InFlight,
        })
    }

    async fn record(
        &self,
        key_hash: &str,
        delivery: &Delivery,
        at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        let (provider, outcome) = match delivery {
            Delivery::Sent {
                provider,
                message_id,
            } => (*provider, message_id.as_str()),
            Delivery::Refused { provider, code } => (*provider, code.as_str()),
            Delivery::Suppressed => ("none", "suppressed"),
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(claim_pk(key_hash), CLAIM_SK)))
            .update_expression(
                "SET #status = :status, recorded_at = :at, provider = :provider, outcome = :outcome",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(delivery.status()))
            .expression_attribute_values(":at", millis(at))
            .expression_attribute_values(":provider", s(provider))
            .expression_attribute_values(":outcome", s(outcome))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }
}
