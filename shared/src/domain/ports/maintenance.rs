//! The ports of [`crate::domain::maintenance`].

use std::future::Future;

use chrono::{DateTime, Utc};

use super::{DependencyError, SyncStore};
use crate::domain::sync::SyncRun;
use crate::domain::webhooks::claims::ClaimRecord;

/// One page of a bounded read, and where the next one starts (an opaque cursor; `None` at the
/// end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPage<T> {
    pub items: Vec<T>,
    /// Items the page read (fewer may be left: gone since, or found changed).
    pub read: u64,
    pub next: Option<String>,
}

/// The `webhook-events` table as the stuck-ingest watchdog needs it.
pub trait StuckClaims: Send + Sync {
    /// One page (`limit` items read) of the claims waiting for their processing whose lock ended
    /// before `locked_before`, as they are now, from `cursor` (`None`: from the start). A claim
    /// waits from its claim until its processing is marked (PROCESSED or FAILED) or it is
    /// stranded; a re-enqueue moves its lock, and so takes it out of the read until then.
    fn stuck_claims(
        &self,
        locked_before: i64,
        cursor: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<ReadPage<ClaimRecord>, DependencyError>> + Send;

    /// Takes `record` for one re-enqueue: counts it and locks it until `lock_until`, if it is
    /// still RECEIVED with the same claim and lock as read. `Ok(false)` when it changed meanwhile
    /// (processed, taken over by a retry, or re-enqueued by another maintenance run).
    fn take_for_requeue(
        &self,
        record: &ClaimRecord,
        lock_until: i64,
        now: i64,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    /// Marks `record` stranded with `reason`, under the same condition as
    /// [`take_for_requeue`](Self::take_for_requeue).
    fn strand(
        &self,
        record: &ClaimRecord,
        reason: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
}

/// A table whose items carry the TTL attribute `expires_at` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiringTable {
    /// Webhook claims and the webhook log.
    WebhookEvents,
    Sessions,
    /// Failed-attempt counters, sync runs and their locks.
    State,
}

impl ExpiringTable {
    pub const ALL: [Self; 3] = [Self::WebhookEvents, Self::Sessions, Self::State];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebhookEvents => "webhook_events",
            Self::Sessions => "sessions",
            Self::State => "state",
        }
    }
}

/// What one page of the expired-item sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Items read.
    pub scanned: u64,
    /// Items found past `expires_at`.
    pub expired: u64,
    /// Deleted (their `expires_at` was still past at the delete).
    pub deleted: u64,
}

/// Deletes what DynamoDB TTL has not removed yet.
pub trait ExpiredItems: Send + Sync {
    /// Reads one page (`limit` items) of `table` from `cursor` and deletes each item whose
    /// `expires_at` is before `now`, each delete conditional on that still holding (so an item
    /// renewed in between is kept). Returns the counts and the next cursor.
    fn sweep_expired(
        &self,
        table: ExpiringTable,
        now: i64,
        cursor: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<(SweepCounts, Option<String>), DependencyError>> + Send;
}

/// Where a bounded scan left off, so the next maintenance run goes on from there and successive
/// runs cover a table of any size.
pub trait ScanCursors: Send + Sync {
    fn load_cursor(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, DependencyError>> + Send;

    /// Stores `cursor` (`None`: start over next time).
    fn save_cursor(
        &self,
        name: &str,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// How taking a stalled run for a resume went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeTake {
    /// Ours: the run is counted as resumed and holds its scope's lock again.
    Taken,
    /// The run moved since it was read (a page was counted, or another maintenance run took it).
    Changed,
    /// Another run holds the scope now.
    ScopeTaken,
}

/// Runs as the stalled-run watchdog needs them.
pub trait StalledRuns: SyncStore {
    /// Up to `limit` unfinished runs (running or paused) not updated since `updated_before`,
    /// newest first.
    fn stale_runs(
        &self,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SyncRun>, DependencyError>> + Send;

    /// Counts a resume of `run` and takes its scope's lock until `lease_until`, both only if the
    /// run is unchanged since it was read and the lock is free, lapsed or already the run's.
    fn take_for_resume(
        &self,
        run: &SyncRun,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<ResumeTake, DependencyError>> + Send;
}

/// When a secret's value last changed.
pub trait SecretAges: Send + Sync {
    /// The latest of its last rotation and last change (its creation if neither is known).
    fn last_changed(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, DependencyError>> + Send;
}
