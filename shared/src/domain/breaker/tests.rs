use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

const T0: i64 = 1_900_000_000;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(T0 + secs, 0).unwrap()
}

fn settings() -> BreakerSettings {
    BreakerSettings {
        failure_threshold: 3,
        recovery_timeout: Duration::from_secs(30),
        half_open_probes: 2,
        success_threshold: 2,
    }
}

fn closed(failures: u32) -> BreakerState {
    BreakerState::Closed {
        consecutive_failures: failures,
    }
}

fn half(probes: u32, successes: u32) -> BreakerState {
    BreakerState::HalfOpen {
        probes_in_flight: probes,
        successes,
    }
}

fn breaker(state: BreakerState, since: i64, version: u64) -> Breaker {
    Breaker::at(state, at(since), version)
}

#[test]
fn defaults() {
    let d = BreakerSettings::default();
    assert_eq!(d.failure_threshold, 5);
    assert_eq!(d.recovery_timeout, Duration::from_secs(30));
    assert_eq!(d.half_open_probes, 1);
    assert_eq!(d.success_threshold, 2);
    let b = Breaker::new(at(0));
    assert_eq!((b.state(), b.version), (closed(0), 0));
}

#[test]
fn closed_admits_without_writing() {
    let b = breaker(closed(2), 0, 4);
    assert_eq!(
        b.admit(&settings(), at(1)),
        (Decision::Allowed { probe: false }, None)
    );
}

#[test]
fn closed_counts_failures_then_opens_at_the_threshold() {
    let s = settings();
    let b = breaker(closed(0), 0, 1);
    let b = b.on_failure(&s, at(1)).unwrap();
    assert_eq!(
        (b.state(), b.version, b.record.since),
        (closed(1), 2, at(0))
    );
    let b = b.on_failure(&s, at(2)).unwrap();
    assert_eq!(b.state(), closed(2));
    let b = b.on_failure(&s, at(3)).unwrap();
    assert_eq!(b.state(), BreakerState::Open { until: at(33) });
    assert_eq!((b.version, b.record.since), (4, at(3)));
}

#[test]
fn success_while_closed_clears_failures_or_writes_nothing() {
    let s = settings();
    assert_eq!(breaker(closed(0), 0, 1).on_success(&s, at(1)), None);
    let b = breaker(closed(2), 0, 1).on_success(&s, at(1)).unwrap();
    assert_eq!((b.state(), b.version), (closed(0), 2));
}

#[test]
fn open_rejects_until_the_recovery_timeout() {
    let b = breaker(BreakerState::Open { until: at(30) }, 0, 5);
    assert_eq!(
        b.admit(&settings(), at(10)),
        (
            Decision::Rejected {
                retry_after: Duration::from_secs(20)
            },
            None
        )
    );
}

#[test]
fn open_ignores_late_outcomes() {
    let s = settings();
    let b = breaker(BreakerState::Open { until: at(30) }, 0, 5);
    assert_eq!(b.on_failure(&s, at(10)), None);
    assert_eq!(b.on_success(&s, at(10)), None);
}

#[test]
fn open_turns_half_open_with_one_probe_after_the_timeout() {
    let b = breaker(BreakerState::Open { until: at(30) }, 0, 5);
    let (decision, next) = b.admit(&settings(), at(30));
    assert_eq!(decision, Decision::Allowed { probe: true });
    let next = next.unwrap();
    assert_eq!(
        (next.state(), next.version, next.record.since),
        (half(1, 0), 6, at(30))
    );
}

#[test]
fn half_open_admits_up_to_the_probe_limit() {
    let s = settings();
    let b = breaker(half(1, 0), 30, 6);
    let (decision, next) = b.admit(&s, at(31));
    assert_eq!(decision, Decision::Allowed { probe: true });
    let next = next.unwrap();
    assert_eq!(next.state(), half(2, 0));
    assert_eq!(
        next.admit(&s, at(32)),
        (
            Decision::Rejected {
                retry_after: Duration::from_secs(29)
            },
            None
        )
    );
}

#[test]
fn half_open_replaces_probes_that_never_reported() {
    let s = settings();
    let b = breaker(half(2, 1), 30, 6);
    let (decision, next) = b.admit(&s, at(60));
    assert_eq!(decision, Decision::Allowed { probe: true });
    let next = next.unwrap();
    assert_eq!((next.state(), next.record.since), (half(1, 1), at(60)));
}

#[test]
fn half_open_closes_after_enough_successes() {
    let s = settings();
    let b = breaker(half(2, 0), 30, 6).on_success(&s, at(31)).unwrap();
    assert_eq!((b.state(), b.record.since), (half(1, 1), at(30)));
    let b = b.on_success(&s, at(32)).unwrap();
    assert_eq!(
        (b.state(), b.version, b.record.since),
        (closed(0), 8, at(32))
    );
}

#[test]
fn a_failing_probe_reopens() {
    let b = breaker(half(1, 1), 30, 6)
        .on_failure(&settings(), at(40))
        .unwrap();
    assert_eq!(
        (b.state(), b.version),
        (BreakerState::Open { until: at(70) }, 7)
    );
}

