//! Failed-authentication limits over the state table: counts shared by every instance, one
//! request per failure, fixed windows.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use shared::aws::limits::DynamoFailureCounter;
use shared::domain::auth::limits::{AuthLimiter, AuthLimits, RATE_SK, Throttled, rate_pk};
use shared::domain::ports::Clock;

use crate::helpers::{RequestLog, start_stack};

/// A multiple of the default 300 s window.
const WINDOW_START: i64 = 1_900_000_200;
const IP: &str = "203.0.113.7";

/// One clock for every "instance", moved by the test.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn at(epoch_secs: i64) -> Self {
        Self(Arc::new(Mutex::new(
            Utc.timestamp_opt(epoch_secs, 0).unwrap(),
        )))
    }

    fn set(&self, epoch_secs: i64) {
        *self.0.lock().unwrap() = Utc.timestamp_opt(epoch_secs, 0).unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn limiter(app: &shared::App, clock: &TestClock) -> AuthLimiter<DynamoFailureCounter, TestClock> {
    AuthLimiter::new(
        DynamoFailureCounter::of(app),
        clock.clone(),
        AuthLimits::default(),
    )
}

/// The window item of `ip`, read straight from the table.
async fn window_item(app: &shared::App, ip: &str, window_start: i64) -> (u64, i64) {
    let item = app
        .dynamodb
        .get_item()
        .table_name(&app.config.tables.state)
        .key("pk", AttributeValue::S(rate_pk(ip, window_start)))
        .key("sk", AttributeValue::S(RATE_SK.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let number = |name: &str| item[name].as_n().unwrap().to_owned();
    (
        number("count").parse().unwrap(),
        number("expires_at").parse().unwrap(),
    )
}

#[tokio::test]
async fn the_twenty_first_failure_is_throttled_on_every_instance_and_costs_one_request() {
    let stack = start_stack().await;
    let log = RequestLog::default();
    let app = log.app(&stack.app);
    let clock = TestClock::at(WINDOW_START + 60);
    let first = limiter(&app, &clock);

    for n in 1..=20 {
        assert_eq!(first.check(IP), Ok(()));
        assert_eq!(
            first.failed(IP, "bad_token", None).await,
            None,
            "failure {n}"
        );
        assert_eq!(log.take(), ["UpdateItem"], "failure {n}");
    }
    let throttled = first.failed(IP, "bad_token", None).await.unwrap();
    assert_eq!(log.take(), ["UpdateItem"]);
    assert_eq!(
        throttled,
        Throttled {
            retry_after_secs: 240
        }
    );
    assert!((1..=300).contains(&throttled.retry_after_secs));
    // From now on this instance refuses the IP without a request.
    assert_eq!(first.check(IP), Err(throttled));
    assert!(log.take().is_empty());

    // Another Lambda instance has no cache entry, but its first failure sees the shared count.
    let second = limiter(&app, &clock);
    assert_eq!(second.check(IP), Ok(()));
    assert_eq!(second.failed(IP, "bad_token", None).await, Some(throttled));
    assert_eq!(log.take(), ["UpdateItem"]);
    assert_eq!(second.check(IP), Err(throttled));

    // A third one that asks for the shared count before verifying refuses it at once.
    let third = limiter(&app, &clock);
    assert_eq!(third.check_shared(IP).await, Err(throttled));
    assert_eq!(log.take(), ["GetItem"]);

    // Another IP is unaffected.
    assert_eq!(first.check("203.0.113.8"), Ok(()));
    assert_eq!(first.failed("203.0.113.8", "bad_token", None).await, None);
    assert_eq!(third.check_shared("203.0.113.8").await, Ok(()));

    // The item expires when its window ends.
    assert_eq!(
        window_item(&stack.app, IP, WINDOW_START).await,
        (22, WINDOW_START + 300)
    );
    assert_eq!(
        window_item(&stack.app, "203.0.113.8", WINDOW_START).await,
        (1, WINDOW_START + 300)
    );
}

#[tokio::test]
async fn the_next_window_starts_fresh() {
    let stack = start_stack().await;
    let clock = TestClock::at(WINDOW_START + 299);
    let limiter = limiter(&stack.app, &clock);
    for _ in 0..20 {
        assert_eq!(limiter.failed(IP, "bad_token", None).await, None);
    }
    assert_eq!(
        limiter.failed(IP, "bad_token", None).await,
        Some(Throttled {
            retry_after_secs: 1
        })
    );

    clock.set(WINDOW_START + 300);

    assert_eq!(limiter.check(IP), Ok(()));
    assert_eq!(limiter.check_shared(IP).await, Ok(()));
    assert_eq!(limiter.failed(IP, "bad_token", None).await, None);
    assert_eq!(
        window_item(&stack.app, IP, WINDOW_START + 300).await,
        (1, WINDOW_START + 600)
    );
    // The old window's item is untouched; its TTL (or nothing, on moto) removes it.
    assert_eq!(
        window_item(&stack.app, IP, WINDOW_START).await,
        (21, WINDOW_START + 300)
    );
}

#[tokio::test]
async fn malformed_source_ips_are_counted_under_one_bucket() {
    let stack = start_stack().await;
    let clock = TestClock::at(WINDOW_START);
    let limiter = limiter(&stack.app, &clock);

    for ip in ["", "not an ip", &"1".repeat(65), "203.0.113.7\r\n"] {
        assert_eq!(limiter.failed(ip, "bad_token", None).await, None);
    }

    assert_eq!(
        window_item(&stack.app, "invalid", WINDOW_START).await,
        (4, WINDOW_START + 300)
    );
}

#[tokio::test]
async fn addresses_of_one_ipv6_64_share_one_window_item() {
    let stack = start_stack().await;
    let clock = TestClock::at(WINDOW_START);
    let limiter = limiter(&stack.app, &clock);
    for ip in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::ffff",
        "2001:db8:1:2:aaaa::7",
    ] {
        assert_eq!(limiter.failed(ip, "bad_token", None).await, None);
    }
    assert_eq!(
        limiter.failed("2001:db8:1:3::1", "bad_token", None).await,
        None
    );

    assert_eq!(
        window_item(&stack.app, "2001:db8:1:2::/64", WINDOW_START).await,
        (3, WINDOW_START + 300)
    );
    assert_eq!(
        window_item(&stack.app, "2001:db8:1:3::9", WINDOW_START).await,
        (1, WINDOW_START + 300)
    );
}

#[tokio::test]
async fn the_per_user_limit_counts_every_request_and_refuses_the_61st_until_the_window_ends() {
    let stack = start_stack().await;
    let log = RequestLog::default();
    let app = log.app(&stack.app);
    let clock = TestClock::at(WINDOW_START);
    let limits = AuthLimits {
        limit: 60,
        window: std::time::Duration::from_secs(60),
    };
    let limiter = AuthLimiter::new(DynamoFailureCounter::of(&app), clock.clone(), limits);

    for n in 1..=60 {
        assert_eq!(limiter.admit_user("user_busy").await, Ok(()), "request {n}");
        assert_eq!(log.take(), ["UpdateItem"], "request {n}");
    }
    clock.set(WINDOW_START + 15);
    let throttled = Throttled {
        retry_after_secs: 45,
    };
    assert_eq!(limiter.admit_user("user_busy").await, Err(throttled));
    assert_eq!(limiter.admit_user("user_busy").await, Err(throttled));
    assert_eq!(
        log.take(),
        ["UpdateItem"],
        "refused without a request once known"
    );
    assert_eq!(limiter.admit_user("user_other").await, Ok(()));
    // Its own item, apart from any address's.
    assert_eq!(
        window_item(&stack.app, "user:user_busy", WINDOW_START).await,
        (61, WINDOW_START + 60)
    );

    clock.set(WINDOW_START + 60);
    assert_eq!(limiter.admit_user("user_busy").await, Ok(()));
}
