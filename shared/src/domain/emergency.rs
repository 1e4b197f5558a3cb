//! Emergency mode (`docs/architecture.md`, "Emergency mode"; README "Emergency mode"): an
//! operator switches a provider's API calls off, for a bounded time, without a redeploy.
//!
//! The switch ([`Emergency`]) is one item per provider in the state table with an expiry, who
//! switched it and why; [`EmergencyStore`] is its port. Functions read it through
//! [`EmergencySwitch`], cached for a short TTL ([`DEFAULT_CACHE_TTL`], `EMERGENCY_CACHE_SECS`),
//! so switching on or off takes effect within one TTL. The expiry is honoured on every read:
//! DynamoDB's TTL deletes late (and the emulator never does).
//!
//! While a provider's switch is on, its calls are refused before a request leaves (the resilient
//! client's admission answers `emergency_mode`), sync pages wait without using up their run's
//! deferrals, reads of its memberships are marked stale with their age ([`Marked`]): a member's
//! memberships, and the creator's listings and summary ([`StoredRead`]), and `/health/external`
//! reports it degraded. Webhooks call no provider and are unaffected.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;

use crate::domain::cache::TtlCache;
use crate::domain::ports::{Clock, DependencyError, EmergencyStore};
use crate::domain::state::model::MembershipState;
use crate::domain::state::{MembershipView, UserMemberships};
use crate::domain::webhooks::Source;

/// How long a read of a switch is trusted when `EMERGENCY_CACHE_SECS` is not set.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// The longest a switch stays on; switching it on again extends it.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The stable code of everything emergency mode refuses or marks.
pub const REASON: &str = "emergency_mode";

/// One provider's switch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Emergency {
    /// The provider (its API's service name: `whop`, `stripe`, …).
    pub provider: String,
    /// When it was switched on.
    pub since: DateTime<Utc>,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
    /// Who switched it on (the operator's name, as the CLI was told).
    pub by: String,
    /// Why.
    pub reason: String,
}

impl Emergency {
    /// Whether it is still on at `now`.
    pub fn is_on(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }

    /// How long it stays on after `now` (zero once expired).
    pub fn remaining(&self, now: DateTime<Utc>) -> Duration {
        (self.expires_at - now).to_std().unwrap_or(Duration::ZERO)
    }

    /// One line for logs and the CLI: provider, since, until, by and why.
    pub fn line(&self, now: DateTime<Utc>) -> String {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let state = if self.is_on(now) { "on" } else { "expired" };
        format!(
            "{}  {state}  since={}  until={}  by={}  reason={:?}",
            self.provider,
            at(self.since),
            at(self.expires_at),
            self.by,
            self.reason
        )
    }
}

/// Why a switch could not be set, cleared or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmergencyError {
    #[error("the duration must be from 1 s to 24 h (e.g. 30m, 1h, 2h30m), not `{0}`")]
    InvalidDuration(String),
    #[error("say why (`--reason`): the next operator reads it")]
    MissingReason,
    #[error("say who switches it (`--by`, or USER in the environment)")]
    MissingOperator,
    #[error("the emergency switches cannot be stored or read: {0}")]
    Store(#[from] DependencyError),
}

/// A duration as the CLI takes it: one or more `<number><unit>` with units `s`, `m`, `h`, `d`
/// (`90s`, `30m`, `1h`, `2h30m`); from 1 s to [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, EmergencyError> {
    let invalid = || EmergencyError::InvalidDuration(text.to_owned());
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let number: u64 = digits.parse().map_err(|_| invalid())?;
        total = number
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    let duration = Duration::from_secs(total);
    if !digits.is_empty() || duration.is_zero() || duration > MAX_DURATION {
        return Err(invalid());
    }
    Ok(duration)
}

/// Switches `provider`'s emergency mode on at `now` for `duration`, replacing any switch stored
/// (so switching on again extends it).
pub async fn switch_on<S: EmergencyStore>(
    store: &S,
    provider: &str,
    duration: Duration,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Emergency, EmergencyError> {
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(EmergencyError::InvalidDuration(format!("{duration:?}")));
    }
    if reason.trim().is_empty() {
        return Err(EmergencyError::MissingReason);
    }
    if by.trim().is_empty() {
        return Err(EmergencyError::MissingOperator);
    }
    let emergency = Emergency {
        provider: provider.to_owned(),
        since: now,
        expires_at: now + TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX),
        by: by.trim().to_owned(),
        reason: reason.trim().to_owned(),
    };
    store.save(&emergency).await?;
    Ok(emergency)
}

/// Switches `provider`'s emergency mode off; the switch that was stored, if any.
pub async fn switch_off<S: EmergencyStore>(
    store: &S,
    provider: &str,
) -> Result<Option<Emergency>, EmergencyError> {
    Ok(store.remove(provider).await?)
}

