//! A stand-in for PayPal on loopback: the local stack's PayPal webhooks fetch their signing
//! certificate from it, and the tests drive it (README "PayPal").
//!
//! - `GET /v1/notifications/certs/{name}`: the chains of a test root made at start (the root is
//!   the stack's `PAYPAL_TEST_ROOT_PEM`): [`Cert::Valid`], [`Cert::Expired`] and
//!   [`Cert::NotPayPal`], each fetch counted ([`FakePayPal::cert_fetches`]);
//! - `POST /v1/oauth2/token`: the client-credentials grant (HTTP basic with the local client id
//!   and secret), a fresh bearer token each time;
//! - `POST /v1/notifications/verify-webhook-signature`: PayPal's online check of a delivery,
//!   against the chain its `cert_url` names and the raw `webhook_event`;
//! - `GET /v1/billing/subscriptions/{id}`: the subscriptions [`FakePayPal::put_subscription`]
//!   holds, for a valid bearer token, and the faults [`FakePayPal::inject`] switches on;
//! - `GET /v1/billing/subscriptions/{id}/transactions?start_time=&end_time=` (both required):
//!   the transactions [`FakePayPal::put_transaction`] holds for the subscription within the
//!   window, for a valid bearer token, each read counted ([`FakePayPal::transaction_reads`]);
//! - `GET /v1/payments/sale/{id}`: the sales [`FakePayPal::put_sale`] holds, for a valid bearer
//!   token;
//! - `GET /local/signing-key`: the valid leaf's key (PKCS#8, base64) and certificate path, so
//!   `churnsaver webhook send` can sign PayPal samples as PayPal would. A throwaway test key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use shared::providers::paypal::certs::Trust;
use shared::providers::paypal::test_chain::{ChainError, LeafSpec, TestChain, TestRoot};
use shared::providers::paypal::{sign, verify};

use crate::standin::lock;

/// The webhook id the local stack configures.
pub const LOCAL_WEBHOOK_ID: &str = "CHURNSAVERLOCALPAYPAL1";
/// The company the local stack shows PayPal's subscriptions under: the stand-in Whop's, whose
/// admin sees them in the creator view.
pub const LOCAL_COMPANY_ID: &str = crate::fake_whop::COMPANY_ID;
/// The REST app's client id the local stack configures.
pub const LOCAL_CLIENT_ID: &str = "churnsaver-local-paypal";
/// The client secret the local stack stores in its PayPal client secret.
pub const LOCAL_CLIENT_SECRET: &str = "local-paypal-client-secret";
/// Lifetime of a token, in seconds (PayPal's are about nine hours).
pub const TOKEN_LIFETIME_SECS: u64 = 32_400;

/// The chains the stand-in serves, all under its one test root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cert {
    /// `*.paypal.com`, valid 2016–2090.
    Valid,
    /// `*.paypal.com`, valid 2016–2017.
    Expired,
    /// `churnsaver.example`, valid 2016–2090.
    NotPayPal,
}

impl Cert {
    pub const ALL: [Self; 3] = [Self::Valid, Self::Expired, Self::NotPayPal];

    fn name(self) -> &'static str {
        match self {
            Self::Valid => "CERT-local-valid",
            Self::Expired => "CERT-local-expired",
            Self::NotPayPal => "CERT-local-not-paypal",
        }
    }

    fn spec(self) -> LeafSpec<'static> {
        match self {
            Self::Valid => LeafSpec::default(),
            Self::Expired => LeafSpec {
                valid_years: (2016, 2017),
                ..LeafSpec::default()
            },
            Self::NotPayPal => LeafSpec {
                common_name: "churnsaver.example",
                ..LeafSpec::default()
            },
        }
    }
}

/// Faults the subscription reads answer with, counted down as they are served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next this many reads answer 429 with `Retry-After: 1`.
    pub throttled: u32,
    /// The next this many reads answer 503.
    pub unavailable: u32,
    /// The next this many reads answer 200 with a body that is not JSON.
    pub malformed: u32,
}

