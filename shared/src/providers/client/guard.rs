//! [`ProviderGuard`]: admission for provider calls, per service. Before each attempt, in order:
//!
//! 1. a pause after a 429: until its `Retry-After` (or the provider's cooldown) has passed, calls
//!    are refused without being sent;
//! 2. a token bucket (`governor`, GCRA): `requests` per `window`, all usable at once; a caller
//!    waits for a token when it comes within the maximum wait, else is refused with the wait;
//! 3. a concurrency limit (a semaphore whose permit the attempt holds);
//! 4. with [`ProviderGuard::with_shared_limit`], the same rate limit shared by every instance
//!    ([`crate::domain::api_limit`]: one atomic add per call in a fixed window's item);
//! 5. the circuit breaker shared by all instances ([`SharedBreaker`]).
//!
//! The breaker comes last: once it admits a call (perhaps a half-open probe, which it counts as in
//! flight), nothing else may refuse that call, or the probe would never report. The price is that
//! calls refused by an open breaker may have used a token first; they were not going out anyway.
//! The pause, bucket and semaphore live in this process; the breaker and the shared limit are
//! shared. The shared limit comes after the semaphore, so a call it admits is sent at once, not
//! after a wait for a slot that could carry it into the next window.

use crate::domain::api_limit::SharedLimit;
use crate::domain::ports::{BreakerStore, DependencyError, FailureCounter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use governor::clock::Clock as GovernorClock;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Admission, CallOutcome, ClientError, Permit, Sleeper, TokioSleeper};
use crate::domain::breaker::SharedBreaker;
use crate::domain::ports::Clock;
use crate::edge::config::{ProviderLimits, RateLimit};

/// The longest a caller waits in admission (for a token or a concurrency slot) before it is
/// refused with [`ClientError::RateLimited`] instead.
pub const DEFAULT_MAX_ADMISSION_WAIT: Duration = Duration::from_secs(10);

/// A `Retry-After` longer than this pauses only this long: a wrong header must not silence a
/// provider for days.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// Our [`Clock`] as governor's clock, in nanoseconds since the Unix epoch, so one injected clock
/// drives the breaker, the pause and the bucket. It is the wall clock rather than a monotonic one:
/// a step back only makes the bucket wait longer (governor saturates), which is harmless.
#[derive(Debug, Clone)]
struct BucketClock<C>(C);

impl<C: Clock + Clone> GovernorClock for BucketClock<C> {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = self
            .0
            .now()
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        Duration::from_nanos(nanos).into()
    }
}

type Bucket<C> = RateLimiter<NotKeyed, InMemoryState, BucketClock<C>>;

fn quota(limit: RateLimit) -> Quota {
    // One request per `window / requests` after a burst of `burst`. The providers' burst is 1: a
    // bucket that lets `requests` go at once and then refills lets `2 × requests − 1` through in
    // some window, which a provider counting in a sliding window (the strictest reading of "20
    // per 10 s") answers with 429s. A window too short to divide (never, within the configured
    // ranges) falls back to `requests` per second, the nearest meaningful limit.
    Quota::with_period(limit.window / limit.requests.get())
        .unwrap_or_else(|| Quota::per_second(limit.requests))
        .allow_burst(limit.burst)
}

/// One service's in-process admission state.
struct ServiceGuard<C: Clock + Clone> {
    bucket: Bucket<C>,
    slots: Arc<Semaphore>,
    paused_until: Mutex<Option<DateTime<Utc>>>,
    cooldown: Duration,
}

impl<C: Clock + Clone> ServiceGuard<C> {
    fn new(limits: &ProviderLimits, clock: &C) -> Self {
        let slots = usize::try_from(limits.max_concurrency.get()).unwrap_or(1);
        Self {
            bucket: RateLimiter::direct_with_clock(
                quota(limits.rate_limit),
                BucketClock(clock.clone()),
            ),
            slots: Arc::new(Semaphore::new(slots)),
            paused_until: Mutex::new(None),
            cooldown: limits.cooldown,
        }
    }

