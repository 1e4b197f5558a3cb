//! Normalisation of each sender's envelope into one [`Event`]; see [`super`].
//!
//! [`normalise`] runs after signature verification, on the verified bytes. It makes exactly one
//! typed JSON parse into a private, borrowed envelope per sender that reads only the fields it needs
//! and tolerates every other shape (missing fields, `null`s, ids as strings or as expanded objects).
//! The only allocations are the owned strings of the final [`Event`].
//!
//! [`Event::to_message`] renders the queue message; [`QueuedEvent`] is what a consumer reads back.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Scheme, Source, Verified};

/// One provider event, normalised. Borrows the verified body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// The sender, from the route.
    pub source: Source,
    /// The sender's idempotency key for this event (see [`normalise`] for where it comes from).
    pub event_id: String,
    /// What happened.
    pub kind: EventKind,
    /// The ids the event is about.
    pub subject: Subject,
    /// When it happened, by the sender's clock.
    pub occurred_at: DateTime<Utc>,
    /// When we received it.
    pub received_at: DateTime<Utc>,
    /// The verified body, verbatim (valid UTF-8 JSON).
    pub raw: &'a str,
}

/// Ids the event is about (all optional; serialised without the missing ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subject {
    /// Whop membership (`mem_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_id: Option<String>,
    /// Whop user (`user_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Whop company (`biz_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// Whop product (`prod_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Whop plan (`plan_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// Whop payment (`pay_…`) or Stripe payment intent (`pi_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Stripe customer (`cus_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Stripe subscription (`sub_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// Whop or Stripe invoice (`in_…` at Stripe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
}

