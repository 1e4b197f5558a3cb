//! Tests of each provider's normalisation (through [`normalise`]) and of the queue message.

use super::*;
use crate::domain::webhooks::event::QueuedEvent;
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

/// `docs/providers.md` §6, Whop v1 vector (headers `webhook-id: msg_test_1`, `webhook-timestamp: 1735689600`).
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

/// `docs/providers.md` §6, Whop legacy vector (`x-whop-signature: t=1735689600,…`).
const WHOP_LEGACY_VECTOR: &str =
    r#"{"action":"membership.went_valid","api_version":"v5","data":{"id":"mem_123"}}"#;

/// `docs/providers.md` §6, the stripe-python fixture (exact bytes).
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
    assert_round_trips(&standard(Some("msg_1"), r#"{"type":"a.b","data":{"id":"x"}}"#).unwrap());
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
