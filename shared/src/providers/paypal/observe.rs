//! What PayPal's events say about a subscription (the membership, `I-…`):
//! - `BILLING.SUBSCRIPTION.*`: the subscription's status (lowercased, `CANCELLED` read as
//!   `canceled` like the other providers); `ACTIVATED` states access, `CANCELLED` and `EXPIRED`
//!   its end (churned). `SUSPENDED` keeps the subscription but stops billing: PayPal suspends
//!   when the failed payments reach the plan's threshold (or the merchant pauses it), and a
//!   suspended subscription can be reactivated, so it is at risk, not churned.
//! - `BILLING.SUBSCRIPTION.PAYMENT.FAILED`: a failed payment (there is no sale: the
//!   subscription and the failure's time name it, as the reconcile names it; the event's id
//!   where the time is missing), so the subscription is at risk until a payment succeeds.
//! - `PAYMENT.SALE.COMPLETED` / `DENIED` / `REVERSED` / `REFUNDED`: a payment outcome of the
//!   sale's `billing_agreement_id`; a completed sale after a failure is a recovery. A refund names
//!   only its `sale_id`: the processor reads the sale's subscription from PayPal first
//!   (`super::refund`), and the refund is the sale's payment, refunded, its amount left as the
//!   sale stated it (a refund's own amount may be part of it); one whose sale PayPal does not
//!   know is ignored (`no_membership`).
//!
//! The company is the deployment's `PAYPAL_COMPANY_ID`, which ingest wrote in the subject.

use crate::domain::json::{self, Scalar};
use crate::domain::state::model::{MemberContact, MembershipFacts, PaymentFacts, PaymentStatus};
use crate::domain::state::observe::{
    ObserveError, Observed, currency_decimals, major_amount, observed, parse,
};
use crate::domain::webhooks::event::{EventKind, QueuedEvent, Subject};

/// How a PayPal event kind turns into facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// The subscription, with the status and access the kind implies.
    Subscription(Option<&'static str>, Option<bool>),
    PaymentFailed,
    Sale(PaymentStatus),
}

fn plan(kind: &EventKind) -> Option<Plan> {
    use EventKind as K;
    Some(match kind {
        K::PayPalSubscriptionCreated | K::PayPalSubscriptionUpdated => {
            Plan::Subscription(None, None)
        }
        K::PayPalSubscriptionActivated => Plan::Subscription(Some("active"), Some(true)),
        K::PayPalSubscriptionCancelled => Plan::Subscription(Some("canceled"), Some(false)),
        K::PayPalSubscriptionExpired => Plan::Subscription(Some("expired"), Some(false)),
        K::PayPalSubscriptionSuspended => Plan::Subscription(Some("suspended"), None),
        K::PayPalSubscriptionPaymentFailed => Plan::PaymentFailed,
        K::PayPalSaleCompleted => Plan::Sale(PaymentStatus::Succeeded),
        K::PayPalSaleDenied => Plan::Sale(PaymentStatus::Failed),
        K::PayPalSaleRefunded => Plan::Sale(PaymentStatus::Refunded),
        // A reversal takes the money back without the merchant: a chargeback, mostly.
        K::PayPalSaleReversed => Plan::Sale(PaymentStatus::Disputed),
        _ => return None,
    })
}

