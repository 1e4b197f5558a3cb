//! The port of [`crate::domain::sync`].

use std::future::Future;

use super::DependencyError;
use chrono::{DateTime, Utc};

use crate::domain::sync::{RunStatus, StartRun, SyncCounts, SyncRun};

/// Where runs are kept (the `state` table: `SYNC#<provider>` / `RUN#<run id>`, and a lock item
/// per scope).
pub trait SyncStore: Send + Sync {
    /// Stores `run` and takes its scope's lock until `lease_until`, unless another run holds it.
    fn start_run(
        &self,
        run: &SyncRun,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<StartRun, DependencyError>> + Send;

    fn run(
        &self,
        run_id: &str,
    ) -> impl Future<Output = Result<Option<SyncRun>, DependencyError>> + Send;

    /// The latest runs, newest first.
    fn recent_runs(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SyncRun>, DependencyError>> + Send;

    /// Counts page `page` of `run` once: adds `counts`, marks the page done, notes the next
    /// page's cursor (`next_cursor`, where a stalled run resumes) or, when it is `None`, that this
    /// page was the last, sets the run running and extends its lock to `lease_until`. `Ok(None)`
    /// when the page was already counted; otherwise the run as it now stands.
    fn page_done(
        &self,
        run: &SyncRun,
        page: u64,
        counts: &SyncCounts,
        next_cursor: Option<&str>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<SyncRun>, DependencyError>> + Send;

    /// Marks `run` paused until `until` with the error that paused it, and extends its lock.
    fn pause(
        &self,
        run: &SyncRun,
        until: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// Ends `run` (completed or failed) and releases its lock: at once, or for a user's run after
    /// [`USER_SYNC_COOLDOWN`](crate::domain::sync::USER_SYNC_COOLDOWN). `Ok(false)` if it had
    /// already ended.
    fn finish(
        &self,
        run: &SyncRun,
        status: RunStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
}