struct Shared {
    root_pem: String,
    chains: Vec<(Cert, TestChain)>,
    cert_fetches: AtomicU64,
    tokens: Mutex<Vec<String>>,
    token_grants: AtomicU64,
    verify_calls: AtomicU64,
    subscriptions: Mutex<HashMap<String, serde_json::Value>>,
    subscription_reads: AtomicU64,
    transactions: Mutex<HashMap<String, Vec<serde_json::Value>>>,
    transaction_reads: AtomicU64,
    sales: Mutex<HashMap<String, serde_json::Value>>,
    faults: Mutex<Faults>,
}

impl Shared {
    fn chain(&self, cert: Cert) -> Option<&TestChain> {
        self.chains
            .iter()
            .find(|(c, _)| *c == cert)
            .map(|(_, chain)| chain)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        token.is_some_and(|token| lock(&self.tokens).iter().any(|t| t == token))
    }
}

/// The stand-in PayPal; stops serving when dropped.
pub struct FakePayPal {
    /// `http://<loopback address>`, as `PAYPAL_API_BASE_URL` takes it.
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakePayPal {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakePayPal {
    /// Makes a test root and its chains (four RSA-2048 keys) and serves on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let root = TestRoot::new().context("making the PayPal test root")?;
        let chains = Cert::ALL
            .into_iter()
            .map(|cert| Ok((cert, root.issue(cert.spec())?)))
            .collect::<Result<Vec<_>, ChainError>>()
            .context("issuing the PayPal test certificates")?;
        let shared = Arc::new(Shared {
            root_pem: root.root_pem,
            chains,
            cert_fetches: AtomicU64::new(0),
            tokens: Mutex::default(),
            token_grants: AtomicU64::new(0),
            verify_calls: AtomicU64::new(0),
            subscriptions: Mutex::default(),
            subscription_reads: AtomicU64::new(0),
            transactions: Mutex::default(),
            transaction_reads: AtomicU64::new(0),
            sales: Mutex::default(),
            faults: Mutex::default(),
        });
        let router = Router::new()
            .route("/v1/notifications/certs/{name}", get(certificate))
            .route("/v1/oauth2/token", post(token))
            .route(
                "/v1/notifications/verify-webhook-signature",
                post(verify_signature),
            )
            .route("/v1/billing/subscriptions/{id}", get(subscription))
            .route(
                "/v1/billing/subscriptions/{id}/transactions",
                get(transactions),
            )
            .route("/v1/payments/sale/{id}", get(sale))
            .route("/local/signing-key", get(signing_key))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Arc::clone(&shared));
        let (address, server) = crate::standin::serve(router, "the PayPal stand-in").await?;
        let base_url = format!("http://{address}");
        Ok(Self {
            base_url,
            shared,
            server,
        })
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The URL serving `cert`'s chain.
    pub fn cert_url(&self, cert: Cert) -> String {
        format!("{}/v1/notifications/certs/{}", self.base_url(), cert.name())
    }

    /// The template parameters that point the stack at this stand-in.
    pub fn parameters(&self) -> Vec<(String, String)> {
        [
            ("PayPalWebhookId", LOCAL_WEBHOOK_ID.to_owned()),
            ("PayPalCompanyId", LOCAL_COMPANY_ID.to_owned()),
            ("PayPalApiBaseUrl", self.base_url()),
            ("PayPalClientId", LOCAL_CLIENT_ID.to_owned()),
            ("PayPalTestRootPem", self.shared.root_pem.clone()),
            ("PayPalAllowLoopbackCertUrls", "true".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    }

    /// The headers PayPal would send for `body`, signed with `cert`'s key and naming its URL (or
    /// `cert_url` instead), for `webhook_id`, at `time` (RFC 3339).
    ///
    /// # Errors
    /// When the key cannot sign (never for the stand-in's keys).
    pub fn sign(
        &self,
        cert: Cert,
        cert_url: Option<&str>,
        webhook_id: &str,
        time: &str,
        body: &[u8],
    ) -> anyhow::Result<Vec<(&'static str, String)>> {
        let chain = self
            .shared
            .chain(cert)
            .context("the stand-in holds every chain")?;
        let key = chain
            .leaf_key()
            .map_err(|e| anyhow::anyhow!("the test key: {e}"))?;
        let url = cert_url.map_or_else(|| self.cert_url(cert), str::to_owned);
        let transmission_id = uuid::Uuid::new_v4().to_string();
        sign(&key, webhook_id, &url, &transmission_id, time, body)
            .map_err(|_| anyhow::anyhow!("signing with the test key failed"))
    }

    /// Certificate fetches served so far.
    pub fn cert_fetches(&self) -> u64 {
        self.shared.cert_fetches.load(Ordering::SeqCst)
    }

    /// Client-credentials tokens granted so far.
    pub fn token_grants(&self) -> u64 {
        self.shared.token_grants.load(Ordering::SeqCst)
    }

    /// Online verification calls served so far.
    pub fn verify_calls(&self) -> u64 {
        self.shared.verify_calls.load(Ordering::SeqCst)
    }

    /// Subscription reads served so far (faults included).
    pub fn subscription_reads(&self) -> u64 {
        self.shared.subscription_reads.load(Ordering::SeqCst)
    }

    /// Sets what `GET /v1/billing/subscriptions/{id}` answers for `subscription["id"]`.
    pub fn put_subscription(&self, subscription: serde_json::Value) {
        let id = subscription["id"].as_str().unwrap_or_default().to_owned();
        lock(&self.shared.subscriptions).insert(id, subscription);
    }

    /// Sets what `GET /v1/payments/sale/{id}` answers for `sale["id"]`.
    pub fn put_sale(&self, sale: serde_json::Value) {
        let id = sale["id"].as_str().unwrap_or_default().to_owned();
        lock(&self.shared.sales).insert(id, sale);
    }

    /// Makes `GET /v1/billing/subscriptions/{id}` answer 404 for `id`.
    pub fn forget_subscription(&self, id: &str) {
        lock(&self.shared.subscriptions).remove(id);
    }

    /// Adds a transaction (`{id, status, time, amount_with_breakdown}`) to what
    /// `GET /v1/billing/subscriptions/{subscription}/transactions` answers.
    pub fn put_transaction(&self, subscription: &str, transaction: serde_json::Value) {
        lock(&self.shared.transactions)
            .entry(subscription.to_owned())
            .or_default()
            .push(transaction);
    }

    /// Transaction reads served so far.
    pub fn transaction_reads(&self) -> u64 {
        self.shared.transaction_reads.load(Ordering::SeqCst)
    }

    /// Makes every token granted so far invalid, as PayPal does when one expires early.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// The faults not served yet.
    pub fn faults(&self) -> Faults {
        *lock(&self.shared.faults)
    }

    /// Switches faults on for the next subscription reads.
    pub fn inject(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }
}

async fn certificate(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    shared.cert_fetches.fetch_add(1, Ordering::SeqCst);
    match Cert::ALL
        .into_iter()
        .find(|cert| cert.name() == name)
        .and_then(|cert| shared.chain(cert))
    {
        Some(chain) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            chain.chain_pem.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to invalid authentication credentials.",
    )
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (status, Json(json!({"name": name, "message": message}))).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{LOCAL_CLIENT_ID}:{LOCAL_CLIENT_SECRET}"))
    );
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if basic != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client Authentication failed"})),
        )
            .into_response();
    }
    if !body
        .split('&')
        .any(|pair| pair == "grant_type=client_credentials")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    shared.token_grants.fetch_add(1, Ordering::SeqCst);
    let access_token = format!("A21AA{}", uuid::Uuid::new_v4().simple());
    lock(&shared.tokens).push(access_token.clone());
    Json(json!({
        "scope": "https://uri.paypal.com/services/subscriptions",
        "access_token": access_token,
        "token_type": "Bearer",
        "app_id": "APP-LOCAL",
        "expires_in": TOKEN_LIFETIME_SECS,
    }))
    .into_response()
}

