//! Circuit breakers shared by Lambda instances through the state table.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::BoxFuture;
use shared::aws::breaker::{BREAKER_SK, DynamoBreakers, breaker_pk};
use shared::domain::breaker::{BreakerSettings, Permit, SharedBreaker};
use shared::domain::ports::Clock;
use shared::edge::config::{ProviderLimits, RateLimit};
use shared::providers::client::{
    ClientError, ProviderGuard, ResilientClient, RetryPolicy, Sleeper,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{RequestLog, start_stack};

const T0: i64 = 1_900_000_000;
const NAME: &str = "whop";

/// One clock for every "instance", moved by the test.
#[derive(Clone)]
struct TestClock(Arc<Mutex<i64>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(T0)))
    }

    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += secs;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(*self.0.lock().unwrap(), 0).unwrap()
    }
}

fn settings() -> BreakerSettings {
    BreakerSettings {
        failure_threshold: 3,
        recovery_timeout: Duration::from_secs(30),
        half_open_probes: 2,
        success_threshold: 2,
    }
}

/// One "Lambda instance": its own cache, which is never trusted (TTL 0).
fn instance(app: &shared::App, clock: &TestClock) -> SharedBreaker<DynamoBreakers, TestClock> {
    SharedBreaker::new(DynamoBreakers::of(app), clock.clone())
        .with_settings(NAME, settings())
        .with_cache_ttl(Duration::ZERO)
}

async fn stored_version(app: &shared::App) -> u64 {
    let item = app
        .dynamodb
        .get_item()
        .table_name(&app.config.tables.state)
        .key("pk", AttributeValue::S(breaker_pk(NAME)))
        .key("sk", AttributeValue::S(BREAKER_SK.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("expires_at"), "breakers must not expire");
    item["version"].as_n().unwrap().parse().unwrap()
}

async fn fail(breaker: &SharedBreaker<DynamoBreakers, TestClock>, times: usize) {
    for _ in 0..times {
        breaker.admit(NAME).await.unwrap();
        breaker.record(NAME, false).await;
    }
}

#[tokio::test]
async fn opens_rejects_probes_and_closes_across_instances() {
    let stack = start_stack().await;
    let log = RequestLog::default();
    let app = log.app(&stack.app);
    let clock = TestClock::new();
    let a = instance(&app, &clock);
    let b = instance(&app, &clock);

    // Closed: a success with no failures behind it writes nothing.
    assert_eq!(a.admit(NAME).await, Ok(Permit { probe: false }));
    a.record(NAME, true).await;
    assert_eq!(log.take(), ["GetItem", "GetItem"]);

    // Opens after the threshold, whichever instance saw the failures.
    fail(&a, 2).await;
    fail(&b, 1).await;
    assert_eq!(stored_version(&app).await, 3);
    let rejected = a.admit(NAME).await.unwrap_err();
    assert_eq!(rejected.retry_after, Duration::from_secs(30));
    assert!(b.admit(NAME).await.is_err());
    let status = b.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].0, NAME);
    assert_eq!(status[0].1.state, "open");
    assert_eq!(
        status[0].1.open_until,
        Some(Utc.timestamp_opt(T0 + 30, 0).unwrap())
    );

    // Half-open: two probes in all, across instances.
    clock.advance(30);
    assert_eq!(a.admit(NAME).await, Ok(Permit { probe: true }));
    assert_eq!(b.admit(NAME).await, Ok(Permit { probe: true }));
    assert!(a.admit(NAME).await.is_err());
    assert!(b.admit(NAME).await.is_err());

    // Closes after two successes.
    a.record(NAME, true).await;
    assert_eq!(b.status().await.unwrap()[0].1.state, "half_open");
    b.record(NAME, true).await;
    assert_eq!(a.status().await.unwrap()[0].1.state, "closed");
    assert_eq!(a.admit(NAME).await, Ok(Permit { probe: false }));
}

