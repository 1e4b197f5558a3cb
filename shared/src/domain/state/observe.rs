//! From a queued event to the [`Observation`] it makes of one membership.
//!
//! The ids come from the event's `subject` (normalised at ingest); the facts (status, validity,
//! period, payment outcome and amount) from one lenient parse of the verified body. Lenient means
//! a field of an unexpected type reads as absent, unknown fields are skipped without being
//! parsed, and a repeated key keeps its last value: a genuine event is never refused for its
//! shape, so it cannot become a poison message.
//!
//! Mapping:
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

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::model::{MembershipFacts, Observation, PaymentFacts, PaymentStatus, Version};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::{
    EventKind, QueuedEvent, parse_time_str, unix_time, unix_time_f64,
};

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

/// Reads what `event` says about its membership.
pub fn observe(event: &QueuedEvent) -> Result<Observed, ObserveError> {
    let kind = event.event_kind();
    let version = Version::new(event.occurred_at, event.event_id.clone());
    let subject = &event.subject;
    let (membership_id, facts) = match event.provider {
        Source::Whop => {
            let Some(plan) = whop_plan(&kind) else {
                return Ok(Observed::Ignored("kind_without_state"));
            };
            let Some(membership_id) = subject.membership_id.clone() else {
                return Ok(Observed::Ignored("no_membership"));
            };
            let envelope: WhopEnvelope = parse(event)?;
            (membership_id, whop_facts(plan, &envelope.data, event))
        }
        Source::Stripe => {
            let Some(plan) = stripe_plan(&kind) else {
                return Ok(Observed::Ignored("kind_without_state"));
            };
            let Some(membership_id) = subject.subscription_id.clone() else {
                return Ok(Observed::Ignored("no_membership"));
            };
            let envelope: StripeEnvelope = parse(event)?;
            (
                membership_id,
                stripe_facts(plan, &envelope.data.object, event),
            )
        }
        Source::Standard => return Ok(Observed::Ignored("kind_without_state")),
    };
    let (membership, payment) = facts;
    Ok(Observed::Membership {
        membership_id,
        provider: event.provider,
        observation: Box::new(Observation {
            version,
            kind: event.kind.clone(),
            membership,
            payment,
        }),
    })
}

fn parse<'de, T: Deserialize<'de>>(event: &'de QueuedEvent) -> Result<T, ObserveError> {
    serde_json::from_str(event.raw.get()).map_err(|e| ObserveError(e.to_string()))
}

/// How a Whop event kind turns into facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhopPlan {
    /// The membership object, with validity stated by the kind (or not).
    Membership(Option<bool>),
    /// A payment outcome; `None` reads it from the payment's own status.
    Payment(Option<PaymentStatus>),
    /// An invoice outcome.
    Invoice(PaymentStatus, Option<&'static str>),
    /// A refund or dispute of a payment.
    PaymentChange(PaymentStatus),
}

fn whop_plan(kind: &EventKind) -> Option<WhopPlan> {
    use EventKind as K;
    Some(match kind {
        K::MembershipActivated | K::MembershipWentValid => WhopPlan::Membership(Some(true)),
        K::MembershipDeactivated | K::MembershipWentInvalid => WhopPlan::Membership(Some(false)),
        K::MembershipCancelAtPeriodEndChanged
        | K::MembershipTrialEndingSoon
        | K::MembershipMetadataUpdated
        | K::MembershipExperienceClaimed => WhopPlan::Membership(None),
        K::PaymentSucceeded => WhopPlan::Payment(Some(PaymentStatus::Succeeded)),
        K::PaymentFailed => WhopPlan::Payment(Some(PaymentStatus::Failed)),
        K::PaymentPending => WhopPlan::Payment(Some(PaymentStatus::Pending)),
        K::PaymentCreated => WhopPlan::Payment(None),
        K::WhopInvoicePaid => WhopPlan::Invoice(PaymentStatus::Succeeded, None),
        K::WhopInvoicePastDue => WhopPlan::Invoice(PaymentStatus::Failed, Some("past_due")),
        K::WhopInvoiceMarkedUncollectible => {
            WhopPlan::Invoice(PaymentStatus::Failed, Some("uncollectible"))
        }
        K::WhopInvoiceVoided => WhopPlan::Invoice(PaymentStatus::Voided, None),
        K::WhopInvoiceCreated => WhopPlan::Invoice(PaymentStatus::Pending, None),
        K::RefundCreated | K::RefundUpdated => WhopPlan::PaymentChange(PaymentStatus::Refunded),
        K::DisputeCreated | K::DisputeUpdated | K::DisputeAlertCreated => {
            WhopPlan::PaymentChange(PaymentStatus::Disputed)
        }
        _ => return None,
    })
}

