//! Abuse limits on authentication: failed attempts are counted per source IP in fixed windows
//! shared by every Lambda instance (one `RATE#<ip>#<window start>` item per window in the `state`
//! table, see [`crate::aws::limits`]); past [`AuthLimits::limit`] failures the IP is throttled
//! until its window ends.
//!
//! Callers (the auth routes and the Lambda authorizer) call [`AuthLimiter::check`] before any
//! verification work, and [`AuthLimiter::failed`] after each failed one. `check` only consults this
//! instance's cache of IPs it has seen go over the limit, so it costs no request; another instance
//! learns of a blocked IP at that IP's next failure there, which returns [`Throttled`] at once
//! because the shared count is already over. [`AuthLimiter::check_shared`] reads the shared count
//! for callers that want it anyway.
//!
//! Counting fails open: when DynamoDB is down, failures are logged but nobody is blocked, since an
//! outage must not lock every user out.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};

use crate::domain::ports::Clock;
use crate::domain::ports::FailureCounter;

/// Abuse limits on failed authentication per source IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// `AUTH_FAILURE_LIMIT`: failures an IP may have in one window; the next is throttled
    /// (1–10,000, default 20).
    pub limit: u64,
    /// `AUTH_FAILURE_WINDOW_SECS`: the fixed window failures are counted in (10–86,400, default
    /// 300).
    pub window: std::time::Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            limit: 20,
            window: std::time::Duration::from_secs(300),
        }
    }
}

/// Most IPs the in-process cache holds as blocked, so a spray of IPs cannot grow memory without
/// bound (each entry is at most an IPv6 /64's text, 43 bytes, plus a timestamp).
pub const MAX_BLOCKED_IPS: usize = 10_000;
/// The bucket every malformed source IP is counted under.
pub const INVALID_IP: &str = "invalid";
/// The sort key of every rate-limit window item.
pub const RATE_SK: &str = "RATE";

/// The bucket `ip` is counted under: an IPv4 address (or an IPv4-mapped IPv6 one) itself; an
/// IPv6 address its /64 (`2001:db8:1:2::/64`), since one subscriber commonly holds a whole /64
/// and could otherwise spread its guesses over 2^64 buckets; anything that is not an address
/// (API Gateway's `requestContext.http.sourceIp` always is) [`INVALID_IP`]. Odd values are
/// counted, not rejected, so they cannot dodge the limit; keeping them out of keys and logs also
/// keeps both small and free of control characters. A bucket is its own bucket, so the limiter
/// and the counter's key ([`rate_pk`]) may both apply it.
pub fn ip_bucket(ip: &str) -> Cow<'static, str> {
    if let Some(prefix) = ip.strip_suffix("/64")
        && let Ok(v6) = prefix.parse::<Ipv6Addr>()
        && u128::from(v6) & u128::from(u64::MAX) == 0
        && v6.to_ipv4_mapped().is_none()
    {
        return Cow::Owned(format!("{v6}/64"));
    }
    // A zone (`fe80::1%eth0`) names the receiving interface, not the sender.
    let address = ip.split_once('%').map_or(ip, |(address, _)| address);
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Cow::Owned(v4.to_string()),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => Cow::Owned(v4.to_string()),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                Cow::Owned(format!("{}/64", Ipv6Addr::from(prefix)))
            }
        },
        Err(_) => Cow::Borrowed(INVALID_IP),
    }
}

/// The prefix of a user's own bucket ([`user_bucket`]), which no address bucket has.
const USER_PREFIX: &str = "user:";

/// The bucket of a user's own requests (`user:<id>`, per-user limits), apart from every address's;
/// an id that could not be a key (the authorizer passes only valid ones) shares `user:invalid`.
pub fn user_bucket(user_id: &str) -> String {
    let valid = !user_id.is_empty()
        && user_id.len() <= 128
        && user_id.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    format!("{USER_PREFIX}{}", if valid { user_id } else { INVALID_IP })
}