#[test]
fn reset_closes_from_any_state() {
    for state in [closed(2), BreakerState::Open { until: at(30) }, half(1, 0)] {
        let b = breaker(state, 0, 9).reset(at(5));
        assert_eq!(
            (b.state(), b.version, b.record.since),
            (closed(0), 10, at(5))
        );
    }
}

#[test]
fn views() {
    let v = breaker(closed(2), 0, 1).view();
    assert_eq!((v.state, v.failures, v.open_until), ("closed", 2, None));
    let v = breaker(BreakerState::Open { until: at(30) }, 0, 1).view();
    assert_eq!((v.state, v.open_until), ("open", Some(at(30))));
    assert_eq!(breaker(half(1, 0), 0, 1).view().state, "half_open");
}

#[test]
fn huge_recovery_timeout_saturates() {
    let s = BreakerSettings {
        recovery_timeout: Duration::MAX,
        failure_threshold: 1,
        ..settings()
    };
    let b = breaker(closed(0), 0, 0).on_failure(&s, at(0)).unwrap();
    assert_eq!(
        b.state(),
        BreakerState::Open {
            until: DateTime::<Utc>::MAX_UTC
        }
    );
}

#[derive(Debug, Clone)]
enum Step {
    Wait(u16),
    Call,
    /// Completes the oldest call in flight (it failed: the dependency is dead).
    Complete,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u16..90).prop_map(Step::Wait),
        Just(Step::Call),
        Just(Step::Complete),
    ]
}

/// Runs `steps` against a dead dependency: returns the calls it received and the most calls in
/// flight at once while the breaker was closed.
fn run_dead(
    s: &BreakerSettings,
    steps: &[Step],
    sequential: bool,
) -> Result<(u64, u64, i64), TestCaseError> {
    let mut b = Breaker::new(at(0));
    let mut now = 0i64;
    let mut in_flight = 0u64;
    let mut peak_closed = 0u64;
    let mut calls = 0u64;
    for step in steps {
        let complete = match step {
            Step::Wait(secs) => {
                now += i64::from(*secs);
                false
            }
            Step::Call => {
                let was_closed = matches!(b.state(), BreakerState::Closed { .. });
                let (decision, next) = b.admit(s, at(now));
                if let Some(next) = next {
                    prop_assert_eq!(next.version, b.version + 1);
                    b = next;
                }
                if matches!(decision, Decision::Allowed { .. }) {
                    calls += 1;
                    in_flight += 1;
                    if was_closed {
                        peak_closed = peak_closed.max(in_flight);
                    }
                }
                sequential
            }
            Step::Complete => true,
        };
        if complete && in_flight > 0 {
            in_flight -= 1;
            if let Some(next) = b.on_failure(s, at(now)) {
                prop_assert_eq!(next.version, b.version + 1);
                b = next;
            }
        }
    }
    Ok((calls, peak_closed, now))
}

fn dead_settings(threshold: u32, probes: u32, recovery: u64) -> BreakerSettings {
    BreakerSettings {
        failure_threshold: threshold,
        recovery_timeout: Duration::from_secs(recovery),
        half_open_probes: probes,
        success_threshold: 2,
    }
}

proptest! {
    /// Calls made one at a time (each fails before the next starts): a dead dependency gets
    /// at most `failure_threshold` calls, then at most `half_open_probes` per recovery period.
    #[test]
    fn dead_dependency_gets_threshold_plus_probes_per_period(
        threshold in 1u32..6,
        probes in 1u32..4,
        recovery in 1u64..60,
        steps in proptest::collection::vec(step(), 0..300),
    ) {
        let s = dead_settings(threshold, probes, recovery);
        let (calls, _, now) = run_dead(&s, &steps, true)?;
        let periods = u64::try_from(now).unwrap() / recovery + 1;
        prop_assert!(
            calls <= u64::from(threshold) + u64::from(probes) * periods,
            "{calls} calls over {now} s"
        );
    }

    /// Any interleaving of concurrent calls, completions and time: a closed breaker cannot stop
    /// calls already admitted, so the bound grows by the calls in flight while it was closed
    /// (beyond one), and by nothing else. Probes left hanging are replaced once per period.
    #[test]
    fn dead_dependency_is_spared_under_concurrency(
        threshold in 1u32..6,
        probes in 1u32..4,
        recovery in 1u64..60,
        steps in proptest::collection::vec(step(), 0..300),
    ) {
        let s = dead_settings(threshold, probes, recovery);
        let (calls, peak_closed, now) = run_dead(&s, &steps, false)?;
        let periods = u64::try_from(now).unwrap() / recovery + 1;
        prop_assert!(
            calls
                <= u64::from(threshold) + peak_closed.saturating_sub(1)
                    + u64::from(probes) * periods,
            "{calls} calls over {now} s, {peak_closed} at once while closed"
        );
    }
}

