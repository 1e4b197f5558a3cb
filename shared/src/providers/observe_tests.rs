//! Tests of each provider's observations (through [`observe`]) and of the amounts they read.

use super::*;
use crate::domain::json::Field;
use crate::domain::state::model::PaymentStatus;
use crate::domain::state::model::{Observation, PaymentFacts};
use crate::domain::state::observe::{currency_decimals, major_amount, minor_amount};
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
    assert_eq!(
        major_amount(&Field::Float(29.0), 2).as_deref(),
        Some("29.00")
    );
    assert_eq!(major_amount(&Field::Int(29), 2).as_deref(), Some("29.00"));
    assert_eq!(major_amount(&Field::Int(500), 0).as_deref(), Some("500"));
    assert_eq!(
        major_amount(&Field::Str("9.5".into()), 3).as_deref(),
        Some("9.500")
    );
    assert_eq!(minor_amount(&Field::Int(2900), 2).as_deref(), Some("29.00"));
    assert_eq!(minor_amount(&Field::Int(5), 2).as_deref(), Some("0.05"));
    assert_eq!(minor_amount(&Field::Null, 2), None);
    assert_eq!(currency_decimals("JPY"), 0);
}

#[test]
fn members_contact_details_are_read_where_the_provider_sends_them() {
    use crate::domain::state::model::MemberContact;
    let whop = queued(
        Source::Whop,
        "membership.activated",
        membership_subject("mem_4HtR8wLq2ZcV1n"),
        &fixture_body("apigw-webhook-whop.json"),
    );
    assert_eq!(
        observed(&whop).1.membership.contact,
        MemberContact {
            email: Some("jane@example.com".into()),
            name: Some("Jane Doe".into()),
            username: Some("janedoe".into()),
            manage_url: Some("https://whop.com/orders/mem_4HtR8wLq2ZcV1n/manage/".into()),
        }
    );
    // A v1 payment names its user too; `"user": null` reads as no details.
    let payment = |user: &str| {
        queued(
            Source::Whop,
            "payment.failed",
            membership_subject("mem_1"),
            &format!(r#"{{"data":{{"id":"pay_1","user":{user}}}}}"#),
        )
    };
    let contact = observed(&payment(r#"{"id":"user_1","email":"a@example.com"}"#))
        .1
        .membership
        .contact;
    assert_eq!(contact.email.as_deref(), Some("a@example.com"));
    assert!(observed(&payment("null")).1.membership.contact.is_empty());

    let stripe = queued(
        Source::Stripe,
        "invoice.paid",
        Subject {
            subscription_id: Some("sub_1".into()),
            invoice_id: Some("in_1".into()),
            ..Subject::default()
        },
        &fixture_body("apigw-webhook-stripe-invoice-paid.json"),
    );
    let contact = observed(&stripe).1.membership.contact;
    assert_eq!(contact.email.as_deref(), Some("jane@example.com"));
    assert_eq!((contact.name, contact.manage_url), (None, None));
}

#[test]
fn a_partial_paypal_refund_marks_the_sales_payment_refunded_and_keeps_the_sales_amount() {
    let subject = Subject {
        subscription_id: Some("I-BW452GLLEP1G".into()),
        payment_id: Some("80021663DE681814L".into()),
        company_id: Some("biz_1".into()),
        ..Subject::default()
    };
    let sale = queued(
        Source::PayPal,
        "PAYMENT.SALE.COMPLETED",
        subject.clone(),
        &fixture_body("apigw-webhook-paypal-sale-completed.json"),
    );
    // 5.00 of the sale's 29.00, a day later.
    let body = fixture_body("apigw-webhook-paypal-sale-refunded.json");
    let partial = body.replace(r#""total":"29.00""#, r#""total":"5.00""#);
    assert_ne!(partial, body, "the sample states the refunded amount");
    let mut refund = queued(Source::PayPal, "PAYMENT.SALE.REFUNDED", subject, &partial);
    refund.event_id = "WH-7YX49823VE2312340-4DR84720FE1093722".to_owned();
    refund.occurred_at += chrono::Duration::days(1);

    let (_, sold) = observed(&sale);
    let (_, refunded) = observed(&refund);
    let facts = refunded
        .payment
        .as_ref()
        .expect("the refund is a payment outcome");
    assert_eq!(
        (
            facts.id.as_str(),
            facts.status,
            &facts.amount,
            &facts.currency
        ),
        ("80021663DE681814L", PaymentStatus::Refunded, &None, &None)
    );
    let state =
        crate::domain::state::model::MembershipState::empty("I-BW452GLLEP1G", Source::PayPal)
            .fold([&*sold, &*refunded]);
    let payments: Vec<_> = state
        .payments
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.status,
                p.amount.as_deref(),
                p.currency.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        payments,
        [(
            "80021663DE681814L",
            PaymentStatus::Refunded,
            Some("29.00"),
            Some("usd")
        )]
    );
}
