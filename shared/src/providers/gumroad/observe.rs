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

/// What a subscriber's `status` (`GET /v2/products/{id}/subscribers`) says, in the words the
/// pings use: the status, whether it grants access, whether a cancellation is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberFacts {
    pub status: String,
    pub valid: Option<bool>,
    pub cancel_at_period_end: Option<bool>,
}

/// A subscriber's status as the pings would have left it: `alive` as a `sale` (active, no
/// cancellation pending), `pending_cancellation` as a `cancellation` after it (still active,
/// cancel scheduled), `pending_failure` as a charge failing while access lasts (`past_due`), and
/// the ended statuses as a `subscription_ended` with that `ended_reason` (`cancelled`,
/// `failed_payment`, `fixed_subscription_period_ended`: access ended). An unknown status is kept
/// as it is, saying nothing about access.
pub fn subscriber_facts(status: &str) -> SubscriberFacts {
    let facts = |status: &str, valid, cancel| SubscriberFacts {
        status: status.to_owned(),
        valid,
        cancel_at_period_end: cancel,
    };
    match status {
        "alive" => facts("active", Some(true), Some(false)),
        "pending_cancellation" => facts("active", Some(true), Some(true)),
        "pending_failure" => facts("past_due", Some(true), Some(false)),
        "failed_payment" | "fixed_subscription_period_ended" | "cancelled" => {
            facts(status, Some(false), None)
        }
        other => facts(other, None, None),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subscriber_status_maps_to_the_state_its_pings_would_leave() {
        let cases = [
            ("alive", "active", Some(true), Some(false)),
            ("pending_cancellation", "active", Some(true), Some(true)),
            ("pending_failure", "past_due", Some(true), Some(false)),
            ("failed_payment", "failed_payment", Some(false), None),
            (
                "fixed_subscription_period_ended",
                "fixed_subscription_period_ended",
                Some(false),
                None,
            ),
            ("cancelled", "cancelled", Some(false), None),
            ("paused_someday", "paused_someday", None, None),
        ];
        for (gumroad, status, valid, cancel) in cases {
            let facts = subscriber_facts(gumroad);
            assert_eq!(facts.status, status, "{gumroad}");
            assert_eq!(facts.valid, valid, "{gumroad}");
            assert_eq!(facts.cancel_at_period_end, cancel, "{gumroad}");
        }
    }
}
