//! The one way a function binary starts: logging, configuration validated at init (a bad
//! environment fails the cold start with every problem listed, never the first request), the
//! [`App`] built once, then the Lambda runtime loop.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::App;
use crate::edge::error::EventError;

/// Runs an HTTP function (API Gateway HTTP API, payload 2.0) serving `router`.
pub async fn serve_http(
    router: impl FnOnce(Arc<App>) -> Router,
) -> Result<(), lambda_runtime::Error> {
    crate::edge::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(router(app)).await
}

/// Runs an event function (SQS, schedule, rotation) whose handler takes the `App` and the event.
pub async fn serve_events<E, R, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(Arc<App>, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, EventError>>,
{
    serve_events_with(|app| app, handler).await
}

/// Runs an event function whose handler takes per-process state built once from the `App` (caches
/// that should live as long as the warm function) and the event.
pub async fn serve_events_with<S, E, R, F, Fut>(
    state: impl FnOnce(Arc<App>) -> Arc<S>,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(Arc<S>, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, EventError>>,
{
    crate::edge::telemetry::init();
    let state = state(Arc::new(App::from_env().await?));
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| {
        handler(Arc::clone(&state), event)
    }))
    .await
}

/// The answer of an SQS-triggered function with ReportBatchItemFailures: the message ids SQS
/// should deliver again (and dead-letter once they keep failing); the rest are deleted.
pub fn batch_failures(
    message_ids: impl IntoIterator<Item = String>,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    let mut response = aws_lambda_events::sqs::SqsBatchResponse::default();
    response.batch_item_failures = message_ids
        .into_iter()
        .map(|id| {
            let mut failure = aws_lambda_events::sqs::BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}
