//! The resilient request layer every provider call goes through (`docs/architecture.md`, "A sync
//! page"): per-attempt timeouts, exponential backoff with full jitter (scheduled by `backon`),
//! `Retry-After`, a total time budget per call, typed errors, and a hook ([`Admission`]) where the
//! circuit breaker and rate limiter plug in.
//!
//! [`ProviderGuard`] is the production [`Admission`]: the shared circuit breaker, a token bucket, a
//! concurrency limit and a pause after 429, per provider. [`EmergencyGate`] goes in front of it:
//! while an operator has a provider's emergency mode on, its calls are refused before anything
//! else is asked.
//!
//! Only timeouts, connection errors, 429 and 5xx are retried; other 4xx and undecodable bodies are
//! returned at once.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::domain::metrics::catalogue as names;
use crate::domain::metrics::{MetricSink, Metrics, Stdout, Unit};
use crate::domain::ports::{Clock, SystemClock};

mod emergency;
mod endpoint;
mod guard;
mod key;
mod listing;

pub use emergency::EmergencyGate;
pub use endpoint::endpoint;
pub use guard::{DEFAULT_MAX_ADMISSION_WAIT, ProviderGuard, Unshared};
pub use listing::listing_error;

/// The largest response body a provider call reads unless configured otherwise
/// (`{P}_MAX_RESPONSE_MIB`): a larger one fails with [`ClientError::ResponseTooLarge`] instead of
/// being buffered.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
pub use key::{API_KEY_TTL, ApiKeySource, KeyUnavailable, SecretKey, StaticKey, call_with_key};

/// How a call is retried. `budget` bounds the whole call, attempts and waits included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff step before jitter; doubles per retry.
    pub base_delay: Duration,
    /// Cap on one backoff step before jitter.
    pub max_delay: Duration,
    /// A longer `Retry-After` is not waited for: the call fails with [`ClientError::RateLimited`].
    pub max_retry_after: Duration,
    /// Total time per call; a wait that would overrun it is not started.
    pub budget: Duration,
    /// Timeout of one attempt (connect, headers and body), further capped by what is left of the budget.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            // Whop documents a 60 s cooldown after a 429.
            max_retry_after: Duration::from_secs(60),
            budget: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a provider call failed. `service` names the provider (`"whop"`, `"whop-jwks"`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("{service} answered HTTP {status}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Provider {
        service: &'static str,
        status: u16,
        code: Option<String>,
    },
    #[error("{service} rate limited the call (retry after {retry_after:?})")]
    RateLimited {
        service: &'static str,
        retry_after: Option<Duration>,
    },
    #[error("{service} timed out")]
    Timeout { service: &'static str },
    #[error("{service} unreachable: {detail}")]
    Unreachable {
        service: &'static str,
        detail: String,
        /// The connection was made, so the request may have reached the provider (a reset or a
        /// body cut short); `false` when it could not even connect.
        connected: bool,
    },
    #[error("{service} circuit open")]
    CircuitOpen { service: &'static str },
    /// An operator switched the provider's calls off (emergency mode, [`EmergencyGate`]).
    #[error("{service} calls are switched off (emergency mode)")]
    EmergencyMode { service: &'static str },
    #[error("{service} response not understood: {detail}")]
    Decode {
        service: &'static str,
        detail: String,
    },
    #[error("{service} call budget exhausted after {attempts} attempts")]
    BudgetExhausted {
        service: &'static str,
        attempts: u32,
    },
    /// The body was over the client's limit; it was not read past it.
    #[error("{service} answered more than {limit} bytes")]
    ResponseTooLarge { service: &'static str, limit: usize },
}

impl ClientError {
    /// Stable code for logs, metrics and API error bodies.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Provider { .. } => "provider_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::EmergencyMode { .. } => crate::domain::emergency::REASON,
            Self::Decode { .. } => "decode_error",
            Self::BudgetExhausted { .. } => "budget_exhausted",
            Self::ResponseTooLarge { .. } => "response_too_large",
        }
    }

    /// Whether another attempt could succeed: timeouts, connection errors, 429 and 5xx.
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Provider { status, .. } => *status >= 500,
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::CircuitOpen { .. }
            | Self::EmergencyMode { .. }
            | Self::Decode { .. }
            | Self::BudgetExhausted { .. }
            | Self::ResponseTooLarge { .. } => false,
        }
    }

    /// Whether the failed attempt may have been acted on by the provider: a timeout, a 5xx or a
    /// connection lost after it was made. A 429 or a refused connection was not.
    pub const fn may_have_reached(&self) -> bool {
        match self {
            Self::Provider { status, .. } => *status >= 500,
            Self::Timeout { .. } => true,
            Self::Unreachable { connected, .. } => *connected,
            Self::RateLimited { .. }
            | Self::CircuitOpen { .. }
            | Self::EmergencyMode { .. }
            | Self::Decode { .. }
            | Self::BudgetExhausted { .. }
            | Self::ResponseTooLarge { .. } => false,
        }
    }

    pub const fn service(&self) -> &'static str {
        match self {
            Self::Provider { service, .. }
            | Self::RateLimited { service, .. }
            | Self::Timeout { service }
            | Self::Unreachable { service, .. }
            | Self::CircuitOpen { service }
            | Self::EmergencyMode { service }
            | Self::Decode { service, .. }
            | Self::BudgetExhausted { service, .. }
            | Self::ResponseTooLarge { service, .. } => service,
        }
    }
}

