//! A company's figures for a period, computed from the folded states of its memberships: a pure
//! function, so each figure is exactly its definition below (also in the README, "Creator view").
//!
//! - **open signals**: memberships with the signal open now, by kind.
//! - **opened / closed**: signals that started / ended within `[since, until)`, by kind. A state
//!   keeps its open signals and its newest closed ones (`MAX_CLOSED_SIGNALS`), so a membership
//!   that opened and closed more signals than that in the period counts only those kept.
//! - **revenue at risk**: over the memberships with `at_risk` open, the amount of the failed
//!   payment (the latest payment outcome when it failed, else the most recently changed failed
//!   payment), summed per currency; memberships at risk without a stated amount are counted in
//!   `at_risk_without_amount`.
//! - **revenue recovered**: the succeeded payments that closed an `at_risk` or `churned` signal
//!   within the period (the payment whose latest event is the one that closed the signal), summed
//!   per currency; closings by a payment whose amount is not known are counted in
//!   `recovered_without_amount`. A closing event counts once even if it closed both kinds.
//! - **churn rate**: of the memberships active at `since` (their recorded history reaches back
//!   before it and no `churned` signal was open at that moment), those whose `churned` signal started in the
//!   period, divided by how many were active at `since`; `null` when none were.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rows::payment;
use crate::domain::emergency::{Provenance, StoredRead};
use crate::domain::state::model::{MembershipState, PaymentStatus, Signal, SignalKind};
use crate::domain::state::observe::currency_decimals;
use crate::domain::state::store::StoredMembership;

/// A membership's folded state and the earliest event time its item still holds (an observation's,
/// or the newest compacted one's: the history reaches back at least that far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMembership {
    pub state: MembershipState,
    pub first_seen: Option<DateTime<Utc>>,
}

impl From<&StoredMembership> for KnownMembership {
    fn from(stored: &StoredMembership) -> Self {
        let observed = stored.observations.iter().map(|o| o.version.at);
        let compacted = stored.base_version().map(|v| v.at);
        Self {
            state: stored.state(),
            first_seen: observed.chain(compacted).min(),
        }
    }
}

/// The half-open period `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since <= at && at < self.until
    }
}

/// Counts by signal kind (every kind present).
pub type ByKind = BTreeMap<SignalKind, usize>;

/// Amounts by lower-case currency code, in major units with the currency's decimals.
pub type ByCurrency = BTreeMap<String, String>;

/// The churn figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Churn {
    /// Memberships active at `since`.
    pub active_at_start: usize,
    /// Of those, the ones whose `churned` signal started in the period.
    pub churned: usize,
    /// `churned ÷ active_at_start`; `null` when no membership was active at `since`.
    pub rate: Option<f64>,
}

/// `GET /companies/{company_id}/summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub company_id: String,
    #[serde(flatten)]
    pub period: Period,
    /// Memberships the figures cover.
    pub memberships: usize,
    /// Whether the company has more memberships than one summary reads (the figures cover the
    /// first ones in membership-id order).
    pub truncated: bool,
    pub open_signals: ByKind,
    pub opened: ByKind,
    pub closed: ByKind,
    pub revenue_at_risk: ByCurrency,
    pub at_risk_without_amount: usize,
    pub revenue_recovered: ByCurrency,
    pub recovered_without_amount: usize,
    pub churn: Churn,
    /// The memberships' providers and newest fact, for the emergency marking (not shown).
    #[serde(skip)]
    pub provenance: Provenance,
}

impl StoredRead for Summary {
    fn provenance(&self) -> Provenance {
        self.provenance.clone()
    }
}

fn by_kind() -> ByKind {
    SignalKind::ALL.into_iter().map(|kind| (kind, 0)).collect()
}

/// Sums of amounts per currency, in minor units.
#[derive(Debug, Default)]
struct Totals {
    minor: BTreeMap<String, i128>,
    without_amount: usize,
}

impl Totals {
    /// Adds `amount` of `currency`; one without both (or that does not read) is counted apart.
    fn add(&mut self, amount: Option<&str>, currency: Option<&str>) {
        let parsed = amount.zip(currency).and_then(|(amount, currency)| {
            let currency = currency.to_ascii_lowercase();
            Some((minor_units(amount, currency_decimals(&currency))?, currency))
        });
        match parsed {
            Some((minor, currency)) => *self.minor.entry(currency).or_default() += minor,
            None => self.without_amount += 1,
        }
    }

    fn amounts(&self) -> ByCurrency {
        self.minor
            .iter()
            .map(|(currency, minor)| {
                (
                    currency.clone(),
                    major_units(*minor, currency_decimals(currency)),
                )
            })
            .collect()
    }
}

