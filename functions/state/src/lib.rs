//! The state function: read routes over the `state` table (authorized), the creator view's
//! routes under `/companies/{company_id}/` (authorized, then the company's admins only), and the
//! creator's own routes `/me` and `/me/companies` (authorized; the caller's own items only). While a
//! provider's emergency mode is on, its memberships are served marked `"stale": true` with their
//! age ([`shared::domain::emergency::Marked`]): a member's, and the creator's listings and
//! summary.

mod analytics;
mod gumroad;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::Extensions;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use shared::ApiError;
use shared::domain::companies::rows::MembershipRow;
use shared::domain::companies::settings::{CompanySettings, MAX_SETTINGS_BYTES};
use shared::domain::companies::summary::Summary;
use shared::domain::companies::{self, CompanyMembershipsPage};
use shared::domain::creators::{self, Me, MyCompanies};
use shared::domain::emergency::{Marked, MarkedPage};
use shared::domain::notify::company::settings_saved;
use shared::domain::ports::{Clock, SystemClock};
use shared::domain::sales::SalesView;
use shared::domain::state::{MembershipView, Viewer};
use shared::edge::companies::{MembershipsParams, SummaryParams};
use shared::edge::deps::state::StateDeps;
use shared::edge::http::{path_id, query};
use shared::edge::sales::SalesParams;

pub fn router(deps: Arc<StateDeps>) -> Router {
    let creator = Router::new()
        .route(
            "/companies/{company_id}/memberships",
            get(company_memberships),
        )
        .route("/companies/{company_id}/summary", get(company_summary))
        .route("/companies/{company_id}/sales", get(company_sales))
        .route(
            "/companies/{company_id}/settings",
            get(company_settings).put(put_company_settings),
        )
        .route(
            "/companies/{company_id}/analytics",
            get(analytics::show)
                .put(analytics::replace)
                .delete(analytics::remove),
        )
        .route("/me", get(me))
        .route("/me/companies", get(my_companies))
        .route("/connections/gumroad/start", get(gumroad::start))
        .route("/connections/gumroad/callback", get(gumroad::callback))
        .route(
            "/connections/gumroad",
            get(gumroad::show).delete(gumroad::remove),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&deps),
            per_user_limit,
        ));
    Router::new()
        .route("/memberships/{id}", get(membership))
        .route("/users/{id}/memberships", get(user_memberships))
        .merge(creator)
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

/// The creator routes' per-user limit (`CREATOR_RATE_LIMIT_*`): past it, 429 with `Retry-After`
/// until the window ends, before any other work.
async fn per_user_limit(
    State(deps): State<Arc<StateDeps>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    let user_id = shared::edge::http::authorizer_field(request.extensions(), "user_id")
        .ok_or(ApiError::Forbidden)?;
    deps.creator_limiter.admit_user(user_id).await?;
    Ok(next.run(request).await)
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
    let paging = query(paging)?;
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

async fn company_memberships(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<MembershipsParams>, QueryRejection>,
) -> Result<Json<CompanyMembershipsPage<Marked<MembershipRow>>>, ApiError> {
    let params = query(params)?;
    let page = companies::company_memberships(
        &deps.access,
        &deps.store,
        viewer(&extensions)?,
        &path_id(id)?,
        params.query(),
    )
    .await?;
    Ok(Json(page.marked(&deps.emergency).await))
}

async fn company_summary(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Json<Marked<Summary>>, ApiError> {
    let params = query(params)?;
    let summary = companies::company_summary(
        &deps.access,
        &deps.store,
        &SystemClock,
        viewer(&extensions)?,
        &path_id(id)?,
        params.query(),
    )
    .await?;
    Ok(Json(deps.emergency.mark(summary).await))
}

/// `GET /companies/{company_id}/sales`: units and revenue per platform and currency.
async fn company_sales(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<SalesParams>, QueryRejection>,
) -> Result<Json<SalesView>, ApiError> {
    let params = query(params)?;
    let view = shared::domain::sales::company_sales(
        &deps.access,
        &deps.sales,
        &SystemClock,
        viewer(&extensions)?,
        &path_id(id)?,
        params.query(),
    )
    .await?;
    Ok(Json(view))
}

async fn company_settings(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<CompanySettings>, ApiError> {
    companies::company_settings(
        &deps.access,
        &deps.companies,
        viewer(&extensions)?,
        &path_id(id)?,
    )
    .await
    .map(Json)
    .map_err(ApiError::from)
}

async fn put_company_settings(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<CompanySettings>, ApiError> {
    if body.len() > MAX_SETTINGS_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_SETTINGS_BYTES,
        });
    }
    let company_id = path_id(id)?;
    let (previous, saved) = companies::replace_company_settings(
        &deps.access,
        &deps.plans,
        &deps.companies,
        viewer(&extensions)?,
        &company_id,
        &body,
    )
    .await
    .map_err(ApiError::from)?;
    // The confirmation (or the first save's welcome) to the previous and new recipients.
    settings_saved(
        &deps.notifications,
        &company_id,
        previous.as_ref(),
        &saved,
        SystemClock.now(),
    )
    .await;
    Ok(Json(saved))
}

/// `GET /me`: the signed-in creator's profile and plan.
async fn me(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
) -> Result<Json<Me>, ApiError> {
    let user_id = signed_in(&extensions)?;
    let me = creators::me(&deps.companies, &deps.plans, user_id, SystemClock.now()).await?;
    Ok(Json(me))
}

/// `GET /me/companies`: the companies the signed-in creator administers, with their open-signal
/// counts.
async fn my_companies(
    State(deps): State<Arc<StateDeps>>,
    extensions: Extensions,
) -> Result<Json<MyCompanies>, ApiError> {
    let user_id = signed_in(&extensions)?;
    let companies = creators::my_companies(
        &deps.companies,
        &deps.access,
        &deps.companies,
        &deps.companies,
        &deps.store,
        user_id,
    )
    .await?;
    Ok(Json(companies))
}

/// The signed-in user's id, as [`viewer`] admits them.
fn signed_in(extensions: &Extensions) -> Result<&str, ApiError> {
    match viewer(extensions)? {
        Viewer::User(user_id) => Ok(user_id),
        Viewer::Operator => Err(ApiError::Forbidden),
    }
}
