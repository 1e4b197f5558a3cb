//! The maintenance function's dependencies: the tasks of [`crate::domain::maintenance`] over
//! DynamoDB (`webhook-events`, runs in `state`, the expired-item sweep and its cursors), SQS
//! (re-enqueues, page jobs, dead-letter depths) and Secrets Manager (secret ages). The
//! `churnsaver maintenance run` command runs the same.
//!
//! Its second schedule (input `{"task":"digests"}`, hourly) enqueues the daily digests that are
//! due ([`DigestRun`], `docs/architecture.md`, "Daily digest").

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::App;
use crate::aws::claims::DynamoClaims;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::maintenance::DynamoMaintenance;
use crate::aws::notify::SqsNotifications;
use crate::aws::sync::DynamoRuns;
use crate::domain::maintenance::{Maintenance, MaintenanceSettings, Summary, Task, WatchedSecret};
use crate::domain::notify::digest::{DueReport, enqueue_due};
use crate::domain::ports::DependencyError;
use crate::domain::ports::SystemClock;
use crate::edge::config::SecretIds;

/// Maintenance over AWS.
pub type MaintenanceService = Maintenance<
    DynamoClaims,
    DynamoRuns,
    DynamoMaintenance,
    aws_sdk_sqs::Client,
    aws_sdk_sqs::Client,
    aws_sdk_secretsmanager::Client,
>;

/// Kept free before the invocation's deadline to log and answer.
pub const DEADLINE_MARGIN: TimeDelta = TimeDelta::seconds(5);
/// The time the tasks get when there is no deadline (the CLI, the local stack's invoker).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(50);

/// Built once per cold start.
pub struct MaintenanceDeps {
    pub maintenance: MaintenanceService,
    /// The hourly digest run; why not when the notifications queue is not configured.
    pub digests: Result<DigestRun, DigestsUnavailable>,
}

impl MaintenanceDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            maintenance: maintenance(&app),
            digests: digest_run(&app),
        }
    }

    /// The hourly digest run at `now`.
    pub async fn run_digests(&self, now: DateTime<Utc>) -> Result<DueReport, DigestRunError> {
        let run = self.digests.as_ref().map_err(Clone::clone)?;
        Ok(enqueue_due(&run.schedule, &run.queue, now).await?)
    }

    /// Runs `tasks` within the invocation's `deadline_ms` (epoch milliseconds; 0 when unknown).
    pub async fn run(&self, tasks: &[Task], deadline_ms: u64) -> Summary {
        let until = budget_until(deadline_ms, Utc::now());
        self.maintenance.run(tasks, until).await
    }
}

/// The schedule input of the hourly digest run.
pub const DIGESTS_TASK: &str = "digests";

/// Whether a schedule's input asks for the digest run (`{"task": "digests"}`).
pub fn is_digest_run(input: &serde_json::Value) -> bool {
    input.get("task").and_then(serde_json::Value::as_str) == Some(DIGESTS_TASK)
}

/// The hourly digest run: due companies from the settings' `digest_due` index, one job each on
/// the `notifications` queue.
#[derive(Debug, Clone)]
pub struct DigestRun {
    pub schedule: DynamoCompanyItems,
    pub queue: SqsNotifications,
}

/// The digest run cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestsUnavailable {
    #[error("NOTIFICATIONS_QUEUE_URL is not set: no digest can be enqueued")]
    QueueUnset,
}

