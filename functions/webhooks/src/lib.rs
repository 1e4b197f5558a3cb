//! The webhooks function: `POST /webhooks/{provider}`.

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use shared::{ApiError, App};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/webhooks/{provider}", post(ingest))
        .fallback(shared::http::route_not_found)
        .with_state(app)
}

async fn ingest() -> ApiError {
    ApiError::NotImplemented {
        what: "webhook ingest",
    }
}
