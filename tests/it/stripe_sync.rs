//! Stripe reconcile on moto and the stand-in Stripe (README "Stripe reconcile"): whole runs of a
//! company's subscriptions through the `sync-jobs` queue, with the stand-in's 429s, 500s and
//! malformed pages switched on, against state the webhooks built.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use churnsaver::fake_stripe::{
    COMPANY_ID, FakeStripe, Faults, LOCAL_API_KEY, sample_subscriptions, store_keys,
};
use churnsaver::local::LocalStack;
use serde_json::{Value, json};
use shared::aws::breaker::DynamoBreakers;
use shared::aws::company_items::DynamoCompanyItems;
use shared::aws::limits::DynamoFailureCounter;
use shared::aws::state::DynamoState;
use shared::aws::sync::DynamoRuns;
use shared::domain::ports::{Clock, NoSales, StateStore, SyncStore, SystemClock};
use shared::domain::sync::worker::{PageOutcome, Syncer};
use shared::domain::sync::{RunStatus, Scope, SyncRun};
use shared::domain::webhooks::event::QueuedEvent;
use shared::edge::config::Provider;
use shared::providers::client::{ProviderGuard, ResilientClient, SecretKey};
use shared::providers::stripe::sync::{MALFORMED_PAGE, StripeKeys, StripeSource, parse_keys};

use crate::helpers::start_stack_with;
use crate::sync::{
    assert_completed_without_failed_pages, company_syncer, policy, record_webhook,
    shared_quick_guard, work_runs,
};

type Guard = ProviderGuard<DynamoBreakers, SystemClock, DynamoFailureCounter>;
type TestSource = StripeSource<
    Guard,
    SecretKey<aws_sdk_secretsmanager::Client, SystemClock, StripeKeys>,
    ReadClock,
>;
type TestSyncer =
    Syncer<TestSource, DynamoState, DynamoRuns, aws_sdk_sqs::Client, DynamoCompanyItems, NoSales>;

/// When the listing reads: a fixed instant, so which webhook is newer than the read is decided
/// by the test's data, not by when it runs.
fn read_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

/// The listing's clock: always [`read_at`].
struct ReadClock;

impl Clock for ReadClock {
    fn now(&self) -> DateTime<Utc> {
        read_at()
    }
}

/// A stack whose Stripe is the stand-in, its key stored for [`COMPANY_ID`].
async fn stack_and_stripe() -> (LocalStack, FakeStripe) {
    let stripe = FakeStripe::start().await.unwrap();
    let stack = start_stack_with(stripe.parameters().into_iter().collect()).await;
    store_keys(&stack.app, &[(COMPANY_ID, LOCAL_API_KEY)])
        .await
        .unwrap();
    (stack, stripe)
}

/// The sync function's Stripe listing over the stack (its keys secret, Stripe's limits shared
/// in the state table), without pacing, with quick retries, a breaker that trips and recovers
/// quickly and a 1 s pause after a 429.
fn syncer(stack: &LocalStack) -> TestSyncer {
    let app = &stack.app;
    let guard = shared_quick_guard(app, Provider::Stripe);
    let settings = app.config.stripe_sync.clone().unwrap();
    let source = StripeSource {
        client: ResilientClient::new(reqwest::Client::new(), policy(), guard),
        base_url: settings.api_base_url,
        keys: SecretKey::with_parser(
            app.secrets_manager.clone(),
            SystemClock,
            settings.keys_secret_id,
            parse_keys,
        ),
        clock: ReadClock,
    };
    company_syncer(stack, source, NoSales)
}

/// A whole run of `company`'s account; its outcomes and the run as it ended.
async fn run(
    stack: &LocalStack,
    syncer: &TestSyncer,
    company: &str,
) -> (Vec<PageOutcome>, SyncRun) {
    let run = syncer
        .start(Scope::stripe(company), "test".into())
        .await
        .unwrap();
    let outcomes = work_runs(stack, syncer, std::slice::from_ref(&run.run_id), 200).await;
    let ended = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    (outcomes, ended)
}

/// Records what a `customer.subscription.updated` webhook of `subscription` created at `created`
/// leaves, through the webhooks' own observation and the processor's storage rule.
async fn webhook(syncer: &TestSyncer, subscription: &Value, created: DateTime<Utc>) {
    let id = subscription["id"].as_str().unwrap();
    let event_id = format!("evt_{id}_{}", created.timestamp());
    let event: QueuedEvent = serde_json::from_value(json!({
        "provider": "stripe", "event_id": event_id, "kind": "customer.subscription.updated",
        "subject": {"subscription_id": id, "customer_id": subscription["customer"]},
        "occurred_at": created, "received_at": created,
        "raw": {"id": event_id, "object": "event", "type": "customer.subscription.updated",
            "created": created.timestamp(), "data": {"object": subscription}},
    }))
    .unwrap();
    record_webhook(&syncer.state, id, &event).await;
}

/// Whether a subscription of `status` grants access: written out here, apart from the model.
fn expected_access(status: &str) -> Option<bool> {
    match status {
        "active" | "past_due" | "unpaid" | "trialing" => Some(true),
        "canceled" | "incomplete_expired" => Some(false),
        "incomplete" | "paused" => None,
        other => panic!("the stand-in has no status {other}"),
    }
}

