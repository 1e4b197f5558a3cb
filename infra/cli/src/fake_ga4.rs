//! A stand-in for Google Analytics 4's Measurement Protocol on loopback (`docs/providers.md`,
//! "GA4"), served by the local stack so a company's churn and recovery events can be seen
//! offline, and driven by the tests.
//!
//! - `POST /mp/collect?measurement_id=G-…&api_secret=…`: checks the request as GA4's validation
//!   endpoint does (both parameters, a JSON body with `client_id` and 1–25 `events`, each named
//!   with 1–40 letters, digits or `_` starting with a letter), keeps it, answers 204 (GA4 answers
//!   2xx whatever it does with the events; a request it would drop answers 400 here, so the tests
//!   see it). [`FakeGa4::unavailable`] makes the next requests answer 503.
//! - `GET /local/events`: what was kept, as JSON (`curl` it on the local stack).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::standin::lock;

/// One request the stand-in kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    pub measurement_id: String,
    pub api_secret: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    collected: Mutex<Vec<Collected>>,
    unavailable: AtomicU32,
}

/// The stand-in; stops serving when dropped.
pub struct FakeGa4 {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGa4 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGa4 {
    /// Serves on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/mp/collect", post(collect))
            .route("/local/events", get(events))
            .route("/", get(|| async { StatusCode::OK }))
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the GA4 stand-in").await?;
        Ok(Self {
            base_url: format!("http://{address}"),
            shared,
            server,
        })
    }

    /// `http://<loopback address>`, as `GA4_API_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The requests kept so far.
    pub fn collected(&self) -> Vec<Collected> {
        lock(&self.shared.collected).clone()
    }

    /// The next `count` requests answer 503.
    pub fn unavailable(&self, count: u32) {
        self.shared.unavailable.store(count, Ordering::SeqCst);
    }
}

fn refused(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"validationMessages": [{"description": message}]})),
    )
        .into_response()
}

fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn collect(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let unavailable = shared
        .unavailable
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if unavailable.is_ok() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let (Some(measurement_id), Some(api_secret)) =
        (query.get("measurement_id"), query.get("api_secret"))
    else {
        return refused("measurement_id and api_secret are required");
    };
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return refused("the body is not JSON");
    };
    if !body["client_id"].is_string() {
        return refused("client_id is required");
    }
    let Some(events) = body["events"]
        .as_array()
        .filter(|e| (1..=25).contains(&e.len()))
    else {
        return refused("events must hold 1 to 25 events");
    };
    if !events
        .iter()
        .all(|event| event["name"].as_str().is_some_and(valid_name))
    {
        return refused("an event name is not valid");
    }
    lock(&shared.collected).push(Collected {
        measurement_id: measurement_id.clone(),
        api_secret: api_secret.clone(),
        body,
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn events(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let collected: Vec<Value> = lock(&shared.collected)
        .iter()
        .map(|c| json!({"measurement_id": c.measurement_id, "body": c.body}))
        .collect();
    Json(Value::Array(collected))
}
