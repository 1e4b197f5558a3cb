//! The function binaries' handlers, linked in: what the local stack runs is the code the Lambda
//! binaries run. Keys are the handler names the template derives (crate, or `BuildProperties.Binary`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::App;
use shared::edge::error::EventError;

/// Invokes a function as Lambda does: a JSON event in, a JSON response or an error message out.
pub type Invoker = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// A function's entry points: an HTTP router, an event handler, or both (sync).
#[derive(Clone, Default)]
pub struct LocalFunction {
    pub http: Option<Router>,
    pub invoke: Option<Invoker>,
}

/// Wraps an event handler `fn(Arc<S>, LambdaEvent<E>) -> Result<R, EventError>` as an [`Invoker`];
/// `state` is the `App`, or per-process state built from it as the function's binary builds it.
pub fn invoker<S, E, R, F, Fut>(state: Arc<S>, handler: F) -> Invoker
where
    S: Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(Arc<S>, LambdaEvent<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, EventError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |payload: Value| {
        let state = Arc::clone(&state);
        let handler = Arc::clone(&handler);
        Box::pin(async move {
            let event: E = serde_json::from_value(payload)
                .map_err(|e| format!("event does not deserialize: {e}"))?;
            let response = handler(state, LambdaEvent::new(event, Context::default()))
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_value(response).map_err(|e| e.to_string())
        })
    })
}

/// Every function handler, keyed by handler name.
pub fn registry(app: &Arc<App>) -> BTreeMap<&'static str, LocalFunction> {
    let http = |router: Router| LocalFunction {
        http: Some(router),
        invoke: None,
    };
    let event = |invoke: Invoker| LocalFunction {
        http: None,
        invoke: Some(invoke),
    };
    // One per stack, as one warm function keeps its syncer (rate limits, caches).
    let sync_state = Arc::new(sync::SyncDeps::build(Arc::clone(app)));
    // KDP report uploads: routes and the ingestions queue, one state like the binary's.
    let ingest_state = Arc::new(ingest::IngestDeps::build(Arc::clone(app)));
    BTreeMap::from([
        (
            "health",
            http(health::router(Arc::new(
                shared::edge::deps::health::HealthDeps::build(Arc::clone(app)),
            ))),
        ),
        (
            "webhooks",
            http(webhooks::router(Arc::new(
                shared::edge::deps::webhooks::WebhooksDeps::build(Arc::clone(app)),
            ))),
        ),
        (
            "auth",
            http(auth::router(Arc::new(
                shared::edge::deps::auth::AuthDeps::build(Arc::clone(app)),
            ))),
        ),
        (
            "authorizer",
            event(invoker(
                Arc::new(shared::edge::deps::auth::AuthorizerDeps::build(Arc::clone(
                    app,
                ))),
                auth::authorize,
            )),
        ),
        (
            "state",
            http(state::router(Arc::new(
                shared::edge::deps::state::StateDeps::build(Arc::clone(app)),
            ))),
        ),
        (
            "sync",
            LocalFunction {
                http: Some(sync::router(Arc::clone(&sync_state))),
                invoke: Some(invoker(sync_state, sync::handle)),
            },
        ),
        (
            "ingest",
            LocalFunction {
                http: Some(ingest::router(Arc::clone(&ingest_state))),
                invoke: Some(invoker(ingest_state, ingest::handle)),
            },
        ),
        (
            "processor",
            event(invoker(
                Arc::new(shared::edge::deps::processor::ProcessorDeps::build(
                    Arc::clone(app),
                )),
                processor::handle,
            )),
        ),
        (
            "notify",
            event(invoker(
                Arc::new(shared::edge::deps::notify::NotifyDeps::build(Arc::clone(
                    app,
                ))),
                notify::handle,
            )),
        ),
        (
            "maintenance",
            event(invoker(
                Arc::new(shared::edge::deps::maintenance::MaintenanceDeps::build(
                    Arc::clone(app),
                )),
                maintenance::handle,
            )),
        ),
        (
            "rotate-secret",
            event(invoker(
                Arc::new(shared::edge::deps::rotate_secret::RotateSecretDeps::build(
                    Arc::clone(app),
                )),
                rotate_secret::handle,
            )),
        ),
    ])
}
