//! Circuit breakers shared by Lambda instances through the state table.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use shared::adapters::breaker::{BREAKER_SK, DynamoBreakers, breaker_pk};
use shared::breaker::{BreakerSettings, Permit, SharedBreaker};
use shared::ports::Clock;

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
    let status = b.status().await;
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
    assert_eq!(b.status().await[0].1.state, "half_open");
    b.record(NAME, true).await;
    assert_eq!(a.status().await[0].1.state, "closed");
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
    let status = a.status().await;
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
    assert_eq!(breaker.status().await[0].1.state, "open");
    clock.advance(30);
    assert_eq!(breaker.admit(NAME).await, Ok(Permit { probe: true }));
}
