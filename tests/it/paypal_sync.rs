//! PayPal reconcile on moto and the PayPal stand-in (README "PayPal"): whole runs over the
//! subscriptions the webhooks stored for the PayPal company, each re-read from the stand-in with
//! its 429s and 503s switched on.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use churnsaver::fake_paypal::{FakePayPal, Faults, LOCAL_COMPANY_ID};
use churnsaver::local::LocalStack;
use serde_json::{Value, json};
use shared::aws::breaker::DynamoBreakers;
use shared::aws::company_items::DynamoCompanyItems;
use shared::aws::limits::DynamoFailureCounter;
use shared::aws::state::DynamoState;
use shared::aws::sync::DynamoRuns;
use shared::domain::ports::{NoSales, StateStore, SyncStore, SystemClock};
use shared::domain::state::model::{PaymentStatus, SignalKind};
use shared::domain::sync::worker::{PageOutcome, Syncer};
use shared::domain::sync::{RunStatus, Scope, SyncCounts, SyncRun};
use shared::domain::webhooks::event::QueuedEvent;
use shared::edge::config::Provider;
use shared::providers::client::{ProviderGuard, ResilientClient};
use shared::providers::paypal::online::PayPalApi;
use shared::providers::paypal::sync::{BATCH, PayPalSource};

use crate::helpers::start_stack_with;
use crate::sync::{
    assert_completed_without_failed_pages, company_syncer, policy, record_webhook,
    shared_quick_guard, work_runs,
};

type Guard = ProviderGuard<DynamoBreakers, SystemClock, DynamoFailureCounter>;
type TestSource = PayPalSource<Guard, aws_sdk_secretsmanager::Client, SystemClock, DynamoState>;
type TestSyncer =
    Syncer<TestSource, DynamoState, DynamoRuns, aws_sdk_sqs::Client, DynamoCompanyItems, NoSales>;

/// How many subscriptions the webhooks stored: more than two pages.
const STORED: usize = 60;

/// When the webhooks activated every subscription (and when PayPal last updated the ones that
/// did not change since): fixed, so which side is newer is the test's data, not the clock's.
fn activated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn id(n: usize) -> String {
    format!("I-SYNC{n:04}")
}

/// Subscription `n` as PayPal answers it: active, paid on the day it was activated.
fn subscription(n: usize, status: &str, updated: DateTime<Utc>) -> Value {
    json!({
        "id": id(n), "plan_id": "P-5ML4271244454362WXNWU5NQ", "status": status,
        "update_time": rfc3339(updated),
        "subscriber": {"email_address": "member@example.com", "payer_id": format!("PAYER{n:04}")},
        "billing_info": {
            "next_billing_time": rfc3339(activated_at() + TimeDelta::days(30)),
            "failed_payments_count": 0,
            "last_payment": {"amount": {"currency_code": "USD", "value": "9.99"},
                "time": rfc3339(activated_at())},
        },
    })
}

/// A stack pointed at the stand-in (its PayPal company, REST app and client secret).
async fn stack_and_paypal() -> (LocalStack, FakePayPal) {
    let paypal = FakePayPal::start().await.unwrap();
    let parameters: BTreeMap<String, String> = paypal.parameters().into_iter().collect();
    (start_stack_with(parameters).await, paypal)
}

/// The sync function's PayPal re-reading over the stack: quick retries, a 1 s pause after a 429.
fn syncer(stack: &LocalStack) -> TestSyncer {
    let app = &stack.app;
    let guard = shared_quick_guard(app, Provider::Paypal);
    let settings = app.config.paypal.clone().unwrap();
    let source = PayPalSource {
        api: PayPalApi::new(
            settings.api.unwrap(),
            ResilientClient::new(reqwest::Client::new(), policy(), guard),
            app.secrets_manager.clone(),
            SystemClock,
        ),
        stored: DynamoState::of(app),
        company_id: settings.company_id.unwrap(),
    };
    company_syncer(stack, source, NoSales)
}

/// Records what the `kind` webhook of subscription `resource` at `at` leaves, through the
/// webhooks' own observation and the processor's storage rule.
async fn webhook(syncer: &TestSyncer, kind: &str, resource: &Value, at: DateTime<Utc>) {
    let id = resource["id"].as_str().unwrap();
    let subject = json!({"subscription_id": id, "customer_id": resource["subscriber"]["payer_id"],
        "plan_id": resource["plan_id"], "company_id": LOCAL_COMPANY_ID});
    record(syncer, kind, subject, ("subscription", resource), at).await;
}

