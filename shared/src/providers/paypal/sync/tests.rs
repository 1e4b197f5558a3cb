use serde_json::json;

use super::*;

fn answer(subscription: &serde_json::Value) -> Answer {
    super::subscription(&subscription.to_string(), "biz_paypal").unwrap()
}

fn read(subscription: &serde_json::Value) -> ListedMembership {
    answer(subscription).listed
}

fn active() -> serde_json::Value {
    json!({
        "id": "I-BW452GLLEP1G",
        "plan_id": "P-5ML4271244454362WXNWU5NQ",
        "status": "ACTIVE",
        "update_time": "2026-05-02T10:00:00Z",
        "subscriber": {"email_address": "someone@example.com", "payer_id": "2J6QB8YJQSJRJ"},
        "billing_info": {
            "next_billing_time": "2026-06-01T10:00:00Z",
            "failed_payments_count": 0,
            "last_payment": {"amount": {"currency_code": "USD", "value": "9.99"},
                "time": "2026-05-01T10:00:00Z"}
        }
    })
}

#[test]
fn an_active_subscription_reads_as_its_webhooks_versioned_at_its_update_time() {
    let Answer { listed, paid_at } = answer(&active());
    assert_eq!(listed.id, "I-BW452GLLEP1G");
    assert_eq!(
        (listed.status.as_str(), listed.valid),
        ("active", Some(true))
    );
    assert_eq!(listed.company_id.as_deref(), Some("biz_paypal"));
    assert_eq!(listed.user_id.as_deref(), Some("2J6QB8YJQSJRJ"));
    assert_eq!(
        listed.plan_id.as_deref(),
        Some("P-5ML4271244454362WXNWU5NQ")
    );
    assert_eq!(
        listed.updated_at.map(|at| at.to_rfc3339()),
        Some("2026-05-02T10:00:00+00:00".to_owned())
    );
    assert_eq!(
        listed.renewal_period_end.map(|at| at.to_rfc3339()),
        Some("2026-06-01T10:00:00+00:00".to_owned())
    );
    let payment = listed.payment.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.id, "", "named by its sale before it is written");
    assert_eq!(
        paid_at.map(|at| at.to_rfc3339()),
        Some("2026-05-01T10:00:00+00:00".to_owned())
    );
    assert_eq!(payment.amount.as_deref(), Some("9.99"));
    assert_eq!(payment.currency.as_deref(), Some("usd"));
}

#[test]
fn failed_payments_since_the_last_success_read_as_a_failed_payment() {
    let mut subscription = active();
    subscription["billing_info"]["failed_payments_count"] = json!(2);
    subscription["billing_info"]["last_failed_payment"] = json!({
        "amount": {"currency_code": "USD", "value": "9.99"},
        "time": "2026-06-01T10:05:00Z",
        "reason_code": "PAYMENT_DENIED"
    });
    let Answer { listed, paid_at } = answer(&subscription);
    assert_eq!(paid_at, None, "a failed payment needs no sale");
    let payment = listed.payment.unwrap();
    assert_eq!(payment.status, PaymentStatus::Failed);
    assert_eq!(payment.id, "I-BW452GLLEP1G_failed_2026-06-01T10:05:00Z");
    assert_eq!(payment.failure_reason.as_deref(), Some("PAYMENT_DENIED"));
}

#[test]
fn each_status_maps_to_the_webhooks_word_and_access() {
    let cases = [
        ("APPROVAL_PENDING", "approval_pending", None),
        ("APPROVED", "approved", None),
        ("ACTIVE", "active", Some(true)),
        ("SUSPENDED", "suspended", None),
        ("CANCELLED", "canceled", Some(false)),
        ("EXPIRED", "expired", Some(false)),
    ];
    for (status, word, valid) in cases {
        let mut subscription = active();
        subscription["status"] = json!(status);
        let listed = read(&subscription);
        assert_eq!(
            (listed.status.as_str(), listed.valid),
            (word, valid),
            "{status}"
        );
    }
}

#[test]
fn a_subscription_without_update_time_or_payments_has_no_version_nor_payment() {
    let subscription = json!({"id": "I-NEW1", "status": "APPROVAL_PENDING"});
    let listed = read(&subscription);
    assert_eq!(listed.updated_at, None);
    assert_eq!(listed.payment, None);
}

#[test]
fn an_answer_without_an_id_or_a_status_is_malformed() {
    let no_status = json!({"id": "I-BW452GLLEP1G"}).to_string();
    let no_id = json!({"status": "ACTIVE"}).to_string();
    let not_paypal = json!({"id": "sub_1", "status": "ACTIVE"}).to_string();
    for raw in [no_status, no_id, not_paypal, "[]".to_owned()] {
        assert!(super::subscription(&raw, "biz_paypal").is_err(), "{raw}");
    }
}

#[test]
fn subscription_ids_are_i_dash_and_alphanumerics() {
    assert!(is_subscription_id("I-BW452GLLEP1G"));
    for id in ["I-", "sub_1", "I-ab/cd", "mem_1"] {
        assert!(!is_subscription_id(id), "{id}");
    }
}

fn at(text: &str) -> DateTime<Utc> {
    crate::domain::time::parse_time_str(text).unwrap()
}

#[test]
fn the_sale_of_a_payment_is_the_collected_transaction_nearest_its_time_within_a_day() {
    let list = json!({"transactions": [
        {"id": "DECLINED1", "status": "DECLINED", "time": "2026-05-01T10:00:00Z"},
        {"id": "EARLIER", "status": "COMPLETED", "time": "2026-04-30T16:00:00Z"},
        {"id": "NEAREST", "status": "COMPLETED", "time": "2026-05-01T10:00:02.120Z"},
        {"id": "PENDING1", "status": "PENDING", "time": "2026-05-01T10:00:00Z"},
        {"id": "NEXT_MONTH", "status": "COMPLETED", "time": "2026-06-01T10:00:00Z"}
    ]})
    .to_string();
    assert_eq!(
        sale_of(&list, at("2026-05-01T10:00:00Z")).unwrap(),
        Some(("NEAREST".to_owned(), PaymentStatus::Succeeded))
    );
    let refunded = json!({"transactions": [
        {"id": "R1", "status": "REFUNDED", "time": "2026-05-01T10:00:00Z"}
    ]})
    .to_string();
    assert_eq!(
        sale_of(&refunded, at("2026-05-01T10:00:00Z")).unwrap(),
        Some(("R1".to_owned(), PaymentStatus::Refunded))
    );
    assert_eq!(
        sale_of(&list, at("2026-05-15T10:00:00Z")).unwrap(),
        None,
        "nothing collected within a day"
    );
    assert_eq!(sale_of("{}", at("2026-05-01T10:00:00Z")).unwrap(), None);
}

#[test]
fn a_transaction_answer_that_is_not_a_list_is_malformed() {
    for raw in [
        "{\"transactions\": 3}",
        "{\"transactions\": [{\"id\": 1}]}",
        "no",
    ] {
        assert!(sale_of(raw, at("2026-05-01T10:00:00Z")).is_err(), "{raw}");
    }
}