/// Why a digest run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestRunError {
    #[error(transparent)]
    Unavailable(#[from] DigestsUnavailable),
    /// The state table or the queue failed; the companies not enqueued are due at the next run.
    #[error("digest run: {0}")]
    Dependency(#[from] DependencyError),
}

/// The digest run over the stack `app` configures.
pub fn digest_run(app: &App) -> Result<DigestRun, DigestsUnavailable> {
    let queue_url = app
        .config
        .notify
        .queue
        .clone()
        .ok_or(DigestsUnavailable::QueueUnset)?;
    Ok(DigestRun {
        schedule: DynamoCompanyItems::of(app),
        queue: SqsNotifications {
            publisher: app.sqs.clone(),
            queue_url,
        },
    })
}

/// The maintenance tasks over the stack `app` configures.
pub fn maintenance(app: &App) -> MaintenanceService {
    let config = &app.config;
    Maintenance {
        claims: DynamoClaims::of(app),
        runs: DynamoRuns::of(app),
        tables: DynamoMaintenance::of(app),
        publisher: app.sqs.clone(),
        queues: app.sqs.clone(),
        secrets: app.secrets_manager.clone(),
        events_queue_url: config.queues.events.clone(),
        sync_jobs_queue_url: config.queues.sync_jobs.clone(),
        dead_letter_queues: vec![
            ("events", config.queues.events_dlq.clone()),
            ("sync_jobs", config.queues.sync_jobs_dlq.clone()),
        ],
        watched_secrets: watched_secrets(&config.secrets, &config.maintenance),
        settings: config.maintenance,
        clock: Arc::new(SystemClock),
    }
}

/// The secrets of the stack whose age maintenance watches, each with its own limit: the session
/// signing key rotates itself on a schedule (a warning means a rotation failed), the webhook
/// secrets and the Whop API key are rotated by hand.
pub fn watched_secrets(secrets: &SecretIds, settings: &MaintenanceSettings) -> Vec<WatchedSecret> {
    [
        (
            "webhook_secrets",
            &secrets.webhook_secrets,
            settings.secret_max_age,
        ),
        (
            "session_keys",
            &secrets.session_keys,
            settings.session_key_max_age(),
        ),
        (
            "whop_api_key",
            &secrets.whop_api_key,
            settings.secret_max_age,
        ),
    ]
    .into_iter()
    .filter_map(|(name, id, max_age)| {
        Some(WatchedSecret {
            name,
            id: id.clone()?,
            max_age,
        })
    })
    .collect()
}

/// Until when the tasks may run: the deadline less [`DEADLINE_MARGIN`], or [`DEFAULT_BUDGET`]
/// from `now` without one.
pub fn budget_until(deadline_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let deadline = i64::try_from(deadline_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .and_then(DateTime::from_timestamp_millis);
    match deadline {
        Some(deadline) => deadline - DEADLINE_MARGIN,
        None => now + TimeDelta::from_std(DEFAULT_BUDGET).unwrap_or(TimeDelta::zero()),
    }
}

/// The tasks a schedule's input asks for: `{"task": "maintenance"}` (or no `task`) for all of
/// them, or `{"task": "<task>"}` for one.
pub fn tasks_of(input: &serde_json::Value) -> Result<Vec<Task>, String> {
    match input.get("task").and_then(serde_json::Value::as_str) {
        None | Some("maintenance") => Ok(Task::ALL.to_vec()),
        Some(name) => Task::parse(name)
            .map(|task| vec![task])
            .ok_or_else(|| format!("unknown maintenance task `{name}`")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schedules_input_asks_for_every_task() {
        let input: serde_json::Value =
            serde_json::from_str(include_str!("../../../../events/schedule-maintenance.json"))
                .unwrap();

        assert_eq!(tasks_of(&input), Ok(Task::ALL.to_vec()));
    }

    #[test]
    fn the_digest_schedules_input_asks_for_the_digest_run_and_the_maintenance_one_does_not() {
        let digests: serde_json::Value =
            serde_json::from_str(include_str!("../../../../events/schedule-digests.json")).unwrap();
        let maintenance: serde_json::Value =
            serde_json::from_str(include_str!("../../../../events/schedule-maintenance.json"))
                .unwrap();

        assert!(is_digest_run(&digests));
        assert!(!is_digest_run(&maintenance));
    }

    #[test]
    fn an_input_may_name_one_task_and_an_unknown_one_is_refused() {
        assert_eq!(
            tasks_of(&json!({"task": "expired-items"})),
            Ok(vec![Task::ExpiredItems])
        );
        assert!(tasks_of(&json!({"task": "vacuum"})).is_err());
    }

    #[test]
    fn the_session_key_may_age_its_rotation_schedule_and_a_day_the_others_the_rotation_period() {
        let day = Duration::from_secs(86_400);
        let settings = MaintenanceSettings {
            max_items: 100,
            secret_max_age: 7 * day,
            session_key_rotation: 30 * day,
        };
        let ids = SecretIds {
            webhook_secrets: Some("webhooks".into()),
            session_keys: Some("sessions".into()),
            whop_api_key: None,
            data_key: None,
        };
        let watched = watched_secrets(&ids, &settings);

        let limits: Vec<(&str, &str, Duration)> = watched
            .iter()
            .map(|secret| (secret.name, secret.id.as_str(), secret.max_age))
            .collect();

        assert_eq!(
            limits,
            vec![
                ("webhook_secrets", "webhooks", 7 * day),
                ("session_keys", "sessions", 31 * day),
            ],
            "an unset secret is not watched"
        );
    }

    #[test]
    fn the_budget_ends_before_the_deadline_or_after_the_default_without_one() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();

        assert_eq!(
            budget_until(1_800_000_060_000, now),
            now + TimeDelta::seconds(55)
        );
        assert_eq!(budget_until(0, now), now + TimeDelta::seconds(50));
    }
}
