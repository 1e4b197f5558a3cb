//! The maintenance function, fired every 15 minutes by an EventBridge Scheduler schedule: the
//! tasks of `shared::domain::maintenance`, within the invocation's deadline. It fails (so the
//! schedule's error metric counts it) only when a task failed. Its hourly schedule (input
//! `{"task":"digests"}`) enqueues the daily digests that are due.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::edge::deps::maintenance::{MaintenanceDeps, is_digest_run, tasks_of};
use shared::edge::error::EventError;

pub async fn handle(
    deps: Arc<MaintenanceDeps>,
    event: LambdaEvent<Value>,
) -> Result<Value, EventError> {
    if is_digest_run(&event.payload) {
        let report = deps
            .run_digests(chrono::Utc::now())
            .await
            .map_err(|error| EventError::Dependency {
                dependency: "digests",
                detail: error.to_string(),
            })?;
        tracing::info!(enqueued = report.enqueued, "digests enqueued");
        return Ok(json!({"digests": {"enqueued": report.enqueued}}));
    }
    let tasks = tasks_of(&event.payload).map_err(EventError::Malformed)?;
    let summary = deps.run(&tasks, event.context.deadline).await;
    let failed = summary.failed();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|task| task.as_str()).collect();
        return Err(EventError::Dependency {
            dependency: "maintenance",
            detail: format!("failed tasks: {}", names.join(", ")),
        });
    }
    let reports: serde_json::Map<String, Value> = summary
        .reports
        .iter()
        .map(|report| {
            let counts: serde_json::Map<String, Value> = report
                .counts
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                .collect();
            (report.task.as_str().to_owned(), Value::Object(counts))
        })
        .collect();
    Ok(Value::Object(reports))
}
