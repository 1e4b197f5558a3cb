//! A stand-in for Gumroad on loopback: the local stack's Gumroad connections use it, and the
//! tests drive it (README "Gumroad").
//!
//! - `GET /oauth/authorize`: checks the client id, the redirect URI, `response_type=code` and the
//!   scopes, then redirects at once to the redirect URI with a fresh `code` and the `state`;
//! - `POST /oauth/token`: the code exchange (form, the client secret checked, each code usable
//!   once) and `grant_type=refresh_token`;
//! - `GET /v2/user`: the seller (`user_id`), for a valid bearer token;
//! - `PUT /v2/resource_subscriptions`, `GET /v2/resource_subscriptions`,
//!   `DELETE /v2/resource_subscriptions/{id}`: the resource subscriptions;
//! - [`FakeGumroad::fire`]: posts a form ping to every `post_url` subscribed to its resource, as
//!   Gumroad does, after applying it to the account's catalog (a sale recorded, refunded or
//!   disputed; a subscriber made alive, cancelled, ended), so the API confirms it;
//!   [`FakeGumroad::forge`] posts one the catalog does not back (the API contradicts it);
//! - `GET /v2/sales/{id}`, `GET /v2/subscribers/{id}`: one sale, one subscriber of the catalog,
//!   as the processor reads them to confirm a ping ([`FakeGumroad::reads`] counts them);
//! - `GET /v2/products`, `GET /v2/products/{id}/subscribers`, `GET /v2/sales?after=&before=`:
//!   the catalog [`FakeGumroad::seed`] holds, in page_key pages (10 products, 20 subscribers, 10
//!   sales a page; products all at once as older deployments answer with
//!   [`Faults::unpaginated_products`]), and the faults [`FakeGumroad::inject`] switches on: 429s
//!   with `Retry-After`, 503s, and "Query timed out" 400s for sales ranges wider than a number of
//!   days.

use crate::standin::lock;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

/// The client id the local stack configures.
pub const LOCAL_CLIENT_ID: &str = "churnsaver-local-gumroad";
/// The client secret the local stack stores in its Gumroad client secret.
pub const LOCAL_CLIENT_SECRET: &str = "local-gumroad-client-secret";
/// The seller the stand-in's account is.
pub const SELLER_ID: &str = "seller_local_1";

/// A resource subscription as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub resource_name: String,
    pub post_url: String,
}

#[derive(Default)]
struct Shared {
    codes: Mutex<HashMap<String, String>>,
    /// Access tokens that are valid, and refresh tokens.
    access: Mutex<Vec<String>>,
    refresh: Mutex<Vec<String>>,
    subscriptions: Mutex<Vec<Subscription>>,
    next: AtomicU64,
    calls: AtomicU64,
    catalog: Mutex<Catalog>,
    faults: Mutex<Faults>,
    timeouts: AtomicU64,
    /// The paths of the single-record reads served.
    reads: Mutex<Vec<String>>,
}

/// What the stand-in's account sells: products, their subscribers, and sales (Gumroad's JSON).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub products: Vec<serde_json::Value>,
    /// By product id.
    pub subscribers: BTreeMap<String, Vec<serde_json::Value>>,
    pub sales: Vec<serde_json::Value>,
}

/// Faults the listings answer with, counted down as they are served.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// The next this many listing and record calls answer 429 with `Retry-After: 1`.
    pub throttled: u32,
    /// The next this many listing and record calls answer 503.
    pub unavailable: u32,
    /// A sales query whose range spans more than this many days answers 400 "Query timed out".
    pub time_out_wider_than_days: Option<i64>,
    /// `GET /v2/products` answers every product at once, without page_key.
    pub unpaginated_products: bool,
}

/// Products, subscribers and sales per page.
const PRODUCTS_PER_PAGE: usize = 10;
const SUBSCRIBERS_PER_PAGE: usize = 20;
const SALES_PER_PAGE: usize = 10;

/// The statuses a Gumroad subscriber can have.
pub const SUBSCRIBER_STATUSES: [&str; 6] = [
    "alive",
    "pending_cancellation",
    "pending_failure",
    "failed_payment",
    "fixed_subscription_period_ended",
    "cancelled",
];

