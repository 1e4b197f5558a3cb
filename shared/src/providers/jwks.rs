//! A provider's published key set (JWKS), fetched on first use and cached: the one key cache of
//! the token verifiers (Whop's user tokens, [`crate::providers::whop::user_token::WhopKeys`];
//! Google's ID tokens, [`crate::providers::google::id_token::GoogleKeys`]).
//!
//! A fetched set is kept for its [`MaxAge`] (fixed, or the response's `Cache-Control: max-age`),
//! refetched early when a token names a key not in it, but never more than once per
//! [`REFETCH_COOLDOWN`]. When a fetch fails (timeout, refused, non-2xx, bad JSON, no usable key)
//! the keys already held keep being served, however old: the provider being down must not log
//! everyone out. One fetch runs at a time; lookups never wait for it when the key is already held.
//! Which keys of a document are usable is the provider's rule ([`JwksSpec::usable`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::aws::http::request_error;
use crate::domain::metrics::{MetricSink, Stdout};
use crate::domain::ports::{Clock, DependencyError};
use crate::providers::client::{emit_fetch_metrics, fetch_answer};

/// Minimum time between two fetches of a key set, so a flood of tokens naming unknown keys, or an
/// outage, cannot turn into a flood of requests to the provider.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Default bound on one key-set fetch, body included. The connect timeout is the client's
/// ([`crate::edge::app::HTTP_CONNECT_TIMEOUT`] for [`crate::App::http`]).
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// A larger key-set response is treated as an error rather than buffered.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The longest a `Cache-Control: max-age` keeps a key set: a wrong header must not pin keys for
/// weeks.
pub const MAX_CACHE_CONTROL_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a key set could not give the key a token names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no key has this id")]
    Unknown,
    #[error("the key set could not be fetched: {0}")]
    Unavailable(DependencyError),
}

/// The public keys tokens may name by `kid`.
pub trait KeySet: Send + Sync {
    fn key(&self, kid: &str) -> impl Future<Output = Result<Arc<DecodingKey>, KeyError>> + Send;
}

/// How long a fetched key set is used before it is fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// Always this long (Whop sends no caching header).
    Fixed(Duration),
    /// The response's `Cache-Control: max-age` (at most [`MAX_CACHE_CONTROL_AGE`]); none, or
    /// `no-store`/`no-cache`, means the set is stale at once, so the next lookup after the
    /// cooldown refetches (Google's own library does not cache without the header).
    CacheControl,
}

impl MaxAge {
    fn of(self, headers: &reqwest::header::HeaderMap) -> Duration {
        match self {
            Self::Fixed(age) => age,
            Self::CacheControl => headers
                .get_all(reqwest::header::CACHE_CONTROL)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(cache_control_max_age)
                .map_or(Duration::ZERO, |age| age.min(MAX_CACHE_CONTROL_AGE)),
        }
    }
}

/// The `max-age` of one `Cache-Control` value; `Some(0)` when it says `no-store` or `no-cache`.
pub fn cache_control_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

/// One provider's key set: what it is called in logs, its caching rule and which of its keys are
/// usable.
#[derive(Debug, Clone, Copy)]
pub struct JwksSpec {
    /// For logs: e.g. "Whop's user-token keys".
    pub name: &'static str,
    /// The `provider` dimension of the fetches' `provider_*` metrics (`whop`, `google`).
    pub service: &'static str,
    pub max_age: MaxAge,
    /// The `kid` and key of a usable JWK; `None` skips it, so a provider adding a key of another
    /// kind breaks nothing.
    pub usable: fn(&Value) -> Option<(String, DecodingKey)>,
    /// What "no usable key" is called in the error, e.g. "ES256".
    pub kind: &'static str,
}

/// The usable keys of a JWKS document, by `kid`.
pub struct Jwks {
    pub keys: HashMap<String, Arc<DecodingKey>>,
    pub skipped: usize,
}

/// The keys of a JWKS document that `spec` finds usable (the first of a repeated `kid`). A set
/// with no usable key is an error: replacing good keys with none would reject every token.
pub fn parse_jwks(body: &[u8], spec: &JwksSpec) -> Result<Jwks, DependencyError> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let document: Document = serde_json::from_slice(body)
        .map_err(|_| DependencyError::Other("the key set is not a JWKS document".to_owned()))?;
    let total = document.keys.len();
    let mut keys = HashMap::new();
    for (kid, key) in document.keys.iter().filter_map(spec.usable) {
        if !kid.is_empty() {
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    if keys.is_empty() {
        return Err(DependencyError::Other(format!(
            "the key set has no usable {} key",
            spec.kind
        )));
    }
    Ok(Jwks {
        skipped: total - keys.len(),
        keys,
    })
}

/// The cache (see the module's documentation).
pub struct JwksCache<C> {
    http: reqwest::Client,
    url: Url,
    clock: C,
    timeout: Duration,
    spec: JwksSpec,
    cache: RwLock<Arc<Cached>>,
    fetching: tokio::sync::Mutex<()>,
    metrics: Arc<dyn MetricSink>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// Of the last successful fetch.
    fetched_at: Option<DateTime<Utc>>,
    /// How long the last successful fetch is fresh.
    max_age: Duration,
    /// Of the last fetch, successful or not.
    attempted_at: Option<DateTime<Utc>>,
    /// Why the last fetch failed; `None` when it succeeded.
    last_error: Option<DependencyError>,
}

impl Cached {
    fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.fetched_at
            .is_some_and(|at| age(now, at) < self.max_age)
    }

    fn cooling_down(&self, now: DateTime<Utc>) -> bool {
        self.attempted_at
            .is_some_and(|at| age(now, at) < REFETCH_COOLDOWN)
    }

    fn lookup(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        match (self.keys.get(kid), &self.last_error) {
            (Some(key), _) => Ok(Arc::clone(key)),
            (None, Some(error)) => Err(KeyError::Unavailable(error.clone())),
            (None, None) => Err(KeyError::Unknown),
        }
    }
}

