//! The sync function. One Lambda with three triggers: `POST /sync` (HTTP API), pages of a run
//! from the `sync-jobs` queue, and the periodic reconcile schedule.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use lambda_http::request::LambdaRequest;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ApiError;
use shared::domain::sync::worker::{SyncError, SyncStarted};
pub use shared::edge::deps::sync::SyncDeps;
use shared::edge::error::EventError;

pub fn router(state: Arc<SyncDeps>) -> Router {
    Router::new()
        .route("/sync", post(start))
        .fallback(shared::edge::http::route_not_found)
        .with_state(state)
}

async fn start(
    State(state): State<Arc<SyncDeps>>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let user_id =
        shared::edge::http::authorizer_field(&extensions, "user_id").ok_or(ApiError::Forbidden)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let request = shared::edge::sync::parse_sync_request(content_type, &body)?;
    let syncer = state.syncer()?;
    let started = syncer.request(user_id, request).await?;
    let status = match started {
        SyncStarted::Run { .. } => StatusCode::ACCEPTED,
        SyncStarted::Membership(_) => StatusCode::OK,
    };
    Ok((status, Json(started)).into_response())
}

/// What invoked the function, told apart by the payload's shape.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway HTTP API request (it has a `requestContext`).
    Http(Box<LambdaRequest>),
    /// A batch from the `sync-jobs` queue (it has `Records`).
    Jobs(SqsEvent),
    /// The schedule's `Input`, delivered verbatim.
    Schedule(Value),
}

impl Trigger {
    pub fn classify(payload: Value) -> Result<Self, EventError> {
        let malformed = |e: serde_json::Error| EventError::Malformed(e.to_string());
        if payload.get("requestContext").is_some() {
            serde_json::from_value(payload)
                .map(|r| Self::Http(Box::new(r)))
                .map_err(malformed)
        } else if payload.get("Records").is_some() {
            serde_json::from_value(payload)
                .map(Self::Jobs)
                .map_err(malformed)
        } else {
            Ok(Self::Schedule(payload))
        }
    }
}

/// The schedule's input: `{"kind": "reconcile", "provider": "whop"}` (the default),
/// `"gumroad"`, `"stripe"` or `"paypal"`.
#[derive(Debug, Deserialize)]
struct ScheduledRun {
    kind: String,
    #[serde(default)]
    provider: Option<String>,
}

