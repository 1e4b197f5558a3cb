//! The auth function (`/auth/session`, `/auth/sessions`, `/auth/google/…`) and the HTTP API Lambda authorizer:
//! request and response mapping only. The attempt policy (throttling, counting failures) is
//! [`shared::domain::auth::attempts`]; the dependencies are [`shared::edge::deps::auth`].

// The Google routes' futures (sign-in over the resilient client and the state table) nest deeper
// than the compiler's default layout query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lambda_runtime::LambdaEvent;
use secrecy::ExposeSecret;
use serde_json::json;
use shared::ApiError;
use shared::domain::auth::attempts::Refusal;
use shared::domain::auth::sessions::{self, Client, SessionError};
use shared::edge::deps::auth::{AuthDeps, AuthorizerDeps};
use shared::edge::error::EventError;
use shared::providers::whop::user_token::{self, TokenError};

mod google;

/// The header Whop's iframe proxy puts its user token in.
pub const WHOP_USER_TOKEN_HEADER: &str = "x-whop-user-token";

pub fn router(deps: Arc<AuthDeps>) -> Router {
    Router::new()
        .route(
            "/auth/session",
            get(check_session)
                .post(create_session)
                .delete(delete_session),
        )
        .route("/auth/sessions", get(list_sessions).delete(delete_sessions))
        .route("/auth/google/start", get(google::start))
        .route("/auth/google/callback", get(google::callback))
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

/// The caller's address, for the failure count (one bucket when API Gateway gave none).
fn client_ip(parts: &Parts) -> String {
    shared::edge::http::source_ip(&parts.extensions)
        .unwrap_or("unknown")
        .to_owned()
}

/// Who opens a session, for its record: the address and user agent of the request.
fn session_client(ip: String, parts: &Parts) -> Client {
    Client {
        ip: Some(ip),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// The session token a request presents: its bearer header, else its cookies (`cookies` first,
/// as the authorizer's payload carries them apart, then the `Cookie` headers).
fn presented<'a>(
    headers: &'a HeaderMap,
    cookies: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    sessions::presented_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        cookies.into_iter().chain(
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        ),
    )
}

/// Runs `operation` on the request's session token under the attempt policy.
async fn with_session<T>(
    deps: &AuthDeps,
    parts: &Parts,
    operation: impl AsyncFnOnce(&str) -> Result<T, SessionError>,
) -> Result<T, ApiError> {
    let ip = client_ip(parts);
    let token = presented(&parts.headers, []);
    Ok(deps.limiter.with_session(&ip, token, operation).await?)
}

/// `POST /auth/session`: a Whop user token in `x-whop-user-token` for a session.
async fn create_session(
    State(deps): State<Arc<AuthDeps>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let ip = client_ip(&parts);
    let Some(token) = parts
        .headers
        .get(WHOP_USER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::Unauthorized {
            code: "missing_user_token",
            message: format!("send the Whop user token in `{WHOP_USER_TOKEN_HEADER}`"),
        });
    };
    let keys = deps.whop_keys().map_err(|error| {
        tracing::error!(%error, "no HTTP client for Whop's keys");
        whop_keys_unavailable()
    })?;
    let verified = deps
        .limiter
        .attempt(&ip, token, async |token| {
            user_token::verify(token, keys, &deps.token_settings, chrono::Utc::now()).await
        })
        .await;
    let user = match verified {
        Ok(user) => user,
        Err(Refusal::Throttled(throttled)) => return Err(throttled.into()),
        Err(Refusal::Refused(error @ TokenError::KeysUnavailable(_))) => {
            tracing::error!(%error, "Whop's token keys are unavailable");
            return Err(whop_keys_unavailable());
        }
        Err(Refusal::Refused(error)) => {
            return Err(ApiError::Unauthorized {
                code: error.reason_code(),
                message: error.to_string(),
            });
        }
    };
    let issued = deps
        .sessions
        .create(&user.user_id, &session_client(ip, &parts))
        .await?;
    tracing::info!(user.id = %issued.user_id, "session created");
    record_sign_in(&deps, &issued, None).await;
    let cookie = sessions::session_cookie(&issued.token, deps.sessions.settings.lifetime);
    let mut body = json!({
        "user_id": issued.user_id,
        "expires_at": issued.expires_at,
    });
    if wants_token_in_body(&parts) {
        body["token"] = json!(issued.token.expose_secret());
    }
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(body),
    )
        .into_response())
}

