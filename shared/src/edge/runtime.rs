//! The one way a function binary starts: logging, configuration validated at init (a bad
//! environment fails the cold start with every problem listed, never the first request), the
//! [`App`] built once, the function's composition root ([`crate::edge::deps`]) built once from
//! it, then the Lambda runtime loop handing every invocation the same dependencies. Each
//! invocation ends in [`Reporter::finish`], which sends the errors it logged when error reporting
//! is on (README "Error reporting") before the answer goes back.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::App;
use crate::domain::ports::InboundMessage;
use crate::edge::error::EventError;
use crate::edge::telemetry::Reporter;

/// Runs an HTTP function (API Gateway HTTP API, payload 2.0) serving `router`.
pub async fn serve_http(
    router: impl FnOnce(Arc<App>) -> Router,
) -> Result<(), lambda_runtime::Error> {
    let reporter = crate::edge::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    reporter.start_for(&app).await;
    lambda_http::run(Reported {
        inner: router(app),
        reporter,
    })
    .await
}

/// The router of an HTTP function, whose invocations end in [`Reporter::finish`].
#[derive(Clone)]
struct Reported {
    inner: Router,
    reporter: Reporter,
}

impl tower::Service<lambda_http::Request> for Reported {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<lambda_http::Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: lambda_http::Request) -> Self::Future {
        let work = tower::Service::call(&mut self.inner, request);
        let reporter = self.reporter.clone();
        Box::pin(async move { reporter.finish(work).await })
    }
}

/// Runs an HTTP function whose routes take the dependencies `build` makes once, at cold start.
pub async fn serve_http_with<D>(
    build: impl FnOnce(Arc<App>) -> D,
    router: impl FnOnce(Arc<D>) -> Router,
) -> Result<(), lambda_runtime::Error> {
    serve_http(|app| router(Arc::new(build(app)))).await
}

/// Runs an event function (SQS, schedule, rotation, authorizer): `build` makes its dependencies
/// once, at cold start, and every invocation's `handler` gets them with the event.
pub async fn serve_events<D, E, R, F, Fut>(
    build: impl FnOnce(Arc<App>) -> D,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(Arc<D>, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, EventError>>,
{
    let reporter = crate::edge::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    reporter.start_for(&app).await;
    let handler = event_handler(app, build, handler);
    lambda_runtime::run(service_fn(move |event| {
        let work = handler(event);
        let reporter = reporter.clone();
        async move { reporter.finish(work).await }
    }))
    .await
}

/// The per-invocation function of an event function: the dependencies are built here, once, and
/// each call hands the same ones to `handler`.
pub fn event_handler<D, E, R, F, Fut>(
    app: Arc<App>,
    build: impl FnOnce(Arc<App>) -> D,
    handler: F,
) -> impl Fn(LambdaEvent<E>) -> Fut
where
    F: Fn(Arc<D>, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, EventError>>,
{
    let deps = Arc::new(build(app));
    move |event| handler(Arc::clone(&deps), event)
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

/// An SQS record as the domain takes it: its id, body and which delivery this is
/// (`ApproximateReceiveCount`, 1 when absent).
pub fn inbound(record: &aws_lambda_events::sqs::SqsMessage) -> InboundMessage {
    InboundMessage {
        message_id: record.message_id.clone(),
        body: record.body.clone(),
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
    }
}

/// The records of an SQS batch as the domain takes them.
pub fn inbound_batch(records: &[aws_lambda_events::sqs::SqsMessage]) -> Vec<InboundMessage> {
    records.iter().map(inbound).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqs_record_keeps_its_id_body_and_delivery_count() {
        let mut record = aws_lambda_events::sqs::SqsMessage::default();
        record.message_id = Some("m1".into());
        record.body = Some("{}".into());
        assert_eq!(inbound(&record).receive_count, 1);
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "3".into());
        assert_eq!(
            inbound(&record),
            InboundMessage {
                message_id: Some("m1".into()),
                body: Some("{}".into()),
                receive_count: 3,
            }
        );
    }
}
