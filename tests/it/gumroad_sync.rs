//! Gumroad's sync on moto and the stand-in Gumroad (README "Gumroad", "Sync"): a connection made
//! through the stand-in's authorization and token endpoints, then whole runs of its products,
//! subscribers and sales through the `sync-jobs` queue, with the stand-in's faults switched on.

use std::time::Duration;

use std::sync::Arc;

use chrono::Utc;
use churnsaver::fake_gumroad::{FakeGumroad, Faults, SELLER_ID, sample_catalog};
use churnsaver::local::LocalStack;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::aws::breaker::DynamoBreakers;
use shared::aws::company_items::DynamoCompanyItems;
use shared::aws::connections::DynamoConnections;
use shared::aws::limits::DynamoFailureCounter;
use shared::aws::sales::{DynamoSales, sales_pk};
use shared::aws::state::DynamoState;
use shared::aws::sync::DynamoRuns;
use shared::domain::connections::ConnectionStatus;
use shared::domain::ports::{ConnectionStore, StateStore, SyncStore, SystemClock};
use shared::domain::sync::worker::{PageOutcome, Syncer};
use shared::domain::sync::{RunStatus, Scope, SyncRun};
use shared::domain::webhooks::Source;
use shared::edge::config::Provider;
use shared::edge::deps::gumroad::connector_over;
use shared::providers::client::{ProviderGuard, ResilientClient};
use shared::providers::gumroad::SERVICE;
use shared::providers::gumroad::connect::{Connector, INITIAL_SYNC_COMPLETED};
use shared::providers::gumroad::sync::GumroadSource;

use crate::helpers::start_stack_with;
use crate::sync::{company_syncer, policy, quick_limits, work_runs};

const COMPANY: &str = "biz_gumroad_sync";

type Guard = ProviderGuard<DynamoBreakers, SystemClock, DynamoFailureCounter>;
pub(crate) type TestConnector =
    Connector<Guard, aws_sdk_secretsmanager::Client, SystemClock, DynamoConnections>;
type TestSyncer = Syncer<
    GumroadSource<
        Guard,
        aws_sdk_secretsmanager::Client,
        SystemClock,
        DynamoConnections,
        SystemClock,
    >,
    DynamoState,
    DynamoRuns,
    aws_sdk_sqs::Client,
    DynamoCompanyItems,
    DynamoSales,
>;

/// A stack whose Gumroad is the stand-in.
pub(crate) async fn stack_and_gumroad() -> (LocalStack, FakeGumroad) {
    let gumroad = FakeGumroad::start().await.unwrap();
    let stack = start_stack_with(gumroad.parameters().into_iter().collect()).await;
    (stack, gumroad)
}

/// The sync function's connector over the stack, its calls admitted under Gumroad's limits (the
/// shared window in the state table) raised so that the stand-in's pages need no pacing, with
/// quick retries and a breaker that trips and recovers quickly.
pub(crate) fn connector(stack: &LocalStack) -> TestConnector {
    let app = &stack.app;
    let guard = ProviderGuard::new(DynamoBreakers::of(app), SystemClock)
        .with_limits(SERVICE, quick_limits(Provider::Gumroad))
        .with_breaker_cache_ttl(Duration::ZERO)
        .with_shared_limit(DynamoFailureCounter::of(app));
    let client = ResilientClient::new(reqwest::Client::new(), policy(), guard);
    connector_over(app, app.config.gumroad.clone().unwrap(), client)
}

/// Connects [`COMPANY`] to the stand-in's seller: its authorization page's code, exchanged.
pub(crate) async fn connect(connector: &TestConnector) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let approved = browser
        .get(connector.authorization_url("state").as_str())
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let code = callback
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    connector
        .connect(&code, COMPANY, "user_1", Utc::now())
        .await
        .unwrap();
}

async fn syncer(stack: &LocalStack) -> TestSyncer {
    let connector = connector(stack);
    connect(&connector).await;
    let source = GumroadSource {
        connector,
        clock: SystemClock,
    };
    company_syncer(stack, source, DynamoSales::of(&stack.app))
}

/// A whole run of the connection; its outcomes and the run as it ended.
async fn run(stack: &LocalStack, syncer: &TestSyncer) -> (Vec<PageOutcome>, SyncRun) {
    let run = syncer
        .start(Scope::gumroad(COMPANY, SELLER_ID), "test".into())
        .await
        .unwrap();
    let outcomes = work_runs(stack, syncer, std::slice::from_ref(&run.run_id), 2_000).await;
    let ended = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    (outcomes, ended)
}

