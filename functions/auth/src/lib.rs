//! The auth function (`/auth/session`, `/auth/sessions`) and the HTTP API Lambda authorizer.

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use axum::Router;
use axum::routing::get;
use lambda_runtime::LambdaEvent;
use shared::error::EventError;
use shared::{ApiError, App};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/auth/session",
            get(not_implemented)
                .post(not_implemented)
                .delete(not_implemented),
        )
        .route(
            "/auth/sessions",
            get(not_implemented).delete(not_implemented),
        )
        .fallback(shared::http::route_not_found)
        .with_state(app)
}

async fn not_implemented() -> ApiError {
    ApiError::NotImplemented { what: "sessions" }
}

/// The Lambda authorizer (simple responses). Until sessions exist it denies every request: a
/// protected route is never open by default.
pub async fn authorize(
    _app: Arc<App>,
    _event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, EventError> {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = false;
    Ok(response)
}