/// The partition key of the window starting at `window_start` (epoch seconds) of `key`: a user's
/// bucket as it is, a provider's shared-limit bucket ([`crate::domain::api_limit::bucket`],
/// `api:<service>`) as it is, anything else as its [`ip_bucket`]. The window in the key means a
/// later window never reads an item that outlived its TTL (which lags, and which the emulator
/// never applies).
pub fn rate_pk(key: &str, window_start: i64) -> String {
    if let Some(user_id) = key.strip_prefix(USER_PREFIX) {
        return format!("RATE#{}#{window_start}", user_bucket(user_id));
    }
    if let Some(service) = key.strip_prefix(crate::domain::api_limit::API_PREFIX)
        && !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return format!("RATE#{key}#{window_start}");
    }
    format!("RATE#{}#{window_start}", ip_bucket(key))
}

/// The fixed window holding `now` (epoch seconds): `[start, end)`, aligned to multiples of
/// `window_secs` so that every instance agrees on it without coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// The window of `window_secs` (at least 1) holding `now`.
    pub fn containing(now: i64, window_secs: u64) -> Self {
        let secs = i64::try_from(window_secs).unwrap_or(i64::MAX).max(1);
        let start = now - now.rem_euclid(secs);
        Self {
            start,
            end: start.saturating_add(secs),
        }
    }

    /// Seconds from `now` to the end of the window, at least 1.
    pub fn retry_after_secs(&self, now: i64) -> u64 {
        retry_after_secs(self.end, now)
    }
}

/// Seconds from `now` to `end`, at least 1: a `Retry-After` of 0 invites an immediate retry into
/// the same window.
fn retry_after_secs(end: i64, now: i64) -> u64 {
    u64::try_from(end.saturating_sub(now)).unwrap_or(0).max(1)
}

/// The source IP is over its failure limit; retry when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed authentications; retry in {retry_after_secs} s")]
pub struct Throttled {
    pub retry_after_secs: u64,
}

/// What may appear in a log for a token: up to 8 hex digits pass as a fingerprint already taken;
/// anything else is treated as the token itself and replaced by its fingerprint, so a caller
/// passing the wrong value still cannot put a token in the logs.
fn loggable_fingerprint(value: &str) -> String {
    if !value.is_empty() && value.len() <= 8 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        value.to_ascii_lowercase()
    } else {
        crate::domain::fingerprint(value.as_bytes())
    }
}

/// IPs known to be over the limit, with the epoch second their block ends.
#[derive(Debug)]
struct BlockList {
    until: Mutex<HashMap<String, i64>>,
    capacity: usize,
}