/// A catalog of `products` products, `subscribers` subscribers spread over them (every status in
/// turn) and `sales` sales spread over the two years before 2026-01-01.
pub fn sample_catalog(products: usize, subscribers: usize, sales: usize) -> Catalog {
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let product_id = |i: usize| format!("prod_{i:03}");
    let mut catalog = Catalog {
        products: (0..products)
            .map(|i| json!({"id": product_id(i), "name": format!("Product {i}"), "price": 500 + i}))
            .collect(),
        ..Catalog::default()
    };
    for i in 0..subscribers {
        let product = product_id(i % products.max(1));
        let status = SUBSCRIBER_STATUSES[i % SUBSCRIBER_STATUSES.len()];
        let created = start + chrono::TimeDelta::hours(i as i64);
        let at = |hours: i64| (created + chrono::TimeDelta::hours(hours)).to_rfc3339();
        let mut subscriber = json!({
            "id": format!("gsub_{i:04}"), "product_id": product, "user_id": format!("guser_{i:04}"),
            "user_email": format!("buyer{i}@example.com"), "status": status,
            "created_at": created.to_rfc3339(), "recurrence": "monthly",
        });
        let ended = match status {
            "pending_cancellation" => Some(("user_requested_cancellation_at", 24)),
            "pending_failure" => Some(("failed_at", 48)),
            "failed_payment" => Some(("failed_at", 72)),
            "fixed_subscription_period_ended" | "cancelled" => Some(("ended_at", 96)),
            _ => None,
        };
        if let Some((field, hours)) = ended {
            subscriber[field] = json!(at(hours));
        }
        if status == "cancelled" {
            subscriber["cancelled_at"] = json!(at(90));
        }
        catalog
            .subscribers
            .entry(product)
            .or_default()
            .push(subscriber);
    }
    let span = 2 * 365 * 24 * 60;
    catalog.sales = (0..sales)
        .map(|i| {
            let minutes = (i * span / sales.max(1)) as i64;
            json!({
                "id": format!("gsale_{i:05}"),
                "created_at": (start + chrono::TimeDelta::minutes(minutes)).to_rfc3339(),
                "product_id": product_id(i % products.max(1)),
                "product_name": format!("Product {}", i % products.max(1)),
                "price": 500 + (i % 7) * 100, "gumroad_fee": 50, "currency": "usd",
                "quantity": 1 + i % 3, "refunded": i % 50 == 0,
            })
        })
        .collect();
    catalog
}

impl Shared {
    fn fresh(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        token.is_some_and(|token| lock(&self.access).iter().any(|t| t == token))
    }
}

/// The running stand-in. Stops when dropped.
pub struct FakeGumroad {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGumroad {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGumroad {
    /// Serves on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .route("/v2/user", get(user))
            .route(
                "/v2/resource_subscriptions",
                get(list_subscriptions).put(subscribe),
            )
            .route("/v2/resource_subscriptions/{id}", delete(unsubscribe))
            .route("/v2/products", get(products))
            .route("/v2/products/{id}/subscribers", get(subscribers))
            .route("/v2/sales", get(sales))
            .route("/v2/sales/{id}", get(sale))
            .route("/v2/subscribers/{id}", get(subscriber))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the stand-in Gumroad").await?;
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// `GUMROAD_API_BASE_URL`.
    pub fn api_base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `GUMROAD_AUTHORIZATION_URL`.
    pub fn authorization_url(&self) -> String {
        format!("http://{}/oauth/authorize", self.address)
    }

