//! The one in-process read cache: values by key, each trusted for a TTL after it was read. The
//! shared circuit breakers, the versioned secrets and the emergency switch read through it.
//!
//! Times come from the caller's injected clock. A read is fresh while `read_at <= now` and
//! `now - read_at < ttl`: a clock that stepped back makes the entry stale (re-reading is always
//! safe). The last read stays available at any age ([`TtlCache::last`]) for callers that fall back
//! on it when their store cannot be read.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Values by key, each with the time it was read.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (DateTime<Utc>, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache whose reads are trusted for `ttl` (zero: never).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The value of `key` when it was read less than the TTL before `now`.
    pub fn fresh<Q>(&self, key: &Q, now: DateTime<Utc>) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.lock();
        let (read_at, value) = entries.get(key)?;
        let age = (now - *read_at).to_std().ok()?;
        (age < self.ttl).then(|| value.clone())
    }

    /// The last value read for `key`, however old.
    pub fn last<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().get(key).map(|(_, value)| value.clone())
    }

    /// Remembers `value` for `key`, read at `now`.
    pub fn insert(&self, key: K, value: V, now: DateTime<Utc>) {
        self.lock().insert(key, (now, value));
    }

    /// Forgets every read.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (DateTime<Utc>, V)>> {
        // The map holds no invariant a panicking reader could break.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_900_000_000 + secs)
    }

    #[test]
    fn a_read_is_fresh_for_the_ttl_and_then_only_the_last_value() {
        let cache = TtlCache::new(Duration::from_secs(30));
        cache.insert("whop".to_owned(), 1, at(0));

        assert_eq!(cache.fresh("whop", at(0)), Some(1));
        assert_eq!(cache.fresh("whop", at(29)), Some(1));
        assert_eq!(cache.fresh("whop", at(30)), None);
        assert_eq!(cache.last("whop"), Some(1));
        assert_eq!(cache.fresh("stripe", at(0)), None);
    }

    #[test]
    fn a_clock_that_stepped_back_makes_the_read_stale() {
        let cache = TtlCache::new(Duration::from_secs(30));
        cache.insert("whop".to_owned(), 1, at(10));

        assert_eq!(cache.fresh("whop", at(9)), None);
    }

    #[test]
    fn a_zero_ttl_trusts_no_read_and_clear_forgets_every_one() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.insert("whop".to_owned(), 1, at(0));
        assert_eq!(cache.fresh("whop", at(0)), None);

        cache.clear();
        assert_eq!(cache.last("whop"), None);
    }
}