/// What one attempt told about the provider's health, for the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Success,
    /// Timeout, connection error or 5xx: counts against the provider.
    Failure,
    /// 429: the provider is up but wants us to slow down, for its `Retry-After` if it sent one.
    RateLimited(Option<Duration>),
    /// Other 4xx or an undecodable body: the provider answered; the fault is in the request or schema.
    Rejected,
}

impl CallOutcome {
    fn of<T>(result: &Result<T, ClientError>) -> Self {
        match result {
            Ok(_) => Self::Success,
            Err(ClientError::RateLimited { retry_after, .. }) => Self::RateLimited(*retry_after),
            Err(e) if e.is_retryable() => Self::Failure,
            Err(_) => Self::Rejected,
        }
    }
}

/// Held for the duration of one attempt; a limiter can put its guard (e.g. a semaphore permit) inside.
pub struct Permit {
    _guard: Option<Box<dyn Send + Sync>>,
    /// Requests left in the rate limit's window, when the limiter knows (a metric).
    tokens_left: Option<u64>,
}

impl Permit {
    /// A permit that holds nothing.
    pub fn free() -> Self {
        Self {
            _guard: None,
            tokens_left: None,
        }
    }

    /// A permit that releases `guard` when the attempt ends.
    pub fn holding(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
            tokens_left: None,
        }
    }

    /// The permit, noting that `left` requests are left in the rate limit's window.
    #[must_use]
    pub const fn with_tokens_left(mut self, left: Option<u64>) -> Self {
        self.tokens_left = left;
        self
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Admission control before each attempt (circuit breaker, rate limit, concurrency limit) and the
/// outcome of each attempt afterwards.
pub trait Admission: Send + Sync {
    /// Err (typically [`ClientError::CircuitOpen`]) refuses the attempt; it is not retried.
    fn admit(
        &self,
        service: &'static str,
    ) -> impl Future<Output = Result<Permit, ClientError>> + Send;
    /// The outcome of an attempt that [`admit`](Self::admit) let through. Async: a shared
    /// breaker writes its state to a store.
    fn record(
        &self,
        service: &'static str,
        outcome: CallOutcome,
    ) -> impl Future<Output = ()> + Send;
}

/// One admission shared by several clients (say, a provider's API and its key set).
impl<A: Admission> Admission for Arc<A> {
    fn admit(
        &self,
        service: &'static str,
    ) -> impl Future<Output = Result<Permit, ClientError>> + Send {
        A::admit(self, service)
    }

    fn record(
        &self,
        service: &'static str,
        outcome: CallOutcome,
    ) -> impl Future<Output = ()> + Send {
        A::record(self, service, outcome)
    }
}

/// Admits everything and records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAdmission;

impl Admission for NoAdmission {
    async fn admit(&self, _service: &'static str) -> Result<Permit, ClientError> {
        Ok(Permit::free())
    }

    async fn record(&self, _service: &'static str, _outcome: CallOutcome) {}
}

/// Waits between attempts; injectable so tests need not wait in real time.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Adapts [`Sleeper`] to backon. A named type rather than a closure: with a closure rustc cannot
/// prove the call's future Send (higher-ranked lifetime error).
struct BackonSleeper(Arc<dyn Sleeper>);

impl backon::Sleeper for BackonSleeper {
    type Sleep = BoxFuture<'static, ()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.0.sleep(duration)
    }
}

/// Counters of one call, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallReport {
    pub attempts: u32,
    pub retries: u32,
    /// Time spent waiting between attempts.
    pub waited: Duration,
    /// `"ok"` or the [`ClientError::code`] of the result.
    pub outcome: &'static str,
}

