use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeZone;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::breaker::BreakerSettings;
use crate::domain::breaker::memory::MemoryBreakers;
use crate::providers::client::{ResilientClient, RetryPolicy};

const SERVICE: &str = "whop";

/// A clock the test moves, shared by every clone.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(
            Utc.timestamp_opt(1_900_000_000, 0).unwrap(),
        )))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += TimeDelta::from_std(by).unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Sleeps by moving the test clock, and records each wait.
struct ClockSleeper {
    clock: TestClock,
    waits: Mutex<Vec<Duration>>,
}

impl ClockSleeper {
    fn new(clock: &TestClock) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            waits: Mutex::default(),
        })
    }

    fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

impl Sleeper for ClockSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.waits.lock().unwrap().push(duration);
        self.clock.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

fn limits(requests: u32, window_secs: u64) -> ProviderLimits {
    ProviderLimits {
        breaker: BreakerSettings {
            failure_threshold: 2,
            recovery_timeout: Duration::from_secs(30),
            half_open_probes: 1,
            success_threshold: 1,
        },
        rate_limit: RateLimit {
            requests: NonZeroU32::new(requests).unwrap(),
            window: Duration::from_secs(window_secs),
            // These tests use the bucket's capacity; the providers' spacing has its own test.
            burst: NonZeroU32::new(requests).unwrap(),
        },
        max_concurrency: NonZeroU32::new(2).unwrap(),
        cooldown: Duration::from_secs(60),
        ..ProviderLimits::default()
    }
}

type TestGuard = ProviderGuard<MemoryBreakers, TestClock>;

fn guard(limits: ProviderLimits, clock: &TestClock, sleeper: &Arc<ClockSleeper>) -> TestGuard {
    ProviderGuard::new(MemoryBreakers::default(), clock.clone())
        .with_limits(SERVICE, limits)
        .with_breaker_cache_ttl(Duration::ZERO)
        .with_sleeper(Arc::clone(sleeper) as Arc<dyn Sleeper>)
}

/// One attempt per call, so each call is one admission and at most one request.
fn single_attempt() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

fn client(
    guard: TestGuard,
    clock: &TestClock,
    sleeper: &Arc<ClockSleeper>,
    policy: RetryPolicy,
) -> ResilientClient<TestGuard> {
    ResilientClient::new(reqwest::Client::new(), policy, guard)
        .with_sleeper(Arc::clone(sleeper) as Arc<dyn Sleeper>)
        .with_clock(Arc::new(clock.clone()))
}

#[derive(Debug, Deserialize)]
struct Empty {}

