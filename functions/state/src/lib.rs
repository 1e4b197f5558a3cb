//! The state function: read-only routes over the `state` table (authorized). While a provider's
//! emergency mode is on, its memberships are served marked `"stale": true` with their age
//! ([`shared::domain::emergency::Marked`]).

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::Extensions;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use shared::ApiError;
use shared::domain::emergency::{Marked, MarkedPage};
use shared::domain::state::{MembershipView, Viewer};
use shared::edge::deps::state::StateDeps;

pub fn router(deps: Arc<StateDeps>) -> Router {
    Router::new()
        .route("/memberships/{id}", get(membership))
        .route("/users/{id}/memberships", get(user_memberships))
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

/// The signed-in user the authorizer admitted; a request without one never reads state.
fn viewer(extensions: &Extensions) -> Result<Viewer<'_>, ApiError> {
    shared::edge::http::authorizer_field(extensions, "user_id")
        .map(Viewer::User)
        .ok_or(ApiError::Forbidden)
}

async fn membership(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Marked<MembershipView>>, ApiError> {
    let view =
        shared::domain::state::membership(&deps.store, &path_id(id)?, viewer(&extensions)?).await?;
    Ok(Json(deps.emergency.mark(view).await))
}

/// `?limit=&after=`; anything else is ignored.
#[derive(Debug, Deserialize)]
struct Paging {
    limit: Option<String>,
    after: Option<String>,
}

async fn user_memberships(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<MarkedPage>, ApiError> {
    let Query(paging) = paging.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let limit = paging
        .limit
        .map(|limit| {
            limit.parse().map_err(|_| ApiError::BadRequest {
                code: "invalid_limit",
                message: "`limit` must be a number".to_owned(),
            })
        })
        .transpose()?;
    let page = shared::domain::state::user_memberships(
        &deps.store,
        &path_id(id)?,
        viewer(&extensions)?,
        limit,
        paging.after.as_deref(),
    )
    .await?;
    Ok(Json(deps.emergency.mark_page(page).await))
}

/// The `{id}` segment; one that does not decode is a 400 in the API's error format.
fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    id.map(|Path(id)| id)
        .map_err(|rejection| ApiError::BadRequest {
            code: "invalid_id",
            message: rejection.body_text(),
        })
}
