//! Circuit breaker for provider calls (`docs/architecture.md`, "A sync page").
//!
//! [`Breaker`] is the pure state machine: closed → open after `failure_threshold` consecutive
//! failures → half-open once `recovery_timeout` passed, admitting at most `half_open_probes`
//! probes at a time → closed after `success_threshold` successful probes (a failing probe
//! reopens). Every transition bumps `version`, which guards the conditional writes.
//!
//! [`SharedBreaker`] shares that state between Lambda instances through a [`BreakerStore`]
//! (DynamoDB item `BREAKER#<name>` in the state table), cached in-process for a few seconds.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::cache::TtlCache;
use crate::domain::ports::BreakerStore;
use crate::domain::ports::{Clock, DependencyError};

/// How one provider's breaker trips and recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// How long an open breaker rejects before it lets probes through.
    pub recovery_timeout: Duration,
    /// Probes allowed in flight at once while half-open.
    pub half_open_probes: u32,
    /// Successful probes that close a half-open breaker.
    pub success_threshold: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(30),
            half_open_probes: 1,
            success_threshold: 2,
        }
    }
}

impl BreakerSettings {
    fn recovery(&self) -> TimeDelta {
        // Saturates: a timeout past TimeDelta's range (~292 billion years) means "never".
        TimeDelta::from_std(self.recovery_timeout).unwrap_or(TimeDelta::MAX)
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: DateTime<Utc>,
    },
    HalfOpen {
        probes_in_flight: u32,
        successes: u32,
    },
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// What is stored per breaker, the version aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerRecord {
    pub state: BreakerState,
    /// When the breaker entered `state` (for half-open: when the last probe was admitted, which
    /// lets a probe that never reported be replaced after a recovery timeout).
    pub since: DateTime<Utc>,
}

/// A breaker's state with the version it was read or written at (0: never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    pub record: BreakerRecord,
    pub version: u64,
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `probe`: the call tests a dependency that was failing.
    Allowed {
        probe: bool,
    },
    Rejected {
        retry_after: Duration,
    },
}

fn until_then(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (then - now).to_std().unwrap_or(Duration::ZERO)
}

fn plus(now: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    now.checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Breaker {
    /// A closed breaker that was never stored.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self::at(
            BreakerState::Closed {
                consecutive_failures: 0,
            },
            now,
            0,
        )
    }

    fn at(state: BreakerState, since: DateTime<Utc>, version: u64) -> Self {
        Self {
            record: BreakerRecord { state, since },
            version,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.record.state
    }

    fn next(&self, state: BreakerState, since: DateTime<Utc>) -> Self {
        Self::at(state, since, self.version.saturating_add(1))
    }

    fn open(&self, settings: &BreakerSettings, now: DateTime<Utc>) -> Self {
        self.next(
            BreakerState::Open {
                until: plus(now, settings.recovery()),
            },
            now,
        )
    }

    /// Whether a call may go ahead now, and the new state when admitting it changes the state
    /// (`None`: unchanged, nothing to write).
    pub fn admit(
        &self,
        settings: &BreakerSettings,
        now: DateTime<Utc>,
    ) -> (Decision, Option<Self>) {
        let probe = Decision::Allowed { probe: true };
        match self.record.state {
            BreakerState::Closed { .. } => (Decision::Allowed { probe: false }, None),
            BreakerState::Open { until } if now < until => (
                Decision::Rejected {
                    retry_after: until_then(now, until),
                },
                None,
            ),
            BreakerState::Open { .. } => (
                probe,
                Some(self.next(
                    BreakerState::HalfOpen {
                        probes_in_flight: 1,
                        successes: 0,
                    },
                    now,
                )),
            ),
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } => {
                let stale_at = plus(self.record.since, settings.recovery());
                if probes_in_flight < settings.half_open_probes {
                    let next = BreakerState::HalfOpen {
                        probes_in_flight: probes_in_flight + 1,
                        successes,
                    };
                    (probe, Some(self.next(next, now)))
                } else if now >= stale_at {
                    // The probes in flight never reported (their instance died or timed out):
                    // count them lost, or the breaker would stay half-open for good.
                    let next = BreakerState::HalfOpen {
                        probes_in_flight: 1,
                        successes,
                    };
                    (probe, Some(self.next(next, now)))
                } else {
                    (
                        Decision::Rejected {
                            retry_after: until_then(now, stale_at),
                        },
                        None,
                    )
                }
            }
        }
    }

    /// A call succeeded; `None` when the state does not change.
    pub fn on_success(&self, settings: &BreakerSettings, now: DateTime<Utc>) -> Option<Self> {
        match self.record.state {
            BreakerState::Closed {
                consecutive_failures: 0,
            } => None,
            BreakerState::Closed { .. } => Some(self.next(
                BreakerState::Closed {
                    consecutive_failures: 0,
                },
                now,
            )),
            // A call admitted before the breaker opened (or admitted while the store was down)
            // says little about the dependency now: only probes decide.
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } => {
                let successes = successes.saturating_add(1);
                let state = if successes >= settings.success_threshold {
                    BreakerState::Closed {
                        consecutive_failures: 0,
                    }
                } else {
                    BreakerState::HalfOpen {
                        probes_in_flight: probes_in_flight.saturating_sub(1),
                        successes,
                    }
                };
                // Half-open keeps its `since`: it times the lease of the probes in flight.
                let since = match state {
                    BreakerState::HalfOpen { .. } => self.record.since,
                    _ => now,
                };
                Some(self.next(state, since))
            }
        }
    }

    /// A call failed; `None` when the state does not change.
    pub fn on_failure(&self, settings: &BreakerSettings, now: DateTime<Utc>) -> Option<Self> {
        match self.record.state {
            BreakerState::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures.saturating_add(1);
                Some(if failures >= settings.failure_threshold {
                    self.open(settings, now)
                } else {
                    self.next(
                        BreakerState::Closed {
                            consecutive_failures: failures,
                        },
                        self.record.since,
                    )
                })
            }
            // Already rejecting; a late failure must not push the recovery further out.
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen { .. } => Some(self.open(settings, now)),
        }
    }

    /// Closes the breaker by hand (operator action).
    pub fn reset(&self, now: DateTime<Utc>) -> Self {
        self.next(
            BreakerState::Closed {
                consecutive_failures: 0,
            },
            now,
        )
    }

    /// The breaker as `/health/external` and the CLI show it.
    pub fn view(&self) -> BreakerView {
        let (failures, open_until) = match self.record.state {
            BreakerState::Closed {
                consecutive_failures,
            } => (consecutive_failures, None),
            BreakerState::Open { until } => (0, Some(until)),
            BreakerState::HalfOpen { .. } => (0, None),
        };
        BreakerView {
            state: self.record.state.as_str(),
            since: self.record.since,
            failures,
            open_until,
        }
    }
}

