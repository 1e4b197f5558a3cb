//! The listing's reading of Stripe's pages and subscriptions, against the webhooks' reading of
//! the same subscription object.

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;
use crate::domain::state::model::MembershipState;
use crate::domain::state::observe::Observed;
use crate::domain::sync::{Verdict, observation_of, verdict};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::QueuedEvent;
use crate::providers::observe;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap()
}

/// The subscription of the `customer.subscription.updated` sample event.
fn sample_subscription() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/apigw-webhook-stripe-subscription-updated.json");
    let request: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
    body["data"]["object"].clone()
}

/// The state the processor keeps after the webhook of `object`, created at `created`.
fn webhook_state(object: &Value, created: DateTime<Utc>) -> MembershipState {
    let subject = json!({"subscription_id": object["id"], "customer_id": object["customer"]});
    let event: QueuedEvent = serde_json::from_value(json!({
        "provider": "stripe", "event_id": "evt_1", "kind": "customer.subscription.updated",
        "subject": subject, "occurred_at": created, "received_at": created,
        "raw": {"id": "evt_1", "object": "event", "type": "customer.subscription.updated",
            "data": {"object": object}},
    }))
    .unwrap();
    let Observed::Membership { observation, .. } = observe(&event).unwrap() else {
        panic!("the webhook observed nothing");
    };
    MembershipState::empty(object["id"].as_str().unwrap(), Source::Stripe).fold([&*observation])
}

fn page(data: &[Value], has_more: bool) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"object": "list", "url": "/v1/subscriptions", "has_more": has_more,
        "data": data}),
    )
    .unwrap()
}

#[test]
fn a_listed_subscription_reads_as_its_webhook_does_and_differs_only_by_its_company() {
    let object = sample_subscription();
    let stored = webhook_state(&object, at(1_772_000_000));
    let listed = read_page(
        &page(std::slice::from_ref(&object), false),
        "biz_1",
        at(1_772_000_100),
    )
    .unwrap()
    .memberships
    .remove(0);
    assert_eq!(listed.id, object["id"].as_str().unwrap());
    assert_eq!(listed.status, "past_due");
    assert_eq!(listed.user_id, stored.user_id);
    assert_eq!(
        (listed.renewal_period_start, listed.renewal_period_end),
        (stored.renewal_period_start, stored.renewal_period_end)
    );
    assert_eq!(
        (listed.plan_id.clone(), listed.product_id.clone()),
        (stored.plan_id.clone(), stored.product_id.clone())
    );
    // The webhook names no company; the run's company is the one thing the listing adds.
    let observation = observation_of(&listed);
    assert_eq!(
        verdict(Some(&stored), observation.as_ref()),
        Verdict::Drift(vec!["company_id"])
    );
}

#[test]
fn a_subscription_is_versioned_at_the_read_so_a_later_webhook_is_newer() {
    let mut object = sample_subscription();
    let stored = webhook_state(&object, at(1_772_000_200));
    object["status"] = json!("active");
    let listed = subscription(&object.to_string(), "biz_1", at(1_772_000_100)).unwrap();
    assert_eq!(listed.updated_at, Some(at(1_772_000_100)));
    let observation = observation_of(&listed);
    assert!(matches!(
        verdict(Some(&stored), observation.as_ref()),
        Verdict::NewerLocally(fields) if fields.contains(&"status")
    ));
}

#[test]
fn every_status_and_the_item_level_period_are_read() {
    for status in STATUSES {
        let object = json!({"id": "sub_A1", "object": "subscription", "customer": "cus_1",
            "status": status, "cancel_at_period_end": status == "active",
            "items": {"object": "list", "data": [{"current_period_start": 1_772_366_398,
                "current_period_end": 1_774_785_598,
                "price": {"id": "price_1", "product": "prod_9"}}]}});
        let listed = subscription(&object.to_string(), "biz_1", at(1)).unwrap();
        assert_eq!(listed.status, status);
        assert_eq!(listed.cancel_at_period_end, Some(status == "active"));
        assert_eq!(
            listed.valid, None,
            "access follows the status, as for webhooks"
        );
        assert_eq!(listed.renewal_period_end, Some(at(1_774_785_598)));
        assert_eq!(listed.plan_id.as_deref(), Some("price_1"));
        assert_eq!(listed.product_id.as_deref(), Some("prod_9"));
        assert_eq!(listed.user_id.as_deref(), Some("cus_1"));
        assert_eq!(listed.company_id.as_deref(), Some("biz_1"));
    }
}

#[test]
fn the_cursor_is_the_last_id_while_stripe_has_more() {
    let sub = |id: &str| json!({"id": id, "status": "active"});
    let more = read_page(&page(&[sub("sub_A"), sub("sub_B")], true), "biz_1", at(1)).unwrap();
    assert_eq!(more.next_cursor.as_deref(), Some("sub_B"));
    assert_eq!(more.memberships.len(), 2);
    let last = read_page(&page(&[sub("sub_C")], false), "biz_1", at(1)).unwrap();
    assert_eq!(last.next_cursor, None);
}

#[test]
fn a_malformed_page_is_refused_with_its_reason() {
    let reason = |body: &[u8]| read_page(body, "biz_1", at(1)).unwrap_err();
    assert!(reason(b"<html>").contains("not Stripe's list envelope"));
    assert!(
        reason(br#"{"object":"subscription","data":[],"has_more":false}"#).contains("not `list`")
    );
    assert!(
        reason(br#"{"object":"list","data":[{"id":"sub_A"}],"has_more":false}"#)
            .contains("has no status")
    );
    assert!(
        reason(br#"{"object":"list","data":[{"status":"active"}],"has_more":false}"#)
            .contains("no subscription id")
    );
    assert!(reason(br#"{"object":"list","data":[],"has_more":true}"#).contains("has_more"));
}

#[test]
fn cursors_are_subscription_ids_only() {
    assert!(is_subscription_id("sub_1PqRsTLkdIwHu7ixKlMnOpQr"));
    for bad in ["", "sub_", "cus_1", "sub_1&status=active", "sub_1/../x"] {
        assert!(!is_subscription_id(bad), "{bad}");
    }
}

#[test]
fn the_keys_secret_is_a_map_of_companies_to_stripe_keys() {
    let keys = parse_keys(r#"{"biz_1":"sk_test_1","biz_2":"rk_live_2"}"#).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(parse_keys("{}").unwrap_err().contains("no company"));
    let bad = parse_keys(r#"{"biz_1":"pk_test_1"}"#).unwrap_err();
    assert!(bad.contains("biz_1") && !bad.contains("pk_test_1"), "{bad}");
    assert!(parse_keys(r#"{"api_key":"sk_1""#).is_err());
}