/// What the attempts of one call saw, for its metrics document.
#[derive(Debug, Default)]
struct CallStats {
    /// The status class of the last attempt sent (`None`: none was).
    last_class: Option<&'static str>,
    /// The status of the attempt under way, once answered.
    answered: Option<StatusCode>,
    /// Per attempt sent: its time, and 1 or 0 for whether it was answered 5xx, 429.
    latencies_ms: Vec<f64>,
    responses_5xx: Vec<u64>,
    responses_429: Vec<u64>,
    rate_limit_wait: Duration,
    tokens_left: Option<u64>,
    ratelimit_remaining: Option<u64>,
}

/// The provider's `x-ratelimit-remaining`, where it sends one.
const RATELIMIT_REMAINING: &str = "x-ratelimit-remaining";

/// `2xx`, `4xx`, `5xx` (other statuses by their first digit).
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// A call's metrics document before its measurements: `provider_*` by provider, and the call
/// by endpoint and status class and by outcome.
fn call_metrics(
    service: &'static str,
    endpoint: String,
    status_class: &'static str,
    outcome: &str,
) -> Metrics {
    Metrics::new("provider_client")
        .dimension("provider", service)
        .breakdown(
            [
                ("endpoint", endpoint),
                ("status_class", status_class.to_owned()),
            ],
            &[names::PROVIDER_REQUESTS],
        )
        .breakdown(
            [("outcome", outcome.to_owned())],
            &[names::PROVIDER_REQUESTS],
        )
}

/// What a single GET made outside [`ResilientClient`] (a provider's key set or certificate,
/// which have their own caches and fallbacks) got: its answer's status, or `timeout` /
/// `unreachable` when it had none.
pub fn fetch_answer(
    sent: &Result<reqwest::Response, reqwest::Error>,
) -> Result<StatusCode, &'static str> {
    match sent {
        Ok(response) => Ok(response.status()),
        Err(error) if error.is_timeout() => Err("timeout"),
        Err(_) => Err("unreachable"),
    }
}

/// Writes the same `provider_*` document as a call through [`ResilientClient`] for one GET of
/// `url` made outside it: one attempt, no retry, and when it was answered its latency (from
/// sending to the whole body read) and its 5xx and 429 flags. `outcome` is `ok` or why it
/// failed.
pub fn emit_fetch_metrics(
    sink: &dyn MetricSink,
    service: &'static str,
    url: &reqwest::Url,
    answer: Result<StatusCode, &'static str>,
    outcome: &str,
    latency: Duration,
) {
    let class = answer.map_or_else(|unanswered| unanswered, status_class);
    let mut metrics = call_metrics(
        service,
        endpoint(&reqwest::Method::GET, url),
        class,
        outcome,
    );
    metrics
        .count(names::PROVIDER_REQUESTS, 1)
        .count(names::PROVIDER_ATTEMPTS, 1)
        .count(names::PROVIDER_RETRIES, 0);
    if let Ok(status) = answer {
        metrics
            .record(
                names::PROVIDER_LATENCY,
                Unit::Milliseconds,
                latency.as_secs_f64() * 1000.0,
            )
            .count(
                names::PROVIDER_RESPONSES_5XX,
                u64::from(status.is_server_error()),
            )
            .count(
                names::PROVIDER_RESPONSES_429,
                u64::from(status == StatusCode::TOO_MANY_REQUESTS),
            );
    }
    metrics.emit_to(sink);
}

/// The request layer: one per process, cheap to share by reference. Each call writes one EMF
/// document (`provider_*` metrics, see [`crate::domain::metrics::catalogue`]) to its sink.
pub struct ResilientClient<A = NoAdmission> {
    http: reqwest::Client,
    policy: RetryPolicy,
    admission: A,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    max_response_bytes: usize,
    metrics: Arc<dyn MetricSink>,
}

