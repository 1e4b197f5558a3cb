//! The routes that write the suppression list where they arrive, in one conditional write each:
//! Resend's bounce and complaint deliveries, and the one-click unsubscribe (RFC 8058). Neither
//! goes through the claim and the queue: the write is idempotent (the list keeps the first
//! suppression), so a replayed delivery or a second click changes nothing, and a failed write
//! answers 503, which the sender (Resend, a mail client, a person) retries.
//!
//! No log line names an address: only the keyed id's first digits (`suppression.id`, logged by
//! the list) and the company.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use shared::ApiError;
use shared::domain::metrics::Metrics;
use shared::domain::metrics::catalogue as names;
use shared::domain::notify::suppression::record_feedback;
use shared::domain::notify::unsubscribe::{ONE_CLICK, UnsubscribeError};
use shared::domain::ports::{DependencyError, SuppressionList, SuppressionReason};
use shared::domain::webhooks::Source;
use shared::domain::webhooks::ingest::{IngestError, verify_delivery};
use shared::edge::deps::webhooks::WebhooksDeps;

/// `POST /webhooks/resend`: verified with the webhook secrets' `resend` list (Standard Webhooks
/// under `svix-*` names); a hard bounce or a complaint suppresses its recipients; 200 for every
/// verified delivery, suppressing or not.
pub async fn resend(
    State(state): State<Arc<WebhooksDeps>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut metrics = Metrics::new("webhooks").dimension("provider", Source::Resend.as_str());
    let response = match record(&state, &headers, body).await {
        Ok((event_id, kind, suppressed)) => {
            tracing::info!(webhook.id = %event_id, webhook.kind = %kind, webhook.suppressed = suppressed, "resend event {event_id} ({kind})");
            metrics.count(
                names::SUPPRESSIONS_RECORDED,
                u64::try_from(suppressed).unwrap_or(u64::MAX),
            );
            Json(json!({"accepted": true, "event_id": event_id, "kind": kind, "suppressed": suppressed}))
                .into_response()
        }
        Err(error) => crate::rejected(error, &mut metrics),
    };
    metrics.emit();
    response
}

async fn record(
    state: &WebhooksDeps,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, String, usize), IngestError> {
    let body = crate::read_body(
        headers,
        body,
        shared::domain::webhooks::ingest::check_content_type,
    )
    .await?;
    let verified = verify_delivery(
        &state.providers,
        &state.keyring,
        Source::Resend,
        headers,
        &body,
        chrono::Utc::now().timestamp(),
        state.verify_options,
    )
    .await?;
    let event_id = verified.message_id.unwrap_or_default().to_owned();
    let (kind, feedback) = shared::providers::standard::resend::feedback(&body)?;
    let list = state
        .suppressions
        .as_ref()
        .ok_or_else(|| unavailable(&DependencyError::NotFound))?;
    let suppressed = record_feedback(list, &feedback)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok((event_id, kind, suppressed))
}

fn unavailable(error: &DependencyError) -> IngestError {
    IngestError::Dependency {
        dependency: "suppression list",
        detail: error.to_string(),
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /unsubscribe?token=`: a confirmation page whose form POSTs to the same URL. Changes
/// nothing: mail scanners follow links.
pub async fn show_unsubscribe(
    State(state): State<Arc<WebhooksDeps>>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let checked = match shared::edge::http::query(query) {
        Ok(query) => check(&state, query.token.as_deref()).await,
        Err(error) => Err(error),
    };
    match checked {
        Ok(_) => Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>\
             <body><h1>Unsubscribe</h1><p>Stop receiving these messages?</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"{}\">\
             <button type=\"submit\">Unsubscribe</button></form></body></html>",
            ONE_CLICK.trim_start_matches("List-Unsubscribe=")
        ))
        .into_response(),
        Err(error) => error.into_response(),
    }
}

/// `POST /unsubscribe?token=` (body `List-Unsubscribe=One-Click`, or the page's form): suppresses
/// the token's address. The body is not needed: the signed token is the whole request.
pub async fn unsubscribe(
    State(state): State<Arc<WebhooksDeps>>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let query = shared::edge::http::query(query)?;
        let unsubscription = check(&state, query.token.as_deref()).await?;
        let list = state.suppressions.as_ref().ok_or(ApiError::DependencyUnavailable {
            dependency: "suppression list",
        })?;
        list.suppress(&unsubscription.address, SuppressionReason::Unsubscribed)
            .await
            .map_err(|error| {
                tracing::error!(%error, "unsubscribe not recorded: {error}");
                ApiError::DependencyUnavailable {
                    dependency: "suppression list",
                }
            })?;
        tracing::info!(company.id = %unsubscription.company_id, "unsubscribed from company {}", unsubscription.company_id);
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => Html(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head>\
             <body><h1>Unsubscribed</h1><p>You will not receive these messages any more.</p></body></html>",
        )
        .into_response(),
        Err(error) => error.into_response(),
    }
}

/// The unsubscription a token names; every refusal is the same 400 (no detail).
async fn check(
    state: &WebhooksDeps,
    token: Option<&str>,
) -> Result<shared::domain::notify::unsubscribe::Unsubscription, ApiError> {
    let invalid = || ApiError::BadRequest {
        code: "invalid_unsubscribe_token",
        message: "this unsubscribe link is invalid or has expired".to_owned(),
    };
    let tokens = state
        .unsubscribe
        .as_ref()
        .ok_or(ApiError::DependencyUnavailable {
            dependency: "unsubscribe key",
        })?;
    let token = token.ok_or_else(invalid)?;
    match tokens.verify(token, chrono::Utc::now()).await {
        Ok(unsubscription) => Ok(unsubscription),
        Err(UnsubscribeError::Invalid(reason)) => {
            tracing::warn!(unsubscribe.reason = %reason, "unsubscribe link refused: {reason}");
            Err(invalid())
        }
        Err(UnsubscribeError::Unavailable { dependency, error }) => {
            tracing::error!(%error, "unsubscribe key unavailable: {error}");
            Err(ApiError::DependencyUnavailable { dependency })
        }
    }
}
