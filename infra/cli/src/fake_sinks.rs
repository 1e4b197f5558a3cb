//! A stand-in for the error-reporting sinks (README "Error reporting"), for the local stack and the
//! tests: Sentry's envelope endpoint (`POST /api/{project}/envelope/`) and an OTLP/HTTP collector's
//! logs endpoint (`POST /v1/logs`, JSON), keeping every request it receives.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use crate::standin::lock;

/// The public key of the stand-in's DSN.
pub const LOCAL_SENTRY_KEY: &str = "localkey";

/// One request a sink received: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    sentry: Mutex<Vec<Received>>,
    otlp: Mutex<Vec<Received>>,
}

/// The running stand-in. Stops when dropped.
pub struct FakeSinks {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSinks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSinks {
    /// Serves on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let routes = Router::new()
            .route("/api/{project}/envelope/", post(sentry))
            .route("/v1/logs", post(otlp));
        let (address, server) =
            crate::standin::serve_routes(routes, Arc::clone(&shared), "the stand-in sinks").await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// The DSN of the stand-in's Sentry project 1, as the DSN secret holds it.
    pub fn sentry_dsn(&self) -> String {
        format!("http://{LOCAL_SENTRY_KEY}@{}/1", self.address)
    }

    /// As `OTLP_ENDPOINT` takes it.
    pub fn otlp_endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every envelope posted to the Sentry endpoint.
    pub fn sentry_requests(&self) -> Vec<Received> {
        lock(&self.shared.sentry).clone()
    }

    /// Every export posted to the OTLP endpoint.
    pub fn otlp_requests(&self) -> Vec<Received> {
        lock(&self.shared.otlp).clone()
    }

    /// The events of every envelope received (an envelope is lines: its header, then each item's
    /// header and payload).
    pub fn sentry_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        for request in self.sentry_requests() {
            let mut lines = request.body.lines().skip(1);
            while let (Some(header), Some(payload)) = (lines.next(), lines.next()) {
                let header: Value = serde_json::from_str(header).unwrap_or_default();
                if header["type"] == "event" {
                    events.push(serde_json::from_str(payload).unwrap_or_default());
                }
            }
        }
        events
    }

    /// The log records of every OTLP export received, with their resource's attributes.
    pub fn otlp_records(&self) -> Vec<(Value, Value)> {
        let mut records = Vec::new();
        for request in self.otlp_requests() {
            let export: Value = serde_json::from_str(&request.body).unwrap_or_default();
            for resource_logs in export["resourceLogs"].as_array().into_iter().flatten() {
                let resource = resource_logs["resource"]["attributes"].clone();
                for scope in resource_logs["scopeLogs"].as_array().into_iter().flatten() {
                    for record in scope["logRecords"].as_array().into_iter().flatten() {
                        records.push((resource.clone(), record.clone()));
                    }
                }
            }
        }
        records
    }
}

fn received(headers: &HeaderMap, body: String) -> Received {
    Received {
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body,
    }
}

async fn sentry(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> StatusCode {
    lock(&shared.sentry).push(received(&headers, body));
    StatusCode::OK
}

async fn otlp(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> StatusCode {
    lock(&shared.otlp).push(received(&headers, body));
    StatusCode::OK
}