/// The sign-in in the creator's profile: created on a first sign-in, nothing written on later
/// ones ([`shared::domain::creators::record_sign_in`]).
async fn record_sign_in(deps: &AuthDeps, issued: &sessions::Issued, identity: Option<&str>) {
    let identity = shared::domain::creators::profile::sign_in_identity(&issued.user_id, identity);
    shared::domain::creators::record_sign_in(
        &deps.profiles,
        &issued.user_id,
        identity,
        issued.returning,
        chrono::Utc::now(),
    )
    .await;
}

/// Whether the caller asked for the token in the body (`?token=body`): a client that keeps no
/// cookies (the CLI, a server, a test). A browser gets only the `HttpOnly` cookie, which no script
/// can read.
fn wants_token_in_body(parts: &Parts) -> bool {
    parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "token=body"))
}

/// `Set-Cookie` headers that clear the session cookie under both its names.
fn cleared_cookies() -> AppendHeaders<[(header::HeaderName, String); 2]> {
    AppendHeaders(sessions::cleared_cookies().map(|cookie| (header::SET_COOKIE, cookie)))
}

fn whop_keys_unavailable() -> ApiError {
    ApiError::DependencyUnavailable {
        dependency: "Whop token keys",
    }
}

/// `GET /auth/session`: the presented session, extended once past half its lifetime.
async fn check_session(
    State(deps): State<Arc<AuthDeps>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (token, validated) = with_session(&deps, &parts, async |token| {
        let validated = deps.sessions.validate(token).await?;
        Ok((token.to_owned(), validated))
    })
    .await?;
    let record = &validated.record;
    let body = Json(json!({
        "user_id": record.user_id,
        "identity": record.identity,
        "expires_at": record.expires_at,
        "renewed": validated.renewed,
    }));
    if validated.renewed {
        let cookie = sessions::session_cookie(&token.into(), deps.sessions.settings.lifetime);
        return Ok(([(header::SET_COOKIE, cookie)], body).into_response());
    }
    Ok(body.into_response())
}

/// `DELETE /auth/session`: revokes the presented session.
async fn delete_session(
    State(deps): State<Arc<AuthDeps>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    with_session(&deps, &parts, async |token| {
        deps.sessions.revoke(token).await
    })
    .await?;
    Ok((StatusCode::NO_CONTENT, cleared_cookies()).into_response())
}

/// `GET /auth/sessions`: the user's sessions.
async fn list_sessions(
    State(deps): State<Arc<AuthDeps>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (user_id, sessions) =
        with_session(&deps, &parts, async |token| deps.sessions.list(token).await).await?;
    Ok(Json(json!({"user_id": user_id, "sessions": sessions})).into_response())
}

/// `DELETE /auth/sessions`: revokes every session of the user.
async fn delete_sessions(
    State(deps): State<Arc<AuthDeps>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let (user_id, revoked) = with_session(&deps, &parts, async |token| {
        deps.sessions.revoke_all(token).await
    })
    .await?;
    tracing::info!(user.id = %user_id, revoked, "all sessions revoked");
    Ok((
        cleared_cookies(),
        Json(json!({"user_id": user_id, "revoked": revoked})),
    )
        .into_response())
}

/// The Lambda authorizer (simple responses): admits a valid session, from any source IP, and passes
/// its user to the route as `user_id` in the context. Denies everything else, including when
/// sessions cannot be checked: a protected route is never open by default. (An HTTP API
/// authorizer can only deny with 403; the 401 with a reason, or the 429 with `Retry-After` of a
/// throttled address, is `GET /auth/session`'s.)
pub async fn authorize(
    deps: Arc<AuthorizerDeps>,
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
    let token = presented(&request.headers, request.cookies.iter().map(String::as_str));
    let validated = deps
        .limiter
        .with_session(ip, token, async |token| deps.sessions.validate(token).await)
        .await;
    match validated {
        Ok(validated) => {
            response.is_authorized = true;
            let user_id = &validated.record.user_id;
            response.context = json!({
                "principal": deps.principal(user_id),
                "user_id": user_id,
                // The session's key (a hash, not a credential): what a connection's `state` is
                // bound to.
                "session": validated.record.pk,
            });
        }
        Err(Refusal::Refused(SessionError::Missing)) => {
            tracing::info!(auth.reason = "missing_session", "request denied");
        }
        Err(Refusal::Refused(error @ SessionError::Dependency(_))) => {
            tracing::error!(%error, "sessions cannot be checked; denying");
        }
        Err(Refusal::Throttled(_)) => {
            tracing::warn!(auth.reason = "throttled", "request denied");
        }
        // A guess was counted against the address; an expired session is only refused.
        Err(Refusal::Refused(_)) => {}
    }
    Ok(response)
}