/// A breaker for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BreakerView {
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    pub since: DateTime<Utc>,
    /// Consecutive failures while closed.
    pub failures: u32,
    pub open_until: Option<DateTime<Utc>>,
}

/// A call may go ahead; report its outcome with [`SharedBreaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// The call probes a dependency that was failing.
    pub probe: bool,
}

/// The breaker is open: the call was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit open for {name}; retry after {retry_after:?}")]
pub struct Rejected {
    pub name: String,
    pub retry_after: Duration,
}

/// Logs and counts a breaker's change of state (`breaker_transitions`, dimensions `breaker` and
/// `to`) and, when it opens, `breaker_opened` (dimension `breaker`: the runbook's "breaker open"
/// alarm watches it). Only the writer that made the change reports, so once per change.
fn report_transition(name: &str, before: &Breaker, after: &Breaker) {
    use crate::domain::metrics::{Metrics, catalogue as names};
    let to = after.state().as_str();
    if to == before.state().as_str() {
        return;
    }
    let opened = matches!(after.state(), BreakerState::Open { .. });
    if opened {
        tracing::warn!(
            breaker = name,
            "circuit opened: calls to {name} are refused until it recovers"
        );
        let mut metrics = Metrics::new("provider_client").dimension("breaker", name);
        metrics.count(names::BREAKER_OPENED, 1);
        metrics.emit();
    }
    let mut metrics = Metrics::new("provider_client")
        .dimension("breaker", name)
        .dimension("to", to);
    metrics.count(names::BREAKER_TRANSITIONS, 1);
    metrics.emit();
}

/// A lost race re-reads and retries this many times before settling for the local state.
const MAX_ATTEMPTS: usize = 4;

/// Breakers shared by every instance through `S`, cached in-process (a [`TtlCache`]). Build one
/// per instance (at cold start) and share it.
#[derive(Debug)]
pub struct SharedBreaker<S, C> {
    store: S,
    clock: C,
    defaults: BreakerSettings,
    per_name: HashMap<String, BreakerSettings>,
    cache: TtlCache<String, Breaker>,
}

enum Outcome<T> {
    Done(T),
    /// The store could not be reached: apply locally.
    Offline,
}

impl<S: BreakerStore, C: Clock> SharedBreaker<S, C> {
    /// Default settings for every provider and a 5 s cache.
    pub fn new(store: S, clock: C) -> Self {
        Self {
            store,
            clock,
            defaults: BreakerSettings::default(),
            per_name: HashMap::new(),
            cache: TtlCache::new(Duration::from_secs(5)),
        }
    }

    /// The settings of providers without their own.
    #[must_use]
    pub fn with_defaults(mut self, settings: BreakerSettings) -> Self {
        self.defaults = settings;
        self
    }

    /// The settings of one provider.
    #[must_use]
    pub fn with_settings(mut self, name: impl Into<String>, settings: BreakerSettings) -> Self {
        self.per_name.insert(name.into(), settings);
        self
    }