#[tokio::test]
async fn a_failing_probe_reopens_and_reset_closes() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let a = instance(&stack.app, &clock);
    let b = instance(&stack.app, &clock);
    fail(&a, 3).await;
    clock.advance(30);
    assert_eq!(b.admit(NAME).await, Ok(Permit { probe: true }));
    b.record(NAME, false).await;
    assert!(a.admit(NAME).await.is_err());

    b.reset(NAME).await;
    assert_eq!(a.admit(NAME).await, Ok(Permit { probe: false }));
    let status = a.status().await.unwrap();
    assert_eq!((status[0].1.state, status[0].1.failures), ("closed", 0));
}

#[tokio::test]
async fn concurrent_instances_admit_only_the_configured_probes() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    fail(&instance(&stack.app, &clock), 3).await;
    clock.advance(30);
    let instances: Vec<_> = (0..8).map(|_| instance(&stack.app, &clock)).collect();
    let admitted = futures_util::future::join_all(instances.iter().map(|i| i.admit(NAME))).await;
    assert_eq!(admitted.iter().filter(|a| a.is_ok()).count(), 2);
}

/// A dependency that is down: it counts the calls it gets.
#[derive(Default)]
struct DeadDependency(AtomicU32);

impl DeadDependency {
    fn call(&self) -> Result<(), ()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(())
    }
}

#[tokio::test]
async fn an_outage_gets_at_most_threshold_plus_probes_calls() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let instances: Vec<_> = (0..3).map(|_| instance(&stack.app, &clock)).collect();
    let dependency = DeadDependency::default();
    // Three instances call every second for 29 s: less than one recovery period after opening.
    for _ in 0..29 {
        for breaker in &instances {
            if breaker.admit(NAME).await.is_ok() {
                let outcome = dependency.call();
                breaker.record(NAME, outcome.is_ok()).await;
            }
        }
        clock.advance(1);
    }
    assert_eq!(dependency.0.load(Ordering::SeqCst), 3);
    // One more recovery period: at most the probes get through.
    for _ in 0..30 {
        for breaker in &instances {
            if breaker.admit(NAME).await.is_ok() {
                let outcome = dependency.call();
                breaker.record(NAME, outcome.is_ok()).await;
            }
        }
        clock.advance(1);
    }
    assert!(dependency.0.load(Ordering::SeqCst) <= 3 + 2);
}

#[tokio::test]
async fn a_store_outage_fails_open_and_keeps_local_state() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let store = DynamoBreakers {
        client: stack.app.dynamodb.clone(),
        table: "no-such-table".to_owned(),
    };
    let breaker = SharedBreaker::new(store, clock.clone()).with_settings(NAME, settings());
    assert_eq!(breaker.admit(NAME).await, Ok(Permit { probe: false }));
    fail(&breaker, 3).await;
    assert!(breaker.admit(NAME).await.is_err());
    assert!(
        breaker.status().await.is_err(),
        "an unreadable store is not an empty one"
    );
    clock.advance(30);
    assert_eq!(breaker.admit(NAME).await, Ok(Permit { probe: true }));
}

// Through the provider client: `ResilientClient` admitting with `ProviderGuard`, breakers in moto.

/// The breaker of `settings()`, and bucket and concurrency limits far from the way.
fn limits() -> ProviderLimits {
    ProviderLimits {
        breaker: settings(),
        rate_limit: RateLimit {
            requests: NonZeroU32::new(1000).unwrap(),
            window: Duration::from_secs(1),
            burst: NonZeroU32::new(1000).unwrap(),
        },
        max_concurrency: NonZeroU32::new(10).unwrap(),
        cooldown: Duration::from_secs(60),
        ..ProviderLimits::default()
    }
}

type GuardedClient = ResilientClient<ProviderGuard<DynamoBreakers, TestClock>>;

/// Retries without waiting: no real time passes between attempts.
struct NoWait;