/// The sales events stored for [`COMPANY`] (one Query, counted).
async fn stored_sales(stack: &LocalStack) -> i32 {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = stack
            .app
            .dynamodb
            .query()
            .table_name(&stack.app.config.tables.state)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(sales_pk(COMPANY)),
            )
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.count();
        start = page.last_evaluated_key;
        if start.is_none() {
            return count;
        }
    }
}

/// The state each subscriber status must leave (status, access, cancel scheduled): written out
/// here, apart from the mapping the sync uses.
fn expected(status: &str) -> (&'static str, Option<bool>, bool) {
    match status {
        "alive" => ("active", Some(true), false),
        "pending_cancellation" => ("active", Some(true), true),
        "pending_failure" => ("past_due", Some(true), false),
        "failed_payment" => ("failed_payment", Some(false), false),
        "fixed_subscription_period_ended" => {
            ("fixed_subscription_period_ended", Some(false), false)
        }
        "cancelled" => ("cancelled", Some(false), false),
        other => panic!("the stand-in has no status {other}"),
    }
}

#[tokio::test]
async fn a_sync_of_1000_sales_and_300_subscribers_through_a_query_timeout_and_429s_fails_no_page_and_a_second_writes_no_sale()
 {
    let (stack, gumroad) = stack_and_gumroad().await;
    // 12 products (two pages), 25 subscribers each (two pages each), 1,000 sales (ten a page).
    gumroad.seed(sample_catalog(12, 300, 1_000));
    let syncer = syncer(&stack).await;
    gumroad.inject(Faults {
        throttled: 3,
        unavailable: 2,
        time_out_wider_than_days: Some(200),
        unpaginated_products: false,
    });

    let (outcomes, first) = run(&stack, &syncer).await;

    assert_eq!(first.status, RunStatus::Completed, "{first:?}");
    assert!(
        !outcomes
            .iter()
            .any(|o| matches!(o, PageOutcome::Failed { .. })),
        "no page failed: {outcomes:?}"
    );
    let faults = gumroad.faults();
    assert_eq!(
        (faults.throttled, faults.unavailable),
        (0, 0),
        "every 429 and 503 was served"
    );
    assert!(gumroad.timeouts() > 0, "a sales query timed out");
    assert_eq!(first.counts.seen, 300);
    assert_eq!(first.counts.drifted, 300);
    assert_eq!(first.counts.sales_recorded, 1_000);
    assert_eq!(stored_sales(&stack).await, 1_000);

    // Every subscriber's state is what its status at the stand-in says.
    let catalog = gumroad.catalog();
    let subscribers: Vec<&serde_json::Value> = catalog.subscribers.values().flatten().collect();
    assert_eq!(subscribers.len(), 300);
    let ids: Vec<String> = subscribers
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let stored = syncer.state.memberships(&ids).await.unwrap();
    assert_eq!(stored.len(), 300);
    let by_id: std::collections::HashMap<_, _> = stored
        .iter()
        .map(|s| (s.membership_id.clone(), s.state()))
        .collect();
    for subscriber in subscribers {
        let id = subscriber["id"].as_str().unwrap();
        let state = &by_id[id];
        let (status, valid, cancel) = expected(subscriber["status"].as_str().unwrap());
        assert_eq!(state.status.as_deref(), Some(status), "{id}");
        assert_eq!(state.valid, valid, "{id}");
        assert_eq!(state.cancel_at_period_end, cancel, "{id}");
        assert_eq!(state.provider, Source::Gumroad, "{id}");
        assert_eq!(state.company_id.as_deref(), Some(COMPANY), "{id}");
        assert_eq!(
            state.product_id.as_deref(),
            subscriber["product_id"].as_str(),
            "{id}"
        );
        assert_eq!(
            state.user_id.as_deref(),
            subscriber["user_id"].as_str(),
            "{id}"
        );
    }
    let connection = syncer
        .api
        .connector
        .store
        .get(COMPANY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.initial_sync, INITIAL_SYNC_COMPLETED);

    // A second sync finds everything as stored: no drift, no new sales event.
    let (_, second) = run(&stack, &syncer).await;
    assert_eq!(second.status, RunStatus::Completed, "{second:?}");
    assert_eq!(second.counts.unchanged, 300);
    assert_eq!(second.counts.drifted, 0);
    assert_eq!(second.counts.sales_recorded, 0);
    assert_eq!(stored_sales(&stack).await, 1_000);
}