impl<A: Admission> ResilientClient<A> {
    pub fn new(http: reqwest::Client, policy: RetryPolicy, admission: A) -> Self {
        Self {
            http,
            policy,
            admission,
            sleeper: Arc::new(TokioSleeper),
            clock: Arc::new(SystemClock),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            metrics: Arc::new(Stdout),
        }
    }

    /// Where each call's metrics document goes (default: stdout).
    #[must_use]
    pub fn with_metric_sink(mut self, sink: Arc<dyn MetricSink>) -> Self {
        self.metrics = sink;
        self
    }

    /// The largest body an attempt reads (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    #[must_use]
    pub const fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The clock that HTTP-date `Retry-After` values are measured against.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub const fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The admission control, e.g. a [`ProviderGuard`] whose breakers to report on.
    pub const fn admission(&self) -> &A {
        &self.admission
    }

    pub const fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// GET `url` and decode the JSON body into `T`.
    pub async fn get_json<T: DeserializeOwned + Send>(
        &self,
        service: &'static str,
        url: &str,
    ) -> Result<T, ClientError> {
        self.send_json(service, || self.http.get(url)).await.0
    }

    /// Send the request `build` makes (called once per attempt, so each attempt is fresh) and decode
    /// the JSON body into `T`. Only use for idempotent requests, or ones carrying an idempotency key.
    pub async fn send_json<T, F>(
        &self,
        service: &'static str,
        build: F,
    ) -> (Result<T, ClientError>, CallReport)
    where
        T: DeserializeOwned + Send,
        F: Fn() -> RequestBuilder + Sync,
    {
        self.send_with(service, build, &JsonReply::<T>(PhantomData))
            .await
    }

    /// [`send_json`](Self::send_json) for a provider whose answers `reply` reads: a success
    /// without a JSON body (an id in a header), its own error body or rate-limit header.
    pub async fn send_with<R, F>(
        &self,
        service: &'static str,
        build: F,
        reply: &R,
    ) -> (Result<R::Output, ClientError>, CallReport)
    where
        R: Reply,
        F: Fn() -> RequestBuilder + Sync,
    {
        let policy = self.policy;
        let started = Instant::now();
        // Atomics rather than Cells so the call's future stays Send (axum handlers need that).
        let attempts = AtomicU32::new(0);
        let waited_ns = AtomicU64::new(0);
        let waited = || Duration::from_nanos(waited_ns.load(Relaxed));
        // Set when a retryable error is returned because waiting would overrun the budget.
        let over_budget = AtomicBool::new(false);
        // With an injected sleeper no real time passes, so waits count towards the budget too.
        let spent = || started.elapsed().max(waited());
        let remaining = || policy.budget.saturating_sub(spent());
        let stats = Mutex::new(CallStats::default());
        let counters = Counters {
            attempts: &attempts,
            over_budget: &over_budget,
            stats: &stats,
        };

        let attempt = || self.guarded_attempt(service, &build, reply, remaining(), &counters);

        // No jitter from backon: it adds up to one delay on top, where full jitter draws from [0, delay].
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize);
        let result = attempt
            .retry(backoff.build())
            .sleep(BackonSleeper(Arc::clone(&self.sleeper)))
            .when(|error: &ClientError| {
                error.is_retryable() && (reply.repeatable() || !error.may_have_reached())
            })
            .adjust(|error: &ClientError, next: Option<Duration>| {
                // None: backon's attempts are used up.
                let step = next?;
                let wait = match error {
                    ClientError::RateLimited {
                        retry_after: Some(after),
                        ..
                    } => {
                        if *after > policy.max_retry_after {
                            return None;
                        }
                        *after
                    }
                    _ => step.mul_f64(fastrand::f64()),
                };
                if wait >= remaining() {
                    if !matches!(error, ClientError::RateLimited { .. }) {
                        over_budget.store(true, Relaxed);
                    }
                    return None;
                }
                Some(wait)
            })
            .notify(|error: &ClientError, wait: Duration| {
                let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
                waited_ns.fetch_add(nanos, Relaxed);
                if matches!(error, ClientError::RateLimited { .. }) {
                    lock(&stats).rate_limit_wait += wait;
                }
            })
            .await;

