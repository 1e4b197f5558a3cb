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
use shared::domain::state::model::PaymentStatus;
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

/// Records what the `kind` webhook of `resource` at `at` leaves, through the webhooks' own
/// observation and the processor's storage rule.
async fn webhook(syncer: &TestSyncer, kind: &str, resource: &Value, at: DateTime<Utc>) {
    let id = resource["id"].as_str().unwrap();
    let event_id = format!("WH-{id}-{}", at.timestamp());
    let event: QueuedEvent = serde_json::from_value(json!({
        "provider": "paypal", "event_id": event_id, "kind": kind,
        "subject": {"subscription_id": id, "customer_id": resource["subscriber"]["payer_id"],
            "plan_id": resource["plan_id"], "company_id": LOCAL_COMPANY_ID},
        "occurred_at": at, "received_at": at,
        "raw": {"id": event_id, "event_type": kind, "resource_type": "subscription",
            "resource": resource},
    }))
    .unwrap();
    record_webhook(&syncer.state, id, &event).await;
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
    let mut failing = subscription(2, "ACTIVE", later);
    failing["billing_info"]["failed_payments_count"] = json!(1);
    failing["billing_info"]["last_failed_payment"] = json!({
        "amount": {"currency_code": "USD", "value": "9.99"}, "time": rfc3339(later),
        "reason_code": "PAYMENT_DENIED"});
    paypal.put_subscription(failing);
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
