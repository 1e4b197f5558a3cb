//! A stand-in for Whop's REST API v1 on loopback: the local stack's sync reads it, and the tests
//! and the sync measurement drive it.
//!
//! It serves `GET /api/v1/memberships` (cursor pages, `company_id` required, `statuses[]`,
//! `user_ids[]`, `created_after`, `first`), `GET /api/v1/memberships/{id}`,
//! `GET /api/v1/users/{id}` and the access check `GET /api/v1/users/{id}/access/{company_id}`
//! (admins and customers from [`FakeWhopOptions`], see [`LOCAL_ADMINS`]); checks the bearer key; can enforce a rate limit (a sliding window, the
//! strictest reading of "20 requests / 10 s", answering 429 with `Retry-After` as Whop documents)
//! and inject faults (every n-th request a 500 or a 429). It serves the memberships of any number
//! of companies ([`FakeWhop::seed_company`]), records when each request arrived
//! ([`FakeWhop::arrivals`]), and answers 403 for a company whose access was revoked
//! ([`FakeWhopOptions::revoked`]), as Whop does once a creator removes the app.

use crate::standin::lock;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeWhopOptions {
    /// Keys accepted as `Authorization: Bearer <key>`.
    pub keys: Vec<String>,
    /// The largest page served, whatever `first` asks for.
    pub max_page_size: usize,
    /// At most this many requests in any trailing window; more get 429.
    pub rate_limit: Option<(usize, Duration)>,
    /// Every n-th request answers 500.
    pub fail_every: Option<u64>,
    /// Every n-th request answers 429 with `Retry-After: 1`.
    pub throttle_every: Option<u64>,
    /// `(user, company)`: the access check says `admin`.
    pub admins: Vec<(String, String)>,
    /// `(user, company)`: the access check says `customer` (so does it for any user with a
    /// membership of the company in the fake).
    pub customers: Vec<(String, String)>,
    /// Companies whose access the app lost: their listing answers 403.
    pub revoked: Vec<String>,
}

/// Who administers which company in the local stack's stand-in: `user_local_admin` administers
/// `biz_local`, `user_other_admin` administers `biz_other`.
pub const LOCAL_ADMINS: [(&str, &str); 2] = [
    ("user_local_admin", COMPANY_ID),
    ("user_other_admin", "biz_other"),
];
/// Who is a customer of which company beyond the fake's memberships: `user_local_customer` of
/// `biz_local`.
pub const LOCAL_CUSTOMERS: [(&str, &str); 1] = [("user_local_customer", COMPANY_ID)];

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(user, company)| ((*user).to_owned(), (*company).to_owned()))
        .collect()
}

impl Default for FakeWhopOptions {
    fn default() -> Self {
        Self {
            keys: vec![LOCAL_API_KEY.to_owned()],
            max_page_size: 100,
            rate_limit: None,
            fail_every: None,
            throttle_every: None,
            admins: pairs(&LOCAL_ADMINS),
            customers: pairs(&LOCAL_CUSTOMERS),
            revoked: Vec::new(),
        }
    }
}

/// The key the local stack stores in its Whop API key secret.
pub const LOCAL_API_KEY: &str = "whop_local_api_key";
/// The company the fake's memberships belong to.
pub const COMPANY_ID: &str = "biz_local";

/// What the fake has answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FakeWhopCounts {
    /// Every request that reached the server, whatever its path (a probe of the base URL too).
    pub received: u64,
    pub requests: u64,
    /// 429s from the rate limit (not the injected ones).
    pub rate_limited: u64,
    /// Injected 500s and 429s.
    pub injected: u64,
    pub unauthorized: u64,
    /// Requests to the access check (`/users/{id}/access/{company_id}`), refused ones included.
    pub access_checks: u64,
}

struct Shared {
    options: Mutex<FakeWhopOptions>,
    memberships: Mutex<BTreeMap<String, Value>>,
    window: Mutex<VecDeque<Instant>>,
    /// When each request arrived (wall clock), in order.
    arrivals: Mutex<Vec<DateTime<Utc>>>,
    received: AtomicU64,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    injected: AtomicU64,
    unauthorized: AtomicU64,
    access_checks: AtomicU64,
}