/// The switches as the functions read them, each cached for a TTL. Build one per process, at
/// cold start, and share it. Never fails because of the store: unreadable, it goes by the last
/// switch it read (off if none) and logs why.
#[derive(Debug)]
pub struct EmergencySwitch<S, C> {
    store: S,
    clock: C,
    cache: TtlCache<String, Option<Emergency>>,
}

impl<S: EmergencyStore, C: Clock> EmergencySwitch<S, C> {
    /// Reads of `store` trusted for `ttl` (zero: read on every call).
    pub fn new(store: S, clock: C, ttl: Duration) -> Self {
        Self {
            store,
            clock,
            cache: TtlCache::new(ttl),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `provider`'s switch if it is on now.
    pub async fn active(&self, provider: &str) -> Option<Emergency> {
        let now = self.clock.now();
        let stored = match self.cache.fresh(provider, now) {
            Some(stored) => stored,
            None => match self.store.load(provider).await {
                Ok(stored) => {
                    self.cache.insert(provider.to_owned(), stored.clone(), now);
                    stored
                }
                Err(error) => {
                    tracing::warn!(provider, %error, "the emergency switch cannot be read; going by the last one read");
                    self.cache.last(provider).flatten()
                }
            },
        };
        stored.filter(|emergency| emergency.is_on(now))
    }

    /// Marks a read served from stored state while the switch of a provider it holds facts of
    /// is on.
    pub async fn mark<T: StoredRead>(&self, value: T) -> Marked<T> {
        let mut on = false;
        for provider in value.provenance().providers {
            if self.active(provider.as_str()).await.is_some() {
                on = true;
                break;
            }
        }
        Marked::of(value, on, self.clock.now())
    }

    /// Marks each of the rows of a page ([`EmergencySwitch::mark`]); whether any is stale (the
    /// page's own `stale`).
    pub async fn mark_rows<T: StoredRead>(&self, rows: Vec<T>) -> (Vec<Marked<T>>, bool) {
        let mut marked = Vec::with_capacity(rows.len());
        for row in rows {
            marked.push(self.mark(row).await);
        }
        let stale = marked.iter().any(|row| row.stale);
        (marked, stale)
    }

    /// Marks a page of a user's memberships: each membership whose provider's switch is on, and
    /// the page when any is.
    pub async fn mark_page(&self, page: UserMemberships) -> MarkedPage {
        let (memberships, stale) = self.mark_rows(page.memberships).await;
        MarkedPage {
            stale,
            user_id: page.user_id,
            memberships,
            next: page.next,
        }
    }
}

/// What a read served from stored state rests on: the providers whose facts it holds and the
/// provider time of the newest of them (of the last event or sync write applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub providers: BTreeSet<Source>,
    pub as_of: Option<DateTime<Utc>>,
}

impl Provenance {
    /// A membership's state: its provider, and its version's time.
    pub fn of(state: &MembershipState) -> Self {
        Self {
            providers: BTreeSet::from([state.provider]),
            as_of: state.version.as_ref().map(|version| version.at),
        }
    }

    /// Both: the providers of either, the newer time.
    #[must_use]
    pub fn and(mut self, other: Self) -> Self {
        self.providers.extend(other.providers);
        self.as_of = self.as_of.max(other.as_of);
        self
    }
}

/// A read served from stored state, which [`EmergencySwitch::mark`] can mark stale.
pub trait StoredRead {
    fn provenance(&self) -> Provenance;
}

impl StoredRead for MembershipView {
    fn provenance(&self) -> Provenance {
        Provenance::of(&self.state)
    }
}

/// A read served from stored state. While its provider's switch is on it says so: `stale` is
/// `true`, `stale_reason` is `emergency_mode` and `age_secs` is how long ago the newest fact it
/// holds happened (the provider time of the last event or sync write applied). Otherwise the
/// value alone, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marked<T> {
    #[serde(flatten)]
    pub value: T,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
}

impl<T: StoredRead> Marked<T> {
    /// `value`, marked stale when `on`, its age measured at `now`.
    pub fn of(value: T, on: bool, now: DateTime<Utc>) -> Self {
        let age_secs = value
            .provenance()
            .as_of
            .map(|at| (now - at).num_seconds().max(0).unsigned_abs())
            .filter(|_| on);
        Self {
            value,
            stale: on,
            stale_reason: on.then_some(REASON),
            age_secs,
        }
    }
}

/// [`UserMemberships`] with each membership [`Marked`], and `stale` when any of them is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkedPage {
    pub user_id: String,
    pub memberships: Vec<Marked<MembershipView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

#[cfg(test)]
mod tests;
