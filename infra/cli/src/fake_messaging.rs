//! Stand-ins for SendGrid's v3 mail send and Twilio's Messages API on loopback, speaking their
//! wire formats (`docs/providers.md`, "Messages"), so tests and the local stack can drive the
//! clients without the providers.
//!
//! - `POST /v3/mail/send` checks `Authorization: Bearer <key>`, answers 202 with `X-Message-Id`.
//! - `POST /2010-04-01/Accounts/{sid}/Messages.json` checks HTTP Basic `sid:token`, answers 201
//!   with `{"sid": "SM…"}`.
//!
//! Faults on demand: a request header `X-Fake-Status: <code>`, or a magic recipient: an e-mail
//! address `status-<code>@…`, a number `+1500555<4 digits>` with `0429`, `0500`, `0610` (21610,
//! opted out) or `0211` (21211, invalid number). 429s carry `X-RateLimit-Reset` (SendGrid) or
//! `Retry-After: 1` (Twilio); 4xx bodies have each provider's error shape.
//!
//! Served by the local stack ([`serve_into`]), each text Twilio's stand-in accepts is also written
//! as a captured message (subject `Text message`, the body as its text part) into the stack's mail
//! directory, so `churnsaver mail list` and `mail show` print texts beside e-mails.

use crate::standin::lock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

/// The key the stand-in SendGrid accepts.
pub const SENDGRID_KEY: &str = "SG.local";
/// The account and token the stand-in Twilio accepts.
pub const TWILIO_ACCOUNT_SID: &str = "AC_local";
pub const TWILIO_AUTH_TOKEN: &str = "twilio_local_token";

/// One message a stand-in accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `sendgrid` or `twilio`.
    pub provider: &'static str,
    pub id: String,
    pub to: Vec<String>,
    /// The request body as received (JSON for SendGrid, the form for Twilio).
    pub body: String,
}

#[derive(Default)]
struct Shared {
    accepted: Mutex<Vec<Accepted>>,
    requests: AtomicU64,
    /// Where accepted texts are written for `churnsaver mail`, if anywhere.
    dir: Option<PathBuf>,
}

/// The running stand-ins. Stop when dropped.
pub struct FakeMessaging {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMessaging {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves both stand-ins on a free loopback port.
pub async fn serve() -> std::io::Result<FakeMessaging> {
    serve_into(None).await
}

/// [`serve`], writing each accepted text under `dir` as a captured message when given.
pub async fn serve_into(dir: Option<PathBuf>) -> std::io::Result<FakeMessaging> {
    if let Some(dir) = &dir {
        std::fs::create_dir_all(dir)?;
    }
    let shared = Arc::new(Shared {
        dir,
        ..Shared::default()
    });
    let router = Router::new()
        .route("/v3/mail/send", post(mail_send))
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
        .with_state(Arc::clone(&shared));
    let (address, server) = crate::standin::serve(router, "the fake message providers").await?;
    Ok(FakeMessaging {
        address,
        shared,
        server,
    })
}

impl FakeMessaging {
    /// The base URL, as `SENDGRID_API_BASE_URL` and `TWILIO_API_BASE_URL` take it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The messages accepted so far, oldest first.
    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.shared.accepted).clone()
    }

