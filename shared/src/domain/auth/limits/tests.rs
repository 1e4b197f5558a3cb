use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::ports::DependencyError;

const WINDOW_START: i64 = 1_900_000_200; // a multiple of 300

/// tracing caches each callsite's interest process-wide, so a test first reaching the
/// limiter's log lines while the capturing test installs its subscriber can leave them off for
/// it. Tests that go through those lines take this lock.
static LOGGING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    fn at(epoch_secs: i64) -> Self {
        Self(Mutex::new(Utc.timestamp_opt(epoch_secs, 0).unwrap()))
    }

    fn set(&self, epoch_secs: i64) {
        *self.0.lock().unwrap() = Utc.timestamp_opt(epoch_secs, 0).unwrap();
    }
}

impl Clock for &FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[derive(Default)]
struct MemoryCounter {
    counts: Mutex<HashMap<(String, i64), u64>>,
    down: AtomicBool,
    writes: AtomicUsize,
}

impl MemoryCounter {
    fn count(&self, ip: &str, window_start: i64) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .get(&(ip.to_owned(), window_start))
            .copied()
            .unwrap_or(0)
    }
}

impl FailureCounter for &MemoryCounter {
    async fn record_failure(
        &self,
        ip: &str,
        window_start: i64,
        _window_secs: u64,
    ) -> Result<u64, DependencyError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(DependencyError::Timeout);
        }
        let mut counts = self.counts.lock().unwrap();
        let count = counts.entry((ip.to_owned(), window_start)).or_default();
        *count += 1;
        Ok(*count)
    }

    async fn failures(&self, ip: &str, window_start: i64) -> Result<u64, DependencyError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DependencyError::Timeout);
        }
        Ok(self.count(ip, window_start))
    }
}

fn limiter<'a>(
    counter: &'a MemoryCounter,
    clock: &'a FixedClock,
) -> AuthLimiter<&'a MemoryCounter, &'a FixedClock> {
    AuthLimiter::new(counter, clock, AuthLimits::default())
}

#[test]
fn windows_are_aligned_and_retry_after_runs_to_their_end() {
    let window = Window::containing(WINDOW_START + 299, 300);
    assert_eq!(window.start, WINDOW_START);
    assert_eq!(window.end, WINDOW_START + 300);
    assert_eq!(
        Window::containing(WINDOW_START + 300, 300).start,
        WINDOW_START + 300
    );
    assert_eq!(window.retry_after_secs(WINDOW_START), 300);
    assert_eq!(window.retry_after_secs(WINDOW_START + 299), 1);
    // A clock past the end (or a zero-length window) still asks for a retry later.
    assert_eq!(window.retry_after_secs(WINDOW_START + 400), 1);
    assert_eq!(Window::containing(-1, 300).start, -300);
    assert_eq!(Window::containing(7, 0), Window { start: 7, end: 8 });
}

#[test]
fn ipv4_counts_per_address_ipv6_per_64_and_anything_else_in_one_bucket() {
    for (ip, bucket) in [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:9", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
    ] {
        assert_eq!(ip_bucket(ip), bucket, "{ip}");
        assert_eq!(ip_bucket(bucket), bucket, "a bucket is its own");
    }
    for not_a_bucket in ["2001:db8::1/64", "2001:db8::/48", "::ffff:0.0.0.0/64"] {
        assert_eq!(ip_bucket(not_a_bucket), INVALID_IP, "{not_a_bucket}");
    }
    assert_ne!(ip_bucket("2001:db8:1:3::1"), ip_bucket("2001:db8:1:2::1"));
    for ip in [
        "",
        " ",
        "1.2.3.4 ",
        "a\nb",
        "1#2",
        "ünïcode",
        "unknown",
        &"f".repeat(65),
    ] {
        assert_eq!(ip_bucket(ip), INVALID_IP, "{ip:?}");
    }
    assert_eq!(rate_pk("a\nb", 300), "RATE#invalid#300");
    assert_eq!(rate_pk("203.0.113.7", 300), "RATE#203.0.113.7#300");
    assert_eq!(rate_pk(&user_bucket("user_1"), 300), "RATE#user:user_1#300");
    assert_eq!(rate_pk(&user_bucket("a#b"), 300), "RATE#user:invalid#300");
    assert_eq!(rate_pk("user:a\nb", 300), "RATE#user:invalid#300");
    // Each provider's shared limit counts in its own bucket, apart from every address's.
    use crate::domain::api_limit::bucket;
    assert_eq!(rate_pk(&bucket("whop"), 300), "RATE#api:whop#300");
    assert_eq!(rate_pk(&bucket("resend"), 300), "RATE#api:resend#300");
    assert_eq!(rate_pk("api:", 300), "RATE#invalid#300");
    assert_eq!(rate_pk("api:a#b", 300), "RATE#invalid#300");
    assert_eq!(rate_pk("2001:db8::7", 300), "RATE#2001:db8::/64#300");
    assert_eq!(
        rate_pk(&ip_bucket("2001:db8::7"), 300),
        "RATE#2001:db8::/64#300"
    );
}

