//! The health function: `GET /health`, `/health/db`, `/health/webhooks`, `/health/external`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shared::ApiError;
use shared::domain::metrics::Metrics;
use shared::domain::ports::{Clock, SystemClock};
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

async fn db(State(deps): State<Arc<HealthDeps>>) -> Response {
    respond(
        "db",
        health::check_tables(&deps.app.dynamodb, &deps.app.config.tables).await,
    )
}

async fn webhooks(State(deps): State<Arc<HealthDeps>>) -> Response {
    respond(
        "webhooks",
        health::check_queues(&deps.app.sqs, &deps.app.config.queues).await,
    )
}

async fn external(State(deps): State<Arc<HealthDeps>>) -> Response {
    let http = match deps.app.http() {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "the HTTP client cannot be built: {error}");
            return ApiError::Internal.into_response();
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
    respond("external", report)
}

/// 200 or 503 with the report (200 when only degraded); failures are logged and counted so alarms
/// need no polling.
fn respond(report_name: &'static str, report: HealthReport) -> Response {
    let failed = report.failed_checks();
    if !failed.is_empty() {
        tracing::warn!(health.report = report_name, health.failed = ?failed, "health report {report_name} failed: {failed:?}");
        Metrics::new("health")
            .dimension("report", report_name)
            .count("health_check_failed", failed.len() as u64)
            .emit();
    }
    (report.http_status(), Json(report)).into_response()
}
