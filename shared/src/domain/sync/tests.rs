use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::state::model::MembershipState;
use crate::domain::webhooks::Source;

fn api(status: &str, updated: i64) -> ListedMembership {
    ListedMembership {
        id: "mem_1".into(),
        status: status.into(),
        cancel_at_period_end: Some(false),
        valid: None,
        updated_at: Utc.timestamp_opt(updated, 0).single(),
        renewal_period_start: None,
        renewal_period_end: None,
        user_id: Some("user_1".into()),
        company_id: Some("biz_1".into()),
        product_id: None,
        plan_id: None,
        payment: None,
    }
}

/// The state after the API's own observation at `updated`.
fn stored(status: &str, updated: i64) -> MembershipState {
    let observation = observation_of(&api(status, updated)).unwrap();
    MembershipState::empty("mem_1", Source::Whop).fold([&observation])
}

#[test]
fn the_observation_is_the_api_facts_at_updated_at_with_a_stable_id() {
    let observation = observation_of(&api("past_due", 1_780_000_000)).unwrap();
    assert_eq!(observation.version.at.timestamp(), 1_780_000_000);
    assert_eq!(
        observation.version.event_id,
        "sync_mem_1_2026-05-28T20:26:40.000Z"
    );
    assert_eq!(observation.kind, SYNC_KIND);
    assert_eq!(observation.membership.status.as_deref(), Some("past_due"));
    assert_eq!(observation.membership.user_id.as_deref(), Some("user_1"));
    assert_eq!(observation.membership.company_id.as_deref(), Some("biz_1"));
    // Read twice, the same answer is the same observation (a duplicate when recorded).
    assert_eq!(
        observation_of(&api("past_due", 1_780_000_000)),
        Some(observation)
    );

    let mut undated = api("active", 0);
    undated.updated_at = None;
    assert_eq!(observation_of(&undated), None);
}

#[test]
fn verdicts() {
    let newer_api = observation_of(&api("canceled", 2_000));
    let same_api = observation_of(&api("active", 2_000));
    let older_api = observation_of(&api("active", 500));

    // Nothing stored: the whole membership is drift.
    assert_eq!(verdict(None, newer_api.as_ref()), Verdict::Drift(vec![]));
    // The API moved on and says something else.
    assert_eq!(
        verdict(Some(&stored("active", 1_000)), newer_api.as_ref()),
        Verdict::Drift(vec!["status", "valid"])
    );
    // The API moved on but says the same: nothing to write.
    assert_eq!(
        verdict(Some(&stored("active", 1_000)), same_api.as_ref()),
        Verdict::Unchanged
    );
    // A webhook newer than the API's answer: left alone.
    assert_eq!(
        verdict(Some(&stored("canceled", 1_000)), older_api.as_ref()),
        Verdict::NewerLocally(vec!["status", "valid"])
    );
    // A tie goes to what is stored.
    assert_eq!(
        verdict(Some(&stored("canceled", 2_000)), same_api.as_ref()),
        Verdict::NewerLocally(vec!["status", "valid"])
    );
    assert_eq!(
        verdict(Some(&stored("active", 1_000)), None),
        Verdict::Skipped
    );
}

#[test]
fn scopes_lock_what_they_cover() {
    let company = Scope::company("biz_1");
    let user = Scope {
        user_id: Some("user_1".into()),
        since: Utc.timestamp_opt(1_780_000_000, 0).single(),
        ..company.clone()
    };
    assert_eq!(company.lock_key(), "company:biz_1");
    let gumroad = Scope::gumroad("biz_1", "seller_1");
    assert_eq!(gumroad.lock_key(), "gumroad:company:biz_1");
    // A Whop scope is stored as before (no provider); a Gumroad one names its seller.
    assert!(
        !serde_json::to_string(&company)
            .unwrap()
            .contains("provider")
    );
    let stored: Scope = serde_json::from_str(&serde_json::to_string(&gumroad).unwrap()).unwrap();
    assert_eq!(stored, gumroad);
    assert_eq!(user.lock_key(), "user:user_1");
}

#[test]
fn a_run_is_done_once_every_page_up_to_the_last_counted() {
    let now = Utc.timestamp_opt(1_780_000_000, 0).unwrap();
    let mut run = SyncRun::new(Scope::company("biz_1"), "test", now);
    assert!(run.run_id.starts_with("run_20260528T202640000Z_"));
    run.pages = 3;
    assert!(!run.all_pages_done());
    run.last_page = Some(3);
    assert!(!run.all_pages_done());
    run.pages = 4;
    assert!(run.all_pages_done());
}

#[test]
fn a_payment_standing_other_than_the_stored_one_is_drift_and_the_same_one_is_not() {
    use crate::domain::state::model::{PaymentFacts, PaymentStatus};
    let with_payment = |updated, id: &str, status| {
        let mut listed = api("active", updated);
        listed.payment = Some(PaymentFacts {
            id: id.to_owned(),
            status,
            amount: None,
            currency: None,
            failure_reason: None,
        });
        observation_of(&listed)
    };
    let paid = with_payment(100, "sale_1", PaymentStatus::Succeeded);
    let stored = MembershipState::empty("mem_1", Source::PayPal).fold(paid.iter());
    let failing = with_payment(200, "mem_1_failed_1", PaymentStatus::Failed);
    let paid_again = with_payment(200, "mem_1_paid_1", PaymentStatus::Succeeded);
    assert_eq!(
        verdict(Some(&stored), failing.as_ref()),
        Verdict::Drift(vec!["last_payment"])
    );
    assert_eq!(
        verdict(Some(&stored), paid_again.as_ref()),
        Verdict::Unchanged
    );
    // Where no payment is stored, a payment made is no drift and a failed one is.
    let unpaid = MembershipState::empty("mem_1", Source::PayPal)
        .fold(observation_of(&api("active", 100)).iter());
    assert_eq!(
        verdict(Some(&unpaid), paid_again.as_ref()),
        Verdict::Unchanged
    );
    assert_eq!(
        verdict(Some(&unpaid), failing.as_ref()),
        Verdict::Drift(vec!["last_payment"])
    );
    // Without a payment stated, the standing is not compared.
    assert_eq!(
        verdict(Some(&stored), observation_of(&api("active", 200)).as_ref()),
        Verdict::Unchanged
    );
}