/// A clock that went backwards counts as no time passed.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

impl<C: Clock> JwksCache<C> {
    /// Keys from `url` fetched with `http` (e.g. a clone of [`crate::App::http`], whose connect
    /// timeout applies), kept and filtered as `spec` says.
    pub fn new(http: reqwest::Client, url: Url, clock: C, spec: JwksSpec) -> Self {
        Self {
            http,
            url,
            clock,
            timeout: JWKS_TIMEOUT,
            spec,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            metrics: Arc::new(Stdout),
        }
    }

    /// Writes each fetch's `provider_*` metrics to `sink` instead of stdout.
    #[must_use]
    pub fn with_metric_sink(self, sink: Arc<dyn MetricSink>) -> Self {
        Self {
            metrics: sink,
            ..self
        }
    }

    /// Bounds each fetch, body included, by `timeout` instead of [`JWKS_TIMEOUT`].
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    fn cached(&self) -> Arc<Cached> {
        // The lock only guards a pointer swap; a panicking writer cannot leave it half-written.
        Arc::clone(&self.cache.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key `kid` names, fetching the set when it is stale or lacks the key (see the module).
    pub async fn lookup(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        let cached = self.cached();
        if let Some(key) = cached.keys.get(kid) {
            let now = self.clock.now();
            if cached.is_fresh(now) || cached.cooling_down(now) {
                return Ok(Arc::clone(key));
            }
            // Stale: one caller refreshes, the others go on with the key they have.
            let Ok(_fetching) = self.fetching.try_lock() else {
                return Ok(Arc::clone(key));
            };
            let cached = self.cached();
            let now = self.clock.now();
            if cached.is_fresh(now) || cached.cooling_down(now) {
                return cached.lookup(kid);
            }
            // On failure the refreshed cache still holds this key (stale-if-error); on success
            // a key the provider no longer publishes is gone.
            return self.refresh().await.lookup(kid);
        }

        let _fetching = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let cached = self.cached();
        if cached.keys.contains_key(kid) || cached.cooling_down(self.clock.now()) {
            return cached.lookup(kid);
        }
        self.refresh().await.lookup(kid)
    }

    /// Fetches the key set and stores the outcome. Call with `fetching` held.
    async fn refresh(&self) -> Arc<Cached> {
        let previous = self.cached();
        let result = self.fetch().await;
        let now = self.clock.now();
        let name = self.spec.name;
        let next = match result {
            Ok((jwks, max_age)) => {
                tracing::info!(
                    jwks.url = %self.url,
                    jwks.keys = jwks.keys.len(),
                    jwks.skipped = jwks.skipped,
                    jwks.max_age_secs = max_age.as_secs(),
                    "fetched {name}: {} usable, {} skipped",
                    jwks.keys.len(),
                    jwks.skipped
                );
                Cached {
                    keys: jwks.keys,
                    fetched_at: Some(now),
                    max_age,
                    attempted_at: Some(now),
                    last_error: None,
                }
            }
            Err(error) => {
                tracing::warn!(
                    jwks.url = %self.url,
                    jwks.cached_keys = previous.keys.len(),
                    %error,
                    "could not fetch {name} ({error}); keeping the {} cached",
                    previous.keys.len()
                );
                Cached {
                    keys: previous.keys.clone(),
                    fetched_at: previous.fetched_at,
                    max_age: previous.max_age,
                    attempted_at: Some(now),
                    last_error: Some(error),
                }
            }
        };
        let next = Arc::new(next);
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&next);
        next
    }

    /// One GET of the key set, measured like a provider call (`provider_*`, README "Metrics,
    /// dashboards and alarms").
    async fn fetch(&self) -> Result<(Jwks, Duration), DependencyError> {
        let started = std::time::Instant::now();
        let mut answer = Err("unreachable");
        let fetched = self.fetch_keys(&mut answer).await;
        let outcome = match &fetched {
            Ok(_) => "ok",
            Err(DependencyError::NotFound) => "not_found",
            Err(_) => "failed",
        };
        emit_fetch_metrics(
            self.metrics.as_ref(),
            self.spec.service,
            &self.url,
            answer,
            outcome,
            started.elapsed(),
        );
        fetched
    }

    async fn fetch_keys(
        &self,
        answer: &mut Result<reqwest::StatusCode, &'static str>,
    ) -> Result<(Jwks, Duration), DependencyError> {
        let sent = self
            .http
            .get(self.url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        *answer = fetch_answer(&sent);
        let response = sent.map_err(|e| request_error(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(DependencyError::NotFound);
        }
        if !status.is_success() {
            return Err(DependencyError::Other(format!("HTTP {}", status.as_u16())));
        }
        let max_age = self.spec.max_age.of(response.headers());
        let body = crate::providers::client::read_capped(response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| request_error(&e))?
            .ok_or_else(|| DependencyError::Other("the key set is over 64 KiB".to_owned()))?;
        Ok((parse_jwks(&body, &self.spec)?, max_age))
    }
}

impl<C: Clock> KeySet for JwksCache<C> {
    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        self.lookup(kid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_gives_max_age_and_no_store_gives_none() {
        let secs = |value| cache_control_max_age(value).map(|age| age.as_secs());
        assert_eq!(
            secs("public, max-age=19852, must-revalidate, no-transform"),
            Some(19_852)
        );
        assert_eq!(secs("MAX-AGE=60"), Some(60));
        assert_eq!(secs("max-age=\"5\""), Some(5));
        assert_eq!(secs("no-store, max-age=600"), Some(0));
        assert_eq!(secs("max-age=600, no-cache"), Some(0));
        assert_eq!(secs("public"), None);
        assert_eq!(secs("max-age=soon"), None);
    }

    #[test]
    fn a_header_over_a_day_is_capped_and_none_is_stale_at_once() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(MaxAge::CacheControl.of(&headers), Duration::ZERO);
        assert_eq!(
            MaxAge::Fixed(Duration::from_secs(7)).of(&headers),
            Duration::from_secs(7)
        );
        headers.insert(
            reqwest::header::CACHE_CONTROL,
            reqwest::header::HeaderValue::from_static("max-age=9999999"),
        );
        assert_eq!(MaxAge::CacheControl.of(&headers), MAX_CACHE_CONTROL_AGE);
    }

    /// A clock the test moves.
    struct Moving(std::sync::Mutex<DateTime<Utc>>);

    impl Clock for &Moving {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    const TEST_KEYS: JwksSpec = JwksSpec {
        name: "test keys",
        service: "whop",
        max_age: MaxAge::Fixed(Duration::from_secs(60)),
        usable: |jwk| {
            Some((
                jwk["kid"].as_str()?.to_owned(),
                DecodingKey::from_secret(b"k"),
            ))
        },
        kind: "HS256",
    };

    #[tokio::test]
    async fn each_fetch_is_measured_as_a_call_to_its_provider_answered_or_not() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"keys": [{"kid": "k1"}]})),
            )
            .mount(&server)
            .await;
        let clock = Moving(std::sync::Mutex::new(Utc::now()));
        let sink = Arc::new(crate::domain::metrics::Captured::default());
        let url = Url::parse(&format!("{}/.well-known/jwks.json", server.uri())).unwrap();
        let cache = JwksCache::new(reqwest::Client::new(), url, &clock, TEST_KEYS)
            .with_metric_sink(sink.clone());