/// The request of `verify-webhook-signature`, the event kept as sent (its CRC-32 is over it).
#[derive(serde::Deserialize)]
struct VerifyRequest<'a> {
    auth_algo: String,
    cert_url: String,
    transmission_id: String,
    transmission_sig: String,
    transmission_time: String,
    webhook_id: String,
    #[serde(borrow)]
    webhook_event: &'a serde_json::value::RawValue,
}

async fn verify_signature(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.verify_calls.fetch_add(1, Ordering::SeqCst);
    if !shared.authorized(&headers) {
        return unauthorized();
    }
    let Ok(request) = serde_json::from_str::<VerifyRequest<'_>>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid request - see details",
        );
    };
    let success = request.auth_algo == verify::SHA256_WITH_RSA
        && verifies(&shared, &request).unwrap_or(false);
    Json(json!({"verification_status": if success { "SUCCESS" } else { "FAILURE" }}))
        .into_response()
}

/// Whether the request's signature verifies with the chain its `cert_url` names (the stand-in's
/// own chains only).
fn verifies(shared: &Shared, request: &VerifyRequest<'_>) -> Option<bool> {
    let name = request.cert_url.rsplit('/').next()?;
    let cert = Cert::ALL.into_iter().find(|cert| cert.name() == name)?;
    let chain = shared.chain(cert)?;
    let at = shared::domain::time::parse_time_str(&request.transmission_time)?.timestamp();
    let certificate = Trust::shipped()
        .with_test_root(shared.root_pem.as_bytes())
        .ok()?
        .check_chain(chain.chain_pem.as_bytes(), at)
        .ok()?;
    let signature = STANDARD.decode(&request.transmission_sig).ok()?;
    let signed = verify::signed_string(
        &request.transmission_id,
        &request.transmission_time,
        &request.webhook_id,
        request.webhook_event.get().as_bytes(),
    );
    Some(certificate.verifies(signed.as_bytes(), &signature))
}

