//! The state function: read-only routes over the `state` table (authorized).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use shared::{ApiError, App};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/memberships/{id}", get(membership))
        .route("/users/{id}/memberships", get(user_memberships))
        .fallback(shared::http::route_not_found)
        .with_state(app)
}

async fn membership() -> ApiError {
    ApiError::NotImplemented {
        what: "membership state",
    }
}

async fn user_memberships() -> ApiError {
    ApiError::NotImplemented {
        what: "membership state",
    }
}
