//! `/companies/{company_id}/analytics` (authorized): a creator sends the company's churn and
//! recovery events to their Google Analytics 4 property ([`shared::domain::analytics`]).
//!
//! - `PUT` `{measurement_id, api_secret}` → 200 `{measurement_id, enabled}`; the secret is sealed
//!   and never shown again.
//! - `GET` → 200 `{measurement_id, enabled}`, 404 `not_found` when analytics is off.
//! - `DELETE` → 204.
//!
//! Without `DATA_KEY_SECRET_ID` each answers 503 `analytics_off`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{Extensions, StatusCode};
use shared::ApiError;
use shared::domain::analytics::{self, AnalyticsView, MAX_ANALYTICS_BYTES};
use shared::edge::deps::notify::AppDataKeys;
use shared::edge::deps::state::StateDeps;

use shared::edge::http::path_id;

use crate::viewer;

/// The data key, or 503 `analytics_off` when the deployment has none.
fn keys(deps: &StateDeps) -> Result<&AppDataKeys, ApiError> {
    deps.analytics_keys
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "analytics_off",
            message: "analytics is not configured on this deployment (no DATA_KEY_SECRET_ID)"
                .to_owned(),
        })
}

pub async fn show(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AnalyticsView>, ApiError> {
    keys(&deps)?;
    let company_id = path_id(id)?;
    analytics::show(
        &deps.access,
        &deps.companies,
        viewer(&extensions)?,
        &company_id,
    )
    .await
    .map(Json)
    .map_err(ApiError::from)
}

pub async fn replace(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<AnalyticsView>, ApiError> {
    let keys = keys(&deps)?;
    if body.len() > MAX_ANALYTICS_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_ANALYTICS_BYTES,
        });
    }
    let company_id = path_id(id)?;
    analytics::replace(
        &deps.access,
        &deps.companies,
        keys,
        viewer(&extensions)?,
        &company_id,
        &body,
    )
    .await
    .map(Json)
    .map_err(ApiError::from)
}

pub async fn remove(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    keys(&deps)?;
    let company_id = path_id(id)?;
    analytics::remove(
        &deps.access,
        &deps.companies,
        viewer(&extensions)?,
        &company_id,
    )
    .await
    .map(|()| StatusCode::NO_CONTENT)
    .map_err(ApiError::from)
}
