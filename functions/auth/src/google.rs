//! `GET /auth/google/start` and `GET /auth/google/callback`: Google sign-in's request and response
//! mapping. The flow is [`shared::domain::auth::oidc`]; its dependencies are
//! [`AuthDeps::google`].

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shared::ApiError;
use shared::domain::auth::oidc::{self, SignInError};
use shared::domain::auth::sessions::{self, Login};
use shared::edge::deps::auth::{AuthDeps, GoogleSignIn};

use crate::{client_ip, presented, session_client, with_session};

/// Google sign-in, or why there is none: 503 `google_sign_in_off` when it is not configured (no
/// `GOOGLE_CLIENT_ID`), 503 `google_sign_in_unavailable` when its HTTP client cannot be built.
fn sign_in(deps: &AuthDeps) -> Result<&GoogleSignIn, ApiError> {
    match deps.google() {
        Ok(Some(google)) => Ok(google),
        Ok(None) => Err(ApiError::Unavailable {
            code: "google_sign_in_off",
            message: "Google sign-in is not configured on this deployment".to_owned(),
        }),
        Err(error) => {
            tracing::error!(%error, "no HTTP client for Google sign-in");
            Err(ApiError::Unavailable {
                code: "google_sign_in_unavailable",
                message: "Google sign-in is unavailable; retry later".to_owned(),
            })
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    /// `1`/`true`: link the Google account to the Whop user of the presented session.
    link: Option<String>,
}

/// `GET /auth/google/start`: a 302 to Google with a fresh flow sealed in the flow cookie. With
/// `?link=1` the request must present a Whop session, whose user the Google account is linked to
/// on the callback.
pub async fn start(
    State(deps): State<Arc<AuthDeps>>,
    query: Result<Query<StartQuery>, QueryRejection>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let query = shared::edge::http::query(query)?;
    let google = sign_in(&deps)?;
    let link = matches!(query.link.as_deref(), Some("1" | "true"));
    let link_to = if link {
        let validated = with_session(&deps, &parts, async |token| {
            deps.sessions.validate(token).await
        })
        .await?;
        let user = validated.record.user_id;
        if user.starts_with("google:") {
            return Err(ApiError::BadRequest {
                code: "link_needs_whop_session",
                message: "sign in with Whop first: a Google account links to a Whop user"
                    .to_owned(),
            });
        }
        Some(user)
    } else {
        deps.limiter.check(&client_ip(&parts))?;
        None
    };
    let started = google.start(link_to).await.map_err(refused)?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, started.location),
            (header::SET_COOKIE, oidc::flow_cookie(&started.cookie)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    /// Set by Google when the user declined or the request was refused.
    error: Option<String>,
}

/// `GET /auth/google/callback`: the flow completed, a session opened for the Whop user the
/// Google account is linked to (else `google:<sub>`). The flow cookie is cleared whatever the
/// outcome: a flow is used once.
pub async fn callback(
    State(deps): State<Arc<AuthDeps>>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    parts: Parts,
) -> Response {
    let mut response = match complete(&deps, query, &parts).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    if let Ok(value) = oidc::cleared_flow_cookie().parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn complete(
    deps: &AuthDeps,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    parts: &Parts,
) -> Result<Response, ApiError> {
    let ip = client_ip(parts);
    deps.limiter.check(&ip)?;
    let query = shared::edge::http::query(query)?;
    let google = sign_in(deps)?;
    let cookies = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let sealed = sessions::cookie_value(cookies, oidc::FLOW_COOKIE);
    if let Some(error) = query.error {
        let error: String = error.chars().take(64).collect();
        return Err(refused(SignInError::ProviderDenied(error)));
    }
    // A session presented with the callback: the link's proof when the flow asked for one.
    let session_user = match presented(&parts.headers, []) {
        Some(token) => deps
            .sessions
            .validate(token)
            .await
            .ok()
            .map(|validated| validated.record.user_id),
        None => None,
    };
    let finished = google
        .finish(
            sealed,
            query.state.as_deref(),
            query.code.as_deref(),
            session_user.as_deref(),
        )
        .await;
    let signed_in = match finished {
        Ok(signed_in) => signed_in,
        Err(error) if error.is_unavailable() => {
            tracing::error!(%error, auth.reason = error.reason_code(), "Google sign-in unavailable");
            return Err(error.into());
        }
        Err(error) => {
            let reason = error.reason_code();
            tracing::warn!(auth.reason = reason, "Google sign-in refused");
            return Err(deps
                .limiter
                .refuse(&ip, reason, None, ApiError::from(error))
                .await
                .into());
        }
    };
    let client = session_client(ip, parts);
    let login = Login {
        identity: Some(signed_in.identity.clone()),
        email: Some(signed_in.email.clone()),
    };
    let issued = deps
        .sessions
        .create_for(&signed_in.user_id, &login, &client)
        .await?;
    tracing::info!(
        user.id = %issued.user_id,
        auth.linked = signed_in.linked,
        "session created from Google sign-in"
    );
    crate::record_sign_in(deps, &issued, Some(&signed_in.identity)).await;
    Ok((
        [(
            header::SET_COOKIE,
            sessions::session_cookie(&issued.token, deps.sessions.settings.lifetime),
        )],
        Json(json!({
            "user_id": issued.user_id,
            "identity": signed_in.identity,
            "email": signed_in.email,
            "linked": signed_in.linked,
            "expires_at": issued.expires_at,
        })),
    )
        .into_response())
}

/// A sign-in error as the answer, logged when it is ours.
fn refused(error: SignInError) -> ApiError {
    if error.is_unavailable() {
        tracing::error!(%error, "Google sign-in unavailable");
    }
    error.into()
}
