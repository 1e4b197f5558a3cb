//! The daily digest (`docs/architecture.md`, "Daily digest"): a company that set
//! `digest: {hour, time_zone}` gets, at that local hour each day, one e-mail per recipient
//! listing its memberships with an open signal (of the signals it chose).
//!
//! - [`next_digest_at`]: the UTC instant of the next digest, the time zone's rules (DST) applied.
//!   The settings item keeps it, so the hourly run lists the due companies with a Query.
//! - [`enqueue_due`]: the hourly run: one [`DigestJob`] per due company on the `notifications`
//!   queue. A company due earlier (a missed run) is still due.
//! - [`DigestListing`]: what one digest shows, the largest amounts first, at most
//!   [`DIGEST_ROWS`] rows, with the count per signal.
//! - [`digest_key`]: one message per company, local date, recipient and template, whatever the
//!   jobs' redeliveries or duplicates.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::{Job, Template, key_of};
use crate::domain::companies::rows::payment;
use crate::domain::companies::settings::Digest;
use crate::domain::companies::summary::{failed_payment, major_units, minor_units};
use crate::domain::ports::{DependencyError, DigestSchedule, NotificationQueue};
use crate::domain::state::model::{MembershipState, SignalKind};
use crate::domain::state::observe::currency_decimals;
use crate::domain::state::store::{Page, StoredMembership};

/// The most rows one digest lists.
pub const DIGEST_ROWS: usize = 50;
/// The memberships read per signal kind (one Query each): the rows are the largest of these.
pub const DIGEST_READ: usize = 100;
/// The most companies one hourly run enqueues; the others are still due at the next run.
pub const MAX_DUE_PER_RUN: usize = 10_000;

/// The job the hourly run enqueues: `company_id`'s digest, due at `due_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestJob {
    pub company_id: String,
    pub due_at: DateTime<Utc>,
}

/// Whether `name` is a time zone of the IANA database (the copy bundled in the binary, so every
/// host agrees; `UTC` included).
pub fn is_time_zone(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

/// The digest's time zone (validated when the settings were saved).
fn zone(digest: &Digest) -> Option<TimeZone> {
    TimeZone::get(&digest.time_zone).ok()
}

/// The instant the local time `naive` names in `zone`: the earlier one when the clocks went back
/// over it (it happens twice), and when they jumped over it (it never happens) the time read with
/// the offset before the jump, which is the moment the jump ends (jiff's "compatible" choice).
fn local_instant(zone: &TimeZone, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    let civil = jiff::civil::DateTime::new(
        i16::try_from(naive.year()).ok()?,
        i8::try_from(naive.month()).ok()?,
        i8::try_from(naive.day()).ok()?,
        i8::try_from(naive.hour()).ok()?,
        i8::try_from(naive.minute()).ok()?,
        i8::try_from(naive.second()).ok()?,
        0,
    )
    .ok()?;
    let at = zone.to_ambiguous_timestamp(civil).compatible().ok()?;
    DateTime::from_timestamp(at.as_second(), 0)
}

/// The date it is in `zone` at `at`.
fn local_date_at(zone: &TimeZone, at: DateTime<Utc>) -> Option<NaiveDate> {
    let instant = jiff::Timestamp::from_second(at.timestamp()).ok()?;
    let date = zone.to_datetime(instant).date();
    NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        u32::try_from(date.month()).ok()?,
        u32::try_from(date.day()).ok()?,
    )
}

/// The first instant strictly after `after` when it is `hour`:00 in the digest's time zone
/// (see `local_instant` for the days the clocks change). `None` for an unknown zone.
pub fn next_digest_at(digest: &Digest, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone = zone(digest)?;
    let today = local_date_at(&zone, after)?;
    (-1..=3)
        .filter_map(|days| today.checked_add_signed(Duration::days(days)))
        .filter_map(|date| local_instant(&zone, date.and_hms_opt(u32::from(digest.hour), 0, 0)?))
        .find(|at| *at > after)
}

/// The local date of the digest due at `due_at` (part of its messages' keys).
pub fn local_date(digest: &Digest, due_at: DateTime<Utc>) -> Option<NaiveDate> {
    local_date_at(&zone(digest)?, due_at)
}

/// The key of one digest message: company, local date, recipient, template.
pub fn digest_key(
    company_id: &str,
    date: NaiveDate,
    recipient: &str,
    template: Template,
) -> String {
    key_of(&[
        "digest",
        company_id,
        &date.to_string(),
        &recipient.to_ascii_lowercase(),
        template.name(),
    ])
}