/// `"29.5"` with 2 decimals → 2950. More decimals than the currency has do not read.
pub(crate) fn minor_units(amount: &str, decimals: u32) -> Option<i128> {
    let amount = amount.trim();
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let width = usize::try_from(decimals).ok()?;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > width {
        return None;
    }
    let scale = 10i128.checked_pow(decimals)?;
    let fraction: i128 = format!("{fraction:0<width$}").parse().unwrap_or(0);
    let value = whole
        .parse::<i128>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(fraction)?;
    Some(if negative { -value } else { value })
}

/// 2950 with 2 decimals → `"29.50"`.
pub(crate) fn major_units(minor: i128, decimals: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{minor}");
    }
    let scale = 10u128.pow(decimals);
    let width = usize::try_from(decimals).unwrap_or(2);
    format!("{sign}{}.{:0width$}", minor / scale, minor % scale)
}

/// The earliest moment the membership is known to have existed.
fn earliest_known(known: &KnownMembership) -> Option<DateTime<Utc>> {
    let state = &known.state;
    let signals = state.signals.iter().map(|s| s.started_at);
    let payments = state.payments.iter().map(|p| p.updated_at);
    signals
        .chain(payments)
        .chain(state.renewal_period_start)
        .chain(state.updated_at())
        .chain(known.first_seen)
        .min()
}

fn churned_at(signals: &[Signal], at: DateTime<Utc>) -> bool {
    signals.iter().any(|s| {
        s.kind == SignalKind::Churned && s.started_at <= at && s.ended_at.is_none_or(|end| end > at)
    })
}

/// The failed payment an open `at_risk` signal is about: the latest outcome when it failed, else
/// the most recently changed failed payment.
pub(crate) fn failed_payment(state: &MembershipState) -> (Option<&str>, Option<&str>) {
    let latest = state
        .last_payment
        .as_ref()
        .filter(|last| last.status == PaymentStatus::Failed)
        .and_then(|last| payment(state, &last.payment_id));
    let failed = latest.or_else(|| {
        state
            .payments
            .iter()
            .find(|p| p.status == PaymentStatus::Failed)
    });
    (
        failed.and_then(|p| p.amount.as_deref()),
        failed.and_then(|p| p.currency.as_deref()),
    )
}

/// The figures of `states` (one company's memberships) for `period`; see the module docs.
pub fn summarize(company_id: &str, memberships: &[KnownMembership], period: Period) -> Summary {
    let mut open_signals = by_kind();
    let mut opened = by_kind();
    let mut closed = by_kind();
    let mut at_risk = Totals::default();
    let mut recovered = Totals::default();
    let mut active_at_start = 0;
    let mut churned = 0;
    let mut provenance = Provenance::default();
    for known in memberships {
        let state = &known.state;
        provenance = provenance.and(Provenance::of(state));
        let mut closings = BTreeSet::new();
        for signal in &state.signals {
            if signal.is_open() {
                *open_signals.entry(signal.kind).or_default() += 1;
            }
            if period.contains(signal.started_at) {
                *opened.entry(signal.kind).or_default() += 1;
            }
            if let (Some(ended_at), Some(ended_by)) = (signal.ended_at, &signal.ended_by)
                && period.contains(ended_at)
            {
                *closed.entry(signal.kind).or_default() += 1;
                if matches!(signal.kind, SignalKind::AtRisk | SignalKind::Churned) {
                    closings.insert((ended_at, ended_by.as_str()));
                }
            }
        }
        if state.open_signal(SignalKind::AtRisk).is_some() {
            let (amount, currency) = failed_payment(state);
            at_risk.add(amount, currency);
        }
        for (ended_at, _) in closings {
            if let Some(paid) = state
                .payments
                .iter()
                .find(|p| p.status == PaymentStatus::Succeeded && p.updated_at == ended_at)
            {
                recovered.add(paid.amount.as_deref(), paid.currency.as_deref());
            } else if state
                .last_payment
                .as_ref()
                .is_some_and(|last| last.status == PaymentStatus::Succeeded && last.at == ended_at)
            {
                // Collected, as a healthy status after the failure said, without an amount.
                recovered.without_amount += 1;
            }
        }
        let active = earliest_known(known).is_some_and(|first| first < period.since)
            && !churned_at(&state.signals, period.since);
        if active {
            active_at_start += 1;
            if state
                .signals
                .iter()
                .any(|s| s.kind == SignalKind::Churned && period.contains(s.started_at))
            {
                churned += 1;
            }
        }
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts of memberships are far below 2^52"
    )]
    let rate = (active_at_start > 0).then(|| churned as f64 / active_at_start as f64);
    Summary {
        company_id: company_id.to_owned(),
        period,
        memberships: memberships.len(),
        truncated: false,
        open_signals,
        opened,
        closed,
        revenue_at_risk: at_risk.amounts(),
        at_risk_without_amount: at_risk.without_amount,
        revenue_recovered: recovered.amounts(),
        recovered_without_amount: recovered.without_amount,
        churn: Churn {
            active_at_start,
            churned,
            rate,
        },
        provenance,
    }
}