impl Sleeper for NoWait {
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// One "Lambda instance" of the provider client: its own guard (buckets, slots, breaker cache,
/// never trusted), the breakers shared through the state table.
fn guarded_client(app: &shared::App, clock: &TestClock, policy: RetryPolicy) -> GuardedClient {
    let guard = ProviderGuard::new(DynamoBreakers::of(app), clock.clone())
        .with_limits(NAME, limits())
        .with_breaker_cache_ttl(Duration::ZERO);
    ResilientClient::new(reqwest::Client::new(), policy, guard).with_sleeper(Arc::new(NoWait))
}

/// Each call one attempt, so each call is one admission and at most one request.
fn single_attempt() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        attempt_timeout: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

async fn get(client: &GuardedClient, url: &str) -> Result<serde_json::Value, ClientError> {
    client.get_json(NAME, url).await
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

async fn failing_provider() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    server
}

/// A provider that holds every request until released, counting arrivals: probes stay in flight
/// for as long as the test needs, without timing.
struct HeldProvider {
    url: String,
    arrived: Arc<AtomicUsize>,
    release: tokio::sync::watch::Sender<bool>,
}

impl HeldProvider {
    async fn start() -> Self {
        let arrived = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let handler = {
            let arrived = Arc::clone(&arrived);
            move || async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let mut released = released.clone();
                let _ = released.wait_for(|open| *open).await;
                axum::Json(serde_json::json!({"ok": true}))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let router = axum::Router::new().route("/", axum::routing::get(handler));
        tokio::spawn(axum::serve(listener, router).into_future());
        Self {
            url,
            arrived,
            release,
        }
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }
}

/// Polls `condition` until it holds; fails the test after 20 s.
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn through_the_client_the_breaker_opens_rejects_probes_and_closes() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let client = Arc::new(guarded_client(&stack.app, &clock, single_attempt()));
    let provider = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&provider)
        .await;

    // Two 5xx and a timeout: the threshold of 3.
    let failures = [
        get(&client, &provider.uri()).await,
        get(&client, &provider.uri()).await,
        get(&client, &provider.uri()).await,
    ];
    assert!(matches!(
        failures[0],
        Err(ClientError::Provider { status: 503, .. })
    ));
    assert_eq!(failures[2], Err(ClientError::Timeout { service: NAME }));

    // Open: nothing is sent, until the recovery timeout.
    for _ in 0..5 {
        assert_eq!(
            get(&client, &provider.uri()).await,
            Err(ClientError::CircuitOpen { service: NAME })
        );
    }
    clock.advance(29);
    assert_eq!(
        get(&client, &provider.uri()).await,
        Err(ClientError::CircuitOpen { service: NAME })
    );
    assert_eq!(received(&provider).await, 3);

    // Half-open: of four calls at once, the two configured probes are sent.
    clock.advance(1);
    let recovered = HeldProvider::start().await;
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (Arc::clone(&client), recovered.url.clone());
            tokio::spawn(async move { get(&client, &url).await })
        })
        .collect();
    eventually("two probes arrive and two calls are refused", || {
        recovered.arrived() == 2 && calls.iter().filter(|c| c.is_finished()).count() == 2
    })
    .await;
    recovered.release.send(true).unwrap();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap().map(|_| ()));
    }
    let refused = outcomes
        .iter()
        .filter(|o| **o == Err(ClientError::CircuitOpen { service: NAME }))
        .count();
    assert_eq!(
        (outcomes.iter().filter(|o| o.is_ok()).count(), refused),
        (2, 2)
    );
    assert_eq!(recovered.arrived(), 2);

    // Two successful probes: closed again.
    let breakers = client_breakers(&client).await;
    assert_eq!(breakers, [(NAME.to_owned(), "closed")]);
    get(&client, &recovered.url).await.unwrap();
    assert_eq!(recovered.arrived(), 3);
}

