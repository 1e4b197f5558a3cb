//! A stand-in for Stripe's subscriptions list on loopback: the local stack's Stripe reconcile
//! uses it, and the tests drive it (README "Stripe reconcile").
//!
//! - `GET /v1/subscriptions?status=&limit=&starting_after=`: the subscriptions
//!   [`FakeStripe::seed`] holds, in their order, in Stripe's list envelope (`object: list`,
//!   `data`, `has_more`, `url`); `status` filters as Stripe does (absent: every status but
//!   `canceled`; `all`: every one; `ended`: `canceled` and `incomplete_expired`), `limit` 1–100
//!   (default 10), `starting_after` an id on the list (else 400 `resource_missing`). A bearer key
//!   other than [`LOCAL_API_KEY`] is refused with 401.
//! - [`FakeStripe::inject`] switches faults on, served before the listing: 429s as Stripe answers
//!   them (no `Retry-After`), 500s, and malformed pages (a 200 whose body is not the envelope).

use crate::standin::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The secret key the local stack stores for [`COMPANY_ID`] in its Stripe keys secret.
pub const LOCAL_API_KEY: &str = "sk_test_churnsaver_local";
/// The company whose Stripe account the stand-in is, in the local stack.
pub const COMPANY_ID: &str = "biz_stripe_local";
pub use shared::providers::stripe::sync::STATUSES;

/// Faults the listing answers with, counted down as they are served (in this order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next this many calls answer 429 `rate_limit`, without `Retry-After`.
    pub throttled: u32,
    /// The next this many calls answer 500 `api_error`.
    pub unavailable: u32,
    /// The next this many calls answer 200 with a body that is not a list envelope.
    pub malformed: u32,
}

#[derive(Default)]
struct Shared {
    subscriptions: Mutex<Vec<Value>>,
    faults: Mutex<Faults>,
    calls: AtomicU64,
}

/// The running stand-in. Stops when dropped.
pub struct FakeStripe {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `count` subscriptions as Stripe lists them (API 2025-03-31 and later: the period on the item),
/// every status in turn, every seventh active one cancelling at its period's end.
pub fn sample_subscriptions(count: usize) -> Vec<Value> {
    let start = 1_767_225_600_i64; // 2026-01-01T00:00:00Z
    (0..count)
        .map(|i| {
            let status = STATUSES[i % STATUSES.len()];
            let period_start = start + i as i64 * 3_600;
            json!({
                "id": format!("sub_{i:05}"), "object": "subscription",
                "customer": format!("cus_{i:05}"), "status": status,
                "cancel_at_period_end": status == "active" && i % 7 == 0,
                "created": period_start - 86_400, "latest_invoice": format!("in_{i:05}"),
                "items": {"object": "list", "has_more": false, "data": [{
                    "id": format!("si_{i:05}"), "object": "subscription_item",
                    "current_period_start": period_start,
                    "current_period_end": period_start + 30 * 86_400,
                    "price": {"id": format!("price_{}", i % 3), "object": "price",
                        "product": format!("prod_{}", i % 3)},
                }]},
            })
        })
        .collect()
}

impl FakeStripe {
    /// Serves on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::default());
        let routes = Router::new().route("/v1/subscriptions", get(list));
        let (address, server) =
            crate::standin::serve_routes(routes, Arc::clone(&shared), "the stand-in Stripe")
                .await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// The template parameters that point a stack at this stand-in, for [`COMPANY_ID`] (whose
    /// key, [`LOCAL_API_KEY`], goes into the stack's Stripe keys secret).
    pub fn parameters(&self) -> Vec<(String, String)> {
        [
            ("StripeApiBaseUrl", self.base_url()),
            ("StripeSyncCompanies", COMPANY_ID.to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    }

    /// `STRIPE_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Replaces the account's subscriptions (listed in this order).
    pub fn seed(&self, subscriptions: Vec<Value>) {
        *lock(&self.shared.subscriptions) = subscriptions;
    }

    /// The account's subscriptions as the listing serves them.
    pub fn subscriptions(&self) -> Vec<Value> {
        lock(&self.shared.subscriptions).clone()
    }

    /// Switches faults on (replacing earlier ones).
    pub fn inject(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// The faults still to be served.
    pub fn faults(&self) -> Faults {
        *lock(&self.shared.faults)
    }

    /// Calls the listing answered, faults included.
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }
}

/// Subscriptions the local stack's stand-in starts with.
pub const LOCAL_SUBSCRIPTIONS: usize = 25;

/// Puts `keys` (company id → Stripe key) in the stack's Stripe keys secret, when Stripe reconcile
/// is on.
pub async fn store_keys(app: &shared::App, keys: &[(&str, &str)]) -> anyhow::Result<()> {
    let Some(settings) = &app.config.stripe_sync else {
        return Ok(());
    };
    let keys: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(company, key)| ((*company).to_owned(), json!(key)))
        .collect();
    app.secrets_manager
        .put_secret_value()
        .secret_id(&settings.keys_secret_id)
        .secret_string(Value::Object(keys).to_string())
        .send()
        .await?;
    Ok(())
}

/// Stripe's error body.
fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"type": kind, "code": code, "message": message}});
    (status, Json(body)).into_response()
}

