//! What Gumroad's pings say about a subscription (the membership: `subscription_id`), in the
//! connection's company (`docs/providers.md`, "Gumroad"):
//!
//! - `sale` (a first sale or `is_recurring_charge`): the subscription is active and a payment
//!   succeeded (`sale_id`, `price` in cents, `currency`).
//! - `cancellation`: cancelled at the end of the paid period (cancel scheduled).
//! - `subscription_ended`: access ended (churned), its `ended_reason` the status.
//! - `subscription_restarted`: active again, no cancellation pending (recovered).
//! - `subscription_updated`: the product only.
//! - `refund`, `dispute`, `dispute_won`: the sale's payment refunded, disputed, or succeeded
//!   again.
//!
//! A ping with `test=true` (the seller bought their own product) is recorded like any event and
//! observed as nothing; a sale without a subscription (a one-off purchase) names no membership.

use crate::domain::json::{self, Field, Scalar};
use crate::domain::state::model::{MemberContact, MembershipFacts, PaymentFacts, PaymentStatus};
use crate::domain::state::observe::{
    ObserveError, Observed, currency_decimals, minor_amount, observed, parse,
};
use crate::domain::webhooks::event::{EventKind, QueuedEvent, Subject};

pub(crate) fn observe(event: &QueuedEvent, kind: &EventKind) -> Result<Observed, ObserveError> {
    let ping: GumroadPing<'_> = parse(event)?;
    if ping.test.flag() == Some(true) {
        return Ok(Observed::Ignored("test_ping"));
    }
    let Some(membership_id) = Subject::owned(&event.subject.subscription_id) else {
        return Ok(Observed::Ignored("no_membership"));
    };
    let subject = &event.subject;
    let mut membership = MembershipFacts {
        user_id: Subject::owned(&subject.user_id),
        company_id: Subject::owned(&subject.company_id),
        product_id: Subject::owned(&subject.product_id),
        contact: MemberContact {
            email: ping
                .email
                .text()
                .or_else(|| ping.user_email.text())
                .map(str::to_owned),
            name: ping.full_name.text().map(str::to_owned),
            ..MemberContact::default()
        },
        ..MembershipFacts::default()
    };
    let payment = |status| {
        let currency = ping.currency.text().map(str::to_ascii_lowercase);
        let decimals = currency_decimals(currency.as_deref().unwrap_or("usd"));
        Subject::owned(&subject.payment_id).map(|id| PaymentFacts {
            id,
            status,
            amount: ping
                .price
                .integer()
                .and_then(|cents| minor_amount(&Field::Int(cents), decimals)),
            currency,
            failure_reason: None,
        })
    };
    let payment = match kind {
        EventKind::GumroadSale => {
            membership.status = Some("active".to_owned());
            membership.valid = Some(true);
            payment(PaymentStatus::Succeeded)
        }
        EventKind::GumroadCancellation => {
            membership.cancel_at_period_end = Some(true);
            None
        }
        EventKind::GumroadSubscriptionEnded => {
            membership.valid = Some(false);
            membership.status = Some(ping.ended_reason.text().unwrap_or("ended").to_owned());
            None
        }
        EventKind::GumroadSubscriptionRestarted => {
            membership.status = Some("active".to_owned());
            membership.valid = Some(true);
            membership.cancel_at_period_end = Some(false);
            None
        }
        EventKind::GumroadSubscriptionUpdated => None,
        EventKind::GumroadRefund => payment(PaymentStatus::Refunded),
        EventKind::GumroadDispute => payment(PaymentStatus::Disputed),
        EventKind::GumroadDisputeWon => payment(PaymentStatus::Succeeded),
        _ => return Ok(Observed::Ignored("kind_without_state")),
    };
    Ok(observed(event, membership_id, (membership, payment)))
}

json::lenient_object! {
    /// A ping's fields, as the queued event's JSON carries them.
    struct GumroadPing / GumroadPingKey {
        "test" => test: Scalar,
        "price" => price: Scalar,
        "currency" => currency: Scalar,
        "email" => email: Scalar,
        "user_email" => user_email: Scalar,
        "full_name" => full_name: Scalar,
        "ended_reason" => ended_reason: Scalar,
    }
}