/// The running fake. Stops when dropped.
pub struct FakeWhop {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWhop {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeWhop {
    /// Serves on a free loopback port.
    pub async fn start(options: FakeWhopOptions) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            options: Mutex::new(options),
            memberships: Mutex::new(BTreeMap::new()),
            window: Mutex::new(VecDeque::new()),
            arrivals: Mutex::new(Vec::new()),
            received: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            access_checks: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/api/v1/memberships", get(list_memberships))
            .route("/api/v1/memberships/{id}", get(get_membership))
            .route("/api/v1/users/{id}", get(get_user))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&shared),
                count_received,
            ))
            .route("/api/v1/users/{id}/access/{company_id}", get(get_access))
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the fake Whop API").await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// The v1 base URL, as `WHOP_API_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.address)
    }

    pub fn counts(&self) -> FakeWhopCounts {
        FakeWhopCounts {
            received: self.shared.received.load(Ordering::Relaxed),
            requests: self.shared.requests.load(Ordering::Relaxed),
            rate_limited: self.shared.rate_limited.load(Ordering::Relaxed),
            injected: self.shared.injected.load(Ordering::Relaxed),
            unauthorized: self.shared.unauthorized.load(Ordering::Relaxed),
            access_checks: self.shared.access_checks.load(Ordering::Relaxed),
        }
    }

    /// Changes how the fake behaves from now on.
    pub fn configure(&self, change: impl FnOnce(&mut FakeWhopOptions)) {
        change(&mut lock(&self.shared.options));
    }

    /// Adds or replaces a membership (a `Shared.Membership` object with at least `id`).
    pub fn put(&self, membership: Value) {
        if let Some(id) = membership.get("id").and_then(Value::as_str) {
            lock(&self.shared.memberships).insert(id.to_owned(), membership);
        }
    }

    pub fn membership(&self, id: &str) -> Option<Value> {
        lock(&self.shared.memberships).get(id).cloned()
    }

    pub fn memberships(&self) -> Vec<Value> {
        lock(&self.shared.memberships).values().cloned().collect()
    }

    /// Adds `count` memberships `mem_00000…`, a mix of statuses, each with its own user.
    pub fn seed(&self, count: usize) {
        for n in 0..count {
            self.put(sample_membership(n));
        }
    }

    /// Adds `count` memberships of `company_id` (`mem_<company>_00000…`, users
    /// `user_<company>_00000…`), as [`seed`](Self::seed) makes them.
    pub fn seed_company(&self, company_id: &str, count: usize) {
        for n in 0..count {
            let mut membership = sample_membership(n);
            membership["id"] = json!(format!("mem_{company_id}_{n:05}"));
            membership["user"]["id"] = json!(format!("user_{company_id}_{n:05}"));
            membership["company"]["id"] = json!(company_id);
            self.put(membership);
        }
    }

    /// When each request that reached the server arrived, oldest first.
    pub fn arrivals(&self) -> Vec<DateTime<Utc>> {
        lock(&self.shared.arrivals).clone()
    }
}

/// Membership number `n` as the fake seeds it: deterministic, mostly active.
pub fn sample_membership(n: usize) -> Value {
    let status = match n % 10 {
        0 => "past_due",
        1 => "canceled",
        2 => "trialing",
        _ => "active",
    };
    let updated: i64 = 1_772_000_000 + i64::try_from(n).unwrap_or(0) * 60;
    membership_json(
        &format!("mem_{n:05}"),
        &format!("user_{n:05}"),
        status,
        n.is_multiple_of(7),
        Utc.timestamp_opt(updated, 0).single().unwrap_or_default(),
    )
}

/// A membership object in Whop's v1 shape.
pub fn membership_json(
    id: &str,
    user_id: &str,
    status: &str,
    cancel_at_period_end: bool,
    updated_at: DateTime<Utc>,
) -> Value {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": id,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": at(updated_at),
        "renewal_period_start": at(updated_at),
        "renewal_period_end": at(updated_at + chrono::TimeDelta::days(30)),
        "currency": "usd",
        "manage_url": format!("https://whop.com/orders/{id}"),
        "metadata": {},
        "user": {"id": user_id, "email": null, "name": null, "username": user_id},
        "member": {"id": format!("mber_{id}")},
        "company": {"id": COMPANY_ID, "title": "Local Co"},
        "product": {"id": "prod_local", "title": "Membership"},
        "plan": {"id": "plan_local"},
        "promo_code": null
    })
}

