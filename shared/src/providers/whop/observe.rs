//! What Whop's events say about a membership: `membership.*` (v1 and legacy v5) is the
//! membership object (`activated`/`went_valid` state access, `deactivated`/`went_invalid` its
//! loss); `payment.*`, `invoice.*`, `refund.*`, `dispute.*` are payment outcomes of the membership
//! they name (and the membership status a v1 payment embeds).

use crate::domain::json::{self, Scalar};
use crate::domain::state::model::{MemberContact, MembershipFacts, PaymentFacts, PaymentStatus};
use crate::domain::state::observe::{
    ObserveError, Observed, currency_decimals, major_amount, observed, parse,
};
use crate::domain::webhooks::event::{EventKind, QueuedEvent, Subject};

/// Reads what a Whop `event` says about its membership.
pub(crate) fn observe(event: &QueuedEvent, kind: &EventKind) -> Result<Observed, ObserveError> {
    if kind.is_verification() {
        return Ok(Observed::Ignored("verification"));
    }
    let Some(plan) = whop_plan(kind) else {
        return Ok(Observed::Ignored("kind_without_state"));
    };
    let Some(membership_id) = Subject::owned(&event.subject.membership_id) else {
        return Ok(Observed::Ignored("no_membership"));
    };
    let envelope: WhopEnvelope<'_> = parse(event)?;
    Ok(observed(
        event,
        membership_id,
        whop_facts(plan, &envelope.data, event),
    ))
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
    data: &WhopData<'_>,
    event: &QueuedEvent,
) -> (MembershipFacts, Option<PaymentFacts>) {
    let subject = &event.subject;
    let mut membership = MembershipFacts {
        user_id: Subject::owned(&subject.user_id),
        company_id: Subject::owned(&subject.company_id),
        product_id: Subject::owned(&subject.product_id),
        plan_id: Subject::owned(&subject.plan_id),
        contact: whop_contact(data),
        ..MembershipFacts::default()
    };
    let payment_id = |fallback: Option<&String>| {
        Subject::owned(&subject.payment_id).or_else(|| fallback.cloned())
    };
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
        WhopPlan::Invoice(status, reason) => {
            Subject::owned(&subject.invoice_id).map(|id| PaymentFacts {
                id,
                status,
                amount: whop_amount(data),
                currency: data.currency.text().map(str::to_ascii_lowercase),
                failure_reason: reason.map(str::to_owned),
            })
        }
        WhopPlan::PaymentChange(status) => {
            payment_id(None).map(|id| PaymentFacts::status_change(id, status))
        }
    };
    (membership, payment)
}

/// The member's contact details a membership or payment object carries (v1 `user`, and the
/// membership's `manage_url`).
fn whop_contact(data: &WhopData<'_>) -> MemberContact {
    let text = |value: &Scalar<'_>| value.text().map(str::to_owned);
    MemberContact {
        email: text(&data.user.email),
        name: text(&data.user.name),
        username: text(&data.user.username),
        manage_url: text(&data.manage_url),
    }
}

/// A `payment.created` payment's outcome so far, from its status words.
fn whop_payment_status(data: &WhopData<'_>) -> Option<PaymentStatus> {
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
fn whop_amount(data: &WhopData<'_>) -> Option<String> {
    let decimals = currency_decimals(data.currency.text().unwrap_or("usd"));
    [&data.total, &data.final_amount, &data.amount]
        .into_iter()
        .find_map(|value| major_amount(value, decimals))
}

json::lenient_object! {
    /// `{…, "data": {…}}` (v1 and legacy).
    struct WhopEnvelope / WhopEnvelopeKey {
        "data" => data: WhopData,
    }
}

json::lenient_object! {
    /// A Whop membership, payment, invoice, refund or dispute: the fields state reads.
    struct WhopData / WhopDataKey {
        "status" => status: Scalar,
        "substatus" => substatus: Scalar,
        "valid" => valid: Scalar,
        "cancel_at_period_end" => cancel_at_period_end: Scalar,
        "renewal_period_start" => renewal_period_start: Scalar,
        "renewal_period_end" => renewal_period_end: Scalar,
        "membership" => membership: WhopMembershipRef,
        "total" => total: Scalar,
        "final_amount" => final_amount: Scalar,
        "amount" => amount: Scalar,
        "currency" => currency: Scalar,
        "failure_message" => failure_message: Scalar,
        "user" => user: WhopUser,
        "manage_url" => manage_url: Scalar,
    }
}

json::lenient_object! {
    /// The member a v1 membership or payment names (`null` reads as absent).
    struct WhopUser / WhopUserKey {
        "email" => email: Scalar,
        "name" => name: Scalar,
        "username" => username: Scalar,
    }
}

json::lenient_object! {
    /// The membership a v1 payment embeds.
    struct WhopMembershipRef / WhopMembershipRefKey {
        "status" => status: Scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::event::VERIFICATION_KIND;

    #[test]
    fn the_verification_event_is_observed_as_nothing_even_naming_a_membership() {
        let event: QueuedEvent = serde_json::from_value(serde_json::json!({
            "provider": "whop", "event_id": "msg_verify", "kind": VERIFICATION_KIND,
            "subject": {"membership_id": "mem_1"},
            "occurred_at": "2026-11-23T10:00:00Z", "received_at": "2026-11-23T10:00:00Z",
            "raw": {"type": VERIFICATION_KIND, "data": {"id": "mem_1", "status": "canceled"}},
        }))
        .unwrap();
        let kind = event.event_kind();

        assert!(kind.is_known() && kind.is_verification());
        assert!(matches!(
            observe(&event, &kind),
            Ok(Observed::Ignored("verification"))
        ));
    }
}
