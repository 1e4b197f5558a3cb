//! The processor function: applies batches from the `events` queue to membership state.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::App;
use shared::edge::error::EventError;

/// Processes one batch and reports the messages that failed, so SQS retries only those.
#[tracing::instrument(skip_all, fields(batch.size = event.payload.records.len()))]
pub async fn handle(
    app: Arc<App>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, EventError> {
    let report = shared::aws::state::processor(&app)
        .process_batch(&event.payload.records)
        .await
        .map_err(|error| EventError::Malformed(error.to_string()))?;
    report.metrics("processor").emit();
    Ok(shared::edge::runtime::batch_failures(report.failed))
}