    /// Every request received, faults included.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

/// The status a request asks for through `X-Fake-Status`.
fn asked_status(headers: &HeaderMap) -> Option<u16> {
    headers.get("x-fake-status")?.to_str().ok()?.parse().ok()
}

async fn mail_send(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {SENDGRID_KEY}")) {
        return sendgrid_error(StatusCode::UNAUTHORIZED, None, "authorization required");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return sendgrid_error(StatusCode::BAD_REQUEST, None, "invalid JSON");
    };
    let to: Vec<String> = request["personalizations"][0]["to"]
        .as_array()
        .map(|to| {
            to.iter()
                .filter_map(|a| a["email"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if to.is_empty() || request["from"]["email"].as_str().is_none() {
        return sendgrid_error(
            StatusCode::BAD_REQUEST,
            Some("personalizations.0.to"),
            "a recipient and a from address are required",
        );
    }
    let magic = to.iter().find_map(|a| {
        a.strip_prefix("status-")?
            .split_once('@')?
            .0
            .parse::<u16>()
            .ok()
    });
    match asked_status(&headers).or(magic) {
        Some(429) => {
            let reset = chrono::Utc::now().timestamp() + 1;
            let mut response =
                sendgrid_error(StatusCode::TOO_MANY_REQUESTS, None, "too many requests");
            if let Ok(value) = reset.to_string().parse() {
                response.headers_mut().insert("x-ratelimit-reset", value);
            }
            response
        }
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            sendgrid_error(
                status,
                Some("personalizations.0.to.0.email"),
                "refused on demand",
            )
        }
        None => {
            let id = format!("sg_{}", shared.requests.load(Ordering::Relaxed));
            lock(&shared.accepted).push(Accepted {
                provider: "sendgrid",
                id: id.clone(),
                to,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            (StatusCode::ACCEPTED, [("x-message-id", id)]).into_response()
        }
    }
}

fn sendgrid_error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "field": field, "help": null}]});
    (status, Json(body)).into_response()
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if sid != TWILIO_ACCOUNT_SID || basic != Some(&format!("Basic {expected}")) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(to) = field("To") else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    if field("From")
        .or_else(|| field("MessagingServiceSid"))
        .is_none()
        || field("Body").is_none()
    {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' and a 'Body' are required.",
        );
    }
    let magic = match to.strip_prefix("+1500555") {
        Some("0429") => Some(429),
        Some("0500") => Some(500),
        Some("0610") => Some(21_610),
        Some("0211") => Some(21_211),
        _ => None,
    };
    match asked_status(&headers).map(u32::from).or(magic) {
        Some(429) => {
            let mut response =
                twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        Some(code @ 20_000..) => twilio_error(StatusCode::BAD_REQUEST, code, "refused on demand"),
        Some(code) => {
            let status = u16::try_from(code)
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            twilio_error(status, 20500, "failed on demand")
        }
        None => {
            let id = format!("SM{:032}", shared.requests.load(Ordering::Relaxed));
            if let Some(dir) = &shared.dir {
                let captured = crate::fake_mail::CapturedEmail {
                    id: id.clone(),
                    idempotency_key: None,
                    from: field("From")
                        .or_else(|| field("MessagingServiceSid"))
                        .unwrap_or_default(),
                    to: vec![to.clone()],
                    reply_to: None,
                    subject: "Text message".into(),
                    html: String::new(),
                    text: field("Body").unwrap_or_default(),
                    headers: std::collections::BTreeMap::new(),
                };
                if let Err(error) = crate::fake_mail::write(dir, &captured) {
                    tracing::warn!(%error, "the stand-in Twilio could not write a text");
                }
            }
            lock(&shared.accepted).push(Accepted {
                provider: "twilio",
                id: id.clone(),
                to: vec![to.clone()],
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let resource = json!({"sid": id, "account_sid": sid, "to": to, "status": "queued",
                "num_segments": "1", "direction": "outbound-api", "error_code": null});
            (StatusCode::CREATED, Json(resource)).into_response()
        }
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16()});
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use shared::domain::ports::{Email, Mailer, SendError, TextMessage, TextSender};
    use shared::providers::client::{NoAdmission, ResilientClient, RetryPolicy, StaticKey};
    use shared::providers::sendgrid::SendGrid;
    use shared::providers::twilio::{Twilio, TwilioCredentials};

    use super::*;

    fn client() -> ResilientClient {
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        ResilientClient::new(reqwest::Client::new(), policy, NoAdmission)
    }

    fn email(to: &str) -> Email {
        Email {
            idempotency_key: "k1".into(),
            from: "Churn Saver <alerts@churnsaver.test>".into(),
            to: vec![to.into()],
            reply_to: None,
            subject: "Hello".into(),
            html: "<p>Hi</p>".into(),
            text: "Hi".into(),
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_sendgrid_client_sends_and_magic_addresses_fail_on_demand() {
        let fake = serve().await.unwrap();
        let base = url::Url::parse(&fake.base_url()).unwrap();
        let mailer =
            SendGrid::new(client(), &base, StaticKey(SecretString::from(SENDGRID_KEY))).unwrap();
        let sent = mailer.send_email(&email("ann@example.com")).await.unwrap();
        assert_eq!(fake.accepted()[0].id, sent.message_id);
        assert_eq!(fake.accepted()[0].to, ["ann@example.com"]);
        assert!(matches!(
            mailer.send_email(&email("status-400@example.com")).await,
            Err(SendError::Refused { code, .. }) if code == "personalizations.0.to.0.email"
        ));
        assert!(matches!(
            mailer.send_email(&email("status-429@example.com")).await,
            Err(SendError::Unavailable { reason, .. }) if reason == "rate_limited"
        ));
        assert!(matches!(
            mailer.send_email(&email("status-503@example.com")).await,
            Err(SendError::Unavailable { reason, .. }) if reason == "http_503"
        ));
        assert_eq!(fake.accepted().len(), 1);
    }

    #[tokio::test]
    async fn the_twilio_client_sends_and_magic_numbers_fail_on_demand() {
        let fake = serve().await.unwrap();
        let base = url::Url::parse(&fake.base_url()).unwrap();
        let credentials = TwilioCredentials {
            account_sid: TWILIO_ACCOUNT_SID.into(),
            auth_token: SecretString::from(TWILIO_AUTH_TOKEN),
        };
        let sender = Twilio::new(client(), base, StaticKey(credentials), "+15005550006");
        let text = |to: &str| TextMessage {
            idempotency_key: "k1".into(),
            to: to.into(),
            body: "Hi".into(),
        };
        let sent = sender.send_text(&text("+14155550123")).await.unwrap();
        assert_eq!(fake.accepted()[0].id, sent.message_id);
        for (to, code) in [("+15005550610", "21610"), ("+15005550211", "21211")] {
            assert!(matches!(
                sender.send_text(&text(to)).await,
                Err(SendError::Refused { code: got, .. }) if got == code
            ));
        }
        assert!(matches!(
            sender.send_text(&text("+15005550429")).await,
            Err(SendError::Unavailable {
                retry_after: Some(_),
                ..
            })
        ));
        assert_eq!(fake.accepted().len(), 1);
    }
}