impl Subject {
    /// The fields by their serialised names, in declaration order.
    fn fields(&self) -> [(&'static str, Option<&str>); 9] {
        [
            ("membership_id", self.membership_id.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("company_id", self.company_id.as_deref()),
            ("product_id", self.product_id.as_deref()),
            ("plan_id", self.plan_id.as_deref()),
            ("payment_id", self.payment_id.as_deref()),
            ("customer_id", self.customer_id.as_deref()),
            ("subscription_id", self.subscription_id.as_deref()),
            ("invoice_id", self.invoice_id.as_deref()),
        ]
    }
}

/// Declares [`EventKind`]: one variant per known `(source, name)` pair, and the lookups between them.
macro_rules! event_kinds {
    ($($source:ident { $($(#[$doc:meta])* $variant:ident => $name:literal,)* })*) => {
        /// Known event types; anything else is [`EventKind::Other`]: accepted and counted, never
        /// rejected.
        ///
        /// Kinds are per sender: `invoice.paid` from Whop is [`EventKind::WhopInvoicePaid`], from
        /// Stripe [`EventKind::StripeInvoicePaid`]. Variants are the provider's dotted name in
        /// CamelCase; both senders have an `invoice.*` family, so every invoice variant carries its
        /// sender as a prefix. [`Source::Standard`] senders have no fixed vocabulary: their kinds
        /// are always `Other`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($($(#[$doc])* #[doc = concat!("`", $name, "` (", stringify!($source), ").")] $variant,)*)*
            /// Any other name, kept as sent.
            Other(String),
        }

        impl EventKind {
            /// The known kind `source` calls `name` (exact, canonical spelling only).
            fn lookup(source: Source, name: &str) -> Option<Self> {
                match source {
                    $(Source::$source => match name {
                        $($name => Some(Self::$variant),)*
                        _ => None,
                    },)*
                    Source::Standard => None,
                }
            }

            /// The provider's own name for it (for `Other`, the original string).
            pub fn as_str(&self) -> &str {
                match self {
                    $($(Self::$variant => $name,)*)*
                    Self::Other(name) => name,
                }
            }

            /// The sender whose vocabulary defines this kind (`None` for `Other`).
            pub fn source(&self) -> Option<Source> {
                match self {
                    $($(Self::$variant => Some(Source::$source),)*)*
                    Self::Other(_) => None,
                }
            }
        }
    };
}

event_kinds! {
    Whop {
        /// A membership became valid (API v1).
        MembershipActivated => "membership.activated",
        /// A membership became invalid: failed payment, cancelled, left (API v1).
        MembershipDeactivated => "membership.deactivated",
        /// `cancel_at_period_end` was set or cleared (API v1 and legacy).
        MembershipCancelAtPeriodEndChanged => "membership.cancel_at_period_end_changed",
        /// A trial ends soon (API v1).
        MembershipTrialEndingSoon => "membership.trial_ending_soon",
        /// Legacy (v5) predecessor of `membership.activated`.
        MembershipWentValid => "membership.went_valid",
        /// Legacy (v5) predecessor of `membership.deactivated`.
        MembershipWentInvalid => "membership.went_invalid",
        /// Legacy (v5): the membership's metadata changed.
        MembershipMetadataUpdated => "membership.metadata_updated",
        /// Legacy (v5): an experience was claimed.
        MembershipExperienceClaimed => "membership.experience_claimed",
        /// A payment was created (API v1).
        PaymentCreated => "payment.created",
        /// A payment succeeded.
        PaymentSucceeded => "payment.succeeded",
        /// A payment failed.
        PaymentFailed => "payment.failed",
        /// A payment is pending.
        PaymentPending => "payment.pending",
        /// A refund was created.
        RefundCreated => "refund.created",
        /// A refund changed.
        RefundUpdated => "refund.updated",
        /// A dispute was opened.
        DisputeCreated => "dispute.created",
        /// A dispute changed.
        DisputeUpdated => "dispute.updated",
        /// A dispute alert was raised.
        DisputeAlertCreated => "dispute_alert.created",
        /// An invoice was created (API v1).
        WhopInvoiceCreated => "invoice.created",
        /// An invoice was paid (API v1).
        WhopInvoicePaid => "invoice.paid",
        /// An invoice is past due (API v1).
        WhopInvoicePastDue => "invoice.past_due",
        /// An invoice was voided (API v1).
        WhopInvoiceVoided => "invoice.voided",
        /// An invoice was marked uncollectible (API v1).
        WhopInvoiceMarkedUncollectible => "invoice.marked_uncollectible",
    }
    Stripe {
        /// A subscription was created.
        CustomerSubscriptionCreated => "customer.subscription.created",
        /// A subscription changed (status, plan, `cancel_at_period_end`, …).
        CustomerSubscriptionUpdated => "customer.subscription.updated",
        /// A subscription ended.
        CustomerSubscriptionDeleted => "customer.subscription.deleted",
        /// A subscription was paused.
        CustomerSubscriptionPaused => "customer.subscription.paused",
        /// A subscription was resumed.
        CustomerSubscriptionResumed => "customer.subscription.resumed",
        /// A trial ends in three days.
        CustomerSubscriptionTrialWillEnd => "customer.subscription.trial_will_end",
        /// A pending update was applied.
        CustomerSubscriptionPendingUpdateApplied => "customer.subscription.pending_update_applied",
        /// A pending update expired.
        CustomerSubscriptionPendingUpdateExpired => "customer.subscription.pending_update_expired",
        /// An invoice was created.
        StripeInvoiceCreated => "invoice.created",
        /// An invoice was finalized.
        StripeInvoiceFinalized => "invoice.finalized",
        /// An invoice was paid.
        StripeInvoicePaid => "invoice.paid",
        /// An invoice payment failed.
        StripeInvoicePaymentFailed => "invoice.payment_failed",
        /// An invoice payment succeeded.
        StripeInvoicePaymentSucceeded => "invoice.payment_succeeded",
        /// An invoice payment needs customer action.
        StripeInvoicePaymentActionRequired => "invoice.payment_action_required",
        /// An invoice is coming up.
        StripeInvoiceUpcoming => "invoice.upcoming",
        /// An invoice was marked uncollectible.
        StripeInvoiceMarkedUncollectible => "invoice.marked_uncollectible",
        /// An invoice was voided.
        StripeInvoiceVoided => "invoice.voided",
        /// A payment intent was created.
        PaymentIntentCreated => "payment_intent.created",
        /// A payment intent succeeded.
        PaymentIntentSucceeded => "payment_intent.succeeded",
        /// A payment intent failed.
        PaymentIntentPaymentFailed => "payment_intent.payment_failed",
        /// A payment intent is processing.
        PaymentIntentProcessing => "payment_intent.processing",
        /// A payment intent was cancelled.
        PaymentIntentCanceled => "payment_intent.canceled",
        /// A payment intent needs customer action.
        PaymentIntentRequiresAction => "payment_intent.requires_action",
        /// A charge was refunded (fully or partly).
        ChargeRefunded => "charge.refunded",
        /// A charge was disputed.
        ChargeDisputeCreated => "charge.dispute.created",
        /// A dispute was closed.
        ChargeDisputeClosed => "charge.dispute.closed",
    }
}

impl EventKind {
    /// The kind `source` means by `name`. Whop's app-webhook spellings (`app_membership.went_valid`,
    /// `app.membership_went_valid`) map to the same variant as the plain name.
    pub fn parse(source: Source, name: &str) -> Self {
        if let Some(kind) = Self::lookup(source, name) {
            return kind;
        }
        if source == Source::Whop {
            if let Some(rest) = name.strip_prefix("app_")
                && let Some(kind) = Self::lookup(source, rest)
            {
                return kind;
            }
            // `app.membership_went_valid`: the first `_` stands for the `.` of the plain name.
            if let Some(rest) = name.strip_prefix("app.")
                && let Some(kind) = Self::lookup(source, &rest.replacen('_', ".", 1))
            {
                return kind;
            }
        }
        Self::Other(name.to_owned())
    }

    /// Whether this is one of the named kinds (not [`EventKind::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a verified body could not be normalised. Each maps to a 400 with [`Self::reason_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormaliseError {
    /// The body is not UTF-8.
    #[error("body is not UTF-8")]
    NotUtf8,
    /// The body is not a JSON object; the parser's message.
    #[error("body is not a JSON object: {0}")]
    InvalidJson(String),
    /// Neither the headers nor the body carry an event id.
    #[error("no event id in headers or body")]
    MissingEventId,
    /// The body carries no event type.
    #[error("no event type in body")]
    MissingEventType,
    /// The named timestamp field (or header) is not a time.
    #[error("`{0}` is not a valid timestamp")]
    InvalidTimestamp(&'static str),
    /// An envelope this sender may send but we do not take (or a scheme the source never uses).
    #[error("unsupported envelope: {0}")]
    UnsupportedEnvelope(&'static str),
}

impl NormaliseError {
    /// Stable snake_case code for responses, logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::InvalidJson(_) => "invalid_json",
            Self::MissingEventId => "missing_event_id",
            Self::MissingEventType => "missing_event_type",
            Self::InvalidTimestamp(_) => "invalid_timestamp",
            Self::UnsupportedEnvelope(_) => "unsupported_envelope",
        }
    }
}

/// Normalises a verified body from `source` into an [`Event`].
///
/// - Whop, Standard Webhooks scheme (API v1): id = `webhook-id` header, else body `id`; kind =
///   `type` (or a legacy `action`); time = `timestamp`, else `created_at`, else the header time.
/// - Whop, legacy schemes (v5/v2): kind = `action`; time = the header time; id = `whop_` + 32 hex
///   of SHA-256(body), so a redelivery keeps its id even when re-signed.
/// - Stripe: `id`, `type`, `created` (else the header time); thin (`v2.core.event`) events are
///   rejected.
/// - Standard: id = `webhook-id` header; kind = `type`; time = a parseable `timestamp`, else the
///   header time.
pub fn normalise<'a>(
    source: Source,
    verified: &Verified<'_>,
    body: &'a [u8],
    received_at: DateTime<Utc>,
) -> Result<Event<'a>, NormaliseError> {
    let raw = std::str::from_utf8(body).map_err(|_| NormaliseError::NotUtf8)?;
    let parts = match (source, verified.scheme) {
        (Source::Whop, Scheme::StandardWebhooks | Scheme::WhopLegacy | Scheme::WhopBare) => {
            whop(verified, raw)?
        }
        (Source::Stripe, Scheme::Stripe) => stripe(verified, raw)?,
        (Source::Standard, Scheme::StandardWebhooks) => standard(verified, raw)?,
        _ => return Err(NormaliseError::UnsupportedEnvelope("scheme_mismatch")),
    };
    Ok(Event {
        source,
        event_id: parts.event_id,
        kind: EventKind::parse(source, &parts.kind),
        subject: parts.subject,
        occurred_at: parts.occurred_at,
        received_at,
        raw,
    })
}

/// What each sender's reader extracts; [`normalise`] assembles the [`Event`].
struct Parts<'a> {
    event_id: String,
    kind: Cow<'a, str>,
    subject: Subject,
    occurred_at: DateTime<Utc>,
}

/// The one parse: `raw` must be a single JSON object; its known keys fill `T` in place.
fn parse<'a, T: Slots<'a> + Default>(raw: &'a str) -> Result<T, NormaliseError>
where
    Known<T::Key>: Deserialize<'a>,
{
    let mut envelope = T::default();
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    let seed = InPlace {
        slots: &mut envelope,
        strict: true,
    };
    DeserializeSeed::deserialize(seed, &mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|error| NormaliseError::InvalidJson(error.to_string()))?;
    Ok(envelope)
}

fn whop<'a>(verified: &Verified<'_>, raw: &'a str) -> Result<Parts<'a>, NormaliseError> {
    let envelope: WhopEnvelope<'a> = parse(raw)?;
    let standard = verified.scheme == Scheme::StandardWebhooks;
    let event_id = if standard {
        header_id(verified)
            .or_else(|| envelope.id.into_str().map(Cow::into_owned))
            .ok_or(NormaliseError::MissingEventId)?
    } else {
        legacy_event_id(raw)
    };
    // The v1 envelope names it `type`, the legacy one `action`; take either from either scheme.
    let (first, second) = if standard {
        (envelope.kind, envelope.action)
    } else {
        (envelope.action, envelope.kind)
    };
    let kind = first
        .into_str()
        .or_else(|| second.into_str())
        .ok_or(NormaliseError::MissingEventType)?;
    let occurred_at = if standard {
        match envelope.timestamp.time("timestamp")? {
            Some(time) => time,
            None => match envelope.created_at.time("created_at")? {
                Some(time) => time,
                None => header_time(verified)?,
            },
        }
    } else {
        header_time(verified)?
    };

    let data = envelope.data;
    let mut subject = Subject::default();
    match whop_resource(&kind) {
        Resource::Membership => subject.membership_id = data.id.into_id(),
        Resource::Payment => subject.payment_id = data.id.into_id(),
        Resource::Invoice => subject.invoice_id = data.id.into_id(),
        _ => {}
    }
    let (membership, membership_id) = (data.membership, data.membership_id);
    let (payment, payment_id) = (data.payment, data.payment_id);
    subject.membership_id = subject
        .membership_id
        .or_else(|| membership.into_id())
        .or_else(|| membership_id.into_id());
    subject.payment_id = subject
        .payment_id
        .or_else(|| payment.into_id())
        .or_else(|| payment_id.into_id());
    subject.user_id = data.user.into_id().or_else(|| data.user_id.into_id());
    subject.product_id = data.product.into_id().or_else(|| data.product_id.into_id());
    subject.plan_id = data.plan.into_id().or_else(|| data.plan_id.into_id());
    subject.company_id = data
        .company
        .into_id()
        .or_else(|| data.company_id.into_id())
        .or_else(|| envelope.company_id.into_id())
        .or_else(|| envelope.company.into_id());
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

fn stripe<'a>(verified: &Verified<'_>, raw: &'a str) -> Result<Parts<'a>, NormaliseError> {
    let envelope: StripeEnvelope<'a> = parse(raw)?;
    match envelope.object.into_str().as_deref() {
        None | Some("event") => {}
        Some("v2.core.event") => {
            return Err(NormaliseError::UnsupportedEnvelope("stripe_thin_event"));
        }
        Some(_) => return Err(NormaliseError::UnsupportedEnvelope("stripe_object")),
    }
    let event_id = envelope
        .id
        .into_str()
        .map(Cow::into_owned)
        .ok_or(NormaliseError::MissingEventId)?;
    let kind = envelope
        .kind
        .into_str()
        .ok_or(NormaliseError::MissingEventType)?;
    let occurred_at = match envelope.created.time("created")? {
        Some(time) => time,
        None => header_time(verified)?,
    };

    let object = envelope.data.object;
    let resource = stripe_resource(&kind)
        .or_else(|| stripe_resource_from_object(object.object.as_str()))
        .unwrap_or(Resource::Unknown);
    let mut subject = Subject::default();
    let id = object.id;
    match resource {
        Resource::Subscription => subject.subscription_id = id.into_id(),
        Resource::Invoice => subject.invoice_id = id.into_id(),
        Resource::Payment => subject.payment_id = id.into_id(),
        Resource::Customer => subject.customer_id = id.into_id(),
        Resource::Charge => subject.payment_id = id.into_id(),
        Resource::Dispute => subject.payment_id = object.charge.into_id(),
        Resource::Membership | Resource::Unknown => {}
    }
    // Where there is a payment intent, it is the payment: what `payment_intent.*` events name.
    if resource != Resource::Payment
        && let Some(payment_intent) = object.payment_intent.into_id()
    {
        subject.payment_id = Some(payment_intent);
    }
    subject.customer_id = subject.customer_id.or_else(|| object.customer.into_id());
    subject.subscription_id = subject
        .subscription_id
        .or_else(|| object.subscription.into_id())
        .or_else(|| object.parent.subscription_details.subscription.into_id());
    subject.invoice_id = subject.invoice_id.or_else(|| object.invoice.into_id());
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

fn standard<'a>(verified: &Verified<'_>, raw: &'a str) -> Result<Parts<'a>, NormaliseError> {
    let envelope: StandardEnvelope<'a> = parse(raw)?;
    let event_id = header_id(verified).ok_or(NormaliseError::MissingEventId)?;
    let kind = envelope
        .kind
        .into_str()
        .ok_or(NormaliseError::MissingEventType)?;
    // The body's time is the sender's own convention: use it when it reads as one.
    let occurred_at = match envelope.timestamp.time("timestamp") {
        Ok(Some(time)) => time,
        Ok(None) | Err(_) => header_time(verified)?,
    };
    let mut subject = Subject::default();
    let id = envelope.data.id.into_id();
    let field = match kind.split('.').next().unwrap_or_default() {
        "membership" => Some(&mut subject.membership_id),
        "user" => Some(&mut subject.user_id),
        "company" => Some(&mut subject.company_id),
        "product" => Some(&mut subject.product_id),
        "plan" => Some(&mut subject.plan_id),
        "payment" => Some(&mut subject.payment_id),
        "customer" => Some(&mut subject.customer_id),
        "subscription" => Some(&mut subject.subscription_id),
        "invoice" => Some(&mut subject.invoice_id),
        _ => None,
    };
    if let Some(field) = field {
        *field = id;
    }
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

/// The signed `webhook-id` header, if present and non-empty.
fn header_id(verified: &Verified<'_>) -> Option<String> {
    verified
        .message_id
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The delivery time from the verified headers.
fn header_time(verified: &Verified<'_>) -> Result<DateTime<Utc>, NormaliseError> {
    let field = match verified.scheme {
        Scheme::StandardWebhooks => "webhook-timestamp",
        Scheme::WhopLegacy => "x-whop-signature",
        Scheme::WhopBare => "x-whop-timestamp",
        Scheme::Stripe => "stripe-signature",
    };
    unix_time(verified.timestamp).ok_or(NormaliseError::InvalidTimestamp(field))
}

/// `whop_` + the first 16 bytes (32 hex digits) of SHA-256(body). The body alone, not the
/// signature's timestamp: a sender that re-signs each retry with a new `t` (and the bare form,
/// whose timestamp is not signed at all) must still map a redelivery to the same id. Two
/// byte-identical legacy bodies describe the same state, so merging them loses nothing.
fn legacy_event_id(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(raw.as_bytes());
    let mut id = String::with_capacity(37);
    id.push_str("whop_");
    for byte in digest.iter().take(16) {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

/// Unix seconds, or milliseconds when larger than 10^11 (year 5138 in seconds, 1973 in ms).
pub(crate) fn unix_time(value: i64) -> Option<DateTime<Utc>> {
    const MILLIS_ABOVE: i64 = 100_000_000_000;
    match value {
        ..0 => None,
        0..=MILLIS_ABOVE => DateTime::from_timestamp(value, 0),
        _ => DateTime::from_timestamp_millis(value),
    }
}

/// [`unix_time`] for fractional values.
pub(crate) fn unix_time_f64(value: f64) -> Option<DateTime<Utc>> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    let seconds = if value > 1e11 { value / 1000.0 } else { value };
    if seconds >= 1e15 {
        return None;
    }
    let whole = seconds.floor();
    // In range: 0 <= whole < 1e15 and 0 <= fraction * 1e9 < 1e9.
    let (secs, nanos) = (
        whole as i64,
        (((seconds - whole) * 1e9) as u32).min(999_999_999),
    );
    DateTime::from_timestamp(secs, nanos)
}

/// An ISO-8601/RFC 3339 time, or a Unix time written as a string.
pub fn parse_time_str(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().and_then(unix_time);
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.parse().ok().and_then(unix_time_f64);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    // No offset at all: read as UTC.
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}

/// What an event's main object is, which decides the subject field its `id` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Membership,
    Payment,
    Invoice,
    Subscription,
    Customer,
    Charge,
    Dispute,
    Unknown,
}

/// From the event name: the first dotted segment, app-webhook spellings included.
fn whop_resource(kind: &str) -> Resource {
    let name = kind.strip_prefix("app_").unwrap_or(kind);
    let name = name.strip_prefix("app.").unwrap_or(name);
    let segment = name.split(['.', '_']).next().unwrap_or_default();
    // `payment.*`, but not `payout_*`/`payment_method.*`-like families.
    let exact = name.as_bytes().get(segment.len()).copied();
    match (segment, exact) {
        ("membership", Some(b'.' | b'_')) => Resource::Membership,
        ("payment", Some(b'.')) => Resource::Payment,
        ("payment", Some(b'_')) if kind.starts_with("app.") => Resource::Payment,
        ("invoice", Some(b'.')) => Resource::Invoice,
        _ => Resource::Unknown,
    }
}

fn stripe_resource(kind: &str) -> Option<Resource> {
    let resource = if kind.starts_with("customer.subscription.") {
        Resource::Subscription
    } else if kind.starts_with("invoice.") {
        Resource::Invoice
    } else if kind.starts_with("payment_intent.") {
        Resource::Payment
    } else if kind.starts_with("charge.dispute.") {
        Resource::Dispute
    } else if kind.starts_with("charge.") {
        Resource::Charge
    } else {
        return None;
    };
    Some(resource)
}

/// For kinds we do not list: Stripe names the object's type in `data.object.object`.
fn stripe_resource_from_object(object: Option<&str>) -> Option<Resource> {
    match object? {
        "subscription" => Some(Resource::Subscription),
        "invoice" => Some(Resource::Invoice),
        "payment_intent" => Some(Resource::Payment),
        "charge" => Some(Resource::Charge),
        "dispute" => Some(Resource::Dispute),
        "customer" => Some(Resource::Customer),
        _ => None,
    }
}

// --- the borrowed envelopes -------------------------------------------------------------------

/// Declares an envelope object: a struct of slots, filled in place by [`InPlace`] (no
/// intermediate values, no moves of the whole struct), and the enum of the keys it reads.
macro_rules! envelope {
    ($(#[$doc:meta])* struct $name:ident / $keys:ident {
        $($key:literal => $field:ident: $ty:ident,)*
    }) => {
        $(#[$doc])*
        #[derive(Default)]
        struct $name<'a> {
            $($field: $ty<'a>,)*
        }

        #[expect(non_camel_case_types, reason = "named after the slots they fill")]
        #[derive(Clone, Copy)]
        enum $keys {
            $($field,)*
        }

        impl<'de> Deserialize<'de> for Known<$keys> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = Known<$keys>;

                    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                        formatter.write_str("an object key")
                    }

                    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                        Ok(Known(match value {
                            $($key => Some($keys::$field),)*
                            _ => None,
                        }))
                    }
                }
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }

        impl<'a> Slots<'a> for $name<'a> {
            type Key = $keys;

            fn read<'de: 'a, A: MapAccess<'de>>(
                &mut self,
                key: $keys,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $($keys::$field => self.$field.read_value(map),)*
                }
            }
        }

        impl<'a> Slot<'a> for $name<'a> {
            fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
                *self = Self::default();
                map.next_value_seed(InPlace {
                    slots: self,
                    strict: false,
                })
            }
        }
    };
}