    /// The template parameters that point a stack at this stand-in (its redirect URI is the
    /// stack's own, which the local stack fills in).
    pub fn parameters(&self) -> Vec<(String, String)> {
        [
            ("GumroadClientId", LOCAL_CLIENT_ID.to_owned()),
            ("GumroadAuthorizationUrl", self.authorization_url()),
            ("GumroadApiBaseUrl", self.api_base_url()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    }

    /// The resource subscriptions in place.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        lock(&self.shared.subscriptions).clone()
    }

    /// Replaces what the account sells.
    pub fn seed(&self, catalog: Catalog) {
        *lock(&self.shared.catalog) = catalog;
    }

    /// The account's catalog as the listings serve it.
    pub fn catalog(&self) -> Catalog {
        lock(&self.shared.catalog).clone()
    }

    /// Switches faults on (replacing earlier ones).
    pub fn inject(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// How many sales queries answered "Query timed out".
    pub fn timeouts(&self) -> u64 {
        self.shared.timeouts.load(Ordering::Relaxed)
    }

    /// The faults still to be served.
    pub fn faults(&self) -> Faults {
        *lock(&self.shared.faults)
    }

    /// Requests the stand-in's API answered (the token endpoint, `/v2/…`).
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }

    /// Makes every access token invalid, as a revoked authorization does; with `refresh_too`,
    /// the refresh tokens as well.
    pub fn revoke(&self, refresh_too: bool) {
        lock(&self.shared.access).clear();
        if refresh_too {
            lock(&self.shared.refresh).clear();
        }
    }

    /// How many single-record reads (`GET /v2/sales/{id}`, `GET /v2/subscribers/{id}`) asked for
    /// `path` (e.g. `/v2/sales/sale_1`).
    pub fn reads(&self, path: &str) -> usize {
        lock(&self.shared.reads)
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    /// Applies the ping `fields` of `resource` to the catalog, as the change Gumroad pings about,
    /// then posts it as [`Self::forge`] does; the status of each answer.
    pub async fn fire(
        &self,
        resource: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Vec<reqwest::StatusCode>> {
        apply(&mut lock(&self.shared.catalog), resource, fields);
        self.forge(resource, fields).await
    }

    /// Posts `fields` (form-encoded, with `resource_name`) to every post_url subscribed to
    /// `resource`, as Gumroad does, leaving the catalog as it is; the status of each answer.
    pub async fn forge(
        &self,
        resource: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Vec<reqwest::StatusCode>> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().copied())
            .append_pair("resource_name", resource)
            .finish();
        let targets: Vec<String> = self
            .subscriptions()
            .into_iter()
            .filter(|s| s.resource_name == resource)
            .map(|s| s.post_url)
            .collect();
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for url in targets {
            let response = http
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone())
                .send()
                .await?;
            statuses.push(response.status());
        }
        Ok(statuses)
    }
}

/// Applies a ping to `catalog`: the sale family records the sale (and makes its subscriber
/// alive), refunds and disputes flag it; the subscription family sets the subscriber's status.
fn apply(catalog: &mut Catalog, resource: &str, fields: &[(&str, &str)]) {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    if let Some(sale_id) = field("sale_id") {
        let at = catalog
            .sales
            .iter()
            .position(|s| s["id"] == sale_id.as_str());
        let at = at.unwrap_or_else(|| {
            catalog.sales.push(json!({
                "id": sale_id, "seller_id": field("seller_id"), "product_id": field("product_id"),
                "subscription_id": field("subscription_id"), "created_at": field("sale_timestamp"),
                "price": field("price").and_then(|p| p.parse::<i64>().ok()),
                "currency": field("currency"), "quantity": 1,
                "refunded": false, "disputed": false, "dispute_won": false,
            }));
            catalog.sales.len() - 1
        });
        let flag = match resource {
            "refund" => Some("refunded"),
            "dispute" => Some("disputed"),
            "dispute_won" => Some("dispute_won"),
            _ => None,
        };
        if let Some(flag) = flag {
            catalog.sales[at][flag] = json!(true);
        }
    }
    let Some(id) = field("subscription_id") else {
        return;
    };
    let status = match resource {
        "sale" | "subscription_restarted" => "alive".to_owned(),
        "cancellation" => "pending_cancellation".to_owned(),
        "subscription_ended" => field("ended_reason").unwrap_or_else(|| "cancelled".into()),
        _ => return,
    };
    let known = catalog
        .subscribers
        .values_mut()
        .flatten()
        .find(|s| s["id"] == id.as_str());
    match known {
        Some(subscriber) => subscriber["status"] = json!(status),
        None => {
            let product = field("product_id").unwrap_or_default();
            catalog
                .subscribers
                .entry(product.clone())
                .or_default()
                .push(json!({
                    "id": id, "product_id": product, "status": status,
                    "user_id": field("purchaser_id").or_else(|| field("user_id")),
                }));
        }
    }
}

fn form(raw: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn failure(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "message": message}))).into_response()
}