impl BlockList {
    fn new(capacity: usize) -> Self {
        Self {
            until: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// When `ip`'s block ends, if it is blocked at `now`.
    fn blocked_until(&self, ip: &str, now: i64) -> Option<i64> {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        match until.get(ip).copied() {
            Some(end) if end > now => Some(end),
            Some(_) => {
                until.remove(ip);
                None
            }
            None => None,
        }
    }

    /// Blocks `ip` until `end`. When full, expired entries go first, then the one ending soonest.
    fn block(&self, ip: &str, end: i64, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if !until.contains_key(ip) && until.len() >= self.capacity {
            until.retain(|_, blocked_until| *blocked_until > now);
            if until.len() >= self.capacity
                && let Some(soonest) = until
                    .iter()
                    .min_by_key(|(_, blocked_until)| **blocked_until)
                    .map(|(ip, _)| ip.clone())
            {
                until.remove(&soonest);
            }
        }
        let entry = until.entry(ip.to_owned()).or_insert(end);
        *entry = (*entry).max(end);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Throttles source IPs with too many failed authentications. Build one per instance (at cold
/// start) and share it: its cache of blocked IPs is what lets [`check`](Self::check) refuse them
/// without a request.
#[derive(Debug)]
pub struct AuthLimiter<F, C> {
    counter: F,
    clock: C,
    settings: AuthLimits,
    blocked: BlockList,
}

impl<F: FailureCounter, C: Clock> AuthLimiter<F, C> {
    pub fn new(counter: F, clock: C, settings: AuthLimits) -> Self {
        Self {
            counter,
            clock,
            settings,
            blocked: BlockList::new(MAX_BLOCKED_IPS),
        }
    }

    fn window(&self, now: i64) -> Window {
        Window::containing(now, self.settings.window.as_secs())
    }

    /// Blocks `bucket` for the rest of `window` if `failures` are over the limit.
    fn throttle_over_limit(
        &self,
        bucket: &str,
        failures: u64,
        window: Window,
        now: i64,
    ) -> Option<Throttled> {
        (failures > self.settings.limit).then(|| {
            self.blocked.block(bucket, window.end, now);
            Throttled {
                retry_after_secs: window.retry_after_secs(now),
            }
        })
    }

    /// Refuses `ip` if this instance has seen it go over the limit in the current window. No
    /// request: call it before any verification work.
    pub fn check(&self, ip: &str) -> Result<(), Throttled> {
        self.check_bucket(&ip_bucket(ip))
    }

    fn check_bucket(&self, bucket: &str) -> Result<(), Throttled> {
        let now = self.clock.now().timestamp();
        match self.blocked.blocked_until(bucket, now) {
            Some(end) => Err(Throttled {
                retry_after_secs: retry_after_secs(end, now),
            }),
            None => Ok(()),
        }
    }

    /// Counts one request of `user_id` against a per-user limit (a limiter built with that
    /// limit's [`AuthLimits`]: every request counts, not only failures): [`Throttled`] past the
    /// limit until the window ends, refused from then on without a request by this instance.
    /// Fails open, like the failure count: a count that cannot be written admits the request.
    pub async fn admit_user(&self, user_id: &str) -> Result<(), Throttled> {
        let bucket = user_bucket(user_id);
        self.check_bucket(&bucket)?;
        let now = self.clock.now().timestamp();
        let window = self.window(now);
        match self
            .counter
            .record_failure(&bucket, window.start, self.settings.window.as_secs())
            .await
        {
            Ok(requests) => self
                .throttle_over_limit(&bucket, requests, window, now)
                .map_or(Ok(()), Err),
            Err(error) => {
                tracing::warn!(%error, "cannot count a request against the per-user limit; admitting it");
                Ok(())
            }
        }
    }

    /// [`check`](Self::check), then, for an IP this instance does not know as blocked, the shared
    /// count (one read). Fails open: a read that fails admits the IP, and is logged.
    pub async fn check_shared(&self, ip: &str) -> Result<(), Throttled> {
        self.check(ip)?;
        let bucket = ip_bucket(ip);
        let bucket = bucket.as_ref();
        let now = self.clock.now().timestamp();
        let window = self.window(now);
        match self.counter.failures(bucket, window.start).await {
            Ok(failures) => self
                .throttle_over_limit(bucket, failures, window, now)
                .map_or(Ok(()), Err),
            Err(error) => {
                tracing::warn!(
                    ip = bucket,
                    %error,
                    "cannot read the failed authentications of {bucket}; admitting it"
                );
                Ok(())
            }
        }
    }

    /// Records a failed authentication from `ip` (one write) and logs it as a security event.
    /// `reason` is a stable code (`bad_signature`, `expired`, …); `token_fingerprint` is at most
    /// 8 hex digits ([`crate::domain::fingerprint`]) of the presented token, never the token.
    ///
    /// Returns [`Throttled`] when the window's count, this failure included, is over the limit
    /// (and from then on [`check`](Self::check) refuses `ip` on this instance until the window
    /// ends). When the failure cannot be counted it is logged and `None` is returned: counting
    /// fails open.
    pub async fn failed(
        &self,
        ip: &str,
        reason: &'static str,
        token_fingerprint: Option<&str>,
    ) -> Option<Throttled> {
        let bucket = ip_bucket(ip);
        let bucket = bucket.as_ref();
        let token_fp = token_fingerprint.map(loggable_fingerprint);
        let limit = self.settings.limit;
        let now = self.clock.now().timestamp();
        let window = self.window(now);
        match self
            .counter
            .record_failure(bucket, window.start, self.settings.window.as_secs())
            .await
        {
            Ok(failures) => {
                tracing::warn!(
                    security.event = "auth_failed",
                    reason,
                    ip = bucket,
                    token_fp,
                    failures,
                    limit,
                    "authentication failed ({reason}) from {bucket}: {failures} of {limit} failures allowed in the window"
                );
                self.throttle_over_limit(bucket, failures, window, now)
            }
            Err(error) => {
                tracing::warn!(
                    security.event = "auth_failed",
                    reason,
                    ip = bucket,
                    token_fp,
                    limit,
                    %error,
                    "authentication failed ({reason}) from {bucket}; the failure could not be counted, so it is not throttled"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