    /// How long a read of the shared state is trusted (0: read on every call).
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = TtlCache::new(ttl);
        self
    }

    pub fn settings(&self, name: &str) -> BreakerSettings {
        self.per_name.get(name).copied().unwrap_or(self.defaults)
    }

    fn remember(&self, name: &str, breaker: Breaker, read_at: DateTime<Utc>) {
        self.cache.insert(name.to_owned(), breaker, read_at);
    }

    /// The breaker from the cache if fresh, else from the store; `Err` only when the store
    /// cannot be read, with the best local knowledge.
    async fn current(&self, name: &str, fresh: bool) -> Result<Breaker, Breaker> {
        let now = self.clock.now();
        if !fresh && let Some(cached) = self.cache.fresh(name, now) {
            return Ok(cached);
        }
        match self.store.load(name).await {
            Ok(stored) => {
                let breaker = stored.map_or_else(
                    || Breaker::new(now),
                    |(record, version)| Breaker { record, version },
                );
                self.remember(name, breaker, now);
                Ok(breaker)
            }
            Err(error) => {
                tracing::warn!(breaker = name, %error, "breaker store unreadable; using local state");
                Err(self.cache.last(name).unwrap_or_else(|| Breaker::new(now)))
            }
        }
    }

    /// Runs `step` on the current breaker and writes its new state, re-reading after a lost
    /// race. `step` returns what to hand back and the new state (`None`: nothing to write);
    /// `contended` is handed back when every attempt lost a race.
    async fn transition<T>(
        &self,
        name: &str,
        contended: T,
        step: impl Fn(&Breaker, DateTime<Utc>) -> (T, Option<Breaker>),
    ) -> T {
        let mut fresh = false;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let current = match self.current(name, fresh).await {
                Ok(current) => current,
                Err(local) => return self.apply_locally(name, &local, now, &step),
            };
            let (out, next) = step(&current, now);
            let Some(next) = next else {
                return out;
            };
            match self.write(name, &next, current.version, now).await {
                Outcome::Done(true) | Outcome::Offline => {
                    report_transition(name, &current, &next);
                    return out;
                }
                Outcome::Done(false) => fresh = true,
            }
        }
        // Only transitions out of open or half-open contend this hard (closed admits without
        // writing), and there the caller's safe answer is to hold back.
        tracing::warn!(breaker = name, "breaker write kept losing races");
        contended
    }

    fn apply_locally<T>(
        &self,
        name: &str,
        current: &Breaker,
        now: DateTime<Utc>,
        step: &impl Fn(&Breaker, DateTime<Utc>) -> (T, Option<Breaker>),
    ) -> T {
        let (out, next) = step(current, now);
        if let Some(next) = next {
            report_transition(name, current, &next);
            self.remember(name, next, now);
        }
        out
    }

    async fn write(
        &self,
        name: &str,
        next: &Breaker,
        expected: u64,
        now: DateTime<Utc>,
    ) -> Outcome<bool> {
        match self.store.save(name, &next.record, expected).await {
            Ok(true) => {
                self.remember(name, *next, now);
                Outcome::Done(true)
            }
            Ok(false) => Outcome::Done(false),
            Err(error) => {
                tracing::warn!(breaker = name, %error, "breaker store unwritable; keeping local state");
                self.remember(name, *next, now);
                Outcome::Offline
            }
        }
    }

    /// Whether a call to `name` may go ahead. Never fails because of the store: unreadable, it
    /// decides on the in-process state (closed if none).
    pub async fn admit(&self, name: &str) -> Result<Permit, Rejected> {
        let settings = self.settings(name);
        // Losing every race means other instances are taking the probes right now.
        let contended = Decision::Rejected {
            retry_after: Duration::from_secs(1),
        };
        let decision = self
            .transition(name, contended, |breaker, now| {
                breaker.admit(&settings, now)
            })
            .await;
        match decision {
            Decision::Allowed { probe } => Ok(Permit { probe }),
            Decision::Rejected { retry_after } => Err(Rejected {
                name: name.to_owned(),
                retry_after,
            }),
        }
    }

    /// The outcome of a call admitted by [`admit`](Self::admit).
    pub async fn record(&self, name: &str, success: bool) {
        let settings = self.settings(name);
        self.transition(name, (), |breaker, now| {
            let next = if success {
                breaker.on_success(&settings, now)
            } else {
                breaker.on_failure(&settings, now)
            };
            ((), next)
        })
        .await;
    }

    /// Closes `name` by hand.
    pub async fn reset(&self, name: &str) {
        self.transition(name, (), |breaker, now| ((), Some(breaker.reset(now))))
            .await;
    }

    /// Every stored breaker by name. An unreadable store is an error, not an empty list: a
    /// report built on it would look healthy while a breaker may be open.
    pub async fn status(&self) -> Result<Vec<(String, BreakerView)>, DependencyError> {
        Ok(self
            .store
            .list()
            .await?
            .into_iter()
            .map(|(name, record, version)| (name, Breaker { record, version }.view()))
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod memory;
#[cfg(test)]
mod tests;
