//! The notify function: sends the messages of batches from the `notifications` queue.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::edge::deps::notify::NotifyDeps;
use shared::edge::error::EventError;

/// Processes one batch and reports the jobs that failed, so SQS retries only those.
#[tracing::instrument(skip_all, fields(batch.size = event.payload.records.len()))]
pub async fn handle(
    deps: Arc<NotifyDeps>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, EventError> {
    let notifier = deps
        .notifier
        .as_ref()
        .map_err(|error| EventError::Dependency {
            dependency: "notifier",
            detail: error.to_string(),
        })?;
    let report = notifier
        .process_batch(&shared::edge::runtime::inbound_batch(
            &event.payload.records,
        ))
        .await
        .map_err(|error| EventError::Malformed(error.to_string()))?;
    report.metrics("notify").emit();
    Ok(shared::edge::runtime::batch_failures(report.failed))
}