        let result = match result {
            Err(e)
                if over_budget.load(Relaxed)
                    && !matches!(e, ClientError::BudgetExhausted { .. }) =>
            {
                tracing::debug!(service, last_error = %e, "retry budget exhausted");
                Err(ClientError::BudgetExhausted {
                    service,
                    attempts: attempts.load(Relaxed),
                })
            }
            other => other,
        };
        let report = CallReport {
            attempts: attempts.load(Relaxed),
            retries: attempts.load(Relaxed).saturating_sub(1),
            waited: waited(),
            outcome: result.as_ref().map_or_else(ClientError::code, |_| "ok"),
        };
        let stats = stats.into_inner().unwrap_or_else(PoisonError::into_inner);
        self.emit_metrics(service, &build, &report, &stats);
        (result, report)
    }

    /// The call's metrics document: `provider_*` by provider, and the call by endpoint and status
    /// class and by outcome.
    fn emit_metrics<F: Fn() -> RequestBuilder>(
        &self,
        service: &'static str,
        build: &F,
        report: &CallReport,
        stats: &CallStats,
    ) {
        // Built once more for its method and URL only: it is not sent.
        let endpoint = build()
            .build()
            .map_or_else(|_| "unknown".to_owned(), |r| endpoint(r.method(), r.url()));
        let mut metrics = call_metrics(
            service,
            endpoint,
            stats.last_class.unwrap_or("refused"),
            report.outcome,
        );
        metrics
            .count(names::PROVIDER_REQUESTS, 1)
            .count(names::PROVIDER_ATTEMPTS, u64::from(report.attempts))
            .count(names::PROVIDER_RETRIES, u64::from(report.retries))
            .record(
                names::PROVIDER_RATE_LIMIT_WAIT,
                Unit::Milliseconds,
                stats.rate_limit_wait.as_secs_f64() * 1000.0,
            );
        for ((latency, is_5xx), is_429) in stats
            .latencies_ms
            .iter()
            .zip(&stats.responses_5xx)
            .zip(&stats.responses_429)
        {
            metrics
                .record(names::PROVIDER_LATENCY, Unit::Milliseconds, *latency)
                .count(names::PROVIDER_RESPONSES_5XX, *is_5xx)
                .count(names::PROVIDER_RESPONSES_429, *is_429);
        }
        if let Some(left) = stats.tokens_left {
            metrics.count(names::PROVIDER_RATE_LIMIT_TOKENS_LEFT, left);
        }
        if let Some(remaining) = stats.ratelimit_remaining {
            metrics.count(names::PROVIDER_RATELIMIT_REMAINING, remaining);
        }
        metrics.emit_to(self.metrics.as_ref());
    }

    /// One attempt within the budget `left`, through admission control.
    async fn guarded_attempt<R: Reply, F: Fn() -> RequestBuilder>(
        &self,
        service: &'static str,
        build: &F,
        reply: &R,
        left: Duration,
        counters: &Counters<'_>,
    ) -> Result<R::Output, ClientError> {
        if left.is_zero() {
            counters.over_budget.store(true, Relaxed);
            return Err(ClientError::BudgetExhausted {
                service,
                attempts: counters.attempts.load(Relaxed),
            });
        }
        counters.attempts.fetch_add(1, Relaxed);
        // The permit (a limiter's slot, if any) is held until the attempt ends.
        let permit = self.admission.admit(service).await?;
        if permit.tokens_left.is_some() {
            lock(counters.stats).tokens_left = permit.tokens_left;
        }
        let started = Instant::now();
        let result = self
            .attempt(
                service,
                build().timeout(self.policy.attempt_timeout.min(left)),
                reply,
                counters.stats,
            )
            .await;
        {
            let mut stats = lock(counters.stats);
            stats
                .latencies_ms
                .push(started.elapsed().as_secs_f64() * 1000.0);
            let status = stats.answered.take();
            stats
                .responses_5xx
                .push(u64::from(status.is_some_and(|s| s.is_server_error())));
            stats
                .responses_429
                .push(u64::from(status == Some(StatusCode::TOO_MANY_REQUESTS)));
            match &result {
                Err(ClientError::Timeout { .. }) => stats.last_class = Some("timeout"),
                Err(ClientError::Unreachable { .. }) => stats.last_class = Some("unreachable"),
                _ => {}
            }
        }
        drop(permit);
        self.admission
            .record(service, CallOutcome::of(&result))
            .await;
        result
    }

    async fn attempt<R: Reply>(
        &self,
        service: &'static str,
        request: RequestBuilder,
        reply: &R,
        stats: &Mutex<CallStats>,
    ) -> Result<R::Output, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(service, e))?;
        let status = response.status();
        {
            let mut stats = lock(stats);
            stats.last_class = Some(status_class(status));
            stats.answered = Some(status);
            stats.ratelimit_remaining = response
                .headers()
                .get(RATELIMIT_REMAINING)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
        }
        // Only a success reads them, and most readers not even then.
        let headers = if status.is_success() {
            response.headers().clone()
        } else {
            HeaderMap::new()
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = reply.retry_after(response.headers(), self.clock.as_ref());
            return Err(ClientError::RateLimited {
                service,
                retry_after,
            });
        }
        let limit = self.max_response_bytes;
        let body = read_capped(response, limit)
            .await
            .map_err(|e| transport_error(service, e))?
            .ok_or(ClientError::ResponseTooLarge { service, limit })?;
        if !status.is_success() {
            return Err(ClientError::Provider {
                service,
                status: status.as_u16(),
                code: reply.error_code(&body),
            });
        }
        reply
            .success(status, &headers, &body)
            .map_err(|detail| ClientError::Decode { service, detail })
    }
}

