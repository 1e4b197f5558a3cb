//! Scheduled maintenance (`docs/architecture.md`, "Maintenance"): four tasks, each bounded in
//! items and time, idempotent and safe to run twice at once (every write it makes is
//! conditional on what it read), reporting its counts.
//!
//! - **stuck-ingests**: a `webhook-events` claim still RECEIVED well after its lock
//!   ([`decide::STUCK_MARGIN_SECS`]) is sent to the events queue again from the message the
//!   claim keeps, once per lock (a conditional update moves the lock first); one that cannot be
//!   is marked stranded and counted (`claims_stranded`, which an alarm watches). The claims are
//!   read from an index of the ones waiting for their processing, not from the whole table.
//! - **stalled-runs**: a sync run not updated for a lease ([`LEASE`]) is resumed from the page
//!   after its last counted one, completed if every page was counted, or failed, freeing its scope.
//! - **expired-items**: items of the three tables past `expires_at` that TTL has not removed yet
//!   are deleted, each delete conditional on `expires_at` still being past.
//! - **queues-and-secrets**: the dead-letter queues' depths and the secrets' ages as metrics, a
//!   warning for a secret older than its rotation period.
//!
//! The expired-item scans go on across runs from a stored cursor, so successive runs cover a
//! table of any size. A task's failure does not stop the others.

pub mod decide;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::domain::metrics::catalogue as names;
use crate::domain::metrics::{MetricName, Metrics};
use crate::domain::ports::{
    Clock, DependencyError, ExpiredItems, ExpiringTable, Publisher, QueueProbe, ResumeTake,
    ScanCursors, SecretAges, StalledRuns, StuckClaims,
};
use crate::domain::sync::RunStatus;
use crate::domain::sync::worker::LEASE;
use crate::domain::webhooks::claims::LOCK_SECS;
use decide::{ClaimAction, RunAction, claim_action, run_action, secret_age};

/// Items read per page.
const PAGE_ITEMS: u32 = 500;

/// A maintenance task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    StuckIngests,
    StalledRuns,
    ExpiredItems,
    QueuesAndSecrets,
}

impl Task {
    pub const ALL: [Self; 4] = [
        Self::StuckIngests,
        Self::StalledRuns,
        Self::ExpiredItems,
        Self::QueuesAndSecrets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StuckIngests => "stuck-ingests",
            Self::StalledRuns => "stalled-runs",
            Self::ExpiredItems => "expired-items",
            Self::QueuesAndSecrets => "queues-and-secrets",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|task| task.as_str() == name)
    }
}

/// The bounds and thresholds of maintenance (`edge::config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceSettings {
    /// `MAINTENANCE_MAX_ITEMS`: items a task reads at most per run (per table for the sweep).
    pub max_items: u64,
    /// `SECRET_MAX_AGE_DAYS`: the rotation period of the secrets rotated by hand (the webhook
    /// secrets, the Whop API key); an older one gets a warning.
    pub secret_max_age: Duration,
    /// `SESSION_KEY_ROTATION_DAYS`: the schedule on which the session signing key rotates
    /// itself; a key older than it and [`ROTATION_GRACE`] means a rotation failed.
    pub session_key_rotation: Duration,
}

/// How long past its schedule a rotated secret may be before a warning: one missed day.
pub const ROTATION_GRACE: Duration = Duration::from_secs(86_400);

impl Default for MaintenanceSettings {
    fn default() -> Self {
        Self {
            max_items: 20_000,
            // Keys rotate weekly.
            secret_max_age: Duration::from_secs(7 * 86_400),
            session_key_rotation: Duration::from_secs(30 * 86_400),
        }
    }
}

impl MaintenanceSettings {
    /// The age past which the session signing key gets a warning: its schedule and the grace.
    pub fn session_key_max_age(&self) -> Duration {
        self.session_key_rotation + ROTATION_GRACE
    }
}

/// A secret whose age maintenance watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedSecret {
    /// The metric's `secret` dimension (`webhook_secrets`, `session_keys`, `whop_api_key`).
    pub name: &'static str,
    pub id: String,
    /// Older than this, it gets a warning.
    pub max_age: Duration,
}

/// What one task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    pub task: Task,
    /// Counts by metric name, in the order first counted.
    pub counts: Vec<(MetricName, u64)>,
    /// The first error (the task went on past it where it could).
    pub error: Option<String>,
    /// It stopped at its item or time bound; the next run goes on from there.
    pub bounded: bool,
}

