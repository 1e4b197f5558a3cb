use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::notify::SignalChange;
use crate::domain::state::model::{Payment, PaymentStatus, SignalKind};
use crate::domain::webhooks::Source;

fn job(changes: Vec<SignalChange>) -> NotificationJob {
    NotificationJob {
        membership_id: "mem_42".into(),
        provider: Source::Whop,
        company_id: Some("biz_1".into()),
        changes,
    }
}

fn change(signal: SignalKind, change: Change, day: u32) -> SignalChange {
    SignalChange {
        signal,
        change,
        started_at: Utc.with_ymd_and_hms(2026, 5, day, 10, 0, 0).unwrap(),
    }
}

fn paid_state() -> MembershipState {
    let mut state = MembershipState::empty("mem_42", Source::Whop);
    state.payments.push(Payment {
        id: "pay_1".into(),
        status: PaymentStatus::Failed,
        amount: Some("29.00".into()),
        currency: Some("usd".into()),
        failure_reason: None,
        updated_at: Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap(),
    });
    state
}

#[test]
fn measurement_ids_are_g_dash_and_upper_case_alphanumerics() {
    for id in ["G-ABCD", "G-12AB34CD56"] {
        assert!(valid_measurement_id(id), "{id}");
    }
    for id in [
        "G-abc1",
        "UA-1234",
        "G-",
        "G-ABC",
        "G-ABCDEFGHIJKLMNOPQRSTU",
        "G-AB CD",
    ] {
        assert!(!valid_measurement_id(id), "{id}");
    }
}

#[test]
fn a_body_is_a_measurement_id_and_an_api_secret_and_its_problems_never_quote_the_secret() {
    let good = br#"{"measurement_id": "G-ABC123", "api_secret": "s3cr3t-Value_1"}"#;
    assert_eq!(
        parse(good).unwrap(),
        ("G-ABC123".to_owned(), "s3cr3t-Value_1".to_owned())
    );
    let bad = br#"{"measurement_id": "UA-1", "api_secret": "short"}"#;
    let problems = parse(bad).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["measurement_id", "api_secret"]);
    let unknown = br#"{"measurement_id": "G-ABC123", "api_secret": "s3cr3t-Value_1", "x": 1}"#;
    let quoted = br#"{"measurement_id": "G-ABC123", "api_secret": 12345678901}"#;
    for body in [&unknown[..], &quoted[..], b"not json"] {
        let problems = parse(body).unwrap_err();
        let text = format!("{problems:?}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("12345678901"),
            "{text}"
        );
    }
}

#[test]
fn a_jobs_batch_is_one_event_per_change_with_the_last_amount_and_no_personal_field() {
    let job = job(vec![
        change(SignalKind::AtRisk, Change::Closed, 1),
        change(SignalKind::Recovered, Change::Opened, 3),
    ]);
    let batch = batch_of(&job, "biz_1", &paid_state()).unwrap();
    let body = serde_json::to_value(&batch).unwrap();
    assert_eq!(
        body["events"],
        serde_json::json!([
            {"name": "churn_signal_closed", "params": {"signal": "at_risk", "provider": "whop",
                "value": 29.0, "currency": "USD"}},
            {"name": "churn_signal_opened", "params": {"signal": "recovered", "provider": "whop",
                "value": 29.0, "currency": "USD"}},
        ])
    );
    let client = body["client_id"].as_str().unwrap();
    assert_eq!(client.len(), 32);
    assert!(!client.contains("mem_42") && !client.contains("biz_1"));
    assert_eq!(
        client,
        client_id("biz_1", "mem_42"),
        "stable per membership"
    );
    assert_ne!(client, client_id("biz_2", "mem_42"), "per company");
}

#[test]
fn without_a_payment_amount_an_event_has_no_value_and_without_changes_there_is_no_batch() {
    let state = MembershipState::empty("mem_42", Source::Whop);
    let job_with = job(vec![change(SignalKind::Churned, Change::Opened, 1)]);
    let batch = batch_of(&job_with, "biz_1", &state).unwrap();
    let params = serde_json::to_value(&batch.events[0].params).unwrap();
    assert_eq!(
        params,
        serde_json::json!({"signal": "churned", "provider": "whop"})
    );
    assert_eq!(batch_of(&job(Vec::new()), "biz_1", &state), None);
}

#[test]
fn the_claim_key_is_the_same_for_a_duplicated_job_and_differs_for_another_occurrence() {
    let first = job(vec![change(SignalKind::AtRisk, Change::Opened, 1)]);
    let again = first.clone();
    let next = job(vec![change(SignalKind::AtRisk, Change::Opened, 9)]);
    let closed = job(vec![change(SignalKind::AtRisk, Change::Closed, 1)]);
    assert_eq!(claim_key(&first), claim_key(&again));
    assert_ne!(claim_key(&first), claim_key(&next));
    assert_ne!(claim_key(&first), claim_key(&closed));
    assert!(claim_key(&first).starts_with("ga4:"));
}