async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let query = form(query.as_deref().unwrap_or_default());
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != LOCAL_CLIENT_ID
        || field("response_type") != "code"
        || field("redirect_uri").is_empty()
        || !field("scope").split(' ').any(|s| s == "view_sales")
    {
        return failure(StatusCode::BAD_REQUEST, "invalid authorization request");
    }
    let code = shared.fresh("code");
    lock(&shared.codes).insert(code.clone(), field("redirect_uri"));
    let mut location = url::Url::parse(&field("redirect_uri")).unwrap_or_else(|_| {
        url::Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("a valid URL"))
    });
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    let body = form(&body);
    let field = |name: &str| body.get(name).cloned().unwrap_or_default();
    if field("client_id") != LOCAL_CLIENT_ID || field("client_secret") != LOCAL_CLIENT_SECRET {
        return failure(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let granted = match field("grant_type").as_str() {
        "authorization_code" => lock(&shared.codes)
            .remove(&field("code"))
            .is_some_and(|redirect| redirect == field("redirect_uri")),
        "refresh_token" => {
            let mut refresh = lock(&shared.refresh);
            let known = refresh.iter().position(|t| *t == field("refresh_token"));
            known.map(|at| refresh.remove(at)).is_some()
        }
        _ => false,
    };
    if !granted {
        return failure(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access = shared.fresh("gumroad_access");
    let refresh = shared.fresh("gumroad_refresh");
    lock(&shared.access).push(access.clone());
    lock(&shared.refresh).push(refresh.clone());
    Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "scope": "view_sales view_profile",
    }))
    .into_response()
}

async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    if !shared.authorized(&headers) {
        return failure(StatusCode::UNAUTHORIZED, "The access token is invalid");
    }
    Json(json!({"success": true, "user": {"user_id": SELLER_ID, "name": "Local Seller"}}))
        .into_response()
}

async fn subscribe(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    if !shared.authorized(&headers) {
        return failure(StatusCode::UNAUTHORIZED, "The access token is invalid");
    }
    let body = form(&body);
    let (Some(resource_name), Some(post_url)) = (body.get("resource_name"), body.get("post_url"))
    else {
        return failure(StatusCode::OK, "resource_name and post_url are required");
    };
    let subscription = Subscription {
        id: shared.fresh("rs"),
        resource_name: resource_name.clone(),
        post_url: post_url.clone(),
    };
    lock(&shared.subscriptions).push(subscription.clone());
    Json(json!({"success": true, "resource_subscription": {
        "id": subscription.id,
        "resource_name": subscription.resource_name,
        "post_url": subscription.post_url,
    }}))
    .into_response()
}

async fn list_subscriptions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    if !shared.authorized(&headers) {
        return failure(StatusCode::UNAUTHORIZED, "The access token is invalid");
    }
    let items: Vec<_> = lock(&shared.subscriptions)
        .iter()
        .map(|s| json!({"id": s.id, "resource_name": s.resource_name, "post_url": s.post_url}))
        .collect();
    Json(json!({"success": true, "resource_subscriptions": items})).into_response()
}

async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    if !shared.authorized(&headers) {
        return failure(StatusCode::UNAUTHORIZED, "The access token is invalid");
    }
    let mut subscriptions = lock(&shared.subscriptions);
    let before = subscriptions.len();
    subscriptions.retain(|s| s.id != id);
    if subscriptions.len() == before {
        return failure(StatusCode::OK, "The resource subscription was not found.");
    }
    Json(json!({"success": true, "message": "The resource_subscription was deleted successfully."}))
        .into_response()
}

/// The listings' common answer: the call counted, the token checked, then the next fault (429,
/// 503) if one is switched on.
fn listing_gate(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    shared.calls.fetch_add(1, Ordering::Relaxed);
    if !shared.authorized(headers) {
        return Some(failure(
            StatusCode::UNAUTHORIZED,
            "The access token is invalid",
        ));
    }
    let mut faults = lock(&shared.faults);
    if faults.throttled > 0 {
        faults.throttled -= 1;
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(json!({"success": false, "message": "Too many requests"})),
            )
                .into_response(),
        );
    }
    if faults.unavailable > 0 {
        faults.unavailable -= 1;
        return Some(failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
        ));
    }
    None
}

