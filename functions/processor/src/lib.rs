//! The processor function: applies batches from the `events` queue to membership state.

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::App;
use shared::adapters::claims::DynamoClaims;
use shared::adapters::state::DynamoState;
use shared::error::EventError;
use shared::ports::SystemClock;
use shared::state::process::Processor;

/// Processes one batch and reports the messages that failed, so SQS retries only those.
#[tracing::instrument(skip_all, fields(batch.size = event.payload.records.len()))]
pub async fn handle(
    app: Arc<App>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, EventError> {
    let processor = Processor::new(
        DynamoState {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        },
        DynamoClaims {
            client: app.dynamodb.clone(),
            table: app.config.tables.webhook_events.clone(),
        },
        SystemClock,
    );
    let report = processor
        .process_batch(&event.payload.records)
        .await
        .map_err(|error| EventError::Malformed(error.to_string()))?;
    report.metrics("processor").emit();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = report
        .failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}