/// Records the `PAYMENT.SALE.COMPLETED` webhook of sale `sale_id` of subscription `n` at `at`.
async fn sale_webhook(syncer: &TestSyncer, n: usize, sale_id: &str, at: DateTime<Utc>) {
    let sale = json!({"id": sale_id, "state": "completed", "billing_agreement_id": id(n),
        "amount": {"total": "9.99", "currency": "USD"}, "create_time": rfc3339(at)});
    let subject = json!({"subscription_id": id(n), "payment_id": sale_id,
        "company_id": LOCAL_COMPANY_ID});
    let kind = "PAYMENT.SALE.COMPLETED";
    record(syncer, kind, subject, ("sale", &sale), at).await;
}

async fn record(
    syncer: &TestSyncer,
    kind: &str,
    subject: Value,
    (resource_type, resource): (&str, &Value),
    at: DateTime<Utc>,
) {
    let id = subject["subscription_id"].as_str().unwrap().to_owned();
    let event_id = format!("WH-{}-{}", resource["id"].as_str().unwrap(), at.timestamp());
    let event: QueuedEvent = serde_json::from_value(json!({
        "provider": "paypal", "event_id": event_id, "kind": kind, "subject": subject,
        "occurred_at": at, "received_at": at,
        "raw": {"id": event_id, "event_type": kind, "resource_type": resource_type,
            "resource": resource},
    }))
    .unwrap();
    record_webhook(&syncer.state, &id, &event).await;
}

/// Subscription `n` as PayPal answers it after `failures` failed payments, the last at
/// `failed_at`, updated at `updated`.
fn failing(
    n: usize,
    status: &str,
    failures: u32,
    failed_at: DateTime<Utc>,
    updated: DateTime<Utc>,
) -> Value {
    let mut subscription = subscription(n, status, updated);
    subscription["billing_info"]["failed_payments_count"] = json!(failures);
    subscription["billing_info"]["last_failed_payment"] = json!({
        "amount": {"currency_code": "USD", "value": "9.99"}, "time": rfc3339(failed_at),
        "reason_code": "PAYMENT_DENIED"});
    subscription
}

/// Subscription `n` activated by its webhook, and PayPal answering the same.
async fn activate(syncer: &TestSyncer, paypal: &FakePayPal, n: usize) {
    let active = subscription(n, "ACTIVE", activated_at());
    webhook(
        syncer,
        "BILLING.SUBSCRIPTION.ACTIVATED",
        &active,
        activated_at(),
    )
    .await;
    paypal.put_subscription(active);
}

/// A whole run of `company`'s PayPal subscriptions; its outcomes and the run as it ended.
async fn run(
    stack: &LocalStack,
    syncer: &TestSyncer,
    company: &str,
) -> (Vec<PageOutcome>, SyncRun) {
    let started = syncer.start(Scope::paypal(company), "test".into());
    let ids = [started.await.unwrap().run_id];
    let outcomes = work_runs(stack, syncer, &ids, 100).await;
    (outcomes, syncer.runs.run(&ids[0]).await.unwrap().unwrap())
}

async fn state_of(syncer: &TestSyncer, n: usize) -> shared::domain::state::model::MembershipState {
    syncer
        .state
        .membership(&id(n))
        .await
        .unwrap()
        .unwrap()
        .state()
}