#[tokio::test]
async fn the_older_unpaginated_products_answer_lists_every_products_subscribers() {
    let (stack, gumroad) = stack_and_gumroad().await;
    gumroad.seed(sample_catalog(15, 30, 5));
    gumroad.inject(Faults {
        unpaginated_products: true,
        ..Faults::default()
    });
    let syncer = syncer(&stack).await;

    let (_, ended) = run(&stack, &syncer).await;

    assert_eq!(ended.status, RunStatus::Completed, "{ended:?}");
    // 15 products in one answer, then 15 products' subscribers, then the sales.
    assert_eq!(ended.counts.seen, 30);
    assert_eq!(ended.counts.sales_recorded, 5);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_a_refused_refresh_fails_the_run_as_needs_reconnect()
{
    let (stack, gumroad) = stack_and_gumroad().await;
    gumroad.seed(sample_catalog(2, 4, 3));
    let syncer = syncer(&stack).await;

    // The access token refused, the refresh token still good: refreshed, and the run goes on.
    gumroad.revoke(false);
    let (_, refreshed) = run(&stack, &syncer).await;
    assert_eq!(refreshed.status, RunStatus::Completed, "{refreshed:?}");
    assert_eq!(refreshed.counts.seen, 4);

    // Both refused: the connection needs to be made again and the run fails saying so.
    gumroad.revoke(true);
    let (_, refused) = run(&stack, &syncer).await;
    assert_eq!(refused.status, RunStatus::Failed, "{refused:?}");
    assert_eq!(refused.last_error.as_deref(), Some("needs_reconnect"));
    let connection = syncer
        .api
        .connector
        .store
        .get(COMPANY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::NeedsReconnect);
}

#[tokio::test]
async fn the_functions_gumroad_schedule_runs_each_active_connection_through_its_own_pages() {
    let (stack, gumroad) = stack_and_gumroad().await;
    gumroad.seed(sample_catalog(3, 12, 20));
    let store = DynamoConnections::of(&stack.app);
    connect(&connector(&stack)).await;
    // Another company's connection Gumroad no longer accepts: not scheduled.
    let mut stale = store.get(COMPANY).await.unwrap().unwrap();
    stale.company_id = "biz_stale".into();
    stale.ping_token_hash = "0".repeat(64);
    stale.status = ConnectionStatus::NeedsReconnect;
    store.save(&stale).await.unwrap();
    crate::sync::api_key(&stack).await; // the sync function's syncer needs Whop's key too
    let state = Arc::new(sync::SyncDeps::build(Arc::clone(&stack.app)));
    let invoke = |payload: serde_json::Value| {
        sync::handle(
            Arc::clone(&state),
            LambdaEvent::new(payload, Context::default()),
        )
    };

    let scheduled = invoke(json!({"kind": "reconcile", "provider": "gumroad"}))
        .await
        .unwrap();

    let runs = scheduled["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{scheduled}");
    assert_eq!(
        (
            &runs[0]["company_id"],
            &runs[0]["provider"],
            &runs[0]["outcome"]
        ),
        (&json!(COMPANY), &json!("gumroad"), &json!("started")),
        "{scheduled}"
    );
    let run_id = runs[0]["run_id"].as_str().unwrap();
    let sqs = &stack.app.sqs;
    let queue = &stack.app.config.queues.sync_jobs;
    let runs = DynamoRuns::of(&stack.app);
    for _ in 0..200 {
        if runs
            .run(run_id)
            .await
            .unwrap()
            .unwrap()
            .status
            .is_finished()
        {
            break;
        }
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages() {
            let batch = json!({"Records": [{
                "messageId": message.message_id(), "receiptHandle": message.receipt_handle(),
                "body": message.body(), "attributes": {}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync-jobs",
                "awsRegion": "us-east-1"
            }]});
            let response = invoke(batch).await.unwrap();
            assert_eq!(response["batchItemFailures"], json!([]));
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let ended = runs.run(run_id).await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Completed, "{ended:?}");
    assert_eq!(ended.counts.seen, 12);
    assert_eq!(ended.counts.sales_recorded, 20);
}