pub async fn handle(state: Arc<SyncDeps>, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    match Trigger::classify(event.payload)? {
        Trigger::Http(request) => {
            let response =
                shared::edge::http::serve_api_gateway_event(router(state), *request).await;
            to_value(&response)
        }
        Trigger::Jobs(batch) => {
            let failed = match state.syncer() {
                Ok(syncer) => {
                    let jobs = shared::edge::runtime::inbound_batch(&batch.records);
                    syncer.run_jobs(&jobs).await
                }
                // Not configured: keep the jobs for when it is (they dead-letter in the end).
                Err(_) => batch
                    .records
                    .iter()
                    .filter_map(|r| r.message_id.clone())
                    .collect(),
            };
            to_value(&shared::edge::runtime::batch_failures(failed))
        }
        Trigger::Schedule(input) => scheduled(&state, input).await,
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, EventError> {
    serde_json::to_value(value).map_err(|e| EventError::Malformed(e.to_string()))
}

/// A scheduled reconcile: for Whop, one run per known company and the default one
/// ([`shared::domain::sync::worker::Syncer::start_scheduled`]); for Gumroad, one run per active
/// connection ([`shared::edge::deps::sync::gumroad_scopes`]); for Stripe, one run per company of
/// `STRIPE_SYNC_COMPANIES` ([`shared::edge::deps::sync::stripe_scopes`]); for PayPal, one run of
/// the stored subscriptions of `PAYPAL_COMPANY_ID` ([`shared::edge::deps::sync::paypal_scopes`]). A company whose run is still going
/// (or whose last run's lock outlived it), or sync not configured, is not an error: retrying the
/// schedule would not change it. It fails only when no run could be considered (the known
/// companies unreadable) or a company's run could not be stored or enqueued.
async fn scheduled(state: &SyncDeps, input: Value) -> Result<Value, EventError> {
    let run: ScheduledRun =
        serde_json::from_value(input).map_err(|e| EventError::Malformed(e.to_string()))?;
    let provider = run.provider.as_deref().unwrap_or("whop");
    if run.kind != "reconcile" || !["whop", "gumroad", "stripe", "paypal"].contains(&provider) {
        return Err(EventError::Malformed(format!(
            "unknown scheduled job `{}` of `{provider}`",
            run.kind
        )));
    }
    let Ok(syncer) = state.syncer() else {
        return Ok(json!({"outcome": "unconfigured"}));
    };
    let dependency = |error: SyncError| EventError::Dependency {
        dependency: "sync",
        detail: error.to_string(),
    };
    let mut runs = Vec::new();
    let mut failed = None;
    let scheduled = if provider == "gumroad" {
        let store = shared::aws::connections::DynamoConnections::of(&state.app);
        let scopes = shared::edge::deps::sync::gumroad_scopes(&store)
            .await
            .map_err(|error| dependency(error.into()))?;
        syncer.start_each(scopes, "schedule").await
    } else if provider == "stripe" {
        let scopes = shared::edge::deps::sync::stripe_scopes(&state.app);
        syncer.start_each(scopes, "schedule").await
    } else if provider == "paypal" {
        let scopes = shared::edge::deps::sync::paypal_scopes(&state.app);
        syncer.start_each(scopes, "schedule").await
    } else {
        syncer.start_scheduled().await.map_err(dependency)?
    };
    for scheduled in scheduled {
        let (company_id, provider) = (scheduled.company_id, scheduled.provider);
        runs.push(match scheduled.started {
            Ok(run) => json!({"company_id": company_id, "provider": provider,
                "outcome": "started", "run_id": run.run_id}),
            Err(SyncError::InProgress { run_id }) => {
                tracing::info!(run.id = %run_id, company.id = %company_id, "a reconcile is already running; this one is skipped");
                json!({"company_id": company_id, "provider": provider, "outcome": "in_progress", "run_id": run_id})
            }
            // The last run's lock outlived it (its release failed); the lease frees it.
            Err(SyncError::TooSoon { retry_after }) => json!({"company_id": company_id,
                "provider": provider, "outcome": "too_soon", "retry_after_secs": retry_after.as_secs()}),
            Err(error) => {
                tracing::error!(company.id = %company_id, %error, "the company's reconcile could not start");
                let entry = json!({"company_id": company_id, "provider": provider, "outcome": "failed"});
                failed = Some(error);
                entry
            }
        });
    }
    match failed {
        // The others started; the schedule's retry skips them (their locks) and retries this one.
        Some(error) => Err(dependency(error)),
        None => Ok(json!({"outcome": "scheduled", "runs": runs})),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tells_the_three_triggers_apart() {
        let http = json!({
            "version": "2.0", "routeKey": "POST /sync", "rawPath": "/sync", "rawQueryString": "",
            "headers": {}, "isBase64Encoded": false,
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/sync", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
                "requestId": "r", "routeKey": "POST /sync", "stage": "$default", "time": "t", "timeEpoch": 0}
        });
        assert!(matches!(Trigger::classify(http), Ok(Trigger::Http(_))));
        assert!(matches!(
            Trigger::classify(json!({"Records": []})),
            Ok(Trigger::Jobs(_))
        ));
        assert!(matches!(
            Trigger::classify(json!({"kind": "reconcile", "provider": "whop"})),
            Ok(Trigger::Schedule(_))
        ));
        assert!(matches!(
            Trigger::classify(json!({"Records": "not a list"})),
            Err(EventError::Malformed(_))
        ));
    }
}