    /// What is left of the pause at `now`, if one is running.
    fn paused_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        let until = (*self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner))?;
        (now < until).then(|| (until - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Pauses until `now + for_`, unless a longer pause is already running.
    fn pause(&self, now: DateTime<Utc>, for_: Duration) {
        let delta = TimeDelta::from_std(for_.min(MAX_PAUSE)).unwrap_or(TimeDelta::zero());
        let until = now.checked_add_signed(delta).unwrap_or(now);
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }
}

/// No shared limit: a guard's limits stay in its process (the counter is never asked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unshared;

impl FailureCounter for Unshared {
    async fn record_failure(&self, _: &str, _: i64, _: u64) -> Result<u64, DependencyError> {
        Ok(0)
    }

    async fn failures(&self, _: &str, _: i64) -> Result<u64, DependencyError> {
        Ok(0)
    }
}

/// Tries at the shared limit per admission: each is one request, so a caller refused in one
/// window and again in the next (other instances took it) gives up rather than spin.
const SHARED_TRIES: u32 = 3;

/// Admission for provider calls: a shared circuit breaker, a token bucket, a concurrency limit and
/// a pause after 429, per service, and optionally a rate limit shared by every instance (see the
/// module docs). Build one per process, at cold start, and hand it to [`super::ResilientClient`].
pub struct ProviderGuard<S, C: Clock + Clone, W = Unshared> {
    breaker: SharedBreaker<S, C>,
    /// The counter of the shared limit, when there is one.
    shared: Option<W>,
    clock: C,
    defaults: ProviderLimits,
    per_service: HashMap<String, ProviderLimits>,
    max_wait: Duration,
    sleeper: Arc<dyn Sleeper>,
    services: Mutex<HashMap<&'static str, Arc<ServiceGuard<C>>>>,
}

impl<S, C: Clock + Clone, W> std::fmt::Debug for ProviderGuard<S, C, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderGuard")
            .field("shared", &self.shared.is_some())
            .field("defaults", &self.defaults)
            .field("per_service", &self.per_service)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl<S: BreakerStore, C: Clock + Clone> ProviderGuard<S, C> {
    /// Breakers in `store`, [`ProviderLimits::default`] for every service, waits of at most
    /// [`DEFAULT_MAX_ADMISSION_WAIT`] slept with tokio, no shared limit.
    pub fn new(store: S, clock: C) -> Self {
        let defaults = ProviderLimits::default();
        Self {
            breaker: SharedBreaker::new(store, clock.clone()).with_defaults(defaults.breaker),
            shared: None,
            clock,
            defaults,
            per_service: HashMap::new(),
            max_wait: DEFAULT_MAX_ADMISSION_WAIT,
            sleeper: Arc::new(TokioSleeper),
            services: Mutex::new(HashMap::new()),
        }
    }
}

impl<S: BreakerStore, C: Clock + Clone, W: FailureCounter> ProviderGuard<S, C, W> {
    /// Each service's rate limit (`requests` per `window`) also shared by every guard counting
    /// in `counter`: each admitted attempt adds one to the window's count there.
    pub fn with_shared_limit<V: FailureCounter>(self, counter: V) -> ProviderGuard<S, C, V> {
        ProviderGuard {
            breaker: self.breaker,
            shared: Some(counter),
            clock: self.clock,
            defaults: self.defaults,
            per_service: self.per_service,
            max_wait: self.max_wait,
            sleeper: self.sleeper,
            services: self.services,
        }
    }

    /// The limits of services without their own.
    #[must_use]
    pub fn with_defaults(mut self, limits: ProviderLimits) -> Self {
        self.breaker = self.breaker.with_defaults(limits.breaker);
        self.defaults = limits;
        self
    }

    /// The limits of `service` (its breaker is named `service` too).
    #[must_use]
    pub fn with_limits(mut self, service: &str, limits: ProviderLimits) -> Self {
        self.breaker = self.breaker.with_settings(service, limits.breaker);
        self.per_service.insert(service.to_owned(), limits);
        self
    }

    /// The longest a caller waits for a token or a concurrency slot before it is refused.
    #[must_use]
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// How admission waits (tests pass one that moves their clock).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// How long a read of the shared breaker state is trusted (see
    /// [`SharedBreaker::with_cache_ttl`]).
    #[must_use]
    pub fn with_breaker_cache_ttl(mut self, ttl: Duration) -> Self {
        self.breaker = self.breaker.with_cache_ttl(ttl);
        self
    }

    /// The breakers, for status and reset.
    pub const fn breaker(&self) -> &SharedBreaker<S, C> {
        &self.breaker
    }

    /// The limits `service` is admitted under.
    pub fn limits(&self, service: &str) -> ProviderLimits {
        self.per_service
            .get(service)
            .copied()
            .unwrap_or(self.defaults)
    }

    fn service(&self, service: &'static str) -> Arc<ServiceGuard<C>> {
        let mut services = self.services.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            services
                .entry(service)
                .or_insert_with(|| Arc::new(ServiceGuard::new(&self.limits(service), &self.clock))),
        )
    }

    /// Takes a token, waiting once if one comes within `max_wait`. A caller that still finds
    /// none after its wait (another took it) is refused rather than queued again.
    async fn take_token(
        &self,
        service: &'static str,
        guard: &ServiceGuard<C>,
    ) -> Result<(), ClientError> {
        let clock = BucketClock(self.clock.clone());
        let refused = |wait| ClientError::RateLimited {
            service,
            retry_after: Some(wait),
        };
        let Err(not_until) = guard.bucket.check() else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(clock.now());
        if wait > self.max_wait {
            return Err(refused(wait));
        }
        self.sleeper.sleep(wait).await;
        guard
            .bucket
            .check()
            .map_err(|not_until| refused(not_until.wait_time_from(clock.now())))
    }

    /// `service`'s turn under the limit shared by every instance, when there is one: an add to
    /// the current window's count that came back within the limit, with time left in the window
    /// ([`SharedLimit::admits`]). Otherwise it waits for the next window, within `max_wait` and
    /// [`SHARED_TRIES`], and is refused after that with the wait. A counter that cannot be
    /// reached admits the call (logged): the in-process bucket still paces it, and a 429 pauses.
    /// Ok has the requests left in the window after this one, when they were counted.
    async fn take_shared_turn(&self, service: &'static str) -> Result<Option<u64>, ClientError> {
        let Some(counter) = &self.shared else {
            return Ok(None);
        };
        let rate = self.limits(service).rate_limit;
        let limit = SharedLimit {
            requests: u64::from(rate.requests.get()),
            window_secs: rate.window.as_secs().max(1),
        };
        let bucket = crate::domain::api_limit::bucket(service);
        let mut waited = Duration::ZERO;
        for _ in 0..SHARED_TRIES {
            let now = self.clock.now();
            let window = limit.window(now);
            // In the guard at a window's end, no add is made: the wait is known already.
            let next = match limit.admits(window, 0, now) {
                Err(next) => next,
                Ok(()) => match counter
                    .record_failure(&bucket, window.start, limit.window_secs)
                    .await
                {
                    Err(error) => {
                        tracing::warn!(service, %error, "the shared rate limit cannot be counted; the call goes out under this instance's limit");
                        return Ok(None);
                    }
                    Ok(count) => match limit.admits(window, count, self.clock.now()) {
                        Ok(()) => return Ok(Some(limit.requests.saturating_sub(count))),
                        Err(next) => next,
                    },
                },
            };
            let wait = (next - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
            if waited + wait > self.max_wait {
                return Err(ClientError::RateLimited {
                    service,
                    retry_after: Some(wait),
                });
            }
            self.sleeper.sleep(wait).await;
            waited += wait;
        }
        Err(ClientError::RateLimited {
            service,
            retry_after: Some(Duration::from_secs(limit.window_secs)),
        })
    }

    /// A concurrency slot, waited for up to `max_wait`.
    async fn take_slot(
        &self,
        service: &'static str,
        guard: &ServiceGuard<C>,
    ) -> Result<OwnedSemaphorePermit, ClientError> {
        // No wait is started for a free slot (an injected sleeper may count or move time).
        if let Ok(slot) = Arc::clone(&guard.slots).try_acquire_owned() {
            return Ok(slot);
        }
        // The semaphore is never closed, so its only error cannot happen; it maps to a refusal.
        let timed_out = ClientError::RateLimited {
            service,
            retry_after: None,
        };
        tokio::select! {
            // Biased: a slot that frees up wins even over a wait that is already over.
            biased;
            slot = Arc::clone(&guard.slots).acquire_owned() => slot.map_err(|_| timed_out),
            () = self.sleeper.sleep(self.max_wait) => Err(timed_out),
        }
    }
}

impl<S: BreakerStore, C: Clock + Clone + 'static, W: FailureCounter> Admission
    for ProviderGuard<S, C, W>
{
    async fn admit(&self, service: &'static str) -> Result<Permit, ClientError> {
        let guard = self.service(service);
        if let Some(remaining) = guard.paused_for(self.clock.now()) {
            return Err(ClientError::RateLimited {
                service,
                retry_after: Some(remaining),
            });
        }
        self.take_token(service, &guard).await?;
        let slot = self.take_slot(service, &guard).await?;
        let tokens_left = self.take_shared_turn(service).await?;
        match self.breaker.admit(service).await {
            Ok(_) => Ok(Permit::holding(slot).with_tokens_left(tokens_left)),
            Err(rejected) => {
                tracing::debug!(service, retry_after = ?rejected.retry_after, "circuit open; call not sent");
                Err(ClientError::CircuitOpen { service })
            }
        }
    }

    async fn record(&self, service: &'static str, outcome: CallOutcome) {
        let provider_up = match outcome {
            CallOutcome::Success | CallOutcome::Rejected => true,
            CallOutcome::Failure => false,
            // The provider answered, so it is up: a success for the breaker, which tracks outages
            // while the pause handles the rate. Recording nothing would leave a half-open probe
            // counted as in flight until its lease runs out; a failure would open the breaker on
            // a provider that is merely busy.
            CallOutcome::RateLimited(retry_after) => {
                let guard = self.service(service);
                let pause = retry_after.unwrap_or(guard.cooldown);
                guard.pause(self.clock.now(), pause);
                tracing::info!(
                    service,
                    pause_secs = pause.as_secs_f64(),
                    "{service} answered 429; pausing calls for {pause:?}"
                );
                true
            }
        };
        self.breaker.record(service, provider_up).await;
    }
}

#[cfg(test)]
mod tests;