async fn call(client: &ResilientClient<TestGuard>, url: &str) -> Result<Empty, ClientError> {
    client.get_json(SERVICE, url).await
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

async fn answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_empty_bucket_refuses_without_sending_when_the_next_token_is_far() {
    let server = answering(200).await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    // 3 per minute: the 4th token comes 20 s later, beyond the 10 s maximum wait.
    let client = client(
        guard(limits(3, 60), &clock, &sleeper),
        &clock,
        &sleeper,
        RetryPolicy::default(),
    );

    for _ in 0..3 {
        call(&client, &server.uri()).await.unwrap();
    }
    let fourth = call(&client, &server.uri()).await;

    assert_eq!(
        fourth.unwrap_err(),
        ClientError::RateLimited {
            service: SERVICE,
            retry_after: Some(Duration::from_secs(20))
        }
    );
    assert_eq!(received(&server).await, 3);
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn whops_limit_is_spread_evenly_so_no_10_s_window_sees_more_than_20() {
    let server = answering(200).await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let whop = crate::edge::config::Provider::Whop.default_limits();
    let client = client(
        guard(whop, &clock, &sleeper),
        &clock,
        &sleeper,
        single_attempt(),
    );

    for _ in 0..41 {
        call(&client, &server.uri()).await.unwrap();
    }

    // The first goes at once, every later one half a second after the one before: 40 calls
    // after the first take 20 s, and any 10 s holds at most 20 of them.
    assert_eq!(received(&server).await, 41);
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 40);
    assert!(
        waits.iter().all(|w| *w == Duration::from_millis(500)),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_token_that_comes_within_the_maximum_wait_is_waited_for() {
    let server = answering(200).await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    // 3 per 3 s: one token a second.
    let client = client(
        guard(limits(3, 3), &clock, &sleeper),
        &clock,
        &sleeper,
        single_attempt(),
    );

    for _ in 0..4 {
        call(&client, &server.uri()).await.unwrap();
    }

    assert_eq!(received(&server).await, 4);
    assert_eq!(sleeper.waits(), [Duration::from_secs(1)]);
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_calls_until_it_passed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let client = client(
        guard(limits(100, 1), &clock, &sleeper),
        &clock,
        &sleeper,
        single_attempt(),
    );

    let limited = call(&client, &server.uri()).await.unwrap_err();
    clock.advance(Duration::from_secs(29));
    let paused = call(&client, &server.uri()).await.unwrap_err();

    let thirty = Some(Duration::from_secs(30));
    assert_eq!(
        limited,
        ClientError::RateLimited {
            service: SERVICE,
            retry_after: thirty
        }
    );
    assert_eq!(
        paused,
        ClientError::RateLimited {
            service: SERVICE,
            retry_after: Some(Duration::from_secs(1))
        }
    );
    assert_eq!(received(&server).await, 1);

    clock.advance(Duration::from_secs(1));
    call(&client, &server.uri()).await.unwrap();
    assert_eq!(received(&server).await, 2);
}

#[tokio::test]
async fn a_429_without_retry_after_pauses_for_the_cooldown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let client = client(
        guard(limits(100, 1), &clock, &sleeper),
        &clock,
        &sleeper,
        single_attempt(),
    );

    call(&client, &server.uri()).await.unwrap_err();
    let paused = call(&client, &server.uri()).await.unwrap_err();
    clock.advance(Duration::from_secs(59));
    let still_paused = call(&client, &server.uri()).await.unwrap_err();

    assert_eq!(
        paused,
        ClientError::RateLimited {
            service: SERVICE,
            retry_after: Some(Duration::from_secs(60))
        }
    );
    assert!(matches!(still_paused, ClientError::RateLimited { .. }));
    assert_eq!(received(&server).await, 1);

    clock.advance(Duration::from_secs(1));
    call(&client, &server.uri()).await.unwrap();
    assert_eq!(received(&server).await, 2);
}

#[tokio::test]
async fn the_client_waits_out_a_short_pause_and_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let client = client(
        guard(limits(100, 1), &clock, &sleeper),
        &clock,
        &sleeper,
        RetryPolicy::default(),
    );

    call(&client, &server.uri()).await.unwrap();

    assert_eq!(received(&server).await, 2);
    assert_eq!(sleeper.waits(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_busy_service_refuses_a_slot_after_the_maximum_wait() {
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let guard = guard(limits(100, 1), &clock, &sleeper);

    let first = guard.admit(SERVICE).await.unwrap();
    let second = guard.admit(SERVICE).await.unwrap();
    let third = guard.admit(SERVICE).await.unwrap_err();
    drop(first);
    let fourth = guard.admit(SERVICE).await;

    assert_eq!(
        third,
        ClientError::RateLimited {
            service: SERVICE,
            retry_after: None
        }
    );
    assert_eq!(sleeper.waits(), [DEFAULT_MAX_ADMISSION_WAIT]);
    assert!(fourth.is_ok());
    drop(second);
}

#[tokio::test]
async fn outcomes_drive_the_breaker_and_answers_count_as_up() {
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let guard = guard(limits(100, 1), &clock, &sleeper);
    let attempt = |outcome| {
        let guard = &guard;
        async move {
            let _permit = guard.admit(SERVICE).await?;
            guard.record(SERVICE, outcome).await;
            Ok::<_, ClientError>(())
        }
    };

    // A rejected request (4xx) is an answer: it resets the failure count (threshold 2).
    attempt(CallOutcome::Failure).await.unwrap();
    attempt(CallOutcome::Rejected).await.unwrap();
    attempt(CallOutcome::Failure).await.unwrap();
    assert_eq!(guard.breaker().status().await.unwrap()[0].1.state, "closed");
    attempt(CallOutcome::Failure).await.unwrap();

    assert_eq!(
        guard.admit(SERVICE).await.unwrap_err(),
        ClientError::CircuitOpen { service: SERVICE }
    );

    // The half-open probe meets a 429: the provider is up, so the probe closes the breaker
    // (success threshold 1) and calls pause for the cooldown instead.
    clock.advance(Duration::from_secs(30));
    attempt(CallOutcome::RateLimited(None)).await.unwrap();
    assert_eq!(guard.breaker().status().await.unwrap()[0].1.state, "closed");
    assert!(matches!(
        guard.admit(SERVICE).await,
        Err(ClientError::RateLimited {
            retry_after: Some(_),
            ..
        })
    ));
}

#[tokio::test]
async fn services_without_limits_of_their_own_get_the_defaults() {
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let guard = guard(limits(3, 60), &clock, &sleeper);

    assert_eq!(guard.limits(SERVICE), limits(3, 60));
    assert_eq!(guard.limits("whop-jwks"), ProviderLimits::default());
    assert_eq!(
        guard.breaker().settings("whop-jwks"),
        BreakerSettings::default()
    );
}

/// Answers `{}` after `delay`, recording the most requests it ever had in flight. A request
/// leaves the count before its response is written, so the client cannot start the next one
/// while the count still holds the last.
async fn in_flight_server(delay: Duration) -> (String, Arc<AtomicUsize>) {
    use axum::routing::get;

    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
        move || async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            axum::Json(serde_json::json!({}))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, axum::Router::new().route("/", get(handler))).into_future());
    (url, most)
}

#[tokio::test]
async fn at_most_max_concurrency_calls_are_in_flight() {
    let (url, most_in_flight) = in_flight_server(Duration::from_millis(50)).await;
    let clock = TestClock::new();
    // Real waits for a slot: the slots free up in real time.
    let guard = ProviderGuard::new(MemoryBreakers::default(), clock.clone())
        .with_limits(SERVICE, limits(100, 1));
    let client = ResilientClient::new(reqwest::Client::new(), single_attempt(), guard);

    let results =
        futures_util::future::join_all((0..6).map(|_| client.get_json::<Empty>(SERVICE, &url)))
            .await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(most_in_flight.load(Ordering::SeqCst) <= 2);
}

#[test]
fn calls_through_the_guard_are_send() {
    fn assert_send<F: Send>(_: &F) {}
    let clock = TestClock::new();
    let guard = ProviderGuard::new(MemoryBreakers::default(), clock);
    let client = ResilientClient::new(reqwest::Client::new(), RetryPolicy::default(), guard);
    let future = client.get_json::<Empty>(SERVICE, "http://127.0.0.1:9/");
    assert_send(&future);
}

/// The shared limit's counts in memory, as the state table keeps them: one per bucket and
/// window; every add counted, refused ones too.
#[derive(Default)]
struct SharedCounts {
    counts: Mutex<HashMap<(String, i64), u64>>,
    adds: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

impl FailureCounter for &SharedCounts {
    async fn record_failure(
        &self,
        bucket: &str,
        window_start: i64,
        _: u64,
    ) -> Result<u64, DependencyError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(DependencyError::Timeout);
        }
        self.adds.fetch_add(1, Ordering::Relaxed);
        let mut counts = self.counts.lock().unwrap();
        let count = counts.entry((bucket.to_owned(), window_start)).or_default();
        *count += 1;
        Ok(*count)
    }

    async fn failures(&self, bucket: &str, window_start: i64) -> Result<u64, DependencyError> {
        Ok(self
            .counts
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), window_start))
            .copied()
            .unwrap_or(0))
    }
}