/// Asserts every subscription's stored state is what the stand-in's JSON says (read here from
/// the JSON itself, not through the listing's mapping), but for `except`.
async fn assert_states_equal_the_account(
    syncer: &TestSyncer,
    subscriptions: &[Value],
    except: &str,
) {
    let ids: Vec<String> = subscriptions
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let stored = syncer.state.memberships(&ids).await.unwrap();
    assert_eq!(
        stored.len(),
        subscriptions.len(),
        "every subscription stored"
    );
    for item in stored {
        let state = item.state();
        if state.id == except {
            continue;
        }
        let expected = subscriptions
            .iter()
            .find(|s| s["id"] == state.id.as_str())
            .unwrap();
        let item = &expected["items"]["data"][0];
        let time = |v: &Value| Utc.timestamp_opt(v.as_i64().unwrap(), 0).unwrap();
        let status = expected["status"].as_str().unwrap();
        assert_eq!(state.status.as_deref(), Some(status), "{}", state.id);
        assert_eq!(state.valid, expected_access(status), "{}", state.id);
        assert_eq!(
            state.cancel_at_period_end,
            expected["cancel_at_period_end"].as_bool().unwrap(),
            "{}",
            state.id
        );
        assert_eq!(
            state.user_id.as_deref(),
            expected["customer"].as_str(),
            "{}",
            state.id
        );
        assert_eq!(state.company_id.as_deref(), Some(COMPANY_ID));
        assert_eq!(state.plan_id.as_deref(), item["price"]["id"].as_str());
        assert_eq!(
            state.product_id.as_deref(),
            item["price"]["product"].as_str()
        );
        assert_eq!(
            state.renewal_period_start,
            Some(time(&item["current_period_start"]))
        );
        assert_eq!(
            state.renewal_period_end,
            Some(time(&item["current_period_end"]))
        );
    }
}

#[tokio::test]
async fn a_reconcile_of_1000_subscriptions_through_429s_and_500s_fails_no_page_sets_every_state_and_leaves_a_newer_webhook_alone()
 {
    let (stack, stripe) = stack_and_stripe().await;
    let subscriptions = sample_subscriptions(1_000);
    stripe.seed(subscriptions.clone());
    let syncer = syncer(&stack);
    // A webhook an hour after the read says `sub_00010` (unpaid at Stripe) was canceled: newer.
    let newer = &subscriptions[10];
    let mut canceled = newer.clone();
    canceled["status"] = json!("canceled");
    webhook(&syncer, &canceled, read_at() + TimeDelta::hours(1)).await;
    // A day before the read `sub_00011` (canceled at Stripe) was active: older, so it drifted.
    let mut active = subscriptions[11].clone();
    active["status"] = json!("active");
    webhook(&syncer, &active, read_at() - TimeDelta::days(1)).await;
    stripe.inject(Faults {
        throttled: 3,
        unavailable: 2,
        malformed: 0,
    });

    let (outcomes, first) = run(&stack, &syncer, COMPANY_ID).await;

    assert_completed_without_failed_pages(&first, &outcomes);
    assert_eq!(
        stripe.faults(),
        Faults::default(),
        "every 429 and 500 was served"
    );
    assert_eq!(first.pages, 10, "100 subscriptions a page");
    assert_eq!(
        (
            first.counts.seen,
            first.counts.drifted,
            first.counts.newer_locally
        ),
        (1_000, 999, 1)
    );
    assert_states_equal_the_account(&syncer, &subscriptions, "sub_00010").await;
    let left = syncer
        .state
        .membership("sub_00010")
        .await
        .unwrap()
        .unwrap()
        .state();
    assert_eq!(
        left.status.as_deref(),
        Some("canceled"),
        "the newer webhook stands"
    );

    // A second run finds the store in step.
    let (_, second) = run(&stack, &syncer, COMPANY_ID).await;
    assert_eq!(second.status, RunStatus::Completed, "{second:?}");
    assert_eq!(
        (
            second.counts.unchanged,
            second.counts.drifted,
            second.counts.newer_locally
        ),
        (999, 0, 1)
    );
}

#[tokio::test]
async fn a_malformed_page_is_put_off_with_its_reason_and_the_run_completes() {
    let (stack, stripe) = stack_and_stripe().await;
    let subscriptions = sample_subscriptions(250);
    stripe.seed(subscriptions.clone());
    let syncer = syncer(&stack);
    stripe.inject(Faults {
        malformed: 1,
        ..Faults::default()
    });
    let run = syncer
        .start(Scope::stripe(COMPANY_ID), "test".into())
        .await
        .unwrap();
    let ids = std::slice::from_ref(&run.run_id);

    let first = work_runs(&stack, &syncer, ids, 1).await;
    assert_eq!(
        first,
        [PageOutcome::Deferred {
            delay_secs: 1,
            error: MALFORMED_PAGE.into()
        }]
    );
    let paused = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(paused.status, RunStatus::Paused);
    assert_eq!(paused.last_error.as_deref(), Some(MALFORMED_PAGE));

    let rest = work_runs(&stack, &syncer, ids, 20).await;
    let ended = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    assert_completed_without_failed_pages(&ended, &rest);
    assert_eq!((ended.pages, ended.counts.seen), (3, 250));
    assert_states_equal_the_account(&syncer, &subscriptions, "").await;
}

#[tokio::test]
async fn a_company_without_a_stripe_key_fails_its_run_and_reads_no_other_account() {
    let (stack, stripe) = stack_and_stripe().await;
    stripe.seed(sample_subscriptions(5));
    let syncer = syncer(&stack);

    let (outcomes, ended) = run(&stack, &syncer, "biz_without_stripe").await;

    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(ended.last_error.as_deref(), Some("stripe_key_missing"));
    assert_eq!(
        outcomes,
        [PageOutcome::Failed {
            error: "stripe_key_missing".into()
        }]
    );
    assert_eq!(stripe.calls(), 0, "no Stripe account was read");
    let stored = syncer
        .state
        .memberships(&["sub_00000".to_owned()])
        .await
        .unwrap();
    assert!(stored.is_empty(), "nothing written");
}
