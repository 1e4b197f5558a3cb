//! The webhooks function: `POST /webhooks/{provider}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode, header};
use serde_json::json;
use shared::aws::claims::DynamoClaims;
use shared::domain::metrics::Metrics;
use shared::domain::ports::SystemClock;
use shared::domain::webhooks::ingest::{
    Accepted, IngestDeps, IngestError, MAX_BODY_BYTES, check_content_type, ingest, parse_provider,
};
use shared::domain::webhooks::keys::Keyring;
use shared::domain::webhooks::verify::{DEFAULT_TOLERANCE_SECS, VerifyOptions};
use shared::providers::Registry;
use shared::{ApiError, App};

/// Built once per cold start: the key cache lives as long as the warm function.
pub struct WebhookState {
    app: Arc<App>,
    keyring: Keyring<aws_sdk_secretsmanager::Client, SystemClock>,
    claims: DynamoClaims,
    verify_options: VerifyOptions,
}

impl WebhookState {
    pub fn new(app: Arc<App>) -> Self {
        let config = &app.config;
        Self {
            keyring: Keyring::new(
                app.secrets_manager.clone(),
                SystemClock,
                config.secrets.webhook_secrets.clone(),
                config.webhooks.secrets_ttl,
            ),
            claims: DynamoClaims::of(&app),
            verify_options: VerifyOptions {
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
                accept_whop_bare: config.webhooks.accept_whop_bare_signatures,
            },
            app,
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/webhooks/{provider}", post(receive))
        .fallback(shared::edge::http::route_not_found)
        .with_state(Arc::new(WebhookState::new(app)))
}

#[tracing::instrument(skip_all, fields(webhook.provider = %provider))]
async fn receive(
    State(state): State<Arc<WebhookState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = accept(&state, &provider, &headers, body).await;
    let dimension = parse_provider(&provider).map_or("unknown", |s| s.as_str());
    let mut metrics = Metrics::new("webhooks").dimension("provider", dimension);
    let response = match result {
        Ok(Accepted::Enqueued {
            event_id,
            kind,
            known_kind,
            taken_over,
        }) => {
            tracing::info!(webhook.id = %event_id, webhook.kind = %kind, webhook.taken_over = taken_over, "accepted webhook {event_id} ({kind})");
            metrics.count("webhook_enqueued", 1);
            if !known_kind {
                metrics.count("webhook_unknown_kind", 1);
            }
            if taken_over {
                metrics.count("webhook_claim_taken_over", 1);
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({"accepted": true, "event_id": event_id, "kind": kind})),
            )
                .into_response()
        }
        Ok(Accepted::Duplicate { event_id, status }) => {
            tracing::info!(webhook.id = %event_id, webhook.status = status.as_str(), "duplicate delivery of webhook {event_id}");
            metrics.count("webhook_duplicate", 1);
            Json(json!({"duplicate": true, "event_id": event_id, "status": status.as_str()}))
                .into_response()
        }
        Err(error) => {
            let reason = error.reason_code();
            match &error {
                IngestError::Dependency { .. } => {
                    tracing::error!(webhook.reason = reason, %error, "webhook not accepted: {error}")
                }
                _ => tracing::warn!(webhook.reason = reason, %error, "webhook rejected: {error}"),
            }
            metrics.count("webhook_rejected", 1);
            ApiError::from(error).into_response()
        }
    };
    metrics.emit();
    response
}

async fn accept(
    state: &WebhookState,
    provider: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, IngestError> {
    let source = parse_provider(provider)?;
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(IngestError::TooLarge);
    }
    check_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    // API Gateway's base64 bodies arrive decoded: lambda_http turns them into raw bytes.
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| IngestError::TooLarge)?;
    let deps = IngestDeps {
        providers: &Registry,
        keyring: &state.keyring,
        claims: &state.claims,
        publisher: &state.app.sqs,
        events_queue_url: &state.app.config.queues.events,
        verify_options: state.verify_options,
    };
    ingest(&deps, source, headers, &body, chrono::Utc::now()).await
}