impl TaskReport {
    fn new(task: Task) -> Self {
        Self {
            task,
            counts: Vec::new(),
            error: None,
            bounded: false,
        }
    }

    fn add(&mut self, name: MetricName, value: u64) {
        match self.counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += value,
            None => self.counts.push((name, value)),
        }
    }

    /// The count `name` (0 if never counted).
    pub fn count(&self, name: &str) -> u64 {
        self.counts
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map_or(0, |(_, count)| *count)
    }

    /// Notes a failure and counts it; the task goes on.
    fn fail(&mut self, error: impl std::fmt::Display) {
        self.add(names::ERRORS, 1);
        if self.error.is_none() {
            self.error = Some(error.to_string());
        }
    }

    fn emit(&self) {
        let mut metrics = Metrics::new("maintenance").dimension("task", self.task.as_str());
        for (name, value) in &self.counts {
            metrics.count(*name, *value);
        }
        metrics.emit();
    }
}

/// What one maintenance run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub reports: Vec<TaskReport>,
}

impl Summary {
    /// The tasks that failed.
    pub fn failed(&self) -> Vec<Task> {
        self.reports
            .iter()
            .filter(|r| r.error.is_some())
            .map(|r| r.task)
            .collect()
    }

    /// The report of `task`, if it ran.
    pub fn report(&self, task: Task) -> Option<&TaskReport> {
        self.reports.iter().find(|r| r.task == task)
    }

    /// One line: `stuck-ingests: claims_read=3 claims_requeued=1; stalled-runs: …`.
    pub fn line(&self) -> String {
        let mut line = String::new();
        for (i, report) in self.reports.iter().enumerate() {
            if i > 0 {
                line.push_str("; ");
            }
            line.push_str(report.task.as_str());
            line.push(':');
            for (name, value) in &report.counts {
                let _ = write!(line, " {name}={value}");
            }
            if report.bounded {
                line.push_str(" (bounded)");
            }
            if let Some(error) = &report.error {
                let _ = write!(line, " FAILED: {error}");
            }
        }
        line
    }
}

/// Maintenance over its ports.
pub struct Maintenance<K, R, X, P, Q, S> {
    /// `webhook-events`.
    pub claims: K,
    /// Sync runs.
    pub runs: R,
    /// The expired-item sweep and the scan cursors.
    pub tables: X,
    pub publisher: P,
    pub queues: Q,
    pub secrets: S,
    pub events_queue_url: String,
    pub sync_jobs_queue_url: String,
    /// The dead-letter queues by metric name (`events`, `sync_jobs`) and URL.
    pub dead_letter_queues: Vec<(&'static str, String)>,
    pub watched_secrets: Vec<WatchedSecret>,
    pub settings: MaintenanceSettings,
    pub clock: Arc<dyn Clock>,
}

impl<K, R, X, P, Q, S> Maintenance<K, R, X, P, Q, S>
where
    K: StuckClaims,
    R: StalledRuns,
    X: ExpiredItems + ScanCursors,
    P: Publisher,
    Q: QueueProbe,
    S: SecretAges,
{
    /// Runs `tasks` at once, each until `until` at the latest; logs one summary line and emits
    /// each task's counts.
    pub async fn run(&self, tasks: &[Task], until: DateTime<Utc>) -> Summary {
        let selected = |task| tasks.contains(&task);
        // Boxed: four nested task futures in one are too deep a type for the compiler.
        let (stuck, stalled, expired, watched) = futures_util::join!(
            when(
                selected(Task::StuckIngests),
                self.stuck_ingests(until).boxed()
            ),
            when(
                selected(Task::StalledRuns),
                self.stalled_runs(until).boxed()
            ),
            when(
                selected(Task::ExpiredItems),
                self.expired_items(until).boxed()
            ),
            when(
                selected(Task::QueuesAndSecrets),
                self.queues_and_secrets().boxed()
            ),
        );
        let summary = Summary {
            reports: [stuck, stalled, expired, watched]
                .into_iter()
                .flatten()
                .collect(),
        };
        for report in &summary.reports {
            report.emit();
        }
        let failed = summary.failed();
        if failed.is_empty() {
            tracing::info!(summary = %summary.line(), "maintenance done");
        } else {
            tracing::error!(summary = %summary.line(), failed = failed.len(), "maintenance done; some tasks failed");
        }
        summary
    }

    /// Whether the item or time bound was reached.
    fn spent(&self, read: u64, until: DateTime<Utc>) -> bool {
        read >= self.settings.max_items || self.clock.now() >= until
    }

    /// Re-enqueues stuck claims from their stored message, or strands them. The read starts over
    /// each run: what it repairs leaves it (a re-enqueue moves the lock, a strand takes the
    /// claim out), so a run bounded by a backlog leaves the rest to the next.
    pub async fn stuck_ingests(&self, until: DateTime<Utc>) -> TaskReport {
        let mut report = TaskReport::new(Task::StuckIngests);
        let now = self.clock.now().timestamp();
        let mut cursor: Option<String> = None;
        let mut read = 0;
        loop {
            if self.spent(read, until) {
                report.bounded = true;
                break;
            }
            let page = match self
                .claims
                .stuck_claims(
                    now - decide::STUCK_MARGIN_SECS,
                    cursor.as_deref(),
                    PAGE_ITEMS,
                )
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    report.fail(error);
                    return report;
                }
            };
            read += page.read;
            report.add(names::CLAIMS_READ, page.read);
            for record in &page.items {
                if let Err(error) = self.repair_claim(record, now, &mut report).await {
                    report.fail(format!("{}: {error}", record.pk));
                }
            }
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        report
    }

