//! A stand-in for Google's OpenID Connect endpoints on loopback: the local stack's Google sign-in
//! uses it, and the tests drive it (README "Sign in with Google").
//!
//! - `GET /o/oauth2/v2/auth`: checks `response_type=code`, the client id, the redirect URI and an
//!   S256 `code_challenge`, then shows a consent page whose link approves; with `approve=1` (or
//!   [`FakeGoogleOptions::auto_approve`]) it redirects at once to the redirect URI with `code` and
//!   `state`;
//! - `POST /token`: the code exchange (form), checking the client secret, the redirect URI and the
//!   PKCE verifier, each code usable once; answers an RS256 ID token with the flow's `nonce`;
//! - `GET /oauth2/v3/certs`: the JWKS of an RSA key generated at start, `Cache-Control: max-age`.
//!
//! [`Fault`] makes the next ID tokens wrong in one way, for the tests of each refusal.

use crate::standin::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client id the local stack configures.
pub const LOCAL_CLIENT_ID: &str = "churnsaver-local.apps.googleusercontent.com";
/// The client secret the local stack stores in its Google client secret.
pub const LOCAL_CLIENT_SECRET: &str = "local-google-client-secret";
/// The issuer of the stand-in's ID tokens (Google's).
pub const ISSUER: &str = "https://accounts.google.com";
/// The `kid` of the stand-in's key.
pub const KID: &str = "stand-in-1";

/// How the next ID tokens are wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    WrongAudience,
    WrongIssuer,
    Expired,
    EmailUnverified,
    /// A `nonce` other than the flow's.
    BadNonce,
    /// `alg: HS256`, MACed with the client secret.
    AlgHs256,
    /// `alg: none`, no signature.
    AlgNone,
    /// Signed by the key, but naming a `kid` the JWKS never publishes.
    UnknownKid,
    /// The token endpoint answers 500.
    ServerError,
}

/// The account that signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub sub: String,
    pub email: String,
    pub hd: Option<String>,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            sub: "100000000000000000001".to_owned(),
            email: "ada@example.test".to_owned(),
            hd: None,
        }
    }
}

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct FakeGoogleOptions {
    pub client_id: String,
    pub client_secret: String,
    pub account: Account,
    /// Redirect at once instead of showing the consent page.
    pub auto_approve: bool,
    pub fault: Fault,
}

impl Default for FakeGoogleOptions {
    fn default() -> Self {
        Self {
            client_id: LOCAL_CLIENT_ID.to_owned(),
            client_secret: LOCAL_CLIENT_SECRET.to_owned(),
            account: Account::default(),
            auto_approve: false,
            fault: Fault::None,
        }
    }
}

/// A code handed out and not yet exchanged.
struct Pending {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    account: Account,
}

struct Shared {
    options: Mutex<FakeGoogleOptions>,
    codes: Mutex<HashMap<String, Pending>>,
    key: KeyPair,
    next_code: AtomicU64,
    jwks_fetches: AtomicU64,
    token_requests: AtomicU64,
}

/// The running stand-in. Stops when dropped.
pub struct FakeGoogle {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGoogle {
    /// Serves on a free loopback port with a freshly generated RSA-2048 key.
    pub async fn start(options: FakeGoogleOptions) -> anyhow::Result<Self> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow!("generating the stand-in's RSA key failed"))?;
        let shared = Arc::new(Shared {
            options: Mutex::new(options),
            codes: Mutex::new(HashMap::new()),
            key,
            next_code: AtomicU64::new(1),
            jwks_fetches: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .route("/oauth2/v3/certs", get(certs))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the stand-in Google").await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// `GOOGLE_AUTHORIZATION_URL`.
    pub fn authorization_url(&self) -> String {
        format!("http://{}/o/oauth2/v2/auth", self.address)
    }

    /// `GOOGLE_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.address)
    }

    /// `GOOGLE_JWKS_URL`.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/oauth2/v3/certs", self.address)
    }

    /// The template parameters that point a stack at this stand-in (its redirect URI is the
    /// stack's own, which the local stack fills in).
    pub fn parameters(&self) -> Vec<(String, String)> {
        let client_id = lock(&self.shared.options).client_id.clone();
        [
            ("GoogleClientId", client_id),
            ("GoogleAuthorizationUrl", self.authorization_url()),
            ("GoogleTokenUrl", self.token_url()),
            ("GoogleJwksUrl", self.jwks_url()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    }

    /// Changes how the stand-in behaves from now on.
    pub fn configure(&self, change: impl FnOnce(&mut FakeGoogleOptions)) {
        change(&mut lock(&self.shared.options));
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::Relaxed)
    }

    /// How many code exchanges reached the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::Relaxed)
    }
}