#[tokio::test]
async fn two_instances_share_one_limit_and_the_one_over_it_waits_for_the_next_window() {
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let counts = SharedCounts::default();
    // Each instance's own bucket would let 3 per 10 s through; together they may send 3.
    let instance = || guard(limits(3, 10), &clock, &sleeper).with_shared_limit(&counts);
    let (a, b) = (instance(), instance());
    clock.advance(Duration::from_secs(2));
    for _ in 0..2 {
        a.admit(SERVICE).await.unwrap();
    }
    b.admit(SERVICE).await.unwrap();
    assert!(sleeper.waits().is_empty(), "3 calls fit the window");
    b.admit(SERVICE).await.unwrap();
    assert_eq!(
        sleeper.waits(),
        [Duration::from_secs(8)],
        "the 4th waited for the next window, at 10 s"
    );
    let windows = counts.counts.lock().unwrap().clone();
    assert_eq!(
        windows,
        HashMap::from([
            (("api:whop".to_owned(), 1_900_000_000), 4),
            (("api:whop".to_owned(), 1_900_000_010), 1),
        ]),
        "the refused add is counted, and admits nothing in its window"
    );
}

#[tokio::test]
async fn no_add_is_made_in_the_guard_at_a_windows_end_and_a_counter_that_is_down_admits() {
    let clock = TestClock::new();
    let sleeper = ClockSleeper::new(&clock);
    let counts = SharedCounts::default();
    let guard = guard(limits(3, 10), &clock, &sleeper).with_shared_limit(&counts);
    clock.advance(Duration::from_millis(9_500));
    guard.admit(SERVICE).await.unwrap();
    assert_eq!(sleeper.waits(), [Duration::from_millis(500)]);
    assert_eq!(
        counts.adds.load(Ordering::Relaxed),
        1,
        "one add, in the next window"
    );

    counts.down.store(true, Ordering::Relaxed);
    guard.admit(SERVICE).await.unwrap();
    assert_eq!(counts.adds.load(Ordering::Relaxed), 1);
}