    async fn repair_claim(
        &self,
        record: &crate::domain::webhooks::claims::ClaimRecord,
        now: i64,
        report: &mut TaskReport,
    ) -> Result<(), DependencyError> {
        match claim_action(record, now) {
            ClaimAction::Leave => {}
            ClaimAction::Requeue(message) => {
                // The lock moves first: a second maintenance run (or this one's retry) finds the
                // claim changed and sends nothing. If the send then fails, the claim is stuck
                // again once the new lock and the margin pass.
                if self
                    .claims
                    .take_for_requeue(record, now + LOCK_SECS, now)
                    .await?
                {
                    self.publisher
                        .publish(&self.events_queue_url, &message)
                        .await?;
                    tracing::warn!(webhook.pk = %record.pk, requeues = record.requeues + 1, "stuck ingest sent to the events queue again");
                    report.add(names::CLAIMS_REQUEUED, 1);
                } else {
                    report.add(names::CLAIMS_CHANGED, 1);
                }
            }
            ClaimAction::Strand(reason) => {
                if self.claims.strand(record, reason, now).await? {
                    tracing::error!(webhook.pk = %record.pk, reason, "stuck ingest cannot be sent again; stranded until the sender retries");
                    report.add(names::CLAIMS_STRANDED, 1);
                } else {
                    report.add(names::CLAIMS_CHANGED, 1);
                }
            }
        }
        Ok(())
    }

    /// Resumes, completes or fails the sync runs whose lease lapsed.
    pub async fn stalled_runs(&self, until: DateTime<Utc>) -> TaskReport {
        let mut report = TaskReport::new(Task::StalledRuns);
        let now = self.clock.now();
        let limit = usize::try_from(self.settings.max_items).unwrap_or(usize::MAX);
        let runs = match self.runs.stale_runs(now - LEASE, limit).await {
            Ok(runs) => runs,
            Err(error) => {
                report.fail(error);
                return report;
            }
        };
        report.add(names::RUNS_STALE, runs.len() as u64);
        for run in &runs {
            if self.clock.now() >= until {
                report.bounded = true;
                break;
            }
            if let Err(error) = self.repair_run(run, now, &mut report).await {
                report.fail(format!("{}: {error}", run.run_id));
            }
        }
        report
    }