envelope! {
    /// `{id, api_version, type, timestamp | created_at, company_id, data}` (API v1) and
    /// `{action, api_version, data, company}` (legacy v5/v2).
    struct WhopEnvelope / WhopEnvelopeKey {
        "id" => id: Field,
        "type" => kind: Field,
        "action" => action: Field,
        "timestamp" => timestamp: Field,
        "created_at" => created_at: Field,
        "company_id" => company_id: Field,
        "company" => company: Field,
        "data" => data: WhopData,
    }
}

envelope! {
    /// A Whop resource: v1 nests related objects (`user: {id, …}`), v5 flattens them (`user_id`).
    struct WhopData / WhopDataKey {
        "id" => id: Field,
        "membership" => membership: Field,
        "membership_id" => membership_id: Field,
        "payment" => payment: Field,
        "payment_id" => payment_id: Field,
        "user" => user: Field,
        "user_id" => user_id: Field,
        "company" => company: Field,
        "company_id" => company_id: Field,
        "product" => product: Field,
        "product_id" => product_id: Field,
        "plan" => plan: Field,
        "plan_id" => plan_id: Field,
    }
}

envelope! {
    /// `{id: "evt_…", object: "event", type, created, data: {object: {…}}}`.
    struct StripeEnvelope / StripeEnvelopeKey {
        "id" => id: Field,
        "object" => object: Field,
        "type" => kind: Field,
        "created" => created: Field,
        "data" => data: StripeData,
    }
}

envelope! {
    /// The event's `data`.
    struct StripeData / StripeDataKey {
        "object" => object: StripeObject,
    }
}

envelope! {
    /// The object the event is about. Its ids may be strings or expanded objects; [`Field`]
    /// reads both.
    struct StripeObject / StripeObjectKey {
        "id" => id: Field,
        "object" => object: Field,
        "customer" => customer: Field,
        "subscription" => subscription: Field,
        "invoice" => invoice: Field,
        "payment_intent" => payment_intent: Field,
        "charge" => charge: Field,
        "parent" => parent: StripeInvoiceParent,
    }
}

envelope! {
    /// Invoices since API 2025-03-31 (basil) name their subscription in
    /// `parent.subscription_details.subscription`.
    struct StripeInvoiceParent / StripeInvoiceParentKey {
        "subscription_details" => subscription_details: StripeSubscriptionDetails,
    }
}

envelope! {
    /// `parent.subscription_details`.
    struct StripeSubscriptionDetails / StripeSubscriptionDetailsKey {
        "subscription" => subscription: Field,
    }
}

envelope! {
    /// Whatever a Standard Webhooks sender sends; by the spec's convention `{type, timestamp, data}`.
    struct StandardEnvelope / StandardEnvelopeKey {
        "type" => kind: Field,
        "timestamp" => timestamp: Field,
        "data" => data: StandardData,
    }
}

envelope! {
    /// The sender's `data`.
    struct StandardData / StandardDataKey {
        "id" => id: Field,
    }
}

/// An object whose known keys fill slots in place.
trait Slots<'a> {
    /// The keys it reads.
    type Key;

    /// Reads the value of `key` into its slot.
    fn read<'de: 'a, A: MapAccess<'de>>(
        &mut self,
        key: Self::Key,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// One slot of a [`Slots`] object: a [`Field`] or a nested object.
trait Slot<'a> {
    /// Reads the next map value into this slot.
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
}

impl<'a> Slot<'a> for Field<'a> {
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = map.next_value()?;
        Ok(())
    }
}

/// An object key: `Some` if the object reads it.
struct Known<K>(Option<K>);

/// Fills a [`Slots`] object from a JSON object; a repeated key replaces the earlier value (a nested
/// object as a whole), as in `serde_json::Value`. Strict (the top level): anything but an object is an error. Lenient (nested):
/// any other value is skipped and leaves the slots empty.
struct InPlace<'s, T> {
    slots: &'s mut T,
    strict: bool,
}

impl<'de: 'a, 'a, T: Slots<'a>> DeserializeSeed<'de> for InPlace<'_, T>
where
    Known<T::Key>: Deserialize<'de>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.strict {
            deserializer.deserialize_map(self)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de: 'a, 'a, T: Slots<'a>> Visitor<'de> for InPlace<'_, T>