/// PayPal's status word in the vocabulary the state model reads (`CANCELLED` → `canceled`).
fn status_word(status: &str) -> String {
    match status {
        "CANCELLED" => "canceled".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// A subscription's `status` as the events of that status state it (the reconcile reads PayPal's
/// answer with it): `ACTIVE` grants access, `CANCELLED` and `EXPIRED` end it, the others
/// (`APPROVAL_PENDING`, `APPROVED`, `SUSPENDED`) leave access to the status.
pub(crate) fn subscription_status(status: &str) -> (String, Option<bool>) {
    let valid = match status {
        "ACTIVE" => Some(true),
        "CANCELLED" | "EXPIRED" => Some(false),
        _ => None,
    };
    (status_word(status), valid)
}

/// The id of a subscription's `last_failed_payment`: the subscription and the failure's time,
/// which both the `BILLING.SUBSCRIPTION.PAYMENT.FAILED` webhook and the reconcile's read state,
/// so the same failure is one payment whichever reports it (`None` without a time).
pub(crate) fn failed_payment_id(
    subscription: &str,
    failed: &PayPalFailedPayment<'_>,
) -> Option<String> {
    let at = failed.time.time()?;
    Some(format!(
        "{subscription}_failed_{}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

/// A subscription's `last_failed_payment` as the failed payment `id`.
pub(crate) fn failed_payment(id: String, failed: &PayPalFailedPayment<'_>) -> PaymentFacts {
    let currency = failed.amount.currency_code.text();
    PaymentFacts {
        id,
        status: PaymentStatus::Failed,
        amount: money(&failed.amount),
        currency: currency.map(str::to_ascii_lowercase),
        failure_reason: Some(
            failed
                .reason_code
                .text()
                .unwrap_or("payment_failed")
                .to_owned(),
        ),
    }
}

/// `{currency_code, value}` in major units (a currency without one read as USD's decimals).
pub(crate) fn money(amount: &PayPalMoney<'_>) -> Option<String> {
    let currency = amount.currency_code.text();
    major_amount(&amount.value, currency_decimals(currency.unwrap_or("usd")))
}

/// Reads what a PayPal `event` says about its subscription.
pub(crate) fn observe(event: &QueuedEvent, kind: &EventKind) -> Result<Observed, ObserveError> {
    let Some(plan) = plan(kind) else {
        return Ok(Observed::Ignored("kind_without_state"));
    };
    let Some(membership_id) = Subject::owned(&event.subject.subscription_id) else {
        return Ok(Observed::Ignored("no_membership"));
    };
    let envelope: PayPalEnvelope<'_> = parse(event)?;
    let resource = &envelope.resource;
    let mut membership = MembershipFacts {
        company_id: Subject::owned(&event.subject.company_id),
        ..MembershipFacts::default()
    };
    let payment = match plan {
        Plan::Subscription(implied, valid) => {
            membership.user_id = Subject::owned(&event.subject.customer_id);
            membership.plan_id = Subject::owned(&event.subject.plan_id);
            membership.status = implied
                .map(str::to_owned)
                .or_else(|| resource.status.text().map(status_word));
            membership.valid = valid;
            membership.renewal_period_end = resource.billing_info.next_billing_time.time();
            membership.contact = MemberContact {
                email: resource.subscriber.email_address.text().map(str::to_owned),
                ..MemberContact::default()
            };
            None
        }
        Plan::PaymentFailed => {
            membership.status = resource.status.text().map(status_word);
            let failed = &resource.billing_info.last_failed_payment;
            let id =
                failed_payment_id(&membership_id, failed).unwrap_or_else(|| event.event_id.clone());
            Some(failed_payment(id, failed))
        }
        // A refund's `amount` is what was refunded, maybe part of the sale: the sale's payment
        // changes status and keeps the amount its sale stated (as a Whop refund leaves it).
        Plan::Sale(PaymentStatus::Refunded) => Subject::owned(&event.subject.payment_id)
            .map(|id| PaymentFacts::status_change(id, PaymentStatus::Refunded)),
        Plan::Sale(status) => {
            let currency = resource.amount.currency.text();
            Subject::owned(&event.subject.payment_id).map(|id| PaymentFacts {
                id,
                status,
                amount: major_amount(
                    &resource.amount.total,
                    currency_decimals(currency.unwrap_or("usd")),
                ),
                currency: currency.map(str::to_ascii_lowercase),
                failure_reason: (status == PaymentStatus::Failed).then(|| "denied".to_owned()),
            })
        }
    };
    Ok(observed(event, membership_id, (membership, payment)))
}

json::lenient_object! {
    /// `{…, "resource": {…}}`.
    struct PayPalEnvelope / PayPalEnvelopeKey {
        "resource" => resource: PayPalResource,
    }
}

json::lenient_object! {
    /// A subscription or a sale: the fields state and the reconcile read.
    struct PayPalResource / PayPalResourceKey {
        "id" => id: Scalar,
        "plan_id" => plan_id: Scalar,
        "update_time" => update_time: Scalar,
        "status" => status: Scalar,
        "subscriber" => subscriber: PayPalSubscriber,
        "billing_info" => billing_info: PayPalBillingInfo,
        "amount" => amount: PayPalSaleAmount,
    }
}

json::lenient_object! {
    struct PayPalSubscriber / PayPalSubscriberKey {
        "email_address" => email_address: Scalar,
        "payer_id" => payer_id: Scalar,
    }
}

json::lenient_object! {
    struct PayPalBillingInfo / PayPalBillingInfoKey {
        "next_billing_time" => next_billing_time: Scalar,
        "last_failed_payment" => last_failed_payment: PayPalFailedPayment,
        "last_payment" => last_payment: PayPalLastPayment,
        "failed_payments_count" => failed_payments_count: Scalar,
    }
}

json::lenient_object! {
    struct PayPalFailedPayment / PayPalFailedPaymentKey {
        "amount" => amount: PayPalMoney,
        "reason_code" => reason_code: Scalar,
        "time" => time: Scalar,
    }
}

json::lenient_object! {
    /// `billing_info.last_payment`: `{amount, time}`.
    struct PayPalLastPayment / PayPalLastPaymentKey {
        "amount" => amount: PayPalMoney,
        "time" => time: Scalar,
    }
}

json::lenient_object! {
    /// `{currency_code, value: "9.99"}`.
    struct PayPalMoney / PayPalMoneyKey {
        "currency_code" => currency_code: Scalar,
        "value" => value: Scalar,
    }
}

json::lenient_object! {
    /// A sale's `{total: "9.99", currency: "USD"}`.
    struct PayPalSaleAmount / PayPalSaleAmountKey {
        "total" => total: Scalar,
        "currency" => currency: Scalar,
    }
}