async fn subscription(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared.subscription_reads.fetch_add(1, Ordering::SeqCst);
    {
        let mut faults = lock(&shared.faults);
        if faults.throttled > 0 {
            faults.throttled -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(json!({"name": "RATE_LIMIT_REACHED", "message": "Too many requests."})),
            )
                .into_response();
        }
        if faults.unavailable > 0 {
            faults.unavailable -= 1;
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service Unavailable.",
            );
        }
        if faults.malformed > 0 {
            faults.malformed -= 1;
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"id\": \"I-",
            )
                .into_response();
        }
    }
    if !shared.authorized(&headers) {
        return unauthorized();
    }
    match lock(&shared.subscriptions).get(&id) {
        Some(subscription) => Json(subscription.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
        ),
    }
}

async fn sale(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !shared.authorized(&headers) {
        return unauthorized();
    }
    match lock(&shared.sales).get(&id) {
        Some(sale) => Json(sale.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "INVALID_RESOURCE_ID",
            "Requested resource ID was not found.",
        ),
    }
}

async fn transactions(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(window): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    shared.transaction_reads.fetch_add(1, Ordering::SeqCst);
    if !shared.authorized(&headers) {
        return unauthorized();
    }
    let bound = |name: &str| {
        window
            .get(name)
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
    };
    let (Some(start), Some(end)) = (bound("start_time"), bound("end_time")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "start_time and end_time are required date-times.",
        );
    };
    let within: Vec<serde_json::Value> = lock(&shared.transactions)
        .get(&id)
        .into_iter()
        .flatten()
        .filter(|transaction| {
            transaction["time"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .is_some_and(|at| start <= at && at <= end)
        })
        .cloned()
        .collect();
    Json(json!({"transactions": within, "total_items": within.len(), "total_pages": 1}))
        .into_response()
}

async fn signing_key(State(shared): State<Arc<Shared>>) -> Response {
    let Some(chain) = shared.chain(Cert::Valid) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Json(json!({
        "leaf_key_pkcs8": STANDARD.encode(&chain.leaf_key_pkcs8),
        "cert_path": format!("/v1/notifications/certs/{}", Cert::Valid.name()),
    }))
    .into_response()
}