/// The call-wide counters each attempt updates.
struct Counters<'a> {
    attempts: &'a AtomicU32,
    /// Set when a retryable error is returned because waiting would overrun the budget.
    over_budget: &'a AtomicBool,
    stats: &'a Mutex<CallStats>,
}

fn lock(stats: &Mutex<CallStats>) -> std::sync::MutexGuard<'_, CallStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a provider's answers are read: what a success yields, the stable code of an error body and
/// how long a 429 asks to wait. The defaults are the common JSON shapes and `Retry-After`.
pub trait Reply: Sync {
    type Output: Send;

    /// The result of a 2xx answer; `Err` is what could not be understood (a [`ClientError::Decode`]).
    fn success(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self::Output, String>;

    /// The provider's stable code in an error body (never its message, which may quote input).
    fn error_code(&self, body: &[u8]) -> Option<String> {
        error_code(body)
    }

    /// How long a 429 asks to wait.
    fn retry_after(&self, headers: &HeaderMap, clock: &dyn Clock) -> Option<Duration> {
        retry_after(headers, clock)
    }

    /// Whether the request may be sent again after an attempt the provider may have acted on
    /// ([`ClientError::may_have_reached`]): true for reads and for writes the provider
    /// deduplicates (an idempotency key). A write it does not deduplicate is retried only after
    /// a 429 or a refused connection, so an ambiguous failure never does it twice.
    fn repeatable(&self) -> bool {
        true
    }
}

/// A JSON body decoded into `T`.
struct JsonReply<T>(PhantomData<fn() -> T>);

impl<T: DeserializeOwned + Send> Reply for JsonReply<T> {
    type Output = T;

    fn success(&self, _: StatusCode, _: &HeaderMap, body: &[u8]) -> Result<T, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

/// A 2xx answer's body as it came, for the caller to read (a listing page it reads itself).
pub struct RawBody;

impl Reply for RawBody {
    type Output = Vec<u8>;

    fn success(&self, _: StatusCode, _: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
        Ok(body.to_vec())
    }
}

/// The body of `response` if it is at most `limit` bytes, read as it streams in; `None` as soon as
/// it is known to be larger (from `Content-Length`, or once more arrived), without reading on.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn transport_error(service: &'static str, error: reqwest::Error) -> ClientError {
    if error.is_timeout() {
        ClientError::Timeout { service }
    } else {
        // Connection refused, reset, TLS or a body cut short: all worth another attempt. The URL is
        // dropped (it may carry query parameters); the source chain says what actually failed.
        let error = error.without_url();
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        ClientError::Unreachable {
            service,
            detail,
            connected: !error.is_connect(),
        }
    }
}

/// `error.code`, `code` or (Resend's) `name` from a JSON error body, if there is one.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value
        .get("error")
        .and_then(|e| e.get("code"))
        .or_else(|| value.get("code"))
        .or_else(|| value.get("name"))?;
    code.as_str().map(str::to_owned)
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3); unparsable means absent.
pub fn retry_after(headers: &HeaderMap, clock: &dyn Clock) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = std::time::SystemTime::from(clock.now());
    // A date in the past means "now".
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
