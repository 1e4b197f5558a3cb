//! The idempotent claim of a webhook delivery in `webhook-events`: one conditional PutItem that
//! either claims the event id or returns the existing record (`ALL_OLD`), so a duplicate costs no
//! extra read. The same item is the webhook log and lives for the retention period.
//!
//! Claim condition (Powertools' idempotency semantics, integer seconds throughout):
//! `attribute_not_exists(pk) OR expires_at < :now OR (#status = RECEIVED AND lock_until < :now)`.
//! DynamoDB TTL may lag by days and the emulator never expires, so expiry is part of the
//! condition and of every read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a RECEIVED claim blocks duplicates before another delivery may take it over. Long
/// enough for the processor to mark it PROCESSED; short enough that a lost enqueue is retried
/// soon by the sender's own retry.
pub const LOCK_SECS: i64 = 5 * 60;
/// How long the webhook log keeps a delivery (and so how long duplicates are recognised).
pub const RETENTION_SECS: i64 = 90 * 24 * 3600;

/// The lifecycle of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimStatus {
    /// Claimed and (being) enqueued; the processor has not finished it.
    Received,
    /// Applied to state by the processor.
    Processed,
    /// The processor gave up on it (it is in the dead-letter queue).
    Failed,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::Processed => "PROCESSED",
            Self::Failed => "FAILED",
        }
    }
}

/// The `webhook-events` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// `provider#event_id`.
    pub pk: String,
    pub provider: String,
    pub event_id: String,
    pub kind: String,
    pub status: ClaimStatus,
    /// Hex SHA-256 of the raw body, to spot a reused id with a different payload in the log.
    pub body_sha256: String,
    /// Random id of this claim, so only its owner can release it.
    pub claim_id: String,
    pub received_at: DateTime<Utc>,
    /// Unix seconds until which a RECEIVED claim blocks duplicates.
    pub lock_until: i64,
    /// Unix seconds after which the record is void (also the table's TTL attribute).
    pub expires_at: i64,
}

impl ClaimRecord {
    /// A new RECEIVED claim at `now`.
    pub fn new(
        provider: &str,
        event_id: &str,
        kind: &str,
        body_sha256: String,
        now: DateTime<Utc>,
    ) -> Self {
        let now_secs = now.timestamp();
        Self {
            pk: Self::key(provider, event_id),
            provider: provider.to_owned(),
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            status: ClaimStatus::Received,
            body_sha256,
            claim_id: uuid::Uuid::new_v4().simple().to_string(),
            received_at: now,
            lock_until: now_secs + LOCK_SECS,
            expires_at: now_secs + RETENTION_SECS,
        }
    }

    pub fn key(provider: &str, event_id: &str) -> String {
        format!("{provider}#{event_id}")
    }
}

/// What the claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Ours: no live record existed. `taken_over` holds the expired or unlocked record replaced.
    Claimed {
        taken_over: Option<Box<ClaimRecord>>,
    },
    /// A live record exists and was left alone.
    Exists(Box<ClaimRecord>),
}

/// How processing ended for a delivery, recorded on its `webhook-events` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessingMark {
    /// Applied to state (or had nothing to apply).
    Processed {
        at: DateTime<Utc>,
        /// From receipt at ingest to the end of processing.
        latency_ms: i64,
        /// Which delivery of the message this was (SQS `ApproximateReceiveCount`).
        attempt: u32,
    },
    /// This attempt failed; SQS retries it and dead-letters it after `maxReceiveCount`.
    Failed {
        at: DateTime<Utc>,
        attempt: u32,
        /// A stable code, never message content.
        error: String,
    },
}