fn whop_facts(
    plan: WhopPlan,
    data: &WhopData,
    event: &QueuedEvent,
) -> (MembershipFacts, Option<PaymentFacts>) {
    let subject = &event.subject;
    let mut membership = MembershipFacts {
        user_id: subject.user_id.clone(),
        company_id: subject.company_id.clone(),
        product_id: subject.product_id.clone(),
        plan_id: subject.plan_id.clone(),
        ..MembershipFacts::default()
    };
    let payment_id =
        |fallback: Option<&String>| subject.payment_id.clone().or_else(|| fallback.cloned());
    let payment = match plan {
        WhopPlan::Membership(valid) => {
            membership.status = data.status.text().map(str::to_owned);
            membership.valid = valid.or_else(|| data.valid.flag());
            membership.cancel_at_period_end = data.cancel_at_period_end.flag();
            membership.renewal_period_start = data.renewal_period_start.time();
            membership.renewal_period_end = data.renewal_period_end.time();
            None
        }
        WhopPlan::Payment(status) => {
            membership.status = data.membership.status.text().map(str::to_owned);
            let status = status.or_else(|| whop_payment_status(data));
            match (payment_id(None), status) {
                (Some(id), Some(status)) => Some(PaymentFacts {
                    id,
                    status,
                    amount: whop_amount(data),
                    currency: data.currency.text().map(str::to_ascii_lowercase),
                    failure_reason: (status == PaymentStatus::Failed)
                        .then(|| {
                            data.failure_message
                                .text()
                                .or_else(|| data.substatus.text())
                                .map(str::to_owned)
                        })
                        .flatten(),
                }),
                _ => None,
            }
        }
        WhopPlan::Invoice(status, reason) => subject.invoice_id.clone().map(|id| PaymentFacts {
            id,
            status,
            amount: whop_amount(data),
            currency: data.currency.text().map(str::to_ascii_lowercase),
            failure_reason: reason.map(str::to_owned),
        }),
        WhopPlan::PaymentChange(status) => payment_id(None).map(|id| PaymentFacts {
            id,
            status,
            amount: None,
            currency: None,
            failure_reason: None,
        }),
    };
    (membership, payment)
}

/// A `payment.created` payment's outcome so far, from its status words.
fn whop_payment_status(data: &WhopData) -> Option<PaymentStatus> {
    match data.substatus.text().or_else(|| data.status.text())? {
        "succeeded" | "paid" => Some(PaymentStatus::Succeeded),
        "failed" | "uncollectible" => Some(PaymentStatus::Failed),
        "refunded" | "partially_refunded" => Some(PaymentStatus::Refunded),
        "void" => Some(PaymentStatus::Voided),
        "pending" | "open" | "draft" => Some(PaymentStatus::Pending),
        other if other.starts_with("dispute") => Some(PaymentStatus::Disputed),
        _ => None,
    }
}

/// Whop states amounts in major units: v1 `total`, legacy `final_amount`.
fn whop_amount(data: &WhopData) -> Option<String> {
    let decimals = currency_decimals(data.currency.text().unwrap_or("usd"));
    [&data.total, &data.final_amount, &data.amount]
        .into_iter()
        .find_map(|value| value.major_amount(decimals))
}

/// How a Stripe event kind turns into facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StripePlan {
    Subscription,
    Invoice(PaymentStatus, Option<&'static str>),
}