#[tokio::test]
async fn a_reconcile_through_429s_and_503s_fails_no_page_writes_the_drift_and_leaves_a_newer_webhook_alone()
 {
    let (stack, paypal) = stack_and_paypal().await;
    let syncer = syncer(&stack);
    for n in 0..STORED {
        activate(&syncer, &paypal, n).await;
    }
    let later = activated_at() + TimeDelta::days(1);
    // Cancelled at PayPal a day later, without a webhook: drift.
    paypal.put_subscription(subscription(1, "CANCELLED", later));
    // A payment failed at PayPal a day later, without a webhook: drift, at risk.
    paypal.put_subscription(failing(2, "ACTIVE", 1, later, later));
    // Suspended at PayPal a day later, but a cancellation webhook two days later: newer here.
    paypal.put_subscription(subscription(3, "SUSPENDED", later));
    let cancelled = subscription(3, "CANCELLED", later + TimeDelta::days(1));
    let newer = later + TimeDelta::days(1);
    webhook(&syncer, "BILLING.SUBSCRIPTION.CANCELLED", &cancelled, newer).await;
    // Two 429s and two 503s on the way.
    paypal.inject(Faults {
        throttled: 2,
        unavailable: 2,
        ..Faults::default()
    });

    let (outcomes, first) = run(&stack, &syncer, LOCAL_COMPANY_ID).await;

    assert_completed_without_failed_pages(&first, &outcomes);
    let unserved = paypal.faults();
    assert!(
        unserved == Faults::default(),
        "unserved faults: {unserved:?}"
    );
    assert_eq!(
        first.pages,
        STORED.div_ceil(BATCH) as u64,
        "a bounded batch a page"
    );
    assert_eq!(
        first.counts,
        SyncCounts {
            seen: 60,
            unchanged: 57,
            drifted: 2,
            newer_locally: 1,
            ..SyncCounts::default()
        }
    );
    let churned = state_of(&syncer, 1).await;
    assert_eq!(
        (churned.status.as_deref(), churned.valid),
        (Some("canceled"), Some(false))
    );
    let at_risk = state_of(&syncer, 2).await;
    let last = at_risk.last_payment.unwrap();
    assert_eq!((last.status, last.at), (PaymentStatus::Failed, later));
    assert_eq!(at_risk.company_id.as_deref(), Some(LOCAL_COMPANY_ID));
    let left = state_of(&syncer, 3).await;
    assert_eq!(
        left.status.as_deref(),
        Some("canceled"),
        "the newer webhook stands"
    );
    assert_eq!(paypal.token_grants(), 1, "one token for every read");
    assert_eq!(
        paypal.transaction_reads(),
        1,
        "only the drift with a last payment looks for its sale"
    );
    assert_eq!(
        state_of(&syncer, 1).await.payments,
        [],
        "a payment no transaction names is left to its webhook"
    );

    // A second run finds the store in step.
    let (outcomes, second) = run(&stack, &syncer, LOCAL_COMPANY_ID).await;
    assert_completed_without_failed_pages(&second, &outcomes);
    let in_step = SyncCounts {
        seen: 60,
        unchanged: 59,
        newer_locally: 1,
        ..SyncCounts::default()
    };
    assert_eq!(second.counts, in_step);
}

#[tokio::test]
async fn a_run_for_another_company_fails_and_reads_no_subscription() {
    let (stack, paypal) = stack_and_paypal().await;
    let syncer = syncer(&stack);
    activate(&syncer, &paypal, 0).await;
    paypal.put_subscription(subscription(
        0,
        "CANCELLED",
        activated_at() + TimeDelta::days(1),
    ));

    let (outcomes, ended) = run(&stack, &syncer, "biz_not_paypal").await;

    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(
        outcomes,
        [PageOutcome::Failed {
            error: "not_paypal_company".into()
        }]
    );
    assert_eq!(paypal.subscription_reads(), 0, "no subscription was read");
    assert_eq!(state_of(&syncer, 0).await.status.as_deref(), Some("active"));
}

