//! What Stripe's events say about a membership: `customer.subscription.*` is the subscription
//! (the membership), its customer the user; the invoice events are payment outcomes of the
//! invoice's subscription (the invoice is the payment, so its retries and final payment are one
//! record).

use crate::domain::json::{self, First, Scalar};
use crate::domain::state::model::{MemberContact, MembershipFacts, PaymentFacts, PaymentStatus};
use crate::domain::state::observe::{
    ObserveError, Observed, currency_decimals, minor_amount, observed, parse,
};
use crate::domain::webhooks::event::{EventKind, QueuedEvent, Subject};

/// Reads what a Stripe `event` says about its subscription.
pub(crate) fn observe(event: &QueuedEvent, kind: &EventKind) -> Result<Observed, ObserveError> {
    let Some(plan) = stripe_plan(kind) else {
        return Ok(Observed::Ignored("kind_without_state"));
    };
    let Some(membership_id) = Subject::owned(&event.subject.subscription_id) else {
        return Ok(Observed::Ignored("no_membership"));
    };
    let envelope: StripeEnvelope<'_> = parse(event)?;
    Ok(observed(
        event,
        membership_id,
        stripe_facts(plan, &envelope.data.object, event),
    ))
}

/// A subscription's items: the first one carries the period and price since API 2025-03-31.
type FirstItem<'a> = First<StripeItem<'a>>;

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
    object: &StripeObject<'_>,
    event: &QueuedEvent,
) -> (MembershipFacts, Option<PaymentFacts>) {
    let subject = &event.subject;
    let mut membership = MembershipFacts {
        user_id: Subject::owned(&subject.customer_id),
        // An invoice copies its customer's e-mail and name; a subscription names only the id.
        contact: MemberContact {
            email: object.customer_email.text().map(str::to_owned),
            name: object.customer_name.text().map(str::to_owned),
            ..MemberContact::default()
        },
        ..MembershipFacts::default()
    };
    let payment = match plan {
        StripePlan::Subscription => {
            subscription_facts(object, &mut membership);
            None
        }
        StripePlan::Invoice(status, reason) => {
            let decimals = currency_decimals(object.currency.text().unwrap_or("usd"));
            let amount = match status {
                PaymentStatus::Succeeded => &object.amount_paid,
                _ => &object.amount_due,
            };
            Subject::owned(&subject.invoice_id).map(|id| PaymentFacts {
                id,
                status,
                amount: minor_amount(amount, decimals),
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

/// What a subscription object says about its membership: its status, whether it cancels at the
/// period's end, the period, the price (plan) and product. The webhooks' subscription events and
/// sync's listing ([`super::sync`]) both read it here.
pub(crate) fn subscription_facts(object: &StripeObject<'_>, membership: &mut MembershipFacts) {
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
}

json::lenient_object! {
    /// `{…, "data": {"object": {…}}}`.
    struct StripeEnvelope / StripeEnvelopeKey {
        "data" => data: StripeData,
    }
}

json::lenient_object! {
    struct StripeData / StripeDataKey {
        "object" => object: StripeObject,
    }
}

json::lenient_object! {
    /// A subscription or an invoice: the fields state reads (`id` and `customer`: a listed
    /// subscription's, [`super::sync`]).
    struct StripeObject / StripeObjectKey {
        "id" => id: Scalar,
        "customer" => customer: Scalar,
        "status" => status: Scalar,
        "cancel_at_period_end" => cancel_at_period_end: Scalar,
        "current_period_start" => current_period_start: Scalar,
        "current_period_end" => current_period_end: Scalar,
        "items" => items: StripeItems,
        "plan" => plan: StripePrice,
        "amount_paid" => amount_paid: Scalar,
        "amount_due" => amount_due: Scalar,
        "currency" => currency: Scalar,
        "attempt_count" => attempt_count: Scalar,
        "last_finalization_error" => last_finalization_error: StripeError,
        "customer_email" => customer_email: Scalar,
        "customer_name" => customer_name: Scalar,
    }
}

json::lenient_object! {
    struct StripeItems / StripeItemsKey {
        "data" => data: FirstItem,
    }
}

json::lenient_object! {
    struct StripeItem / StripeItemKey {
        "current_period_start" => current_period_start: Scalar,
        "current_period_end" => current_period_end: Scalar,
        "price" => price: StripePrice,
        "plan" => plan: StripePrice,
    }
}

json::lenient_object! {
    /// A price or (legacy) plan: its id and product id.
    struct StripePrice / StripePriceKey {
        "id" => id: Scalar,
        "product" => product: Scalar,
    }
}

json::lenient_object! {
    struct StripeError / StripeErrorKey {
        "message" => message: Scalar,
    }
}
