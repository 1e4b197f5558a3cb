//! The ports of [`crate::domain::webhooks::claims`].

use std::future::Future;

use super::DependencyError;
use chrono::{DateTime, Utc};

use crate::domain::webhooks::claims::{ClaimOutcome, ClaimRecord, ProcessingMark};

/// The `webhook-events` table as ingest needs it.
pub trait ClaimStore: Send + Sync {
    /// Claims `record.pk` with one conditional write as of `now`.
    fn claim(
        &self,
        record: &ClaimRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ClaimOutcome, DependencyError>> + Send;

    /// Deletes the claim if it is still the one with `claim_id` (so a later owner is never undone).
    fn release(
        &self,
        pk: &str,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// The webhook log as the processor needs it.
pub trait ProcessingLog: Send + Sync {
    /// Marks the delivery `pk`. `Ok(false)` when there is no such record (a message replayed
    /// after its record expired, or one enqueued by hand); a FAILED mark never overwrites
    /// PROCESSED.
    fn mark(
        &self,
        pk: &str,
        mark: &ProcessingMark,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
}
