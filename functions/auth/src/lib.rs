//! The auth function (`/auth/session`, `/auth/sessions`) and the HTTP API Lambda authorizer.

use std::sync::{Arc, OnceLock};

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lambda_runtime::LambdaEvent;
use secrecy::ExposeSecret;
use serde_json::json;
use shared::aws::limits::{DynamoFailureCounter, auth_limiter};
use shared::aws::sessions::{SessionService, session_service};
use shared::domain::auth::limits::AuthLimiter;
use shared::domain::auth::sessions::{self, Client, SessionError};
use shared::domain::fingerprint;
use shared::domain::ports::SystemClock;
use shared::edge::error::EventError;
use shared::providers::whop::user_token::{self, TokenSettings, WhopKeys};
use shared::{ApiError, App};

/// The header Whop's iframe proxy puts its user token in.
pub const WHOP_USER_TOKEN_HEADER: &str = "x-whop-user-token";

type Limiter = AuthLimiter<DynamoFailureCounter, SystemClock>;

/// Built once per cold start: key caches and the blocked-IP cache live as long as the instance.
pub struct AuthState {
    app: Arc<App>,
    sessions: SessionService,
    /// Built on the first login: the HTTP client's trust-store load is cold-start time the
    /// session routes never need.
    whop_keys: OnceLock<Result<WhopKeys<SystemClock>, String>>,
    token_settings: TokenSettings,
    limiter: Limiter,
}

impl AuthState {
    pub fn new(app: Arc<App>) -> Self {
        Self {
            sessions: session_service(&app),
            whop_keys: OnceLock::new(),
            token_settings: token_settings(&app),
            limiter: auth_limiter(&app),
            app,
        }
    }

    fn whop_keys(&self) -> Result<&WhopKeys<SystemClock>, ApiError> {
        self.whop_keys
            .get_or_init(|| {
                let http = self.app.http().map_err(str::to_owned)?;
                Ok(WhopKeys::new(
                    http.clone(),
                    self.app.config.whop_user_token_jwks_url.clone(),
                    SystemClock,
                ))
            })
            .as_ref()
            .map_err(|error| {
                tracing::error!(%error, "no HTTP client for Whop's keys");
                ApiError::DependencyUnavailable {
                    dependency: "Whop token keys",
                }
            })
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/auth/session",
            get(check_session)
                .post(create_session)
                .delete(delete_session),
        )
        .route("/auth/sessions", get(list_sessions).delete(delete_sessions))
        .fallback(shared::edge::http::route_not_found)
        .with_state(Arc::new(AuthState::new(app)))
}

/// What a Whop token must say: our app id, within the configured leeway (at most 60 s, which
/// configuration already enforces).
fn token_settings(app: &App) -> TokenSettings {
    let settings = TokenSettings::new(app.config.whop_app_id.clone());
    settings
        .clone()
        .with_leeway(app.config.whop_token_leeway)
        .unwrap_or(settings)
}

/// The caller's address, for the failure count (one bucket when API Gateway gave none).
fn client_ip(parts: &Parts) -> String {
    shared::edge::http::source_ip(&parts.extensions)
        .unwrap_or("unknown")
        .to_owned()
}

