//! From a queued event to the [`Observation`] it makes of one membership.
//!
//! The ids come from the event's `subject` (normalised at ingest); the facts (status, validity,
//! period, payment outcome and amount) from one lenient parse of the verified body. Lenient means
//! a field of an unexpected type reads as absent, unknown fields are skipped without being
//! parsed, and a repeated key keeps its last value: a genuine event is never refused for its
//! shape, so it cannot become a poison message.
//!
//! Each provider reads its own events (behind [`crate::domain::ports::WebhookProviders::observe`]);
//! mapping:
//! - Whop `membership.*` (v1 and legacy v5): the membership object. `activated`/`went_valid` state
//!   access, `deactivated`/`went_invalid` its loss.
//! - Whop `payment.*`, `invoice.*`, `refund.*`, `dispute.*`: a payment outcome of the membership
//!   they name (and the membership status a v1 payment embeds).
//! - Stripe `customer.subscription.*`: the subscription (the membership), its customer the user.
//! - Stripe `invoice.paid`, `invoice.payment_succeeded`, `invoice.payment_failed`,
//!   `invoice.payment_action_required`, `invoice.marked_uncollectible`, `invoice.voided`: a payment
//!   outcome of the invoice's subscription (the invoice is the payment, so its retries and final
//!   payment are one record).
//! - Anything else, and events naming no membership: no state ([`Observed::Ignored`]).

use super::model::{MembershipFacts, Observation, PaymentFacts, Version};
use crate::domain::json::{self, Field, Slots};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::QueuedEvent;

/// What an event means for state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// An observation of membership `membership_id`.
    Membership {
        membership_id: String,
        provider: Source,
        observation: Box<Observation>,
    },
    /// Nothing to record; the reason is a stable code for logs and metrics.
    Ignored(&'static str),
}

/// The event's body is not a JSON object (ingest never enqueues one; a hand-made message might).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event body is not a JSON object: {0}")]
pub struct ObserveError(String);

/// The observation of `membership_id` that `event` makes with `facts`.
pub(crate) fn observed(
    event: &QueuedEvent,
    membership_id: String,
    (membership, payment): (MembershipFacts, Option<PaymentFacts>),
) -> Observed {
    Observed::Membership {
        membership_id,
        provider: event.provider,
        observation: Box::new(Observation {
            version: Version::new(event.occurred_at, event.event_id.clone()),
            kind: event.kind.clone(),
            membership,
            payment,
        }),
    }
}

/// The one lenient parse of the event's body into a provider's object.
pub(crate) fn parse<'a, T: Slots<'a> + Default>(event: &'a QueuedEvent) -> Result<T, ObserveError>
where
    json::Known<T::Key>: serde::Deserialize<'a>,
{
    json::parse(event.raw.get(), false).map_err(|e| ObserveError(e.to_string()))
}

/// Digits after the decimal point in `currency`'s major unit (ISO 4217, as Stripe lists them).
pub(crate) fn currency_decimals(currency: &str) -> u32 {
    const ZERO: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    const THREE: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];
    let currency = currency.to_ascii_lowercase();
    if ZERO.contains(&currency.as_str()) {
        0
    } else if THREE.contains(&currency.as_str()) {
        3
    } else {
        2
    }
}

/// A major-unit amount (`29`, `29.0`, `"29.00"`) with `decimals` digits.
pub(crate) fn major_amount(value: &Field<'_>, decimals: u32) -> Option<String> {
    let width = usize::try_from(decimals).unwrap_or(2);
    match value {
        Field::Int(value) if decimals == 0 => Some(value.to_string()),
        Field::Int(value) => Some(format!("{value}.{:0width$}", 0)),
        Field::Float(value) if value.is_finite() => Some(format!("{value:.width$}")),
        Field::Str(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|value| format!("{value:.width$}")),
        _ => None,
    }
}

/// A minor-unit integer amount (Stripe's `2900`) in major units (`"29.00"`).
pub(crate) fn minor_amount(value: &Field<'_>, decimals: u32) -> Option<String> {
    let minor = value.integer()?;
    if decimals == 0 {
        return Some(minor.to_string());
    }
    let scale = 10i64.pow(decimals);
    let width = usize::try_from(decimals).unwrap_or(2);
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    Some(format!("{sign}{}.{:0width$}", minor / scale, minor % scale))
}