fn query_map(query: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = query_map(raw.as_deref());
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let options = lock(&shared.options).clone();
    if param("response_type") != "code" || param("client_id") != options.client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown client or response type",
        );
    }
    let scopes: Vec<&str> = param("scope").split(' ').collect();
    if !scopes.contains(&"openid") || param("code_challenge_method") != "S256" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the openid scope and an S256 code challenge are required",
        );
    }
    let Ok(mut redirect) = url::Url::parse(param("redirect_uri")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "no redirect URI",
        );
    };
    if !(options.auto_approve || param("approve") == "1") {
        let approve = format!("?{}&approve=1", raw.unwrap_or_default());
        let page = format!(
            "<!doctype html><title>Sign in - stand-in Google</title>\
             <h1>Stand-in Google</h1><p>Churn Saver (local) wants to know who you are.</p>\
             <p><a id=\"approve\" href=\"{}\">Continue as {}</a></p>",
            html_escape(&approve),
            html_escape(&options.account.email)
        );
        return Html(page).into_response();
    }
    let code = format!(
        "stand-in-code-{}",
        shared.next_code.fetch_add(1, Ordering::Relaxed)
    );
    lock(&shared.codes).insert(
        code.clone(),
        Pending {
            redirect_uri: redirect.to_string(),
            challenge: param("code_challenge").to_owned(),
            nonce: param("nonce").to_owned(),
            account: options.account,
        },
    );
    redirect
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    shared.token_requests.fetch_add(1, Ordering::Relaxed);
    let form = query_map(Some(&body));
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let options = lock(&shared.options).clone();
    if options.fault == Fault::ServerError {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_failure",
            "injected",
        );
    }
    if field("client_id") != options.client_id || field("client_secret") != options.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad client");
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let Some(pending) = lock(&shared.codes).remove(field("code")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if pending.redirect_uri != field("redirect_uri") || challenge != pending.challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect URI or code verifier mismatch",
        );
    }
    match id_token(&shared, &options, &pending) {
        Ok(id_token) => Json(json!({
            "access_token": "stand-in-access-token",
            "expires_in": 3599,
            "id_token": id_token,
            "scope": "openid email profile",
            "token_type": "Bearer",
        }))
        .into_response(),
        Err(error) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_failure",
            &error.to_string(),
        ),
    }
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The ID token for `pending`, wrong as `options.fault` says.
fn id_token(
    shared: &Shared,
    options: &FakeGoogleOptions,
    pending: &Pending,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = if options.fault == Fault::Expired {
        (now - 7200, now - 3600)
    } else {
        (now, now + 3600)
    };
    let mut claims = json!({
        "iss": if options.fault == Fault::WrongIssuer { "https://accounts.example.test" } else { ISSUER },
        "azp": options.client_id,
        "aud": if options.fault == Fault::WrongAudience { "another-client.apps.googleusercontent.com" } else { options.client_id.as_str() },
        "sub": pending.account.sub,
        "email": pending.account.email,
        "email_verified": options.fault != Fault::EmailUnverified,
        "nonce": if options.fault == Fault::BadNonce { "not-the-flows-nonce" } else { pending.nonce.as_str() },
        "name": "Ada Lovelace",
        "iat": iat,
        "exp": exp,
    });
    if let Some(hd) = &pending.account.hd {
        claims["hd"] = json!(hd);
    }
    let kid = if options.fault == Fault::UnknownKid {
        "rotated-away"
    } else {
        KID
    };
    let alg = match options.fault {
        Fault::AlgHs256 => "HS256",
        Fault::AlgNone => "none",
        _ => "RS256",
    };
    let signed = format!(
        "{}.{}",
        segment(&json!({"alg": alg, "kid": kid, "typ": "JWT"})),
        segment(&claims)
    );
    let signature = match options.fault {
        Fault::AlgNone => Vec::new(),
        Fault::AlgHs256 => {
            let key = aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                options.client_secret.as_bytes(),
            );
            aws_lc_rs::hmac::sign(&key, signed.as_bytes())
                .as_ref()
                .to_vec()
        }
        _ => {
            let mut signature = vec![0; shared.key.public_modulus_len()];
            shared
                .key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    signed.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| anyhow!("signing the ID token failed"))?;
            signature
        }
    };
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

async fn certs(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::Relaxed);
    let public = shared.key.public_key();
    let jwk = json!({
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    (
        [(
            header::CACHE_CONTROL,
            "public, max-age=3600, must-revalidate, no-transform",
        )],
        Json(json!({"keys": [jwk]})),
    )
        .into_response()
}