    async fn repair_run(
        &self,
        run: &crate::domain::sync::SyncRun,
        now: DateTime<Utc>,
        report: &mut TaskReport,
    ) -> Result<(), DependencyError> {
        let (status, reason) = match run_action(run) {
            RunAction::Complete => (RunStatus::Completed, None),
            RunAction::Fail(reason) => (RunStatus::Failed, Some(reason)),
            RunAction::Resume(job) => match self.runs.take_for_resume(run, now, now + LEASE).await?
            {
                ResumeTake::Taken => {
                    self.publisher
                        .publish(&self.sync_jobs_queue_url, &job.message(None)?)
                        .await?;
                    tracing::warn!(run.id = %run.run_id, page = job.page, "stalled sync run resumed");
                    report.add(names::RUNS_RESUMED, 1);
                    return Ok(());
                }
                ResumeTake::Changed => {
                    report.add(names::RUNS_CHANGED, 1);
                    return Ok(());
                }
                ResumeTake::ScopeTaken => (RunStatus::Failed, Some("scope_taken")),
            },
        };
        if self.runs.finish(run, status, reason, now).await? {
            tracing::warn!(run.id = %run.run_id, status = status.as_str(), reason, "stalled sync run ended");
            report.add(
                match status {
                    RunStatus::Completed => names::RUNS_COMPLETED,
                    _ => names::RUNS_FAILED,
                },
                1,
            );
        } else {
            report.add(names::RUNS_CHANGED, 1);
        }
        Ok(())
    }

    /// Deletes what TTL has not removed yet, table by table.
    pub async fn expired_items(&self, until: DateTime<Utc>) -> TaskReport {
        let mut report = TaskReport::new(Task::ExpiredItems);
        let now = self.clock.now().timestamp();
        for table in ExpiringTable::ALL {
            if let Err(error) = self.sweep(table, now, until, &mut report).await {
                report.fail(format!("{}: {error}", table.as_str()));
            }
        }
        report
    }

    async fn sweep(
        &self,
        table: ExpiringTable,
        now: i64,
        until: DateTime<Utc>,
        report: &mut TaskReport,
    ) -> Result<(), DependencyError> {
        let name = format!("expired-items:{}", table.as_str());
        let mut cursor = self.tables.load_cursor(&name).await?;
        let mut read = 0;
        loop {
            if self.spent(read, until) {
                report.bounded = true;
                break;
            }
            let (counts, next) = self
                .tables
                .sweep_expired(table, now, cursor.as_deref(), PAGE_ITEMS)
                .await?;
            read += counts.scanned;
            report.add(names::ITEMS_SCANNED, counts.scanned);
            report.add(names::ITEMS_EXPIRED, counts.expired);
            report.add(names::ITEMS_DELETED, counts.deleted);
            cursor = next;
            if cursor.is_none() {
                break;
            }
        }
        self.tables.save_cursor(&name, cursor.as_deref()).await
    }

    /// The dead-letter queues' depths and the secrets' ages, as metrics.
    pub async fn queues_and_secrets(&self) -> TaskReport {
        let mut report = TaskReport::new(Task::QueuesAndSecrets);
        for (name, url) in &self.dead_letter_queues {
            match self.queues.queue_depth(url).await {
                Ok(depth) => {
                    report.add(names::DLQ_MESSAGES, depth.visible);
                    let mut metrics = Metrics::new("maintenance").dimension("queue", *name);
                    metrics.count(names::DLQ_DEPTH, depth.visible);
                    metrics.emit();
                }
                Err(error) => report.fail(format!("{name} DLQ: {error}")),
            }
        }
        let now = self.clock.now();
        for secret in &self.watched_secrets {
            let name = secret.name;
            let max_age = TimeDelta::from_std(secret.max_age).unwrap_or(TimeDelta::MAX);
            let changed = match self.secrets.last_changed(&secret.id).await {
                Ok(Some(changed)) => changed,
                Ok(None) => {
                    report.fail(format!("{name}: no change or creation date"));
                    continue;
                }
                Err(error) => {
                    report.fail(format!("{name}: {error}"));
                    continue;
                }
            };
            let (age, overdue) = secret_age(changed, now, max_age);
            report.add(names::SECRETS_CHECKED, 1);
            let mut metrics = Metrics::new("maintenance").dimension("secret", name);
            metrics.record(
                names::SECRET_AGE_HOURS,
                crate::domain::metrics::Unit::Count,
                age.num_minutes() as f64 / 60.0,
            );
            metrics.emit();
            if overdue {
                report.add(names::SECRETS_OVERDUE, 1);
                tracing::warn!(
                    secret = name,
                    age_days = age.num_days(),
                    max_age_days = max_age.num_days(),
                    "secret is older than its rotation period: rotate it"
                );
            }
        }
        report
    }
}

/// `task` if `selected`.
async fn when(selected: bool, task: BoxFuture<'_, TaskReport>) -> Option<TaskReport> {
    if selected { Some(task.await) } else { None }
}

#[cfg(test)]
mod tests;