#[tokio::test]
async fn the_failure_past_the_limit_is_throttled_until_the_window_ends() {
    let _serial = LOGGING.lock().await;
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START + 60));
    let limiter = limiter(&counter, &clock);
    for _ in 0..20 {
        assert_eq!(limiter.check("203.0.113.7"), Ok(()));
        assert_eq!(limiter.failed("203.0.113.7", "bad_token", None).await, None);
    }

    let throttled = Throttled {
        retry_after_secs: 240,
    };
    assert_eq!(
        limiter.failed("203.0.113.7", "bad_token", None).await,
        Some(throttled)
    );
    assert_eq!(limiter.check("203.0.113.7"), Err(throttled));
    assert_eq!(limiter.check("203.0.113.8"), Ok(()));
    assert_eq!(counter.writes.load(Ordering::SeqCst), 21);

    clock.set(WINDOW_START + 299);
    assert_eq!(
        limiter.check("203.0.113.7"),
        Err(Throttled {
            retry_after_secs: 1
        })
    );
    clock.set(WINDOW_START + 300);
    assert_eq!(limiter.check("203.0.113.7"), Ok(()));
    assert_eq!(limiter.failed("203.0.113.7", "bad_token", None).await, None);
    assert_eq!(counter.count("203.0.113.7", WINDOW_START + 300), 1);
}

#[tokio::test]
async fn another_instance_throttles_at_its_first_failure_and_check_shared_reads_the_count() {
    let _serial = LOGGING.lock().await;
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START));
    let first = limiter(&counter, &clock);
    for _ in 0..21 {
        first.failed("203.0.113.7", "bad_token", None).await;
    }

    let second = limiter(&counter, &clock);
    assert_eq!(second.check("203.0.113.7"), Ok(()));
    assert!(
        second
            .failed("203.0.113.7", "bad_token", None)
            .await
            .is_some()
    );

    let third = limiter(&counter, &clock);
    assert_eq!(
        third.check_shared("203.0.113.7").await,
        Err(Throttled {
            retry_after_secs: 300
        })
    );
    assert!(third.check("203.0.113.7").is_err(), "cached once read");
    assert_eq!(third.check_shared("203.0.113.8").await, Ok(()));
}

#[tokio::test]
async fn a_dependency_failure_blocks_nobody() {
    let _serial = LOGGING.lock().await;
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START));
    counter.down.store(true, Ordering::SeqCst);
    let limiter = limiter(&counter, &clock);
    for _ in 0..50 {
        assert_eq!(limiter.failed("203.0.113.7", "bad_token", None).await, None);
    }
    assert_eq!(limiter.check("203.0.113.7"), Ok(()));
    assert_eq!(limiter.check_shared("203.0.113.7").await, Ok(()));
    assert_eq!(counter.writes.load(Ordering::SeqCst), 50);
}