/// Counts every request, routed or not, before it is answered.
async fn count_received(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    shared.received.fetch_add(1, Ordering::Relaxed);
    lock(&shared.arrivals).push(Utc::now());
    next.run(request).await
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

/// Counts the request, checks the key, the rate limit and the fault plan; the answer when one
/// refuses it.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let number = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let options = lock(&shared.options).clone();
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !key.is_some_and(|key| options.keys.iter().any(|k| k == key)) {
        shared.unauthorized.fetch_add(1, Ordering::Relaxed);
        return Some(error(StatusCode::UNAUTHORIZED, "invalid API key"));
    }
    if let Some((limit, window)) = options.rate_limit {
        let now = Instant::now();
        let mut log = lock(&shared.window);
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
        if log.len() >= limit {
            shared.rate_limited.fetch_add(1, Ordering::Relaxed);
            let wait = log.front().map_or(window, |oldest| {
                window.saturating_sub(now.duration_since(*oldest))
            });
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, seconds.to_string())],
                    Json(json!({"message": "You are being rate limited"})),
                )
                    .into_response(),
            );
        }
        log.push_back(now);
    }
    if options.fail_every.is_some_and(|n| number.is_multiple_of(n)) {
        shared.injected.fetch_add(1, Ordering::Relaxed);
        return Some(error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure"));
    }
    if options
        .throttle_every
        .is_some_and(|n| number.is_multiple_of(n))
    {
        shared.injected.fetch_add(1, Ordering::Relaxed);
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(json!({"message": "You are being rate limited"})),
            )
                .into_response(),
        );
    }
    None
}

fn time_of(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.get(field)?.as_str()?)
        .ok()
        .map(|t| t.to_utc())
}

async fn list_memberships(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(response) = refusal(&shared, &headers) {
        return response;
    }
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let values = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |name: &str| values(name).first().map(|v| (*v).to_owned());
    let Some(company_id) = one("company_id") else {
        return error(
            StatusCode::BAD_REQUEST,
            "company_id is required when using an API key",
        );
    };
    if lock(&shared.options).revoked.contains(&company_id) {
        return error(
            StatusCode::FORBIDDEN,
            "this app does not have access to the company",
        );
    }
    let statuses = values("statuses[]");
    let user_ids = values("user_ids[]");
    let created_after = one("created_after")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok().map(|t| t.to_utc()));
    let max_page = lock(&shared.options).max_page_size;
    let first = one("first")
        .and_then(|f| f.parse().ok())
        .unwrap_or(10)
        .clamp(1, max_page.max(1));
    let after = match one("after") {
        None => None,
        Some(cursor) => match cursor.strip_prefix("cur_") {
            Some(id) => Some(id.to_owned()),
            None => return error(StatusCode::BAD_REQUEST, "unknown cursor"),
        },
    };

    let memberships = lock(&shared.memberships);
    let matching = memberships
        .range::<String, _>((
            after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            std::ops::Bound::Unbounded,
        ))
        .map(|(_, m)| m)
        .filter(|m| m["company"]["id"] == company_id.as_str())
        .filter(|m| statuses.is_empty() || statuses.iter().any(|s| m["status"] == *s))
        .filter(|m| user_ids.is_empty() || user_ids.iter().any(|u| m["user"]["id"] == *u))
        .filter(|m| {
            created_after.is_none_or(|after| time_of(m, "created_at").is_some_and(|c| c > after))
        });
    let mut page: Vec<Value> = Vec::with_capacity(first);
    let mut more = false;
    for membership in matching {
        if page.len() == first {
            more = true;
            break;
        }
        page.push(membership.clone());
    }
    let end_cursor = page
        .last()
        .and_then(|m| m["id"].as_str())
        .map(|id| format!("cur_{id}"));
    Json(json!({
        "data": page,
        "page_info": {"end_cursor": end_cursor, "start_cursor": null,
            "has_next_page": more, "has_previous_page": false}
    }))
    .into_response()
}

async fn get_membership(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = refusal(&shared, &headers) {
        return response;
    }
    match lock(&shared.memberships).get(&id) {
        Some(membership) => Json(membership.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "membership not found"),
    }
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = refusal(&shared, &headers) {
        return response;
    }
    let known = lock(&shared.memberships)
        .values()
        .any(|m| m["user"]["id"] == id.as_str());
    if known {
        Json(json!({"id": id, "username": id, "name": null})).into_response()
    } else {
        error(StatusCode::NOT_FOUND, "user not found")
    }
}

/// `GET /users/{id}/access/{company_id}`: `admin` for the configured admins, `customer` for the
/// configured customers and the users with a membership of the company, else `no_access`.
async fn get_access(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user_id, company_id)): Path<(String, String)>,
) -> Response {
    shared.access_checks.fetch_add(1, Ordering::Relaxed);
    if let Some(response) = refusal(&shared, &headers) {
        return response;
    }
    let options = lock(&shared.options).clone();
    let pair = (user_id, company_id);
    let level = if options.admins.contains(&pair) {
        "admin"
    } else if options.customers.contains(&pair)
        || lock(&shared.memberships)
            .values()
            .any(|m| m["user"]["id"] == pair.0.as_str() && m["company"]["id"] == pair.1.as_str())
    {
        "customer"
    } else {
        "no_access"
    };
    Json(json!({"has_access": level != "no_access", "access_level": level})).into_response()
}