fn stripe_plan(kind: &EventKind) -> Option<StripePlan> {
    use EventKind as K;
    Some(match kind {
        K::CustomerSubscriptionCreated
        | K::CustomerSubscriptionUpdated
        | K::CustomerSubscriptionDeleted
        | K::CustomerSubscriptionPaused
        | K::CustomerSubscriptionResumed
        | K::CustomerSubscriptionTrialWillEnd
        | K::CustomerSubscriptionPendingUpdateApplied
        | K::CustomerSubscriptionPendingUpdateExpired => StripePlan::Subscription,
        K::StripeInvoicePaid | K::StripeInvoicePaymentSucceeded => {
            StripePlan::Invoice(PaymentStatus::Succeeded, None)
        }
        K::StripeInvoicePaymentFailed => StripePlan::Invoice(PaymentStatus::Failed, None),
        K::StripeInvoicePaymentActionRequired => {
            StripePlan::Invoice(PaymentStatus::Failed, Some("payment_action_required"))
        }
        K::StripeInvoiceMarkedUncollectible => {
            StripePlan::Invoice(PaymentStatus::Failed, Some("uncollectible"))
        }
        K::StripeInvoiceVoided => StripePlan::Invoice(PaymentStatus::Voided, None),
        _ => return None,
    })
}

fn stripe_facts(
    plan: StripePlan,
    object: &StripeObject,
    event: &QueuedEvent,
) -> (MembershipFacts, Option<PaymentFacts>) {
    let subject = &event.subject;
    let mut membership = MembershipFacts {
        user_id: subject.customer_id.clone(),
        ..MembershipFacts::default()
    };
    let payment = match plan {
        StripePlan::Subscription => {
            membership.status = object.status.text().map(str::to_owned);
            membership.cancel_at_period_end = object.cancel_at_period_end.flag();
            // Since API 2025-03-31 the period lives on each item, not the subscription.
            let item = object.items.data.first();
            membership.renewal_period_start = object
                .current_period_start
                .time()
                .or_else(|| item.and_then(|i| i.current_period_start.time()));
            membership.renewal_period_end = object
                .current_period_end
                .time()
                .or_else(|| item.and_then(|i| i.current_period_end.time()));
            let price = item.map(|i| (&i.price, &i.plan));
            membership.plan_id = price
                .and_then(|(price, plan)| price.id.text().or_else(|| plan.id.text()))
                .or_else(|| object.plan.id.text())
                .map(str::to_owned);
            membership.product_id = price
                .and_then(|(price, plan)| price.product.text().or_else(|| plan.product.text()))
                .or_else(|| object.plan.product.text())
                .map(str::to_owned);
            None
        }
        StripePlan::Invoice(status, reason) => {
            let decimals = currency_decimals(object.currency.text().unwrap_or("usd"));
            let amount = match status {
                PaymentStatus::Succeeded => &object.amount_paid,
                _ => &object.amount_due,
            };
            subject.invoice_id.clone().map(|id| PaymentFacts {
                id,
                status,
                amount: amount.minor_amount(decimals),
                currency: object.currency.text().map(str::to_ascii_lowercase),
                failure_reason: (status == PaymentStatus::Failed)
                    .then(|| {
                        reason.map(str::to_owned).or_else(|| {
                            object
                                .last_finalization_error
                                .message
                                .text()
                                .map(str::to_owned)
                                .or_else(|| {
                                    object
                                        .attempt_count
                                        .integer()
                                        .map(|n| format!("attempt {n} failed"))
                                })
                        })
                    })
                    .flatten(),
            })
        }
    };
    (membership, payment)
}

