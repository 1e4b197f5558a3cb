//! `/connections/gumroad/…` (authorized): a creator connects their Gumroad account to a company
//! they administer, sees the connection, and removes it. The flow is
//! [`shared::providers::gumroad::connect`]; its `state` is
//! [`shared::domain::connections::state`].
//!
//! - `GET /connections/gumroad/start?company_id=` → 302 to Gumroad's authorization page.
//! - `GET /connections/gumroad/callback?code=&state=` → the connection made, 200 with its view.
//! - `GET /connections/gumroad?company_id=` → the connection's view (status, `needs_reconnect`).
//! - `DELETE /connections/gumroad?company_id=` → its resource subscriptions and tokens removed.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Extensions, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shared::ApiError;
use shared::domain::companies;
use shared::domain::connections::state as connect_state;
use shared::domain::ports::{Clock, SystemClock};
use shared::domain::state::Viewer;
use shared::edge::deps::gumroad::AppConnector;
use shared::edge::deps::state::StateDeps;
use shared::providers::gumroad::connect::{ConnectError, ConnectionView, PROVIDER};

use shared::edge::http::query;

use crate::viewer;

/// The connector, or 503 `gumroad_off` when `GUMROAD_CLIENT_ID` is not set.
fn connector(deps: &StateDeps) -> Result<&AppConnector, ApiError> {
    match deps.gumroad.connector() {
        Ok(Some(connector)) => Ok(connector),
        Ok(None) => Err(ApiError::Unavailable {
            code: "gumroad_off",
            message: "Gumroad connections are not configured on this deployment".to_owned(),
        }),
        Err(error) => {
            tracing::error!(%error, "no HTTP client for Gumroad");
            Err(ApiError::Unavailable {
                code: "gumroad_unavailable",
                message: "Gumroad connections are unavailable; retry later".to_owned(),
            })
        }
    }
}

/// The session the authorizer admitted (its record's key), which a `state` is bound to.
fn session(extensions: &Extensions) -> Result<&str, ApiError> {
    shared::edge::http::authorizer_field(extensions, "session").ok_or(ApiError::Forbidden)
}

#[derive(Debug, Deserialize)]
pub struct CompanyQuery {
    company_id: Option<String>,
}

/// The company named by `?company_id=`, which the viewer must administer.
async fn company(
    deps: &StateDeps,
    viewer: Viewer<'_>,
    params: Result<Query<CompanyQuery>, QueryRejection>,
) -> Result<String, ApiError> {
    let company_id = query(params)?
        .company_id
        .ok_or_else(|| ApiError::BadRequest {
            code: "missing_company_id",
            message: "`company_id` is required: the company the Gumroad account feeds".to_owned(),
        })?;
    companies::check_company(&company_id)?;
    companies::authorize(&deps.access, viewer, &company_id).await?;
    Ok(company_id)
}

pub async fn start(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    params: Result<Query<CompanyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let connector = connector(&deps)?;
    let viewer = viewer(&extensions)?;
    let Viewer::User(user_id) = viewer else {
        return Err(ApiError::Forbidden);
    };
    let session = session(&extensions)?;
    let company_id = company(&deps, viewer, params).await?;
    let state = connect_state::start(
        &deps.gumroad.session_keys,
        PROVIDER,
        session,
        user_id,
        &company_id,
        SystemClock.now(),
    )
    .await
    .map_err(ConnectError::Dependency)?;
    Ok((
        StatusCode::FOUND,
        [
            (
                header::LOCATION,
                connector.authorization_url(&state).to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set by Gumroad when the creator declined.
    error: Option<String>,
}

pub async fn callback(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    params: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Json<ConnectionView>, ApiError> {
    let connector = connector(&deps)?;
    let Viewer::User(user_id) = viewer(&extensions)? else {
        return Err(ApiError::Forbidden);
    };
    let session = session(&extensions)?;
    let params = query(params)?;
    let now = SystemClock.now();
    let state = connect_state::finish(
        &deps.gumroad.session_keys,
        &deps.gumroad.states,
        params.state.as_deref().unwrap_or_default(),
        PROVIDER,
        session,
        user_id,
        now,
    )
    .await
    .map_err(ConnectError::from)?;
    if let Some(error) = params.error {
        return Err(ConnectError::ProviderDenied(error).into());
    }
    let code = params
        .code
        .filter(|code| !code.is_empty())
        .ok_or(ConnectError::MissingCode)?;
    // The admin check again: the state is ten minutes old at most, the access may be newer.
    companies::authorize(&deps.access, Viewer::User(user_id), &state.company_id).await?;
    let connection = connector
        .connect(&code, &state.company_id, user_id, now)
        .await?;
    tracing::info!(connection.provider = PROVIDER, connection.company = %connection.company_id, "Gumroad connected");
    Ok(Json(ConnectionView::from(&connection)))
}

pub async fn show(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    params: Result<Query<CompanyQuery>, QueryRejection>,
) -> Result<Json<ConnectionView>, ApiError> {
    let connector = connector(&deps)?;
    let company_id = company(&deps, viewer(&extensions)?, params).await?;
    let connection = connector.connection(&company_id).await?;
    Ok(Json(ConnectionView::from(&connection)))
}

pub async fn remove(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    params: Result<Query<CompanyQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let connector = connector(&deps)?;
    let company_id = company(&deps, viewer(&extensions)?, params).await?;
    let connection = connector.disconnect(&company_id).await?;
    Ok(Json(json!({
        "disconnected": true,
        "company_id": company_id,
        "resource_subscriptions_removed": connection.subscriptions.len(),
    })))
}