#[tokio::test]
async fn a_payment_or_a_failure_the_reconcile_finds_is_the_same_payment_as_its_late_or_earlier_webhook()
 {
    let (stack, paypal) = stack_and_paypal().await;
    let syncer = syncer(&stack);
    let failed_at = activated_at() + TimeDelta::days(30);
    let paid_at = failed_at + TimeDelta::days(3);
    for n in 0..3 {
        activate(&syncer, &paypal, n).await;
        let failure = failing(n, "ACTIVE", 1, failed_at, failed_at);
        webhook(
            &syncer,
            "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
            &failure,
            failed_at,
        )
        .await;
    }
    // 0: PayPal collected three days later; the sale's webhook comes only after the reconcile.
    let paid = |n: usize| {
        let mut paid = subscription(n, "ACTIVE", paid_at);
        paid["billing_info"]["last_payment"]["time"] = json!(rfc3339(paid_at));
        paid
    };
    paypal.put_subscription(paid(0));
    // 2: collected too, but no transaction names the sale (yet).
    paypal.put_subscription(paid(2));
    let collected = |id: &str, status: &str, at: DateTime<Utc>| {
        json!({"id": id, "status": status, "time": rfc3339(at),
            "amount_with_breakdown": {"gross_amount": {"currency_code": "USD", "value": "9.99"}}})
    };
    paypal.put_transaction(
        &id(0),
        collected("4PV12345AB678901C", "DECLINED", failed_at),
    );
    let sale_at = paid_at + TimeDelta::seconds(2);
    paypal.put_transaction(&id(0), collected("8AB12345CD678901E", "COMPLETED", sale_at));
    // 1: suspended after the same failure, which its webhook already reported.
    paypal.put_subscription(failing(
        1,
        "SUSPENDED",
        3,
        failed_at,
        failed_at + TimeDelta::days(1),
    ));

    let (outcomes, ended) = run(&stack, &syncer, LOCAL_COMPANY_ID).await;
    assert_completed_without_failed_pages(&ended, &outcomes);
    assert_eq!(ended.counts.drifted, 3, "{:?}", ended.counts);
    sale_webhook(&syncer, 0, "8AB12345CD678901E", sale_at).await;

    let recovered = state_of(&syncer, 0).await;
    let ids: Vec<(&str, PaymentStatus)> = recovered
        .payments
        .iter()
        .map(|p| (p.id.as_str(), p.status))
        .collect();
    let failure_id = format!("{}_failed_{}", id(0), rfc3339(failed_at));
    assert_eq!(
        ids,
        [
            ("8AB12345CD678901E", PaymentStatus::Succeeded),
            (failure_id.as_str(), PaymentStatus::Failed)
        ],
        "the sale the reconcile found and its webhook are one payment"
    );
    assert_eq!(recovered.payments[0].amount.as_deref(), Some("9.99"));
    let suspended = state_of(&syncer, 1).await;
    assert_eq!(suspended.status.as_deref(), Some("suspended"));
    let failures: Vec<&str> = suspended.payments.iter().map(|p| p.id.as_str()).collect();
    let failure_id = format!("{}_failed_{}", id(1), rfc3339(failed_at));
    assert_eq!(
        failures,
        [failure_id.as_str()],
        "one failure, reported twice"
    );
    let unnamed = state_of(&syncer, 2).await;
    let last = unnamed.payments[0].clone();
    assert_eq!(
        (last.id, last.status, last.amount),
        (
            format!("{}_paid_{}", id(2), rfc3339(paid_at)),
            PaymentStatus::Succeeded,
            None
        ),
        "a recovery no transaction names is kept, without an amount to count twice"
    );
    assert_eq!(
        unnamed.open_signals(),
        [SignalKind::Recovered],
        "at risk no more: recovered"
    );
}

#[tokio::test]
async fn a_refused_token_is_asked_again_once_and_a_subscription_paypal_no_longer_knows_is_left_as_stored()
 {
    let (stack, paypal) = stack_and_paypal().await;
    let syncer = syncer(&stack);
    for n in 0..3 {
        activate(&syncer, &paypal, n).await;
    }
    let (outcomes, first) = run(&stack, &syncer, LOCAL_COMPANY_ID).await;
    assert_completed_without_failed_pages(&first, &outcomes);
    assert_eq!(paypal.token_grants(), 1);
    // PayPal drops the cached token and forgets subscription 2; subscription 1 is cancelled.
    paypal.revoke_tokens();
    paypal.forget_subscription(&id(2));
    let cancelled_at = activated_at() + TimeDelta::days(1);
    paypal.put_subscription(subscription(1, "CANCELLED", cancelled_at));

    let (outcomes, second) = run(&stack, &syncer, LOCAL_COMPANY_ID).await;

    assert_completed_without_failed_pages(&second, &outcomes);
    assert_eq!(paypal.token_grants(), 2, "one new token after the refusal");
    assert_eq!(
        second.counts,
        SyncCounts {
            seen: 2,
            unchanged: 1,
            drifted: 1,
            ..SyncCounts::default()
        },
        "the forgotten subscription is not seen"
    );
    assert_eq!(
        state_of(&syncer, 1).await.status.as_deref(),
        Some("canceled")
    );
    assert_eq!(
        state_of(&syncer, 2).await.status.as_deref(),
        Some("active"),
        "left as stored"
    );
}