#[tokio::test]
async fn malformed_ips_are_counted_together() {
    let _serial = LOGGING.lock().await;
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START));
    let limiter = AuthLimiter::new(
        &counter,
        &clock,
        AuthLimits {
            limit: 1,
            window: Duration::from_secs(300),
        },
    );
    assert_eq!(limiter.failed("", "bad_token", None).await, None);
    assert!(limiter.failed("x y", "bad_token", None).await.is_some());
    assert!(limiter.check(&"9".repeat(100)).is_err());
    assert_eq!(counter.count(INVALID_IP, WINDOW_START), 2);
}

#[test]
fn the_block_list_is_bounded_and_drops_expired_entries_first() {
    let blocked = BlockList::new(3);
    blocked.block("a", 100, 0);
    blocked.block("b", 200, 0);
    blocked.block("c", 300, 0);
    // Full of live entries: the one ending soonest makes room.
    blocked.block("d", 300, 50);
    assert_eq!(blocked.len(), 3);
    assert_eq!(blocked.blocked_until("a", 50), None);
    assert_eq!(blocked.blocked_until("b", 50), Some(200));

    // Once "b" has expired it goes before any live entry.
    blocked.block("e", 400, 250);
    assert_eq!(blocked.len(), 3);
    assert_eq!(blocked.blocked_until("b", 0), None);
    for ip in ["c", "d", "e"] {
        assert!(blocked.blocked_until(ip, 250).is_some(), "{ip}");
    }

    // Re-blocking a known IP never shortens its block nor evicts another.
    blocked.block("c", 100, 250);
    assert_eq!(blocked.blocked_until("c", 250), Some(300));
    assert_eq!(blocked.len(), 3);
}

#[tokio::test]
async fn a_spray_of_blocked_ips_stays_within_the_cache_bound() {
    let _serial = LOGGING.lock().await;
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START));
    let limiter = AuthLimiter::new(
        &counter,
        &clock,
        AuthLimits {
            limit: 0,
            window: Duration::from_secs(300),
        },
    );
    for i in 0..MAX_BLOCKED_IPS + 100 {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        assert!(limiter.failed(&ip, "bad_token", None).await.is_some());
    }
    assert_eq!(limiter.blocked.len(), MAX_BLOCKED_IPS);
}

#[test]
fn only_short_hex_fingerprints_are_logged_as_given() {
    assert_eq!(loggable_fingerprint("ba7816bf"), "ba7816bf");
    assert_eq!(loggable_fingerprint("BA78"), "ba78");
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl";
    assert_eq!(
        loggable_fingerprint(token),
        crate::domain::fingerprint(token.as_bytes())
    );
    // Nine hex digits could be a short secret: hashed too.
    assert_eq!(
        loggable_fingerprint("ba7816bf0"),
        crate::domain::fingerprint(b"ba7816bf0")
    );
    assert_eq!(loggable_fingerprint(""), crate::domain::fingerprint(b""));
}

/// Records the fields of every event as `name=value` lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn each_failure_logs_one_security_event_without_the_token() {
    let _serial = LOGGING.lock().await;
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl";
    let fp = crate::domain::fingerprint(token.as_bytes());
    let (counter, clock) = (MemoryCounter::default(), FixedClock::at(WINDOW_START));
    let limiter = limiter(&counter, &clock);
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    limiter
        .failed("203.0.113.7", "bad_signature", Some(&fp))
        .await;
    // A caller passing the token by mistake still logs only its fingerprint.
    limiter
        .failed("203.0.113.7", "bad_signature", Some(token))
        .await;
    counter.down.store(true, Ordering::SeqCst);
    limiter.failed("203.0.113.7", "expired", Some(token)).await;

    let lines = capture.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines {
        assert!(line.contains("security.event=auth_failed "), "{line}");
        assert!(line.contains("ip=203.0.113.7 "), "{line}");
        assert!(line.contains(&format!("token_fp={fp} ")), "{line}");
        assert!(line.contains("limit=20 "), "{line}");
        assert!(!line.contains(token) && !line.contains("eyJ"), "{line}");
    }
    assert!(lines[0].contains("reason=bad_signature ") && lines[0].contains("failures=1 "));
    assert!(lines[1].contains("failures=2 "));
    assert!(lines[2].contains("reason=expired ") && lines[2].contains("error=timed out"));
}