        assert!(matches!(
            cache.lookup("k1").await,
            Err(KeyError::Unavailable(_))
        ));
        *clock.0.lock().unwrap() += REFETCH_COOLDOWN;
        assert!(cache.lookup("k1").await.is_ok());
        // Fresh: no third fetch.
        assert!(cache.lookup("k1").await.is_ok());

        let unreachable = JwksCache::new(
            reqwest::Client::new(),
            Url::parse("http://127.0.0.1:1/keys").unwrap(),
            &clock,
            TEST_KEYS,
        )
        .with_metric_sink(sink.clone());
        assert!(unreachable.lookup("k1").await.is_err());

        let documents = sink.documents();
        let seen: Vec<_> = documents
            .iter()
            .map(|document| {
                assert!(
                    crate::domain::metrics::catalogue::undeclared(document).is_empty(),
                    "{document}"
                );
                (
                    document["provider"].as_str().unwrap(),
                    document["endpoint"].as_str().unwrap(),
                    document["status_class"].as_str().unwrap(),
                    document["outcome"].as_str().unwrap(),
                    document["provider_requests"].as_f64().unwrap(),
                    document["provider_attempts"].as_f64().unwrap(),
                    document["provider_responses_5xx"].as_f64(),
                    document["provider_latency"].is_number(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "whop",
                    "GET /.well-known/jwks.json",
                    "5xx",
                    "failed",
                    1.0,
                    1.0,
                    Some(1.0),
                    true
                ),
                (
                    "whop",
                    "GET /.well-known/jwks.json",
                    "2xx",
                    "ok",
                    1.0,
                    1.0,
                    Some(0.0),
                    true
                ),
                (
                    "whop",
                    "GET /keys",
                    "unreachable",
                    "failed",
                    1.0,
                    1.0,
                    None,
                    false
                ),
            ]
        );
    }
}
