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

use crate::domain::ports::OutboundMessage;

/// The attributes of an events-queue message, which consumers filter and log on.
pub fn queue_attributes(provider: &str, kind: &str, event_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("provider", provider.to_owned()),
        ("kind", kind.to_owned()),
        ("event_id", event_id.to_owned()),
    ]
}

/// How long a RECEIVED claim blocks duplicates before another delivery may take it over. Long
/// enough for the processor to mark it PROCESSED; short enough that a lost enqueue is retried
/// soon by the sender's own retry.
pub const LOCK_SECS: i64 = 5 * 60;
/// How long the webhook log keeps a delivery (and so how long duplicates are recognised).
pub const RETENTION_SECS: i64 = 90 * 24 * 3600;
/// The largest queue message a claim keeps for maintenance to re-enqueue. DynamoDB items hold
/// 400 KB; a message is the body (at most [`MAX_BODY_BYTES`](super::ingest::MAX_BODY_BYTES),
/// 256 KiB) plus an envelope of a few hundred bytes, so every message fits verbatim and this
/// bound only refuses a body made of characters the envelope escapes (U+FFFE, U+FFFF: 3 bytes
/// become 6). A claim without its message cannot be re-enqueued: maintenance marks it stranded.
pub const MAX_STORED_MESSAGE_BYTES: usize = 300 * 1024;

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
    /// The queue message ([`Event::to_message`](super::event::Event::to_message)), kept while
    /// the delivery is unprocessed so maintenance can send it again; removed once PROCESSED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many times maintenance sent the message again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requeues: u32,
    /// Unix seconds when maintenance gave up on re-enqueueing it (the sender's retry may still
    /// take the claim over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stranded_at: Option<i64>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
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
            message: None,
            requeues: 0,
            stranded_at: None,
        }
    }

    /// The record keeping `message` for maintenance, unless it is larger than
    /// [`MAX_STORED_MESSAGE_BYTES`].
    #[must_use]
    pub fn with_message(mut self, message: &str) -> Self {
        self.message = (message.len() <= MAX_STORED_MESSAGE_BYTES).then(|| message.to_owned());
        self
    }

    /// The events-queue message of this delivery, as ingest sent it; `None` when the record does
    /// not hold it.
    pub fn queued_message(&self) -> Option<OutboundMessage> {
        Some(OutboundMessage {
            body: self.message.clone()?,
            attributes: queue_attributes(&self.provider, &self.kind, &self.event_id),
            delay: None,
        })
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
