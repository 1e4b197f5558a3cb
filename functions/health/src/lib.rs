//! The health function: `GET /health` (public), and `/health/db`, `/health/webhooks`,
//! `/health/external`, which reveal queue depths, breaker states and provider URLs and cost AWS
//! calls: those sit behind the authorizer and answer only the operator principal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Extensions;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shared::ApiError;
use shared::domain::metrics::Metrics;
use shared::domain::metrics::catalogue as names;
use shared::domain::ports::{Clock, SystemClock};
use shared::edge::deps::auth::OPERATOR_PRINCIPAL;
use shared::edge::deps::health::HealthDeps;
use shared::edge::health::{self, HealthReport, PROVIDER_PROBE_TIMEOUT};

pub fn router(deps: Arc<HealthDeps>) -> Router {
    Router::new()
        .route("/health", get(liveness))
        .route("/health/db", get(db))
        .route("/health/webhooks", get(webhooks))
        .route("/health/external", get(external))
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

async fn liveness(State(deps): State<Arc<HealthDeps>>) -> Response {
    Json(health::liveness(&deps.app.config)).into_response()
}

/// Refuses every caller but the operator principal (a session of `OPERATOR_USER_IDS`).
fn operator_only(extensions: &Extensions) -> Result<(), ApiError> {
    match shared::edge::http::authorizer_field(extensions, "principal") {
        Some(OPERATOR_PRINCIPAL) => Ok(()),
        _ => Err(ApiError::Refused {
            code: "not_operator",
            message: "the detailed health reports are for operators (OPERATOR_USER_IDS)".to_owned(),
        }),
    }
}

async fn db(
    State(deps): State<Arc<HealthDeps>>,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    operator_only(&extensions)?;
    Ok(respond(
        "db",
        health::check_tables(&deps.app.dynamodb, &deps.app.config.tables).await,
    ))
}

async fn webhooks(
    State(deps): State<Arc<HealthDeps>>,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    operator_only(&extensions)?;
    Ok(respond(
        "webhooks",
        health::check_queues(&deps.app.sqs, &deps.app.config.queues).await,
    ))
}

async fn external(
    State(deps): State<Arc<HealthDeps>>,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    operator_only(&extensions)?;
    let http = match deps.app.http() {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "the HTTP client cannot be built: {error}");
            return Err(ApiError::Internal);
        }
    };
    let emergencies = health::active_emergencies(&deps.emergency).await;
    let report = health::check_external(
        http,
        &deps.app.config.provider_apis,
        PROVIDER_PROBE_TIMEOUT,
        &deps.breakers,
        &emergencies,
        SystemClock.now(),
    )
    .await;
    Ok(respond("external", report))
}

/// 200 or 503 with the report (200 when only degraded); failures are logged and counted so alarms
/// need no polling.
fn respond(report_name: &'static str, report: HealthReport) -> Response {
    let failed = report.failed_checks();
    if !failed.is_empty() {
        tracing::warn!(health.report = report_name, health.failed = ?failed, "health report {report_name} failed: {failed:?}");
        Metrics::new("health")
            .dimension("report", report_name)
            .count(names::HEALTH_CHECK_FAILED, failed.len() as u64)
            .emit();
    }
    (report.http_status(), Json(report)).into_response()
}
