//! A stand-in for Resend's e-mail API, for the local stack and the end-to-end tests: speaks
//! `POST /emails` (bearer key required, `Idempotency-Key` honoured: the same key answers the
//! first message's id and captures nothing new), captures each message, and writes it to
//! `<dir>/<id>.html` (the HTML part, openable in a browser) and `<dir>/<id>.json` (every field),
//! which `churnsaver mail list` / `mail show <id>` read.

use crate::standin::lock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The key the local stack seeds into the Resend API key secret.
pub const LOCAL_API_KEY: &str = "re_local";

/// One captured message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedEmail {
    pub id: String,
    pub idempotency_key: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SendEmailRequest {
    from: String,
    to: Vec<String>,
    subject: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

struct Shared {
    dir: PathBuf,
    messages: Mutex<Vec<CapturedEmail>>,
    requests: Mutex<u64>,
}

/// The running stand-in. Stops when dropped.
pub struct FakeMail {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMail {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeMail {
    /// Serves on a free loopback port, writing messages under `dir`.
    pub async fn start(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let shared = Arc::new(Shared {
            dir,
            messages: Mutex::new(Vec::new()),
            requests: Mutex::new(0),
        });
        let router = Router::new()
            .route("/emails", post(send_email))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the stand-in mail API").await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// As `RESEND_API_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every message captured, oldest first.
    pub fn messages(&self) -> Vec<CapturedEmail> {
        lock(&self.shared.messages).clone()
    }

    /// `POST /emails` requests received (duplicates included).
    pub fn requests(&self) -> u64 {
        *lock(&self.shared.requests)
    }

    /// Where the messages are written.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

async fn send_email(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(request): Json<SendEmailRequest>,
) -> (StatusCode, Json<Value>) {
    *lock(&shared.requests) += 1;
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.strip_prefix("Bearer ").is_some_and(|key| !key.is_empty()));
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"statusCode": 401, "name": "missing_api_key", "message": "Missing API key"}),
            ),
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut messages = lock(&shared.messages);
    if let Some(key) = &key
        && let Some(first) = messages
            .iter()
            .find(|m| m.idempotency_key.as_ref() == Some(key))
    {
        return (StatusCode::OK, Json(json!({"id": first.id})));
    }
    let message = CapturedEmail {
        id: uuid::Uuid::new_v4().to_string(),
        idempotency_key: key,
        from: request.from,
        to: request.to,
        reply_to: request.reply_to,
        subject: request.subject,
        html: request.html,
        text: request.text,
        headers: request.headers,
    };
    if let Err(error) = write(&shared.dir, &message) {
        tracing::warn!(%error, "the stand-in mail API could not write a message");
    }
    let id = message.id.clone();
    messages.push(message);
    (StatusCode::OK, Json(json!({"id": id})))
}

/// Writes `message` under `dir`: `<id>.html` to open and `<id>.json` for `churnsaver mail`.
pub fn write(dir: &Path, message: &CapturedEmail) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{}.html", message.id)), &message.html)?;
    let json = serde_json::to_vec_pretty(message).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(format!("{}.json", message.id)), json)
}

/// The messages written under `dir`, oldest first.
pub fn read_messages(dir: &Path) -> std::io::Result<Vec<(std::time::SystemTime, CapturedEmail)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let modified = std::fs::metadata(&path)?.modified()?;
            let message: CapturedEmail =
                serde_json::from_slice(&std::fs::read(&path)?).map_err(std::io::Error::other)?;
            found.push((modified, message));
        }
    }
    found.sort_by_key(|(modified, _)| *modified);
    Ok(found)
}

/// Where the local stack writes captured messages.
pub fn mail_dir() -> PathBuf {
    crate::moto::tools_dir().join("mail")
}
