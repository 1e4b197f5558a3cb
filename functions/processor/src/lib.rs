//! The processor function: applies batches from the `events` queue to membership state.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::App;
use shared::error::EventError;

/// Fails the whole batch until processing exists, so SQS keeps the messages (and, after
/// `maxReceiveCount`, dead-letters them) instead of deleting them unprocessed.
pub async fn handle(
    _app: Arc<App>,
    _event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, EventError> {
    Err(EventError::NotImplemented {
        what: "event processing",
    })
}