/// An in-memory store that can be taken down.
#[derive(Debug, Default, Clone)]
struct MemoryStore {
    items: Arc<Mutex<HashMap<String, (BreakerRecord, u64)>>>,
    down: Arc<Mutex<bool>>,
}

impl MemoryStore {
    fn check(&self) -> Result<(), DependencyError> {
        if *self.down.lock().unwrap() {
            Err(DependencyError::Timeout)
        } else {
            Ok(())
        }
    }
}

impl BreakerStore for MemoryStore {
    async fn load(&self, name: &str) -> Result<Option<(BreakerRecord, u64)>, DependencyError> {
        self.check()?;
        Ok(self.items.lock().unwrap().get(name).copied())
    }

    async fn save(
        &self,
        name: &str,
        record: &BreakerRecord,
        expected_version: u64,
    ) -> Result<bool, DependencyError> {
        self.check()?;
        let mut items = self.items.lock().unwrap();
        let stored = items.get(name).map_or(0, |(_, v)| *v);
        if stored != expected_version {
            return Ok(false);
        }
        items.insert(name.to_owned(), (*record, expected_version + 1));
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<(String, BreakerRecord, u64)>, DependencyError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|(n, (r, v))| (n.clone(), *r, *v))
            .collect())
    }
}

#[derive(Clone)]
struct TestClock(Arc<Mutex<i64>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        at(*self.0.lock().unwrap())
    }
}

fn shared(store: &MemoryStore, clock: &TestClock) -> SharedBreaker<MemoryStore, TestClock> {
    SharedBreaker::new(store.clone(), clock.clone()).with_settings("whop", settings())
}

#[tokio::test]
async fn cache_hides_other_writers_until_it_expires() {
    let store = MemoryStore::default();
    let clock = TestClock(Arc::new(Mutex::new(0)));
    let a = shared(&store, &clock);
    let b = shared(&store, &clock);
    assert!(b.admit("whop").await.is_ok()); // b caches "closed"
    for _ in 0..3 {
        a.record("whop", false).await;
    }
    assert!(a.admit("whop").await.is_err());
    assert!(b.admit("whop").await.is_ok(), "b still trusts its cache");
    *clock.0.lock().unwrap() = 5;
    assert!(b.admit("whop").await.is_err());
}

#[tokio::test]
async fn lost_race_rereads_and_reapplies() {
    let store = MemoryStore::default();
    let clock = TestClock(Arc::new(Mutex::new(0)));
    let a = shared(&store, &clock).with_cache_ttl(Duration::from_secs(60));
    let b = shared(&store, &clock).with_cache_ttl(Duration::from_secs(60));
    a.record("whop", false).await;
    b.record("whop", false).await; // b had nothing cached: reads version 1
    a.record("whop", false).await; // a's cache says version 1: loses, re-reads, reapplies
    let (record, version) = store.items.lock().unwrap()["whop"];
    assert_eq!(
        (record.state, version),
        (BreakerState::Open { until: at(30) }, 3)
    );
}

#[tokio::test]
async fn store_outage_fails_open_and_keeps_local_state() {
    let store = MemoryStore::default();
    let clock = TestClock(Arc::new(Mutex::new(0)));
    let a = shared(&store, &clock).with_cache_ttl(Duration::ZERO);
    *store.down.lock().unwrap() = true;
    assert_eq!(a.admit("whop").await, Ok(Permit { probe: false }));
    for _ in 0..3 {
        a.record("whop", false).await;
    }
    // Opened locally: the dependency still gets spared.
    assert!(a.admit("whop").await.is_err());
    // The status says the store is unreadable rather than show a partial picture.
    assert!(a.status().await.is_err());
    a.reset("whop").await;
    assert!(a.admit("whop").await.is_ok());
}

#[tokio::test]
async fn per_name_settings() {
    let store = MemoryStore::default();
    let clock = TestClock(Arc::new(Mutex::new(0)));
    let a = shared(&store, &clock);
    assert_eq!(a.settings("whop"), settings());
    assert_eq!(a.settings("stripe"), BreakerSettings::default());
}

/// A store whose every write loses a race, and whose breaker is due for a probe.
struct ContendedStore;

impl BreakerStore for ContendedStore {
    async fn load(&self, _: &str) -> Result<Option<(BreakerRecord, u64)>, DependencyError> {
        Ok(Some((
            BreakerRecord {
                state: BreakerState::Open { until: at(0) },
                since: at(-30),
            },
            7,
        )))
    }

    async fn save(&self, _: &str, _: &BreakerRecord, _: u64) -> Result<bool, DependencyError> {
        Ok(false)
    }

    async fn list(&self) -> Result<Vec<(String, BreakerRecord, u64)>, DependencyError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_probe_that_never_wins_its_write_is_not_admitted() {
    let clock = TestClock(Arc::new(Mutex::new(0)));
    let a = SharedBreaker::new(ContendedStore, clock);
    let rejected = a.admit("whop").await.unwrap_err();
    assert_eq!(rejected.retry_after, Duration::from_secs(1));
}
