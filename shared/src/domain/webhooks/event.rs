//! The one [`Event`] every sender's envelope normalises into; see [`super`].
//!
//! Normalisation ([`WebhookProviders::normalise`](crate::domain::ports::WebhookProviders::normalise))
//! runs after signature verification, on the verified bytes; each provider reads its own envelope
//! in one lenient pass ([`crate::domain::json`]). The only allocations are the owned strings of the final [`Event`].
//!
//! [`Event::to_message`] renders the queue message; [`QueuedEvent`] is what a consumer reads back.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Scheme, Source, Verified};
use crate::domain::json::Field;
use crate::domain::time::unix_time;

/// One provider event, normalised. Borrows the verified body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// The sender, from the route.
    pub source: Source,
    /// The sender's idempotency key for this event (each provider's normalisation says where it comes from).
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

pub use crate::domain::json::Id;

/// Ids the event is about (all optional; serialised without the missing ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subject {
    /// Whop membership (`mem_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_id: Option<Id>,
    /// Whop user (`user_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    /// Whop company (`biz_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<Id>,
    /// Whop product (`prod_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Id>,
    /// Whop plan (`plan_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<Id>,
    /// Whop payment (`pay_…`) or Stripe payment intent (`pi_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Id>,
    /// Stripe customer (`cus_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Id>,
    /// Stripe subscription (`sub_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<Id>,
    /// Whop or Stripe invoice (`in_…` at Stripe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<Id>,
}

impl Subject {
    /// An id as an owned `String` (what the state model keeps).
    pub fn owned(id: &Option<Id>) -> Option<String> {
        id.as_deref().map(str::to_owned)
    }

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

/// The kind of the test webhook `churnsaver verify` sends (in Whop's v1 envelope): verified,
/// claimed, queued and marked PROCESSED like any event, and observed as nothing, so it changes no
/// membership.
pub const VERIFICATION_KIND: &str = "churnsaver.verification";

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
                    Source::Standard | Source::Resend => None,
                }
            }

            /// The provider's own name for it (for `Other`, the original string).
            pub fn as_str(&self) -> &str {
                match self {
                    $($(Self::$variant => $name,)*)*
                    Self::Other(name) => name,
                }
            }

            /// A known kind's name (`None` for `Other`, whose name is the sender's text).
            pub fn static_name(&self) -> Option<&'static str> {
                match self {
                    $($(Self::$variant => Some($name),)*)*
                    Self::Other(_) => None,
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
    PayPal {
        /// A subscription was created (not yet approved).
        PayPalSubscriptionCreated => "BILLING.SUBSCRIPTION.CREATED",
        /// A subscription became active.
        PayPalSubscriptionActivated => "BILLING.SUBSCRIPTION.ACTIVATED",
        /// A subscription changed.
        PayPalSubscriptionUpdated => "BILLING.SUBSCRIPTION.UPDATED",
        /// A subscription was cancelled.
        PayPalSubscriptionCancelled => "BILLING.SUBSCRIPTION.CANCELLED",
        /// A subscription was suspended (by the merchant, or by reaching its failure threshold).
        PayPalSubscriptionSuspended => "BILLING.SUBSCRIPTION.SUSPENDED",
        /// A subscription ran its course.
        PayPalSubscriptionExpired => "BILLING.SUBSCRIPTION.EXPIRED",
        /// A subscription's payment failed.
        PayPalSubscriptionPaymentFailed => "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        /// A sale (a subscription's payment) completed.
        PayPalSaleCompleted => "PAYMENT.SALE.COMPLETED",
        /// A sale was denied.
        PayPalSaleDenied => "PAYMENT.SALE.DENIED",
        /// A sale was refunded (the resource is the refund).
        PayPalSaleRefunded => "PAYMENT.SALE.REFUNDED",
        /// A sale was reversed (a chargeback or a reversal by PayPal).
        PayPalSaleReversed => "PAYMENT.SALE.REVERSED",
    }
    Gumroad {
        /// A sale, or a subscription's recurring charge (`is_recurring_charge`).
        GumroadSale => "sale",
        /// A subscription was cancelled; it ends at the end of the paid period.
        GumroadCancellation => "cancellation",
        /// A subscription ended (`ended_reason`).
        GumroadSubscriptionEnded => "subscription_ended",
        /// A cancelled or ended subscription was restarted.
        GumroadSubscriptionRestarted => "subscription_restarted",
        /// A subscription was upgraded or downgraded.
        GumroadSubscriptionUpdated => "subscription_updated",
        /// A sale was refunded.
        GumroadRefund => "refund",
        /// A sale was disputed.
        GumroadDispute => "dispute",
        /// A dispute was won.
        GumroadDisputeWon => "dispute_won",
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

    /// Whether this is one of the named kinds or [`VERIFICATION_KIND`] (not another
    /// [`EventKind::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_)) || self.is_verification()
    }

    /// Whether this is the post-deployment check's test event ([`VERIFICATION_KIND`]).
    pub fn is_verification(&self) -> bool {
        matches!(self, Self::Other(name) if name == VERIFICATION_KIND)
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
    /// A form body (Gumroad's pings) that does not decode; what is wrong with it.
    #[error("body is not a form: {0}")]
    InvalidForm(String),
    /// A field the envelope must carry is absent or empty.
    #[error("the required field `{0}` is missing")]
    MissingField(&'static str),
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
            Self::InvalidForm(_) => "invalid_form",
            Self::MissingField(_) => "missing_field",
            Self::MissingEventId => "missing_event_id",
            Self::MissingEventType => "missing_event_type",
            Self::InvalidTimestamp(_) => "invalid_timestamp",
            Self::UnsupportedEnvelope(_) => "unsupported_envelope",
        }
    }
}

/// The signed `webhook-id` header, if present and non-empty.
pub fn header_id(verified: &Verified<'_>) -> Option<String> {
    verified
        .message_id
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The delivery time from the verified headers.
pub fn header_time(verified: &Verified<'_>) -> Result<DateTime<Utc>, NormaliseError> {
    let field = match verified.scheme {
        Scheme::StandardWebhooks => "webhook-timestamp",
        Scheme::WhopLegacy => "x-whop-signature",
        Scheme::WhopBare => "x-whop-timestamp",
        Scheme::Stripe => "stripe-signature",
        Scheme::PayPal => "paypal-transmission-time",
    };
    unix_time(verified.timestamp).ok_or(NormaliseError::InvalidTimestamp(field))
}

/// An envelope's own event id and type, both required (the envelopes that carry their id in
/// the body: Stripe, PayPal).
pub fn body_id_and_kind<'a>(
    id: Field<'a>,
    kind: Field<'a>,
) -> Result<(String, std::borrow::Cow<'a, str>), NormaliseError> {
    let event_id = id
        .into_str()
        .map(std::borrow::Cow::into_owned)
        .ok_or(NormaliseError::MissingEventId)?;
    let kind = kind.into_str().ok_or(NormaliseError::MissingEventType)?;
    Ok((event_id, kind))
}

/// A time field of an envelope: `Ok(None)` when absent, `null` or empty; `name` names it in the
/// error otherwise.
pub fn field_time(
    field: &Field<'_>,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, NormaliseError> {
    if field.is_blank() {
        return Ok(None);
    }
    field
        .time()
        .map(Some)
        .ok_or(NormaliseError::InvalidTimestamp(name))
}

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