where
    Known<T::Key>: Deserialize<'de>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Known(key)) = map.next_key()? {
            match key {
                Some(key) => self.slots.read(key, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

// --- tolerant field readers -------------------------------------------------------------------

/// One JSON value, kept only as far as an envelope needs it: strings borrowed from the body where
/// unescaped, numbers, and for objects just their `"id"` string. Never fails on a well-formed
/// value, so an unexpected type reads as "not usable" instead of rejecting the body.
#[derive(Debug, Default)]
enum Field<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    /// An object (an expanded resource): its `"id"`, if a string.
    Object(Option<Cow<'a, str>>),
    /// A boolean, an array, or an integer outside `i64`.
    Other,
}

impl<'a> Field<'a> {
    /// A non-empty string value.
    fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Self::Str(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// An id: a non-empty string, or the non-empty `"id"` of an expanded object.
    fn into_id(self) -> Option<String> {
        match self {
            Self::Str(id) | Self::Object(Some(id)) if !id.is_empty() => Some(id.into_owned()),
            _ => None,
        }
    }

    /// A time: `Ok(None)` when absent, `null` or empty; `field` names it in the error otherwise.
    fn time(&self, field: &'static str) -> Result<Option<DateTime<Utc>>, NormaliseError> {
        let time = match self {
            Self::Absent | Self::Null => return Ok(None),
            Self::Str(text) if text.trim().is_empty() => return Ok(None),
            Self::Str(text) => parse_time_str(text),
            Self::Int(value) => unix_time(*value),
            Self::Float(value) => unix_time_f64(*value),
            Self::Object(_) | Self::Other => None,
        };
        time.map(Some)
            .ok_or(NormaliseError::InvalidTimestamp(field))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<'a>(PhantomData<Field<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Field::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(Field::Other, Field::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Field::Float(value))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        while let Some(key) = map.next_key::<Key>()? {
            if key == Key::Id && id.is_none() {
                id = map.next_value::<Field<'a>>()?.into_str();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Field::Object(id))
    }
}

/// An object key, classified without allocating.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Id,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object key")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Key, E> {
                Ok(if value == "id" { Key::Id } else { Key::Other })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

// --- the queue message ------------------------------------------------------------------------

impl Event<'_> {
    /// The SQS message body: `{"provider":…,"event_id":…,"kind":…,"subject":{…},
    /// "occurred_at":RFC3339,"received_at":RFC3339,"raw":<the body verbatim, embedded as JSON>}`.
    ///
    /// `raw` is the body byte for byte, except that the noncharacters U+FFFE and U+FFFF (valid
    /// JSON, but refused by SQS) are written as `\u` escapes, which leaves the JSON value unchanged.
    pub fn to_message(&self) -> String {
        let mut out = String::with_capacity(self.raw.len() + 320);
        out.push_str("{\"provider\":");
        push_json_str(&mut out, self.source.as_str());
        out.push_str(",\"event_id\":");
        push_json_str(&mut out, &self.event_id);
        out.push_str(",\"kind\":");
        push_json_str(&mut out, self.kind.as_str());
        out.push_str(",\"subject\":{");
        let mut first = true;
        for (name, value) in self.subject.fields() {
            if let Some(value) = value {
                if !first {
                    out.push(',');
                }
                first = false;
                push_json_str(&mut out, name);
                out.push(':');
                push_json_str(&mut out, value);
            }
        }
        out.push_str("},\"occurred_at\":\"");
        out.push_str(
            &self
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
        out.push_str("\",\"received_at\":\"");
        out.push_str(
            &self
                .received_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
        out.push_str("\",\"raw\":");
        push_raw_json(&mut out, self.raw);
        out.push('}');
        out
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (index, ch) in text.char_indices() {
        let escape = match ch {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => "",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        if escape.is_empty() {
            push_unicode_escape(out, ch);
        } else {
            out.push_str(escape);
        }
        start = index + ch.len_utf8();
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Appends a valid JSON document, escaping U+FFFE and U+FFFF (they can only occur inside strings).
fn push_raw_json(out: &mut String, raw: &str) {
    // Both encode as EF BF BE / EF BF BF; 0xEF is rare, so test for it first.
    if !raw.as_bytes().contains(&0xEF) {
        out.push_str(raw);
        return;
    }
    let mut start = 0;
    for (index, ch) in raw.char_indices() {
        if matches!(ch, '\u{fffe}' | '\u{ffff}') {
            out.push_str(&raw[start..index]);
            push_unicode_escape(out, ch);
            start = index + ch.len_utf8();
        }
    }
    out.push_str(&raw[start..]);
}

fn push_unicode_escape(out: &mut String, ch: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = u32::from(ch);
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[((code >> shift) & 0xf) as usize]));
    }
}

/// The owned form a consumer reads back from [`Event::to_message`].
#[derive(Debug, Clone, Deserialize)]
pub struct QueuedEvent {
    /// The sender.
    pub provider: Source,
    /// The sender's idempotency key.
    pub event_id: String,
    /// [`EventKind::as_str`] of the kind; see [`QueuedEvent::event_kind`].
    pub kind: String,
    /// The ids the event is about.
    #[serde(default)]
    pub subject: Subject,
    /// When it happened, by the sender's clock.
    pub occurred_at: DateTime<Utc>,
    /// When we received it.
    pub received_at: DateTime<Utc>,
    /// The verified body, unparsed: validated exactly as ingest validated it, so every enqueued
    /// body reads back (a `Value` would reject numbers like `1e400` or lone surrogates that
    /// ingest skipped, and turn a genuine signed event into a poison message).
    pub raw: Box<serde_json::value::RawValue>,
}

impl QueuedEvent {
    /// The kind, parsed back in its sender's vocabulary.
    pub fn event_kind(&self) -> EventKind {
        EventKind::parse(self.provider, &self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    const NOW: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

    fn time(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn received() -> DateTime<Utc> {
        time("2025-01-01T00:00:01Z")
    }

    fn standard_webhooks(message_id: Option<&str>, timestamp: i64) -> Verified<'_> {
        Verified {
            scheme: Scheme::StandardWebhooks,
            timestamp,
            message_id,
        }
    }

    fn scheme(scheme: Scheme, timestamp: i64) -> Verified<'static> {
        Verified {
            scheme,
            timestamp,
            message_id: None,
        }
    }

    fn whop_v1<'a>(message_id: Option<&str>, body: &'a str) -> Result<Event<'a>, NormaliseError> {
        normalise(
            Source::Whop,
            &standard_webhooks(message_id, NOW),
            body.as_bytes(),
            received(),
        )
    }

    fn whop_legacy(timestamp: i64, body: &str) -> Result<Event<'_>, NormaliseError> {
        normalise(
            Source::Whop,
            &scheme(Scheme::WhopLegacy, timestamp),
            body.as_bytes(),
            received(),
        )
    }

    fn stripe(body: &str) -> Result<Event<'_>, NormaliseError> {
        normalise(
            Source::Stripe,
            &scheme(Scheme::Stripe, NOW),
            body.as_bytes(),
            received(),
        )
    }

    fn standard<'a>(message_id: Option<&str>, body: &'a str) -> Result<Event<'a>, NormaliseError> {
        normalise(
            Source::Standard,
            &standard_webhooks(message_id, NOW),
            body.as_bytes(),
            received(),
        )
    }

    /// PROTOCOLS §9, Whop v1 vector (headers `webhook-id: msg_test_1`, `webhook-timestamp: 1735689600`).
    const WHOP_V1_VECTOR: &str = r#"{"id":"msg_xxxxxxxxxxxxxxxxxxxxxxxx","api_version":"v1","data":{"id":"mem_xxxxxxxxxxxxxx","status":"active"},"timestamp":"2025-01-01T00:00:00.000Z","type":"membership.activated","company_id":"biz_xxxxxxxxxxxxxx"}"#;

    /// A full `membership.activated` in the current SDK's shape (about 2 KiB).
    const WHOP_V1_MEMBERSHIP: &str = r#"{
  "id": "msg_2zWq8Kc3bNfR1yT0pLmA9xHd",
  "api_version": "v1",
  "type": "membership.activated",
  "timestamp": "2025-06-01T12:30:45.123Z",
  "company_id": "biz_top000000000",
  "data": {
    "id": "mem_AbCdEf123456",
    "status": "active",
    "cancel_at_period_end": false,
    "canceled_at": null,
    "created_at": "2025-06-01T12:30:40.000Z",
    "updated_at": "2025-06-01T12:30:44.000Z",
    "renewal_period_start": "2025-06-01T12:30:40.000Z",
    "renewal_period_end": "2025-07-01T12:30:40.000Z",
    "currency": "usd",
    "license_key": "LK-ABCD-EFGH-IJKL-MNOP",
    "manage_url": "https://whop.com/orders/mem_AbCdEf123456/manage",
    "metadata": {"source": "landing", "campaign": "summer", "nested": {"id": "not_an_owner"}},
    "member": {"id": "mber_Zz9Yy8Xx7Ww6", "email": "buyer@example.com"},
    "plan": {"id": "plan_QwErTy123456", "plan_type": "renewal", "renewal_price": 29.0, "trial_period_days": 7},
    "product": {"id": "prod_AsDfGh123456", "title": "Pro membership \u00e9t\u00e9", "metadata": {}},
    "company": {"id": "biz_Company12345", "title": "Acme Creators", "route": "acme"},
    "user": {"id": "user_UsEr12345678", "email": "buyer@example.com", "name": "Buyer \"Quoted\" Name", "username": "buyer"},
    "promo_code": null,
    "payment_collection_paused": false,
    "joined_at": "2025-06-01T12:30:40.000Z",
    "checkout_configuration_id": "ch_conf_1234567890",
    "custom_field_responses": [
      {"id": "cfr_1", "question": "Where did you hear about us?", "answer": "A friend told me about it"},
      {"id": "cfr_2", "question": "What do you want to learn?", "answer": "Everything about trading and investing"}
    ],
    "cancel_option": null,
    "cancellation_reason": null,
    "padding": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam."
  }
}"#;

    /// PROTOCOLS §9, Whop legacy vector (`x-whop-signature: t=1735689600,…`).
    const WHOP_LEGACY_VECTOR: &str =
        r#"{"action":"membership.went_valid","api_version":"v5","data":{"id":"mem_123"}}"#;

    /// PROTOCOLS §9, the stripe-python fixture (exact bytes).
    const STRIPE_FIXTURE: &str = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";

    const STRIPE_INVOICE_PAYMENT_FAILED: &str = r#"{
  "id": "evt_1PqRsTuVwXyZ0123456789ab",
  "object": "event",
  "api_version": "2024-06-20",
  "created": 1735689000,
  "livemode": false,
  "pending_webhooks": 1,
  "request": {"id": null, "idempotency_key": null},
  "type": "invoice.payment_failed",
  "data": {
    "object": {
      "id": "in_1PqRsT2eZvKYlo2C0a1b2c3d",
      "object": "invoice",
      "amount_due": 2900,
      "amount_paid": 0,
      "attempt_count": 1,
      "billing_reason": "subscription_cycle",
      "charge": "ch_3PqRsT2eZvKYlo2C1x2y3z4w",
      "currency": "usd",
      "customer": "cus_QaBcDeFgHiJkLm",
      "customer_email": "buyer@example.com",
      "lines": {"object": "list", "data": [{"id": "il_1", "object": "line_item", "subscription": "sub_other"}], "has_more": false},
      "next_payment_attempt": 1735948200,
      "paid": false,
      "payment_intent": "pi_3PqRsT2eZvKYlo2C1a2b3c4d",
      "status": "open",
      "subscription": "sub_1PqRsT2eZvKYlo2CsUbScRiP"
    },
    "previous_attributes": null
  }
}"#;

    const STRIPE_SUBSCRIPTION_UPDATED: &str = r#"{
  "id": "evt_1SubUpdated000000000000",
  "object": "event",
  "api_version": "2025-03-31.basil",
  "created": 1735689300,
  "type": "customer.subscription.updated",
  "data": {
    "object": {
      "id": "sub_1PqRsT2eZvKYlo2CsUbScRiP",
      "object": "subscription",
      "cancel_at_period_end": true,
      "customer": {"id": "cus_QaBcDeFgHiJkLm", "object": "customer", "email": "buyer@example.com"},
      "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_1", "product": "prod_S1"}}]},
      "latest_invoice": "in_1PqRsT2eZvKYlo2C0a1b2c3d",
      "status": "active"
    },
    "previous_attributes": {"cancel_at_period_end": false}
  }
}"#;

    // --- Whop API v1 -------------------------------------------------------------------------

    #[test]
    fn whop_v1_vector_takes_its_id_from_the_webhook_id_header() {
        let event = whop_v1(Some("msg_test_1"), WHOP_V1_VECTOR).unwrap();

        assert_eq!(event.source, Source::Whop);
        assert_eq!(event.event_id, "msg_test_1");
        assert_eq!(event.kind, EventKind::MembershipActivated);
        assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
        assert_eq!(event.received_at, received());
        assert_eq!(event.raw, WHOP_V1_VECTOR);
        assert_eq!(
            event.subject,
            Subject {
                membership_id: Some("mem_xxxxxxxxxxxxxx".into()),
                company_id: Some("biz_xxxxxxxxxxxxxx".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn whop_v1_without_webhook_id_header_falls_back_to_the_body_id() {
        let event = whop_v1(None, WHOP_V1_VECTOR).unwrap();
        assert_eq!(event.event_id, "msg_xxxxxxxxxxxxxxxxxxxxxxxx");

        let event = whop_v1(Some(""), WHOP_V1_VECTOR).unwrap();
        assert_eq!(event.event_id, "msg_xxxxxxxxxxxxxxxxxxxxxxxx");
    }

    #[test]
    fn whop_v1_membership_names_its_user_company_product_and_plan() {
        let event = whop_v1(Some("msg_1"), WHOP_V1_MEMBERSHIP).unwrap();

        assert_eq!(event.kind, EventKind::MembershipActivated);
        assert_eq!(event.occurred_at, time("2025-06-01T12:30:45.123Z"));
        assert_eq!(
            event.subject,
            Subject {
                membership_id: Some("mem_AbCdEf123456".into()),
                user_id: Some("user_UsEr12345678".into()),
                company_id: Some("biz_Company12345".into()),
                product_id: Some("prod_AsDfGh123456".into()),
                plan_id: Some("plan_QwErTy123456".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn whop_v1_with_only_created_at_uses_it_as_the_event_time() {
        // The first generated SDK shape (Oct 2025): `created_at` instead of `timestamp`.
        let body = r#"{"id":"msg_1","api_version":"v1","type":"membership.deactivated","created_at":"2025-10-02T08:00:00Z","data":{"id":"mem_1","user":null}}"#;

        let event = whop_v1(None, body).unwrap();

        assert_eq!(event.kind, EventKind::MembershipDeactivated);
        assert_eq!(event.occurred_at, time("2025-10-02T08:00:00Z"));
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_1"));
        assert_eq!(event.subject.user_id, None);
    }

    #[test]
    fn whop_v1_timestamp_prefers_timestamp_over_created_at() {
        let body = r#"{"type":"payment.created","timestamp":"2025-01-02T00:00:00Z","created_at":"2020-01-01T00:00:00Z"}"#;
        let event = whop_v1(Some("msg_1"), body).unwrap();
        assert_eq!(event.occurred_at, time("2025-01-02T00:00:00Z"));
    }

    #[test]
    fn whop_v1_timestamps_may_be_numbers_numeric_strings_or_milliseconds() {
        let cases = [
            (r#""1735689600""#, "2025-01-01T00:00:00Z"),
            ("1735689600", "2025-01-01T00:00:00Z"),
            (r#""1735689600123""#, "2025-01-01T00:00:00.123Z"),
            ("1735689600123", "2025-01-01T00:00:00.123Z"),
            ("1735689600.5", "2025-01-01T00:00:00.5Z"),
            (r#""1735689600.25""#, "2025-01-01T00:00:00.25Z"),
            (r#""2025-01-01T01:00:00+01:00""#, "2025-01-01T00:00:00Z"),
            (r#""2025-01-01T00:00:00""#, "2025-01-01T00:00:00Z"),
        ];
        for (value, expected) in cases {
            let body = format!(r#"{{"type":"payment.succeeded","timestamp":{value}}}"#);
            let event = whop_v1(Some("msg_1"), &body).unwrap();
            assert_eq!(event.occurred_at, time(expected), "timestamp {value}");
        }
    }

    #[test]
    fn whop_v1_without_a_body_time_uses_the_header_timestamp() {
        for body in [
            r#"{"type":"payment.failed"}"#,
            r#"{"type":"payment.failed","timestamp":null,"created_at":""}"#,
        ] {
            let event = whop_v1(Some("msg_1"), body).unwrap();
            assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
        }
    }

    #[test]
    fn whop_v1_rejects_a_timestamp_that_is_not_a_time() {
        for (body, field) in [
            (
                r#"{"type":"payment.failed","timestamp":"yesterday"}"#,
                "timestamp",
            ),
            (r#"{"type":"payment.failed","timestamp":-5}"#, "timestamp"),
            (r#"{"type":"payment.failed","timestamp":true}"#, "timestamp"),
            (
                r#"{"type":"payment.failed","created_at":{"s":1}}"#,
                "created_at",
            ),
        ] {
            let error = whop_v1(Some("msg_1"), body).unwrap_err();
            assert_eq!(error, NormaliseError::InvalidTimestamp(field), "{body}");
            assert_eq!(error.reason_code(), "invalid_timestamp");
        }
    }

    #[test]
    fn whop_v1_payment_names_the_payment_and_its_membership() {
        let body = r#"{"id":"msg_1","api_version":"v1","type":"payment.failed","timestamp":"2025-01-01T00:00:00Z",
            "data":{"id":"pay_1","status":"open","substatus":"failed","membership":{"id":"mem_1","status":"past_due"},
            "user":{"id":"user_1"},"product":{"id":"prod_1"},"plan":{"id":"plan_1"},"company":{"id":"biz_1"}}}"#;

        let event = whop_v1(None, body).unwrap();

        assert_eq!(event.kind, EventKind::PaymentFailed);
        assert_eq!(
            event.subject,
            Subject {
                membership_id: Some("mem_1".into()),
                user_id: Some("user_1".into()),
                company_id: Some("biz_1".into()),
                product_id: Some("prod_1".into()),
                plan_id: Some("plan_1".into()),
                payment_id: Some("pay_1".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn whop_v1_invoice_refund_and_dispute_name_what_they_reference() {
        let invoice = r#"{"type":"invoice.past_due","company_id":"biz_1","data":{"id":"inv_1","membership_id":"mem_1","user":{"id":"user_1"}}}"#;
        let event = whop_v1(Some("msg_1"), invoice).unwrap();
        assert_eq!(event.kind, EventKind::WhopInvoicePastDue);
        assert_eq!(event.subject.invoice_id.as_deref(), Some("inv_1"));
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_1"));
        assert_eq!(event.subject.company_id.as_deref(), Some("biz_1"));
        assert_eq!(event.subject.payment_id, None);

        let refund = r#"{"type":"refund.created","data":{"id":"rfnd_1","payment":{"id":"pay_1","membership":{"id":"mem_nested"}}}}"#;
        let event = whop_v1(Some("msg_2"), refund).unwrap();
        assert_eq!(event.kind, EventKind::RefundCreated);
        assert_eq!(event.subject.payment_id.as_deref(), Some("pay_1"));
        assert_eq!(event.subject.membership_id, None);

        let dispute = r#"{"type":"dispute.updated","data":{"id":"dspt_1","payment_id":"pay_2"}}"#;
        let event = whop_v1(Some("msg_3"), dispute).unwrap();
        assert_eq!(event.kind, EventKind::DisputeUpdated);
        assert_eq!(event.subject.payment_id.as_deref(), Some("pay_2"));
    }

    #[test]
    fn whop_v1_unknown_kind_is_accepted_with_what_it_names() {
        let body = r#"{"type":"entry.created","data":{"id":"entry_1","user":{"id":"user_1"},"product":"prod_1"}}"#;

        let event = whop_v1(Some("msg_1"), body).unwrap();

        assert_eq!(event.kind, EventKind::Other("entry.created".into()));
        assert!(!event.kind.is_known());
        assert_eq!(event.kind.as_str(), "entry.created");
        assert_eq!(
            event.subject,
            Subject {
                user_id: Some("user_1".into()),
                product_id: Some("prod_1".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn whop_ids_of_unexpected_types_are_ignored_not_rejected() {
        let body = r#"{"type":"membership.activated","company_id":7,
            "data":{"id":["mem_1"],"user":{"id":42},"plan":true,"product":{"title":"no id"},"company":{"id":""}}}"#;

        let event = whop_v1(Some("msg_1"), body).unwrap();

        assert_eq!(event.subject, Subject::default());
    }

    #[test]
    fn whop_data_that_is_not_an_object_is_ignored() {
        for data in ["null", "\"mem_1\"", "[1,2]", "3"] {
            let body = format!(r#"{{"type":"membership.activated","data":{data}}}"#);
            let event = whop_v1(Some("msg_1"), &body).unwrap();
            assert_eq!(event.subject, Subject::default());
        }
    }

    #[test]
    fn whop_standard_scheme_also_reads_a_legacy_action_body() {
        let event = whop_v1(Some("msg_1"), WHOP_LEGACY_VECTOR).unwrap();

        assert_eq!(event.event_id, "msg_1");
        assert_eq!(event.kind, EventKind::MembershipWentValid);
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_123"));
    }

    // --- Whop legacy (v5) --------------------------------------------------------------------

    #[test]
    fn whop_legacy_vector_gets_a_deterministic_id_and_the_header_time() {
        let event = whop_legacy(NOW, WHOP_LEGACY_VECTOR).unwrap();

        // sha256 of the body, computed independently with Python's hashlib.
        assert_eq!(event.event_id, "whop_a9f91022578733db45a83109dbe6b93a");
        assert_eq!(event.event_id.len(), 37);
        assert_eq!(event.kind, EventKind::MembershipWentValid);
        assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_123"));
    }

    #[test]
    fn whop_legacy_redelivery_keeps_its_id_even_when_re_signed() {
        let first = whop_legacy(NOW, WHOP_LEGACY_VECTOR).unwrap();
        let again = whop_legacy(NOW, WHOP_LEGACY_VECTOR).unwrap();
        let resigned = whop_legacy(NOW + 1, WHOP_LEGACY_VECTOR).unwrap();
        let other_body = whop_legacy(
            NOW,
            r#"{"action":"membership.went_valid","api_version":"v5","data":{"id":"mem_124"}}"#,
        )
        .unwrap();

        assert_eq!(first.event_id, again.event_id);
        assert_eq!(first.event_id, resigned.event_id);
        assert_ne!(first.event_id, other_body.event_id);
    }

    #[test]
    fn whop_bare_scheme_derives_its_id_the_same_way() {
        let legacy = whop_legacy(NOW, WHOP_LEGACY_VECTOR).unwrap();
        let bare = normalise(
            Source::Whop,
            &scheme(Scheme::WhopBare, NOW),
            WHOP_LEGACY_VECTOR.as_bytes(),
            received(),
        )
        .unwrap();

        assert_eq!(bare.event_id, legacy.event_id);
        assert_eq!(bare.occurred_at, legacy.occurred_at);
    }

    #[test]
    fn whop_legacy_payment_failed_names_its_flat_ids() {
        let body = r#"{"action":"payment.failed","api_version":"v5","company":"biz_app_user","data":{
            "id":"pay_9","membership_id":"mem_9","product_id":"prod_9","user_id":"user_9","plan_id":"plan_9",
            "company_id":"biz_9","created_at":1700000000,"paid_at":null,"status":"open","final_amount":29.0,
            "currency":"usd","payments_failed":2}}"#;

        let event = whop_legacy(NOW, body).unwrap();

        assert_eq!(event.kind, EventKind::PaymentFailed);
        // The legacy envelope carries no time of its own: data.created_at is the payment's.
        assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
        assert_eq!(
            event.subject,
            Subject {
                membership_id: Some("mem_9".into()),
                user_id: Some("user_9".into()),
                company_id: Some("biz_9".into()),
                product_id: Some("prod_9".into()),
                plan_id: Some("plan_9".into()),
                payment_id: Some("pay_9".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn whop_legacy_company_falls_back_to_the_top_level_company() {
        let body = r#"{"action":"membership.went_invalid","api_version":"v5","company":"biz_top","data":{"id":"mem_1","user_id":"user_1"}}"#;
        let event = whop_legacy(NOW, body).unwrap();
        assert_eq!(event.kind, EventKind::MembershipWentInvalid);
        assert_eq!(event.subject.company_id.as_deref(), Some("biz_top"));

        let body = r#"{"action":"membership.went_invalid","api_version":"v5","company":null,"data":{"id":"mem_1"}}"#;
        assert_eq!(whop_legacy(NOW, body).unwrap().subject.company_id, None);
    }

    #[test]
    fn whop_app_spellings_map_to_the_plain_kinds() {
        let cases = [
            ("app_membership.went_valid", EventKind::MembershipWentValid),
            ("app.membership_went_valid", EventKind::MembershipWentValid),
            (
                "app_membership.went_invalid",
                EventKind::MembershipWentInvalid,
            ),
            (
                "app.membership_went_invalid",
                EventKind::MembershipWentInvalid,
            ),
            (
                "app_membership.cancel_at_period_end_changed",
                EventKind::MembershipCancelAtPeriodEndChanged,
            ),
            ("app_payment.succeeded", EventKind::PaymentSucceeded),
            ("app.payment_succeeded", EventKind::PaymentSucceeded),
            ("app_payment.failed", EventKind::PaymentFailed),
            ("app.payment_failed", EventKind::PaymentFailed),
            ("app_payment.pending", EventKind::PaymentPending),
        ];
        for (name, kind) in cases {
            let parsed = EventKind::parse(Source::Whop, name);
            assert_eq!(parsed, kind, "{name}");
            assert!(!parsed.as_str().starts_with("app"), "{name}");
        }
        assert_eq!(
            EventKind::parse(Source::Whop, "app_membership.something_new"),
            EventKind::Other("app_membership.something_new".into())
        );
        assert_eq!(
            EventKind::parse(Source::Stripe, "app_payment.failed"),
            EventKind::Other("app_payment.failed".into())
        );
    }

    #[test]
    fn whop_app_webhook_bodies_name_their_membership_or_payment() {
        let body = r#"{"action":"app_membership.went_valid","api_version":"v5","data":{"id":"mem_app","user_id":"user_1"}}"#;
        let event = whop_legacy(NOW, body).unwrap();
        assert_eq!(event.kind, EventKind::MembershipWentValid);
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_app"));

        let body = r#"{"action":"app.payment_failed","api_version":"v5","data":{"id":"pay_app","membership_id":"mem_1"}}"#;
        let event = whop_legacy(NOW, body).unwrap();
        assert_eq!(event.kind, EventKind::PaymentFailed);
        assert_eq!(event.subject.payment_id.as_deref(), Some("pay_app"));
        assert_eq!(event.subject.membership_id.as_deref(), Some("mem_1"));
    }

    #[test]
    fn whop_legacy_without_an_action_is_missing_its_type() {
        let error = whop_legacy(NOW, r#"{"api_version":"v5","data":{}}"#).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventType);
        assert_eq!(error.reason_code(), "missing_event_type");
    }

    // --- Stripe ------------------------------------------------------------------------------

    #[test]
    fn stripe_fixture_without_a_type_is_missing_its_event_type() {
        let error = stripe(STRIPE_FIXTURE).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventType);
    }

    #[test]
    fn stripe_compact_vector_is_an_unknown_kind_at_the_header_time() {
        let body = r#"{"id":"evt_1","object":"event","type":"checkout.session.completed"}"#;

        let event = stripe(body).unwrap();

        assert_eq!(event.event_id, "evt_1");
        assert_eq!(
            event.kind,
            EventKind::Other("checkout.session.completed".into())
        );
        assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
        assert_eq!(event.subject, Subject::default());
    }

    #[test]
    fn stripe_invoice_payment_failed_names_invoice_customer_subscription_and_payment() {
        let event = stripe(STRIPE_INVOICE_PAYMENT_FAILED).unwrap();

        assert_eq!(event.event_id, "evt_1PqRsTuVwXyZ0123456789ab");
        assert_eq!(event.kind, EventKind::StripeInvoicePaymentFailed);
        assert_eq!(event.occurred_at, time("2024-12-31T23:50:00Z"));
        assert_eq!(
            event.subject,
            Subject {
                invoice_id: Some("in_1PqRsT2eZvKYlo2C0a1b2c3d".into()),
                customer_id: Some("cus_QaBcDeFgHiJkLm".into()),
                subscription_id: Some("sub_1PqRsT2eZvKYlo2CsUbScRiP".into()),
                payment_id: Some("pi_3PqRsT2eZvKYlo2C1a2b3c4d".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn stripe_basil_invoice_names_its_subscription_through_its_parent() {
        let body = r#"{"id":"evt_2","object":"event","created":1735689600,"type":"invoice.paid","data":{"object":{
            "id":"in_2","object":"invoice","customer":"cus_2",
            "parent":{"type":"subscription_details","quote_details":null,
                "subscription_details":{"metadata":{},"subscription":"sub_2"}}}}}"#;

        let event = stripe(body).unwrap();

        assert_eq!(event.kind, EventKind::StripeInvoicePaid);
        assert_eq!(event.subject.subscription_id.as_deref(), Some("sub_2"));
        assert_eq!(event.subject.invoice_id.as_deref(), Some("in_2"));
    }

    #[test]
    fn stripe_subscription_updated_reads_an_expanded_customer() {
        let event = stripe(STRIPE_SUBSCRIPTION_UPDATED).unwrap();

        assert_eq!(event.kind, EventKind::CustomerSubscriptionUpdated);
        assert_eq!(event.occurred_at, time("2024-12-31T23:55:00Z"));
        assert_eq!(
            event.subject,
            Subject {
                subscription_id: Some("sub_1PqRsT2eZvKYlo2CsUbScRiP".into()),
                customer_id: Some("cus_QaBcDeFgHiJkLm".into()),
                ..Subject::default()
            }
        );
    }

    #[test]
    fn stripe_subscription_updated_reads_a_customer_id_string() {
        let body = STRIPE_SUBSCRIPTION_UPDATED.replace(
            r#"{"id": "cus_QaBcDeFgHiJkLm", "object": "customer", "email": "buyer@example.com"}"#,
            r#""cus_QaBcDeFgHiJkLm""#,
        );
        assert_ne!(body, STRIPE_SUBSCRIPTION_UPDATED);

        let event = stripe(&body).unwrap();

        assert_eq!(
            event.subject.customer_id.as_deref(),
            Some("cus_QaBcDeFgHiJkLm")
        );
    }

    #[test]
    fn stripe_payment_intent_charge_and_dispute_name_the_payment_intent() {
        let body = r#"{"id":"evt_3","object":"event","created":1735689600,"type":"payment_intent.payment_failed",
            "data":{"object":{"id":"pi_3","object":"payment_intent","customer":"cus_3","invoice":"in_3"}}}"#;
        let event = stripe(body).unwrap();
        assert_eq!(event.kind, EventKind::PaymentIntentPaymentFailed);
        assert_eq!(event.subject.payment_id.as_deref(), Some("pi_3"));
        assert_eq!(event.subject.customer_id.as_deref(), Some("cus_3"));
        assert_eq!(event.subject.invoice_id.as_deref(), Some("in_3"));

        let body = r#"{"id":"evt_4","object":"event","created":1735689600,"type":"charge.refunded",
            "data":{"object":{"id":"ch_4","object":"charge","customer":null,"payment_intent":"pi_4"}}}"#;
        let event = stripe(body).unwrap();
        assert_eq!(event.kind, EventKind::ChargeRefunded);
        assert_eq!(event.subject.payment_id.as_deref(), Some("pi_4"));
        assert_eq!(event.subject.customer_id, None);

        let body = r#"{"id":"evt_5","object":"event","created":1735689600,"type":"charge.dispute.created",
            "data":{"object":{"id":"dp_5","object":"dispute","charge":"ch_5","payment_intent":null}}}"#;
        let event = stripe(body).unwrap();
        assert_eq!(event.kind, EventKind::ChargeDisputeCreated);
        assert_eq!(event.subject.payment_id.as_deref(), Some("ch_5"));
    }

    #[test]
    fn stripe_unknown_kind_is_read_by_its_object_type() {
        let body = r#"{"id":"evt_6","object":"event","created":1735689600,"type":"customer.updated",
            "data":{"object":{"id":"cus_6","object":"customer"}}}"#;

        let event = stripe(body).unwrap();

        assert!(!event.kind.is_known());
        assert_eq!(event.subject.customer_id.as_deref(), Some("cus_6"));
    }

    #[test]
    fn stripe_thin_events_are_rejected() {
        let body = r#"{"id":"evnt_1","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","created":"2025-01-01T00:00:00.000Z","related_object":{"id":"mtr_1"}}"#;

        let error = stripe(body).unwrap_err();

        assert_eq!(
            error,
            NormaliseError::UnsupportedEnvelope("stripe_thin_event")
        );
        assert_eq!(error.reason_code(), "unsupported_envelope");
    }

    #[test]
    fn stripe_objects_other_than_events_are_rejected() {
        let error = stripe(r#"{"id":"in_1","object":"invoice","type":"x"}"#).unwrap_err();
        assert_eq!(error, NormaliseError::UnsupportedEnvelope("stripe_object"));
    }

    #[test]
    fn stripe_without_an_id_is_missing_its_event_id() {
        let error = stripe(r#"{"object":"event","type":"invoice.paid","created":1}"#).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventId);
        assert_eq!(error.reason_code(), "missing_event_id");
    }

    #[test]
    fn invoice_paid_is_read_in_each_senders_vocabulary() {
        assert_eq!(
            EventKind::parse(Source::Whop, "invoice.paid"),
            EventKind::WhopInvoicePaid
        );
        assert_eq!(
            EventKind::parse(Source::Stripe, "invoice.paid"),
            EventKind::StripeInvoicePaid
        );
        assert_eq!(
            EventKind::parse(Source::Stripe, "membership.activated"),
            EventKind::Other("membership.activated".into())
        );
        assert_eq!(
            EventKind::parse(Source::Whop, "customer.subscription.deleted"),
            EventKind::Other("customer.subscription.deleted".into())
        );
    }

    // --- Standard Webhooks senders -----------------------------------------------------------

    #[test]
    fn standard_sender_takes_id_from_header_and_time_from_body() {
        let body = r#"{"type":"invoice.paid","timestamp":"2024-12-31T00:00:00Z","data":{"id":"inv_77","amount":5}}"#;

        let event = standard(Some("msg_p5jXN8AQM9LWM0D4loKWxJek"), body).unwrap();

        assert_eq!(event.source, Source::Standard);
        assert_eq!(event.event_id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(event.kind, EventKind::Other("invoice.paid".into()));
        assert_eq!(event.occurred_at, time("2024-12-31T00:00:00Z"));
        assert_eq!(event.subject.invoice_id.as_deref(), Some("inv_77"));
    }

    #[test]
    fn standard_sender_with_an_unreadable_time_uses_the_header_timestamp() {
        for body in [
            r#"{"type":"user.created","data":{"id":"u_1"}}"#,
            r#"{"type":"user.created","timestamp":"soon","data":{"id":"u_1"}}"#,
        ] {
            let event = standard(Some("msg_1"), body).unwrap();
            assert_eq!(event.occurred_at, time("2025-01-01T00:00:00Z"));
            assert_eq!(event.subject.user_id.as_deref(), Some("u_1"));
        }
    }

    #[test]
    fn standard_sender_requires_the_webhook_id_header() {
        let error = standard(None, r#"{"id":"in_body","type":"x"}"#).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventId);
    }

    #[test]
    fn standard_sender_requires_a_type() {
        let error = standard(Some("msg_1"), r#"{"test": 2432232314}"#).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventType);
    }

    // --- errors ------------------------------------------------------------------------------

    #[test]
    fn a_body_that_is_not_utf8_is_rejected_first() {
        let error = normalise(
            Source::Stripe,
            &scheme(Scheme::Stripe, NOW),
            b"{\"id\":\"evt_\xff\"}",
            received(),
        )
        .unwrap_err();
        assert_eq!(error, NormaliseError::NotUtf8);
        assert_eq!(error.reason_code(), "not_utf8");
    }

    #[test]
    fn a_body_that_is_not_one_json_object_is_invalid_json() {
        for body in [
            "",
            "not json",
            "[]",
            r#"["evt_1","event","invoice.paid"]"#,
            "\"evt\"",
            "null",
            r#"{"id":"evt_1"} trailing"#,
            r#"{"id":"evt_1","type":"x""#,
        ] {
            let error = stripe(body).unwrap_err();
            assert!(
                matches!(error, NormaliseError::InvalidJson(_)),
                "{body}: {error:?}"
            );
            assert_eq!(error.reason_code(), "invalid_json");
        }
    }

    #[test]
    fn a_repeated_key_is_read_as_serde_json_reads_it_the_last_one_wins() {
        let body = r#"{"id":"evt_1","object":"event","type":"invoice.paid","id":"evt_2","data":{"object":{"id":"in_1"}},"data":{"object":{"customer":"cus_2"}}}"#;

        let event = stripe(body).unwrap();

        let value: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event.event_id, value["id"]);
        assert_eq!(event.event_id, "evt_2");
        assert_eq!(event.subject.customer_id.as_deref(), Some("cus_2"));
        assert_eq!(event.subject.invoice_id, None);
    }

    #[test]
    fn a_whop_body_without_any_id_is_missing_its_event_id() {
        let error = whop_v1(None, r#"{"type":"payment.failed","id":null}"#).unwrap_err();
        assert_eq!(error, NormaliseError::MissingEventId);
    }

    #[test]
    fn an_out_of_range_header_time_is_an_invalid_timestamp_when_needed() {
        let verified = standard_webhooks(Some("msg_1"), i64::MAX);
        let error = normalise(
            Source::Whop,
            &verified,
            br#"{"type":"payment.failed"}"#,
            received(),
        )
        .unwrap_err();
        assert_eq!(error, NormaliseError::InvalidTimestamp("webhook-timestamp"));
    }

    #[test]
    fn a_scheme_the_source_never_uses_is_an_unsupported_envelope() {
        let cases = [
            (Source::Whop, Scheme::Stripe),
            (Source::Stripe, Scheme::StandardWebhooks),
            (Source::Standard, Scheme::WhopLegacy),
        ];
        for (source, scheme_) in cases {
            let error = normalise(source, &scheme(scheme_, NOW), b"{}", received()).unwrap_err();
            assert_eq!(
                error,
                NormaliseError::UnsupportedEnvelope("scheme_mismatch")
            );
        }
    }

    #[test]
    fn every_error_has_a_distinct_reason_code() {
        let errors = [
            NormaliseError::NotUtf8,
            NormaliseError::InvalidJson(String::new()),
            NormaliseError::MissingEventId,
            NormaliseError::MissingEventType,
            NormaliseError::InvalidTimestamp("timestamp"),
            NormaliseError::UnsupportedEnvelope("stripe_thin_event"),
        ];
        let codes: std::collections::BTreeSet<_> =
            errors.iter().map(NormaliseError::reason_code).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(codes.iter().all(|code| {
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
    }

    // --- kinds -------------------------------------------------------------------------------

    #[test]
    fn every_known_kind_parses_back_from_its_name() {
        let mut count = 0;
        for source in Source::ALL {
            for name in KNOWN_NAMES {
                let kind = EventKind::parse(source, name);
                if let Some(kind_source) = kind.source() {
                    count += 1;
                    assert_eq!(kind_source, source);
                    assert_eq!(kind.as_str(), *name);
                    assert_eq!(kind.to_string(), *name);
                    assert!(kind.is_known());
                    assert_eq!(EventKind::parse(source, kind.as_str()), kind);
                }
            }
        }
        assert_eq!(count, 48);
    }

    const KNOWN_NAMES: &[&str] = &[
        "membership.activated",
        "membership.deactivated",
        "membership.cancel_at_period_end_changed",
        "membership.trial_ending_soon",
        "membership.went_valid",
        "membership.went_invalid",
        "membership.metadata_updated",
        "membership.experience_claimed",
        "payment.created",
        "payment.succeeded",
        "payment.failed",
        "payment.pending",
        "refund.created",
        "refund.updated",
        "dispute.created",
        "dispute.updated",
        "dispute_alert.created",
        "invoice.created",
        "invoice.paid",
        "invoice.past_due",
        "invoice.voided",
        "invoice.marked_uncollectible",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
        "customer.subscription.pending_update_applied",
        "customer.subscription.pending_update_expired",
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.payment_action_required",
        "invoice.upcoming",
        "payment_intent.created",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
    ];

    #[test]
    fn standard_senders_have_no_known_kinds() {
        for name in KNOWN_NAMES {
            assert!(!EventKind::parse(Source::Standard, name).is_known());
        }
    }

    // --- the queue message -------------------------------------------------------------------

    fn assert_round_trips(event: &Event<'_>) {
        let message = event.to_message();
        let queued: QueuedEvent = serde_json::from_str(&message).unwrap();

        assert_eq!(queued.provider, event.source);
        assert_eq!(queued.event_id, event.event_id);
        assert_eq!(queued.kind, event.kind.as_str());
        assert_eq!(queued.event_kind(), event.kind);
        assert_eq!(queued.subject, event.subject);
        assert_eq!(queued.occurred_at, event.occurred_at);
        assert_eq!(queued.received_at, event.received_at);
        assert_eq!(
            serde_json::from_str::<Value>(queued.raw.get()).unwrap(),
            serde_json::from_str::<Value>(event.raw).unwrap()
        );
    }

    #[test]
    fn bodies_serde_json_values_reject_still_read_back() {
        // Found by fuzzing: ingest skips unread values without range or surrogate checks.
        for body in [
            r#"{"id":"evt_1","object":"event","type":"x","created":1700000000,"n":1e400}"#,
            r#"{"id":"evt_1","object":"event","type":"x","created":1700000000,"n":"\ud800"}"#,
        ] {
            let event = normalise(
                Source::Stripe,
                &scheme(Scheme::Stripe, NOW),
                body.as_bytes(),
                received(),
            )
            .unwrap();
            let queued: QueuedEvent = serde_json::from_str(&event.to_message()).unwrap();
            assert_eq!(queued.raw.get(), body);
        }
    }

    #[test]
    fn to_message_round_trips_through_queued_event() {
        assert_round_trips(&whop_v1(Some("msg_1"), WHOP_V1_MEMBERSHIP).unwrap());
        assert_round_trips(&whop_legacy(NOW, WHOP_LEGACY_VECTOR).unwrap());
        assert_round_trips(&stripe(STRIPE_INVOICE_PAYMENT_FAILED).unwrap());
        assert_round_trips(&stripe(STRIPE_SUBSCRIPTION_UPDATED).unwrap());
        assert_round_trips(
            &standard(Some("msg_1"), r#"{"type":"a.b","data":{"id":"x"}}"#).unwrap(),
        );
    }

    #[test]
    fn to_message_has_the_documented_shape() {
        let event = whop_v1(Some("msg_test_1"), WHOP_V1_VECTOR).unwrap();

        let message = event.to_message();

        let expected = format!(
            r#"{{"provider":"whop","event_id":"msg_test_1","kind":"membership.activated","subject":{{"membership_id":"mem_xxxxxxxxxxxxxx","company_id":"biz_xxxxxxxxxxxxxx"}},"occurred_at":"2025-01-01T00:00:00Z","received_at":"2025-01-01T00:00:01Z","raw":{WHOP_V1_VECTOR}}}"#
        );
        assert_eq!(message, expected);
        // `subject` also serialises without the missing ids through serde.
        assert_eq!(
            serde_json::to_string(&event.subject).unwrap(),
            r#"{"membership_id":"mem_xxxxxxxxxxxxxx","company_id":"biz_xxxxxxxxxxxxxx"}"#
        );
    }

    #[test]
    fn to_message_escapes_ids_and_keeps_unusual_kinds() {
        let body = "{\"type\":\"odd \\\"kind\\\"\\n\\u0001\",\"data\":{\"id\":\"mem_\\\\\\\"q\\\"\",\"user\":{\"id\":\"user_\\u00e9\"}}}";
        let event = whop_v1(Some("msg \"1\"\t"), body).unwrap();
        assert_eq!(event.kind.as_str(), "odd \"kind\"\n\u{1}");
        assert_eq!(event.subject.user_id.as_deref(), Some("user_é"));

        assert_round_trips(&event);
    }

    #[test]
    fn to_message_escapes_the_noncharacters_sqs_refuses() {
        let body = "{\"type\":\"payment.failed\",\"data\":{\"id\":\"pay_\u{ffff}\",\"note\":\"\u{fffe}\u{fffd}\"}}";
        let event = whop_v1(Some("msg_1"), body).unwrap();

        let message = event.to_message();

        assert!(!message.contains(['\u{fffe}', '\u{ffff}']));
        assert!(message.contains("\\uffff") && message.contains("\\ufffe"));
        assert!(message.contains('\u{fffd}'));
        assert_round_trips(&event);
    }

    #[test]
    fn to_message_keeps_sub_second_times() {
        let event = whop_v1(Some("msg_1"), WHOP_V1_MEMBERSHIP).unwrap();
        assert!(
            event
                .to_message()
                .contains(r#""occurred_at":"2025-06-01T12:30:45.123Z""#)
        );
        assert_round_trips(&event);
    }

    #[test]
    #[ignore = "timing, run with --release -- --ignored --nocapture"]
    fn normalise_of_a_two_kib_body_is_fast() {
        let body = WHOP_V1_MEMBERSHIP.as_bytes();
        assert!(body.len() >= 2000, "{}", body.len());
        let verified = standard_webhooks(Some("msg_1"), NOW);
        let rounds = 200_000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let event = normalise(
                Source::Whop,
                &verified,
                std::hint::black_box(body),
                received(),
            );
            std::hint::black_box(event.unwrap());
        }
        let per = start.elapsed() / rounds;
        println!("normalise({} B): {per:?} per call", body.len());
        let body = STRIPE_INVOICE_PAYMENT_FAILED.as_bytes();
        let verified = scheme(Scheme::Stripe, NOW);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let event = normalise(
                Source::Stripe,
                &verified,
                std::hint::black_box(body),
                received(),
            );
            std::hint::black_box(event.unwrap());
        }
        let per = start.elapsed() / rounds;
        println!("normalise({} B): {per:?} per call", body.len());
    }

    // --- properties --------------------------------------------------------------------------

    const COMBINATIONS: [(Source, Scheme); 6] = [
        (Source::Whop, Scheme::StandardWebhooks),
        (Source::Whop, Scheme::WhopLegacy),
        (Source::Whop, Scheme::WhopBare),
        (Source::Stripe, Scheme::Stripe),
        (Source::Standard, Scheme::StandardWebhooks),
        (Source::Stripe, Scheme::WhopBare),
    ];

    fn normalise_everywhere(body: &[u8], timestamp: i64, message_id: Option<&str>) {
        for (source, scheme) in COMBINATIONS {
            let verified = Verified {
                scheme,
                timestamp,
                message_id,
            };
            if let Ok(event) = normalise(source, &verified, body, received()) {
                assert!(!event.event_id.is_empty());
                assert!(!event.kind.as_str().is_empty());
                let _ = event.to_message();
            }
        }
    }

    fn arb_key() -> impl Strategy<Value = &'static str> + Clone {
        prop::sample::select(vec![
            "id",
            "type",
            "action",
            "object",
            "data",
            "timestamp",
            "created_at",
            "created",
            "company",
            "company_id",
            "user",
            "user_id",
            "membership",
            "membership_id",
            "payment",
            "payment_id",
            "product",
            "product_id",
            "plan",
            "plan_id",
            "customer",
            "subscription",
            "invoice",
            "payment_intent",
            "charge",
            "parent",
            "subscription_details",
            "other",
        ])
    }

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        )
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "event",
                "v2.core.event",
                "membership.activated",
                "app.payment_failed",
                "app_membership.went_valid",
                "invoice.paid",
                "customer.subscription.updated",
                "charge.dispute.created",
                "payment_intent.succeeded",
                "2025-01-01T00:00:00Z",
                "1735689600",
                "1735689600123",
                "99999999999999999999",
                "1.5",
                "",
                "evt_1",
                "mem_1",
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ]
    }

    /// JSON values whose object keys are the ones the envelopes read.
    fn arb_json() -> impl Strategy<Value = Value> {
        let key = arb_key();
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e20f64..1e20).prop_map(Value::from),
            arb_text().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..8).prop_map(object),
            ]
        })
    }

    /// Objects shaped like the envelopes: usually with an id, a type and data, often not valid.
    fn arb_envelope() -> impl Strategy<Value = Value> {
        let text = || arb_text().prop_map(Value::from);
        let data = prop_oneof![
            3 => prop::collection::vec((arb_key(), arb_json()), 0..10).prop_map(object),
            1 => arb_json(),
        ];
        (
            prop::collection::vec((arb_key(), arb_json()), 0..4),
            prop::option::weighted(0.8, text()),
            prop::option::weighted(0.8, text()),
            prop::option::weighted(0.3, text()),
            prop::option::weighted(0.6, text()),
            prop::option::weighted(0.5, arb_json()),
            prop::option::weighted(0.5, arb_json()),
            prop::option::weighted(0.9, data),
        )
            .prop_map(|(extra, id, kind, action, object_, time, created, data)| {
                let mut value = object(extra);
                let fields = [
                    ("id", id),
                    ("type", kind),
                    ("action", action),
                    ("object", object_),
                    ("timestamp", time.clone()),
                    ("created_at", time),
                    ("created", created),
                    ("data", data),
                ];
                if let Value::Object(map) = &mut value {
                    for (key, field) in fields {
                        if let Some(field) = field {
                            map.insert(key.to_owned(), field);
                        }
                    }
                }
                value
            })
    }

    proptest! {
        #[test]
        fn normalise_never_panics_on_arbitrary_bytes(
            body in prop::collection::vec(any::<u8>(), 0..512),
            timestamp in any::<i64>(),
            message_id in prop::option::of(".{0,8}"),
        ) {
            normalise_everywhere(&body, timestamp, message_id.as_deref());
        }

        #[test]
        fn normalise_never_panics_on_json_ish_text(
            body in r#"[{}\[\]":,. 0-9a-z_\\-]{0,160}"#,
            timestamp in any::<i64>(),
        ) {
            normalise_everywhere(body.as_bytes(), timestamp, Some("msg_1"));
        }

        #[test]
        fn normalise_never_panics_on_envelope_shaped_json_and_its_messages_round_trip(
            value in arb_envelope(),
            timestamp in prop_oneof![Just(NOW), any::<i64>()],
            message_id in prop::option::of("[a-z_0-9]{0,8}"),
        ) {
            let body = value.to_string();
            normalise_everywhere(body.as_bytes(), timestamp, message_id.as_deref());
            for (source, scheme) in COMBINATIONS {
                let verified = Verified { scheme, timestamp, message_id: message_id.as_deref() };
                if let Ok(event) = normalise(source, &verified, body.as_bytes(), received()) {
                    assert_round_trips(&event);
                }
            }
        }

        #[test]
        fn any_numeric_timestamp_is_a_time_or_an_invalid_timestamp(
            seconds in any::<i64>(),
            float in any::<f64>(),
        ) {
            for value in [seconds.to_string(), format!("\"{seconds}\""), format!("{float:?}")] {
                let body = format!(r#"{{"type":"payment.failed","timestamp":{value}}}"#);
                match whop_v1(Some("msg_1"), &body) {
                    Ok(_) | Err(NormaliseError::InvalidTimestamp("timestamp") | NormaliseError::InvalidJson(_)) => {}
                    Err(other) => prop_assert!(false, "{value}: {other:?}"),
                }
            }
        }

        #[test]
        fn every_name_parses_to_a_kind_that_keeps_it(
            name in "(app[._])?[a-z_]{1,12}(\\.[a-z_]{1,24}){0,2}",
        ) {
            for source in Source::ALL {
                let kind = EventKind::parse(source, &name);
                if kind.is_known() {
                    prop_assert!(name.ends_with(kind.as_str().split('.').next_back().unwrap_or_default()));
                } else {
                    prop_assert_eq!(kind.as_str(), name.as_str());
                }
            }
        }
    }
}