/// The session token the request presents (bearer header, else cookie).
fn presented(headers: &HeaderMap) -> Option<&str> {
    sessions::presented_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Counts a failed authentication and answers 429 past the limit, else `error`.
async fn refuse(
    limiter: &Limiter,
    ip: &str,
    reason: &'static str,
    token: Option<&str>,
    error: ApiError,
) -> ApiError {
    let token_fp = token.map(|t| fingerprint(t.as_bytes()));
    match limiter.failed(ip, reason, token_fp.as_deref()).await {
        Some(throttled) => throttled.into(),
        None => error,
    }
}

/// Runs `operation` on the presented session token; a token it refuses counts against the
/// caller's address.
async fn with_session<T>(
    state: &AuthState,
    parts: &Parts,
    operation: impl AsyncFnOnce(&str) -> Result<T, SessionError>,
) -> Result<T, ApiError> {
    let ip = client_ip(parts);
    state.limiter.check(&ip)?;
    let token = presented(&parts.headers).ok_or(SessionError::Missing)?;
    match operation(token).await {
        Ok(value) => Ok(value),
        Err(error) if error.is_credential_failure() => {
            let reason = error.reason_code();
            Err(refuse(&state.limiter, &ip, reason, Some(token), error.into()).await)
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /auth/session`: a Whop user token in `x-whop-user-token` for a session.
async fn create_session(
    State(state): State<Arc<AuthState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let ip = client_ip(&parts);
    state.limiter.check(&ip)?;
    let Some(token) = parts
        .headers
        .get(WHOP_USER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    else {
        let error = ApiError::Unauthorized {
            code: "missing_user_token",
            message: format!("send the Whop user token in `{WHOP_USER_TOKEN_HEADER}`"),
        };
        return Err(refuse(&state.limiter, &ip, "missing_user_token", None, error).await);
    };
    let user = match user_token::verify(
        token,
        state.whop_keys()?,
        &state.token_settings,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(user) => user,
        Err(error) if error.reason_code() == "keys_unavailable" => {
            tracing::error!(%error, "Whop's token keys are unavailable");
            return Err(ApiError::DependencyUnavailable {
                dependency: "Whop token keys",
            });
        }
        Err(error) => {
            let reason = error.reason_code();
            let rejected = ApiError::Unauthorized {
                code: reason,
                message: error.to_string(),
            };
            return Err(refuse(&state.limiter, &ip, reason, Some(token), rejected).await);
        }
    };
    let client = Client {
        ip: Some(ip),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let issued = state.sessions.create(&user.user_id, &client).await?;
    tracing::info!(user.id = %issued.user_id, "session created");
    let cookie = sessions::session_cookie(&issued.token, state.sessions.settings.lifetime);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(json!({
            "token": issued.token.expose_secret(),
            "user_id": issued.user_id,
            "expires_at": issued.expires_at,
        })),
    )
        .into_response())
}

/// `GET /auth/session`: the presented session, extended once past half its lifetime.
async fn check_session(
    State(state): State<Arc<AuthState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (token, validated) = with_session(&state, &parts, async |token| {
        let validated = state.sessions.validate(token).await?;
        Ok((token.to_owned(), validated))
    })
    .await?;
    let record = &validated.record;
    let body = Json(json!({
        "user_id": record.user_id,
        "expires_at": record.expires_at,
        "renewed": validated.renewed,
    }));
    if validated.renewed {
        let cookie = sessions::session_cookie(&token.into(), state.sessions.settings.lifetime);
        return Ok(([(header::SET_COOKIE, cookie)], body).into_response());
    }
    Ok(body.into_response())
}

/// `DELETE /auth/session`: revokes the presented session.
async fn delete_session(
    State(state): State<Arc<AuthState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    with_session(&state, &parts, async |token| {
        state.sessions.revoke(token).await
    })
    .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, sessions::cleared_cookie())],
    )
        .into_response())
}

/// `GET /auth/sessions`: the user's sessions.
async fn list_sessions(
    State(state): State<Arc<AuthState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (user_id, sessions) = with_session(&state, &parts, async |token| {
        state.sessions.list(token).await
    })
    .await?;
    Ok(Json(json!({"user_id": user_id, "sessions": sessions})).into_response())
}

/// `DELETE /auth/sessions`: revokes every session of the user.
async fn delete_sessions(
    State(state): State<Arc<AuthState>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (user_id, revoked) = with_session(&state, &parts, async |token| {
        state.sessions.revoke_all(token).await
    })
    .await?;
    tracing::info!(user.id = %user_id, revoked, "all sessions revoked");
    Ok((
        [(header::SET_COOKIE, sessions::cleared_cookie())],
        Json(json!({"user_id": user_id, "revoked": revoked})),
    )
        .into_response())
}

/// Built once per process: the signing-key cache and the blocked-IP cache live as long as the
/// warm authorizer.
pub struct AuthorizerState {
    sessions: SessionService,
    limiter: Limiter,
}

impl AuthorizerState {
    pub fn new(app: &App) -> Self {
        Self {
            sessions: session_service(app),
            limiter: auth_limiter(app),
        }
    }
}

/// The Lambda authorizer (simple responses): admits a valid session and passes its user to the
/// route as `user_id` in the context. Denies everything else, including when sessions cannot be
/// checked: a protected route is never open by default. (An HTTP API authorizer can only deny
/// with 403; the 401 with a reason is `GET /auth/session`'s.)
pub async fn authorize(
    state: Arc<AuthorizerState>,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, EventError> {
    let request = &event.payload;
    let ip = request
        .request_context
        .http
        .source_ip
        .as_deref()
        .unwrap_or("unknown");
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    if state.limiter.check(ip).is_err() {
        tracing::warn!(auth.reason = "throttled", "request denied");
        return Ok(response);
    }
    let authorization = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let cookies = request.cookies.iter().map(String::as_str).chain(
        request
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let Some(token) = sessions::presented_token(authorization, cookies) else {
        tracing::info!(auth.reason = "missing_session", "request denied");
        return Ok(response);
    };
    match state.sessions.validate(token).await {
        Ok(validated) => {
            response.is_authorized = true;
            response.context = json!({
                "principal": "user",
                "user_id": validated.record.user_id,
            });
        }
        Err(error) if error.is_credential_failure() => {
            let token_fp = fingerprint(token.as_bytes());
            let _ = state
                .limiter
                .failed(ip, error.reason_code(), Some(&token_fp))
                .await;
        }
        Err(error) => {
            tracing::error!(%error, "sessions cannot be checked; denying");
        }
    }
    Ok(response)
}