/// What the hourly run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueReport {
    /// Jobs enqueued, one per due company.
    pub enqueued: usize,
}

/// The hourly run: one [`DigestJob`] per company whose digest is due at `now`. A failed enqueue
/// stops the run with the error; the companies not enqueued are still due at the next run.
pub async fn enqueue_due(
    schedule: &impl DigestSchedule,
    queue: &impl NotificationQueue,
    now: DateTime<Utc>,
) -> Result<DueReport, DependencyError> {
    let due = schedule.due_digests(now, MAX_DUE_PER_RUN).await?;
    let mut report = DueReport::default();
    for digest in due {
        let job = Job::Digest(DigestJob {
            company_id: digest.company_id,
            due_at: digest.due_at,
        });
        queue.enqueue(&job).await?;
        report.enqueued += 1;
    }
    Ok(report)
}

/// One membership as the digest lists it (personal data: no `Debug` of the name).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestRow {
    pub membership_id: String,
    /// The member's name, or username when the provider gave no name.
    pub member: Option<String>,
    pub signal: SignalKind,
    /// When the signal started, as `2026-03-01 12:00 UTC`.
    pub since: String,
    /// The amount at stake, as `29.00 USD`: the failed payment of an `at_risk` membership, the
    /// last payment of the others.
    pub value: Option<String>,
    started_at: DateTime<Utc>,
    minor: Option<i128>,
}

impl std::fmt::Debug for DigestRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestRow")
            .field("membership_id", &self.membership_id)
            .field("signal", &self.signal)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

/// The amount and currency at stake in `state`'s open `signal`.
fn at_stake(state: &MembershipState, signal: SignalKind) -> (Option<&str>, Option<&str>) {
    if signal == SignalKind::AtRisk {
        return failed_payment(state);
    }
    let last = state
        .last_payment
        .as_ref()
        .and_then(|last| payment(state, &last.payment_id));
    (
        last.and_then(|p| p.amount.as_deref()),
        last.and_then(|p| p.currency.as_deref()),
    )
}

impl DigestRow {
    /// The row of `state`'s open `signal`; `None` when it is not open.
    pub fn new(state: &MembershipState, signal: SignalKind) -> Option<Self> {
        let open = state.open_signal(signal)?;
        let (amount, currency) = at_stake(state, signal);
        let money = amount.zip(currency).and_then(|(amount, currency)| {
            let currency = currency.to_ascii_lowercase();
            let decimals = currency_decimals(&currency);
            let minor = minor_units(amount, decimals)?;
            Some((minor, decimals, currency))
        });
        Some(Self {
            membership_id: state.id.clone(),
            member: state
                .contact
                .name
                .clone()
                .or_else(|| state.contact.username.clone()),
            signal,
            since: open.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            value: money.as_ref().map(|(minor, decimals, currency)| {
                format!(
                    "{} {}",
                    major_units(*minor, *decimals),
                    currency.to_ascii_uppercase()
                )
            }),
            started_at: open.started_at,
            minor: money.map(|(minor, _, _)| minor),
        })
    }
}

/// How many memberships have a signal open: `count`, or at least `count` when `more`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalCount {
    pub signal: SignalKind,
    pub count: usize,
    pub more: bool,
}

/// What one digest shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestListing {
    /// At most [`DIGEST_ROWS`], the largest amounts first (rows without one last), then the
    /// newest signals. Amounts of different currencies are compared as minor units.
    pub rows: Vec<DigestRow>,
    /// Per listed signal, how many are open.
    pub counts: Vec<SignalCount>,
}

impl DigestListing {
    /// The listing of the first page ([`DIGEST_READ`]) of each signal's memberships.
    pub fn of(pages: Vec<(SignalKind, Page<StoredMembership>)>) -> Self {
        let mut listing = Self::default();
        for (signal, page) in pages {
            listing.counts.push(SignalCount {
                signal,
                count: page.items.len(),
                more: page.next.is_some(),
            });
            listing.rows.extend(
                page.items
                    .iter()
                    .filter_map(|stored| DigestRow::new(&stored.state(), signal)),
            );
        }
        listing.rows.sort_by(|a, b| {
            b.minor
                .cmp(&a.minor)
                .then(b.started_at.cmp(&a.started_at))
                .then(a.membership_id.cmp(&b.membership_id))
        });
        listing.rows.truncate(DIGEST_ROWS);
        listing
    }

    /// Whether there is nothing to tell (then no digest is sent).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests;