/// Whether `status` is listed by the `status` parameter `filter`.
fn listed(filter: Option<&str>, status: &str) -> bool {
    match filter {
        None => status != "canceled",
        Some("all") => true,
        Some("ended") => matches!(status, "canceled" | "incomplete_expired"),
        Some(only) => status == only,
    }
}

/// A served fault, if one is due: the counters go down in their order.
fn fault(faults: &mut Faults) -> Option<Response> {
    if faults.throttled > 0 {
        faults.throttled -= 1;
        return Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded.",
        ));
    }
    if faults.unavailable > 0 {
        faults.unavailable -= 1;
        return Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            None,
            "An unknown error occurred.",
        ));
    }
    if faults.malformed > 0 {
        faults.malformed -= 1;
        return Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"object":"list","data":"#,
            )
                .into_response(),
        );
    }
    None
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(LOCAL_API_KEY) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided.",
        );
    }
    if let Some(response) = fault(&mut lock(&shared.faults)) {
        return response;
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "Invalid limit: must be between 1 and 100",
            );
        }
    };
    let filter = query.get("status").map(String::as_str);
    let subscriptions = lock(&shared.subscriptions);
    let matching: Vec<&Value> = subscriptions
        .iter()
        .filter(|s| listed(filter, s["status"].as_str().unwrap_or_default()))
        .collect();
    let from = match query.get("starting_after") {
        None => 0,
        Some(after) => match matching.iter().position(|s| s["id"] == after.as_str()) {
            Some(index) => index + 1,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("resource_missing"),
                    "No such subscription",
                );
            }
        },
    };
    let data: Vec<Value> = matching
        .iter()
        .skip(from)
        .take(limit)
        .map(|s| (*s).clone())
        .collect();
    let has_more = from + data.len() < matching.len();
    Json(json!({"object": "list", "url": "/v1/subscriptions", "has_more": has_more, "data": data}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_status_filter_leaves_out_canceled_ones_as_stripes_does() {
        assert!(!listed(None, "canceled"));
        assert!(listed(None, "incomplete_expired"));
        assert!(listed(Some("all"), "canceled"));
        assert!(listed(Some("ended"), "incomplete_expired") && !listed(Some("ended"), "active"));
    }

    #[test]
    fn faults_are_served_in_order_and_counted_down() {
        let mut faults = Faults {
            throttled: 1,
            unavailable: 1,
            malformed: 1,
        };
        let statuses: Vec<StatusCode> = std::iter::from_fn(|| fault(&mut faults))
            .map(|r| r.status())
            .collect();
        assert_eq!(
            statuses,
            [
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::OK
            ]
        );
        assert_eq!(faults, Faults::default());
    }
}