async fn client_breakers(client: &GuardedClient) -> Vec<(String, &'static str)> {
    client
        .admission()
        .breaker()
        .status()
        .await
        .unwrap()
        .into_iter()
        .map(|(name, view)| (name, view.state))
        .collect()
}

#[tokio::test]
async fn two_instances_share_the_breaker_through_the_table() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let a = guarded_client(&stack.app, &clock, single_attempt());
    let b = guarded_client(&stack.app, &clock, single_attempt());
    let provider = failing_provider().await;

    for _ in 0..3 {
        get(&a, &provider.uri()).await.unwrap_err();
    }
    let refused = get(&b, &provider.uri()).await;

    assert_eq!(refused, Err(ClientError::CircuitOpen { service: NAME }));
    assert_eq!(received(&provider).await, 3);

    b.admission().breaker().reset(NAME).await;
    get(&a, &provider.uri()).await.unwrap_err();
    assert_eq!(received(&provider).await, 4);
}

#[tokio::test]
async fn a_dead_api_gets_at_most_threshold_plus_probes_calls_through_the_client() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    // Retries on: every call may try four times, and still the breaker holds the line.
    let instances: Vec<_> = (0..3)
        .map(|_| guarded_client(&stack.app, &clock, RetryPolicy::default()))
        .collect();
    let provider = failing_provider().await;

    // Three instances call every second for almost two recovery periods.
    let mut circuit_open = 0;
    for _ in 0..59 {
        for client in &instances {
            if get(client, &provider.uri()).await == Err(ClientError::CircuitOpen { service: NAME })
            {
                circuit_open += 1;
            }
        }
        clock.advance(1);
    }

    let sent = received(&provider).await;
    assert!(sent <= 3 + 2, "{sent} calls reached the dead API");
    assert!(circuit_open >= 59 * 3 - sent, "{circuit_open}");
}

// `churnsaver breaker status` and `reset`, against the stack's state table.

#[tokio::test]
async fn cli_status_lists_the_stored_breakers_and_reset_closes_one() {
    let stack = start_stack().await;
    let store = DynamoBreakers::of(&stack.app);
    let clock = TestClock::new();
    assert_eq!(
        churnsaver::breaker::status(&store).await.unwrap(),
        ["no breakers stored"]
    );
    fail(&instance(&stack.app, &clock), 3).await;
    let stripe = instance(&stack.app, &clock);
    stripe.admit("stripe").await.unwrap();
    stripe.record("stripe", false).await;

    let listed = churnsaver::breaker::status(&store).await.unwrap();
    let reset =
        churnsaver::breaker::reset(&store, clock.clone(), shared::edge::config::Provider::Whop)
            .await
            .unwrap();

    assert_eq!(
        listed,
        [
            "stripe  state=closed  since=2030-03-17T17:46:40+00:00  failures=1  open_until=-",
            "whop  state=open  since=2030-03-17T17:46:40+00:00  failures=0  open_until=2030-03-17T17:47:10+00:00",
        ]
    );
    assert_eq!(
        reset,
        "whop  state=closed  since=2030-03-17T17:46:40+00:00  failures=0  open_until=-"
    );
    assert_eq!(
        instance(&stack.app, &clock).admit(NAME).await,
        Ok(Permit { probe: false })
    );
}

#[tokio::test]
async fn cli_commands_report_an_unreachable_store() {
    let stack = start_stack().await;
    let store = DynamoBreakers {
        client: stack.app.dynamodb.clone(),
        table: "no-such-table".to_owned(),
    };

    let status = churnsaver::breaker::status(&store).await.unwrap_err();
    let reset = churnsaver::breaker::reset(
        &store,
        TestClock::new(),
        shared::edge::config::Provider::Whop,
    )
    .await
    .unwrap_err();

    assert!(
        status.to_string().starts_with("listing the breakers: "),
        "{status}"
    );
    assert!(
        reset
            .to_string()
            .starts_with("reading whop's breaker back: "),
        "{reset}"
    );
}