/// The page at `page_key` (an offset) of `records`, `per_page` long, under `key`.
fn paged(
    records: &[serde_json::Value],
    key: &str,
    page_key: Option<&String>,
    per_page: usize,
) -> Response {
    let start = page_key.and_then(|k| k.parse::<usize>().ok()).unwrap_or(0);
    let end = (start + per_page).min(records.len());
    let mut body = json!({"success": true, key: records.get(start..end).unwrap_or_default()});
    if end < records.len() {
        body["next_page_key"] = json!(end.to_string());
    }
    Json(body).into_response()
}

async fn products(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = listing_gate(&shared, &headers) {
        return refused;
    }
    let products = lock(&shared.catalog).products.clone();
    if lock(&shared.faults).unpaginated_products {
        return Json(json!({"success": true, "products": products})).into_response();
    }
    let query = form(query.as_deref().unwrap_or_default());
    paged(
        &products,
        "products",
        query.get("page_key"),
        PRODUCTS_PER_PAGE,
    )
}

async fn subscribers(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = listing_gate(&shared, &headers) {
        return refused;
    }
    let Some(subscribers) = lock(&shared.catalog).subscribers.get(&id).cloned() else {
        return failure(StatusCode::NOT_FOUND, "The product was not found.");
    };
    let query = form(query.as_deref().unwrap_or_default());
    paged(
        &subscribers,
        "subscribers",
        query.get("page_key"),
        SUBSCRIBERS_PER_PAGE,
    )
}

/// One record of the catalog by id (`GET /v2/sales/{id}`, `GET /v2/subscribers/{id}`), its read
/// counted; Gumroad's "not found" answer when there is none.
fn record(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    key: &str,
    find: impl FnOnce(&Catalog) -> Option<serde_json::Value>,
) -> Response {
    if let Some(refused) = listing_gate(shared, headers) {
        return refused;
    }
    lock(&shared.reads).push(path.to_owned());
    match find(&lock(&shared.catalog)) {
        Some(record) => Json(json!({"success": true, key: record})).into_response(),
        None => failure(StatusCode::NOT_FOUND, &format!("The {key} was not found.")),
    }
}

async fn sale(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let path = format!("/v2/sales/{id}");
    record(&shared, &headers, &path, "sale", |catalog| {
        catalog
            .sales
            .iter()
            .find(|s| s["id"] == id.as_str())
            .cloned()
    })
}

async fn subscriber(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let path = format!("/v2/subscribers/{id}");
    record(&shared, &headers, &path, "subscriber", |catalog| {
        let mut all = catalog.subscribers.values().flatten();
        all.find(|s| s["id"] == id.as_str()).cloned()
    })
}

fn day(text: Option<&String>) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text?, "%Y-%m-%d").ok()
}

/// Sales whose day is within `after` and `before` (both included), newest first, as Gumroad
/// orders them.
async fn sales(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = listing_gate(&shared, &headers) {
        return refused;
    }
    let query = form(query.as_deref().unwrap_or_default());
    let (after, before) = (day(query.get("after")), day(query.get("before")));
    let widest = lock(&shared.faults).time_out_wider_than_days;
    if let (Some(widest), Some(after), Some(before)) = (widest, after, before)
        && (before - after).num_days() > widest
    {
        shared.timeouts.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"success": false, "message": "Query timed out. Try narrowing your date range."})),
        )
            .into_response();
    }
    let mut sales: Vec<serde_json::Value> = lock(&shared.catalog)
        .sales
        .iter()
        .filter(|sale| {
            let created = sale["created_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.date_naive());
            created.is_some_and(|d| after.is_none_or(|a| d >= a) && before.is_none_or(|b| d <= b))
        })
        .cloned()
        .collect();
    sales.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
    paged(&sales, "sales", query.get("page_key"), SALES_PER_PAGE)
}
