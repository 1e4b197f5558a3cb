//! The webhooks function: `POST /webhooks/{provider}`, and Gumroad's pings at
//! `POST /webhooks/gumroad/{token}` ([`shared::providers::gumroad::ping`]); Resend's deliveries
//! (`POST /webhooks/resend`) and the one-click unsubscribe (`GET`/`POST /unsubscribe`) write the
//! suppression list where they arrive (`suppression.rs`).

mod suppression;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode, header};
use serde_json::json;
use shared::ApiError;
use shared::domain::metrics::Metrics;
use shared::domain::metrics::catalogue as names;
use shared::domain::webhooks::ingest::{
    Accepted, IngestDeps, IngestError, MAX_BODY_BYTES, check_content_type, ingest, parse_provider,
};
use shared::edge::deps::webhooks::WebhooksDeps;
use shared::providers::gumroad;

pub fn router(deps: Arc<WebhooksDeps>) -> Router {
    Router::new()
        .route("/webhooks/resend", post(suppression::resend))
        .route(
            shared::domain::notify::unsubscribe::PATH,
            get(suppression::show_unsubscribe).post(suppression::unsubscribe),
        )
        .route("/webhooks/{provider}", post(receive))
        .route("/webhooks/gumroad/{token}", post(receive_gumroad))
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

#[tracing::instrument(skip_all, fields(webhook.provider))]
async fn receive(
    State(state): State<Arc<WebhooksDeps>>,
    provider: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let provider = match shared::edge::http::path_id(provider) {
        Ok(provider) => provider,
        Err(error) => return error.into_response(),
    };
    tracing::Span::current().record("webhook.provider", provider.as_str());
    let result = accept(&state, &provider, &headers, body).await;
    let dimension = parse_provider(&provider).map_or("unknown", |s| s.as_str());
    respond(result, dimension)
}

/// A Gumroad ping: its token, then the same answers and metrics as every delivery.
#[tracing::instrument(skip_all, fields(webhook.provider = "gumroad"))]
async fn receive_gumroad(
    State(state): State<Arc<WebhooksDeps>>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = match shared::edge::http::path_id(token) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let result = accept_gumroad(&state, &token, &headers, body).await;
    respond(result, "gumroad")
}

async fn accept_gumroad(
    state: &WebhooksDeps,
    token: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, IngestError> {
    let body = read_body(headers, body, gumroad::ping::check_content_type).await?;
    let deps = gumroad::ping::PingDeps {
        connections: &state.connections,
        claims: &state.claims,
        publisher: &state.app.sqs,
        events_queue_url: &state.app.config.queues.events,
    };
    gumroad::ping::receive(&deps, token, &body, chrono::Utc::now()).await
}

/// The answer to a delivery, logged and counted under `dimension` (its provider).
fn respond(result: Result<Accepted, IngestError>, dimension: &'static str) -> Response {
    let mut metrics = Metrics::new("webhooks").dimension("provider", dimension);
    let response = match result {
        Ok(Accepted::Enqueued {
            event_id,
            kind,
            known_kind,
            taken_over,
        }) => {
            tracing::info!(webhook.id = %event_id, webhook.kind = %kind, webhook.taken_over = taken_over, "accepted webhook {event_id} ({kind})");
            metrics.count(names::WEBHOOK_ENQUEUED, 1);
            if !known_kind {
                metrics.count(names::WEBHOOK_UNKNOWN_KIND, 1);
            }
            if taken_over {
                metrics.count(names::WEBHOOK_CLAIM_TAKEN_OVER, 1);
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({"accepted": true, "event_id": event_id, "kind": kind})),
            )
                .into_response()
        }
        Ok(Accepted::Duplicate { event_id, status }) => {
            tracing::info!(webhook.id = %event_id, webhook.status = status.as_str(), "duplicate delivery of webhook {event_id}");
            metrics.count(names::WEBHOOK_DUPLICATE, 1);
            Json(json!({"duplicate": true, "event_id": event_id, "status": status.as_str()}))
                .into_response()
        }
        Err(error) => rejected(error, &mut metrics),
    };
    metrics.emit();
    response
}

/// The answer to a delivery that was not accepted, logged (an error when a dependency failed, a
/// warning otherwise) and counted.
fn rejected(error: IngestError, metrics: &mut Metrics) -> Response {
    let reason = error.reason_code();
    match &error {
        IngestError::Dependency { .. } => {
            tracing::error!(webhook.reason = reason, %error, "webhook not accepted: {error}")
        }
        _ => tracing::warn!(webhook.reason = reason, %error, "webhook rejected: {error}"),
    }
    metrics.count(names::WEBHOOK_REJECTED, 1);
    ApiError::from(error).into_response()
}

async fn accept(
    state: &WebhooksDeps,
    provider: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, IngestError> {
    let source = parse_provider(provider)?;
    let body = read_body(headers, body, check_content_type).await?;
    let deps = IngestDeps {
        providers: &state.providers,
        keyring: &state.keyring,
        claims: &state.claims,
        publisher: &state.app.sqs,
        events_queue_url: &state.app.config.queues.events,
        verify_options: state.verify_options,
    };
    ingest(&deps, source, headers, &body, chrono::Utc::now()).await
}

/// The body within [`MAX_BODY_BYTES`] (a larger declared length refused before reading), its
/// content type checked by `content_type`.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    content_type: fn(Option<&str>) -> Result<(), IngestError>,
) -> Result<axum::body::Bytes, IngestError> {
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(IngestError::TooLarge);
    }
    content_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    // API Gateway's base64 bodies arrive decoded: lambda_http turns them into raw bytes.
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| IngestError::TooLarge)
}
