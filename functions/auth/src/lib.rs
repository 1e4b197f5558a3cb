//! The auth function (`/auth/session`, `/auth/sessions`) and the HTTP API Lambda authorizer.

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use axum::Router;
use axum::routing::get;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::error::EventError;
use shared::operator::{self, OperatorGate};
use shared::ports::SystemClock;
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

/// Built once per process: the operator token's cache lives as long as the warm function.
pub struct AuthorizerState {
    operator: OperatorGate<aws_sdk_secretsmanager::Client, SystemClock>,
}

impl AuthorizerState {
    pub fn new(app: &App) -> Self {
        Self {
            operator: OperatorGate::new(
                app.secrets_manager.clone(),
                SystemClock,
                app.config.secrets.operator_token.clone(),
                operator::TOKEN_TTL,
            ),
        }
    }
}

/// The Lambda authorizer (simple responses). Until sessions exist it admits only the operator
/// token (see [`shared::operator`]) and denies everything else, including when the token cannot
/// be read: a protected route is never open by default.
pub async fn authorize(
    state: Arc<AuthorizerState>,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, EventError> {
    let authorization = event
        .payload
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match state.operator.admit(authorization).await {
        Ok(()) => {
            response.is_authorized = true;
            response.context = json!({"principal": operator::PRINCIPAL});
        }
        Err(denied) => {
            tracing::warn!(
                auth.reason = denied.reason_code(),
                "request denied: {denied}"
            );
            response.is_authorized = false;
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region};
    use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
    use shared::Config;

    use super::*;

    /// An app whose Secrets Manager is a closed loopback port, with `OPERATOR_TOKEN_SECRET_ID`
    /// set to `secret_id`.
    async fn app(secret_id: Option<&str>) -> App {
        let mut env: HashMap<&str, &str> = [
            ("STAGE", "local"),
            ("WHOP_APP_ID", "app_test"),
            ("WEBHOOK_EVENTS_TABLE", "w"),
            ("SESSIONS_TABLE", "s"),
            ("STATE_TABLE", "t"),
            ("EVENTS_QUEUE_URL", "http://127.0.0.1:1/q"),
            ("EVENTS_DLQ_URL", "http://127.0.0.1:1/q"),
            ("SYNC_JOBS_QUEUE_URL", "http://127.0.0.1:1/q"),
            ("SYNC_JOBS_DLQ_URL", "http://127.0.0.1:1/q"),
        ]
        .into();
        if let Some(id) = secret_id {
            env.insert("OPERATOR_TOKEN_SECRET_ID", id);
        }
        let config = Config::from_lookup(&|var| env.get(var).map(|v| (*v).to_owned())).unwrap();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "t", "t", None, None, "test",
            ))
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        App::new(config, &sdk).unwrap()
    }

    async fn decide(app: &App, authorization: Option<&str>) -> (bool, serde_json::Value) {
        let mut request = ApiGatewayV2CustomAuthorizerV2Request::default();
        if let Some(value) = authorization {
            request
                .headers
                .insert("authorization", value.parse().unwrap());
        }
        let state = Arc::new(AuthorizerState::new(app));
        let event = LambdaEvent::new(request, lambda_runtime::Context::default());
        let response = authorize(state, event).await.unwrap();
        (response.is_authorized, response.context)
    }

    #[tokio::test]
    async fn denies_everything_without_an_operator_token() {
        let app = app(None).await;
        let bearer = format!("Bearer {}", "a".repeat(48));
        assert_eq!(
            decide(&app, Some(&bearer)).await,
            (false, serde_json::Value::Null)
        );
        assert_eq!(decide(&app, None).await, (false, serde_json::Value::Null));
    }

    #[tokio::test]
    async fn an_unreadable_token_is_a_denial_not_an_error() {
        let app = app(Some("operator-token")).await;
        let bearer = format!("Bearer {}", "a".repeat(48));
        assert_eq!(
            decide(&app, Some(&bearer)).await,
            (false, serde_json::Value::Null)
        );
    }
}