/// Digits after the decimal point in `currency`'s major unit (ISO 4217, as Stripe lists them).
fn currency_decimals(currency: &str) -> u32 {
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

// --- lenient reading --------------------------------------------------------------------------

/// One JSON value read leniently: never an error on well-formed JSON; objects and arrays where a
/// scalar is expected read as [`Loose::Other`].
#[derive(Debug, Default, Clone, PartialEq)]
enum Loose {
    #[default]
    Absent,
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Other,
}

impl Loose {
    /// A non-empty string.
    fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) if !text.trim().is_empty() => Some(text.trim()),
            _ => None,
        }
    }

    /// A boolean, or its string spelling.
    fn flag(&self) -> Option<bool> {
        match self {
            Self::Bool(value) => Some(*value),
            Self::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// An integer, or its string spelling.
    fn integer(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            Self::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A time: RFC 3339, or Unix seconds/milliseconds as a number or string.
    fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Text(text) => parse_time_str(text),
            Self::Int(value) => unix_time(*value),
            Self::Float(value) => unix_time_f64(*value),
            _ => None,
        }
    }

    /// A major-unit amount (`29`, `29.0`, `"29.00"`) with `decimals` digits.
    fn major_amount(&self, decimals: u32) -> Option<String> {
        let width = usize::try_from(decimals).unwrap_or(2);
        match self {
            Self::Int(value) if decimals == 0 => Some(value.to_string()),
            Self::Int(value) => Some(format!("{value}.{:0width$}", 0)),
            Self::Float(value) if value.is_finite() => Some(format!("{value:.width$}")),
            Self::Text(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|value| format!("{value:.width$}")),
            _ => None,
        }
    }

    /// A minor-unit integer amount (Stripe's `2900`) in major units (`"29.00"`).
    fn minor_amount(&self, decimals: u32) -> Option<String> {
        let minor = self.integer()?;
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
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LooseVisitor;
        impl<'de> Visitor<'de> for LooseVisitor {
            type Value = Loose;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Loose, E> {
                Ok(Loose::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Loose, E> {
                Ok(Loose::Int(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Loose, E> {
                Ok(i64::try_from(value).map_or(Loose::Other, Loose::Int))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Loose, E> {
                Ok(Loose::Float(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Loose, E> {
                Ok(Loose::Text(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Loose, E> {
                Ok(Loose::Text(value))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// A list read leniently: anything but an array is empty.
#[derive(Debug, Default)]
struct LooseList<T>(Vec<T>);

impl<T> LooseList<T> {
    fn first(&self) -> Option<&T> {
        self.0.first()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LooseList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = LooseList<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(LooseList(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LooseList(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseList(Vec::new()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// Declares an object read leniently: the listed keys fill fields (the last occurrence wins),
/// other keys are skipped unparsed, and any non-object value reads as all-absent.
macro_rules! lenient_object {
    ($(#[$doc:meta])* struct $name:ident { $($key:literal => $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        struct $name {
            $($field: $ty,)*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> Visitor<'de> for ObjectVisitor {
                    type Value = $name;

                    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                        formatter.write_str("any JSON value")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut object = $name::default();
                        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                            match key.as_ref() {
                                $($key => object.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(object)
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok($name::default())
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<$name, D::Error> {
                        d.deserialize_any(self)
                    }
                }
                deserializer.deserialize_any(ObjectVisitor)
            }
        }
    };
}

lenient_object! {
    /// `{…, "data": {…}}` (v1 and legacy).
    struct WhopEnvelope {
        "data" => data: WhopData,
    }
}

lenient_object! {
    /// A Whop membership, payment, invoice, refund or dispute: the fields state reads.
    struct WhopData {
        "status" => status: Loose,
        "substatus" => substatus: Loose,
        "valid" => valid: Loose,
        "cancel_at_period_end" => cancel_at_period_end: Loose,
        "renewal_period_start" => renewal_period_start: Loose,
        "renewal_period_end" => renewal_period_end: Loose,
        "membership" => membership: WhopMembershipRef,
        "total" => total: Loose,
        "final_amount" => final_amount: Loose,
        "amount" => amount: Loose,
        "currency" => currency: Loose,
        "failure_message" => failure_message: Loose,
    }
}

lenient_object! {
    /// The membership a v1 payment embeds.
    struct WhopMembershipRef {
        "status" => status: Loose,
    }
}

lenient_object! {
    /// `{…, "data": {"object": {…}}}`.
    struct StripeEnvelope {
        "data" => data: StripeData,
    }
}

lenient_object! {
    struct StripeData {
        "object" => object: StripeObject,
    }
}

lenient_object! {
    /// A subscription or an invoice: the fields state reads.
    struct StripeObject {
        "status" => status: Loose,
        "cancel_at_period_end" => cancel_at_period_end: Loose,
        "current_period_start" => current_period_start: Loose,
        "current_period_end" => current_period_end: Loose,
        "items" => items: StripeItems,
        "plan" => plan: StripePrice,
        "amount_paid" => amount_paid: Loose,
        "amount_due" => amount_due: Loose,
        "currency" => currency: Loose,
        "attempt_count" => attempt_count: Loose,
        "last_finalization_error" => last_finalization_error: StripeError,
    }
}

lenient_object! {
    struct StripeItems {
        "data" => data: LooseList<StripeItem>,
    }
}

lenient_object! {
    struct StripeItem {
        "current_period_start" => current_period_start: Loose,
        "current_period_end" => current_period_end: Loose,
        "price" => price: StripePrice,
        "plan" => plan: StripePrice,
    }
}

lenient_object! {
    /// A price or (legacy) plan: its id and product id.
    struct StripePrice {
        "id" => id: Loose,
        "product" => product: Loose,
    }
}

lenient_object! {
    struct StripeError {
        "message" => message: Loose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::event::Subject;

    fn queued(provider: Source, kind: &str, subject: Subject, raw: &str) -> QueuedEvent {
        // Built as text: `raw` may hold what a `Value` cannot (`1e400`).
        let message = format!(
            r#"{{"provider":"{provider}","event_id":"evt_1","kind":"{kind}","subject":{},"occurred_at":"2026-03-01T12:00:00Z","received_at":"2026-03-01T12:00:01Z","raw":{raw}}}"#,
            serde_json::to_value(subject).unwrap()
        );
        serde_json::from_str(&message).unwrap()
    }

    fn membership_subject(id: &str) -> Subject {
        Subject {
            membership_id: Some(id.into()),
            user_id: Some("user_1".into()),
            plan_id: Some("plan_1".into()),
            product_id: Some("prod_1".into()),
            company_id: Some("biz_1".into()),
            ..Subject::default()
        }
    }

    fn observed(event: &QueuedEvent) -> (String, Box<Observation>) {
        match observe(event).unwrap() {
            Observed::Membership {
                membership_id,
                observation,
                ..
            } => (membership_id, observation),
            Observed::Ignored(reason) => panic!("ignored: {reason}"),
        }
    }

    fn fixture_body(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events")
            .join(name);
        let request: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        request["body"].as_str().unwrap().to_owned()
    }

    #[test]
    fn whop_v1_activation_reads_the_membership() {
        let event = queued(
            Source::Whop,
            "membership.activated",
            membership_subject("mem_4HtR8wLq2ZcV1n"),
            &fixture_body("apigw-webhook-whop.json"),
        );
        let (id, observation) = observed(&event);
        assert_eq!(id, "mem_4HtR8wLq2ZcV1n");
        let facts = &observation.membership;
        assert_eq!(facts.status.as_deref(), Some("active"));
        assert_eq!(facts.valid, Some(true));
        assert_eq!(facts.cancel_at_period_end, Some(false));
        assert_eq!(facts.user_id.as_deref(), Some("user_1"));
        assert_eq!(
            facts.renewal_period_end.map(|t| t.to_rfc3339()),
            Some("2026-04-01T11:59:55+00:00".into())
        );
        assert_eq!(observation.version.event_id, "evt_1");
        assert!(observation.payment.is_none());
    }

    #[test]
    fn whop_deactivation_and_legacy_went_invalid_state_lost_access() {
        let deactivated = queued(
            Source::Whop,
            "membership.deactivated",
            membership_subject("mem_1"),
            &fixture_body("apigw-webhook-whop-membership-deactivated.json"),
        );
        assert_eq!(observed(&deactivated).1.membership.valid, Some(false));
        let legacy = queued(
            Source::Whop,
            "membership.went_invalid",
            membership_subject("mem_1"),
            &fixture_body("apigw-webhook-whop-legacy-went-invalid.json"),
        );
        let facts = observed(&legacy).1.membership;
        assert_eq!(
            (facts.valid, facts.status.as_deref()),
            (Some(false), Some("expired"))
        );
    }

    #[test]
    fn whop_payment_failure_reads_the_payment_and_the_embedded_status() {
        let mut subject = membership_subject("mem_4HtR8wLq2ZcV1n");
        subject.payment_id = Some("pay_8JkL2mN4pQ6rS".into());
        let event = queued(
            Source::Whop,
            "payment.failed",
            subject,
            &fixture_body("apigw-webhook-whop-payment-failed.json"),
        );
        let (_, observation) = observed(&event);
        assert_eq!(observation.membership.status.as_deref(), Some("past_due"));
        assert_eq!(
            observation.payment,
            Some(PaymentFacts {
                id: "pay_8JkL2mN4pQ6rS".into(),
                status: PaymentStatus::Failed,
                amount: Some("29.00".into()),
                currency: Some("usd".into()),
                failure_reason: Some("failed".into()),
            })
        );
    }

    #[test]
    fn whop_payment_created_takes_its_outcome_from_the_status_words() {
        let mut subject = membership_subject("mem_1");
        subject.payment_id = Some("pay_1".into());
        for (body, expected) in [
            (
                r#"{"data":{"substatus":"succeeded"}}"#,
                Some(PaymentStatus::Succeeded),
            ),
            (
                r#"{"data":{"status":"paid"}}"#,
                Some(PaymentStatus::Succeeded),
            ),
            (
                r#"{"data":{"status":"open"}}"#,
                Some(PaymentStatus::Pending),
            ),
            (
                r#"{"data":{"substatus":"dispute_warning"}}"#,
                Some(PaymentStatus::Disputed),
            ),
            (r#"{"data":{}}"#, None),
        ] {
            let event = queued(Source::Whop, "payment.created", subject.clone(), body);
            assert_eq!(
                observed(&event).1.payment.map(|p| p.status),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn whop_invoices_refunds_and_disputes_are_payment_outcomes() {
        let mut subject = membership_subject("mem_1");
        subject.invoice_id = Some("inv_1".into());
        subject.payment_id = Some("pay_1".into());
        let past_due = queued(
            Source::Whop,
            "invoice.past_due",
            subject.clone(),
            r#"{"data":{}}"#,
        );
        let payment = observed(&past_due).1.payment.unwrap();
        assert_eq!(
            (
                payment.id.as_str(),
                payment.status,
                payment.failure_reason.as_deref()
            ),
            ("inv_1", PaymentStatus::Failed, Some("past_due"))
        );
        let refund = queued(
            Source::Whop,
            "refund.created",
            subject.clone(),
            r#"{"data":{}}"#,
        );
        assert_eq!(
            observed(&refund).1.payment.map(|p| (p.id, p.status)),
            Some(("pay_1".into(), PaymentStatus::Refunded))
        );
        let dispute = queued(Source::Whop, "dispute.created", subject, r#"{"data":{}}"#);
        assert_eq!(
            observed(&dispute).1.payment.map(|p| p.status),
            Some(PaymentStatus::Disputed)
        );
    }

    #[test]
    fn stripe_subscription_is_the_membership_and_the_customer_the_user() {
        let subject = Subject {
            subscription_id: Some("sub_1PqRsTLkdIwHu7ixKlMnOpQr".into()),
            customer_id: Some("cus_RqT3vW8xYz1AbC".into()),
            ..Subject::default()
        };
        let event = queued(
            Source::Stripe,
            "customer.subscription.updated",
            subject,
            &fixture_body("apigw-webhook-stripe-subscription-updated.json"),
        );
        let (id, observation) = observed(&event);
        assert_eq!(id, "sub_1PqRsTLkdIwHu7ixKlMnOpQr");
        let facts = observation.membership;
        assert_eq!(facts.status.as_deref(), Some("past_due"));
        assert_eq!(facts.user_id.as_deref(), Some("cus_RqT3vW8xYz1AbC"));
        assert_eq!(facts.cancel_at_period_end, Some(false));
        assert_eq!(
            facts.renewal_period_end.map(|t| t.timestamp()),
            Some(1_774_785_598)
        );
    }

    #[test]
    fn stripe_item_level_periods_and_prices_are_read() {
        let subject = Subject {
            subscription_id: Some("sub_1".into()),
            ..Subject::default()
        };
        let body = r#"{"data":{"object":{"status":"active","items":{"data":[
            {"current_period_start":1772366398,"current_period_end":1774785598,
             "price":{"id":"price_1","product":"prod_9"}}]}}}}"#;
        let event = queued(
            Source::Stripe,
            "customer.subscription.created",
            subject,
            body,
        );
        let facts = observed(&event).1.membership;
        assert_eq!(facts.plan_id.as_deref(), Some("price_1"));
        assert_eq!(facts.product_id.as_deref(), Some("prod_9"));
        assert_eq!(
            facts.renewal_period_start.map(|t| t.timestamp()),
            Some(1_772_366_398)
        );
    }

    #[test]
    fn stripe_invoices_are_payments_of_their_subscription() {
        let subject = Subject {
            subscription_id: Some("sub_1".into()),
            invoice_id: Some("in_1".into()),
            customer_id: Some("cus_1".into()),
            ..Subject::default()
        };
        let paid = queued(
            Source::Stripe,
            "invoice.paid",
            subject.clone(),
            &fixture_body("apigw-webhook-stripe-invoice-paid.json"),
        );
        let payment = observed(&paid).1.payment.unwrap();
        assert_eq!(payment.status, PaymentStatus::Succeeded);
        assert_eq!(payment.id, "in_1");
        assert_eq!(payment.currency.as_deref(), Some("usd"));

        let failed = queued(
            Source::Stripe,
            "invoice.payment_failed",
            subject.clone(),
            r#"{"data":{"object":{"amount_due":2900,"currency":"jpy","attempt_count":2}}}"#,
        );
        let payment = observed(&failed).1.payment.unwrap();
        assert_eq!(
            (payment.amount.as_deref(), payment.failure_reason.as_deref()),
            (Some("2900"), Some("attempt 2 failed"))
        );
        let failed = queued(
            Source::Stripe,
            "invoice.payment_failed",
            subject,
            r#"{"data":{"object":{"amount_due":-1234,"currency":"KWD"}}}"#,
        );
        assert_eq!(
            observed(&failed).1.payment.unwrap().amount.as_deref(),
            Some("-1.234")
        );
    }

    #[test]
    fn events_without_state_are_ignored_with_a_reason() {
        let cases = [
            (Source::Whop, "entry.created", membership_subject("mem_1")),
            (Source::Whop, "membership.activated", Subject::default()),
            (
                Source::Stripe,
                "payment_intent.succeeded",
                Subject::default(),
            ),
            (Source::Stripe, "invoice.paid", Subject::default()),
            (
                Source::Standard,
                "membership.activated",
                membership_subject("mem_1"),
            ),
        ];
        for (provider, kind, subject) in cases {
            let event = queued(provider, kind, subject, "{}");
            assert!(
                matches!(observe(&event), Ok(Observed::Ignored(_))),
                "{provider} {kind}"
            );
        }
    }

    #[test]
    fn odd_shapes_read_as_absent_instead_of_failing() {
        let body = r#"{"data":{"status":["x"],"valid":"false","cancel_at_period_end":{"a":1},
            "renewal_period_end":"1774785598","status":"active","metadata":{"n":1e400},
            "membership":"mem_1","total":"12.5","currency":7}}"#;
        let event = queued(
            Source::Whop,
            "membership.activated",
            membership_subject("mem_1"),
            body,
        );
        let facts = observed(&event).1.membership;
        assert_eq!(
            facts.status.as_deref(),
            Some("active"),
            "the last repeated key wins"
        );
        assert_eq!(facts.valid, Some(true), "the kind states validity");
        assert_eq!(facts.cancel_at_period_end, None);
        assert_eq!(
            facts.renewal_period_end.map(|t| t.timestamp()),
            Some(1_774_785_598)
        );

        for body in ["[]", "\"text\"", "{\"data\":null}", "{\"data\":[1,2]}"] {
            let event = queued(
                Source::Whop,
                "membership.activated",
                membership_subject("mem_1"),
                body,
            );
            assert!(observe(&event).is_ok(), "{body}");
        }
    }

    #[test]
    fn amounts_format_by_currency() {
        assert_eq!(Loose::Float(29.0).major_amount(2).as_deref(), Some("29.00"));
        assert_eq!(Loose::Int(29).major_amount(2).as_deref(), Some("29.00"));
        assert_eq!(Loose::Int(500).major_amount(0).as_deref(), Some("500"));
        assert_eq!(
            Loose::Text("9.5".into()).major_amount(3).as_deref(),
            Some("9.500")
        );
        assert_eq!(Loose::Int(2900).minor_amount(2).as_deref(), Some("29.00"));
        assert_eq!(Loose::Int(5).minor_amount(2).as_deref(), Some("0.05"));
        assert_eq!(Loose::Null.minor_amount(2), None);
        assert_eq!(currency_decimals("JPY"), 0);
    }
}
