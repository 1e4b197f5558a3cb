//! The maintenance function through its entry point, with the schedule's sample event, against
//! the emulator: stuck ingests found in the pending index (Queries, no Scan), re-enqueued (once,
//! even by two runs at once) and then processed, stalled sync runs completed, resumed (and then
//! finished by the sync worker) or failed with their scope freed, expired items deleted and live
//! ones kept. Also the claims' place in the pending index, and their size with the message
//! deflated.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeDelta, Utc};
use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions};
use churnsaver::local::LocalStack;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shared::App;
use shared::aws::claims::{DynamoClaims, PENDING_INDEX, PENDING_SHARDS, STRANDED};
use shared::aws::sync::DynamoRuns;
use shared::domain::maintenance::decide::MAX_RESUMES;
use shared::domain::ports::{ProcessingLog, SyncStore};
use shared::domain::sync::worker::PageOutcome;
use shared::domain::sync::{PageJob, RunStatus, Scope, SyncCounts, SyncRun};
use shared::domain::webhooks::claims::ProcessingMark;
use shared::edge::deps::maintenance::MaintenanceDeps;
use shared::edge::error::EventError;

use shared::domain::webhooks::Source;
use tower::ServiceExt;

use crate::helpers::{RequestLog, fixture, receive_all, signed_webhook, start_stack};
use crate::processor::{history, ingest, process, state_of, webhook_log};

/// Invokes the maintenance function's handler with `input`, a minute before its deadline.
async fn invoke(app: &Arc<App>, input: Value) -> Result<Value, EventError> {
    let mut context = Context::default();
    context.deadline =
        u64::try_from((Utc::now() + TimeDelta::minutes(1)).timestamp_millis()).unwrap();
    maintenance::handle(
        Arc::new(MaintenanceDeps::build(Arc::clone(app))),
        LambdaEvent::new(input, context),
    )
    .await
}

/// The handler with the schedule's sample event (`events/schedule-maintenance.json`).
async fn run_scheduled(app: &Arc<App>) -> Result<Value, EventError> {
    invoke(
        app,
        serde_json::from_str(&fixture("schedule-maintenance.json")).unwrap(),
    )
    .await
}

async fn update(app: &App, table: &str, key: &[(&str, &str)], set: &str, values: &[(&str, i64)]) {
    let mut request = app
        .dynamodb
        .update_item()
        .table_name(table)
        .update_expression(set);
    for (name, value) in key {
        request = request.key(*name, AttributeValue::S((*value).to_owned()));
    }
    for (name, value) in values {
        request = request.expression_attribute_values(*name, AttributeValue::N(value.to_string()));
    }
    request.send().await.unwrap();
}

/// Moves a claim's lock back past the stuck margin, as if its ingest had ended 20 minutes ago.
async fn age_claim(app: &App, pk: &str) {
    let past = (Utc::now() - TimeDelta::minutes(20)).timestamp();
    update(
        app,
        &app.config.tables.webhook_events,
        &[("pk", pk)],
        "SET lock_until = :past",
        &[(":past", past)],
    )
    .await;
}

/// Empties the queue at `url`: its messages are lost.
async fn purge(app: &App, url: &str) {
    app.sqs.purge_queue().queue_url(url).send().await.unwrap();
}

/// Ingests the first event of a history for `membership` and loses its message, as when the
/// webhooks function dies between the claim and the send; returns its webhook-events key.
async fn stuck_ingest(stack: &LocalStack, membership: &str) -> String {
    let (id, body) = history(membership).remove(0);
    assert_eq!(ingest(&stack.app, &id, &body).await, 202);
    purge(&stack.app, &stack.app.config.queues.events).await;
    let pk = format!("whop#{id}");
    age_claim(&stack.app, &pk).await;
    pk
}

fn count(summary: &Value, task: &str, name: &str) -> u64 {
    summary[task][name].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_stuck_claim_is_sent_again_by_the_scheduled_run_and_then_processed() {
    let stack = start_stack().await;
    let pk = stuck_ingest(&stack, "mem_stuck").await;
    assert_eq!(webhook_log(&stack.app, &pk).await["status"], "RECEIVED");

    let summary = run_scheduled(&stack.app)
        .await
        .expect("maintenance succeeds");

    assert_eq!(count(&summary, "stuck-ingests", "claims_requeued"), 1);
    let messages = receive_all(&stack).await;
    assert_eq!(messages.len(), 1, "the lost message, sent again");
    let sent: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(sent["event_id"], "evt_0_mem_stuck");
    assert_eq!(sent["kind"], "membership.activated");
    assert!(process(&stack.app, &messages).await.is_empty());
    let state = state_of(&stack.app, "mem_stuck").await;
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.observations, 1);
    let log = webhook_log(&stack.app, &pk).await;
    assert_eq!(log["status"], "PROCESSED");
    assert_eq!(log["requeues"], 1);
    assert!(
        log.get("message").is_none(),
        "a processed claim no longer keeps its message"
    );
    // Done: the next run finds nothing to send.
    let again = run_scheduled(&stack.app).await.unwrap();
    assert_eq!(count(&again, "stuck-ingests", "claims_requeued"), 0);
}

#[tokio::test]
async fn a_re_enqueue_of_an_event_still_in_flight_changes_nothing() {
    let stack = start_stack().await;
    let (id, body) = history("mem_twice").remove(0);
    assert_eq!(ingest(&stack.app, &id, &body).await, 202);
    let pk = format!("whop#{id}");
    age_claim(&stack.app, &pk).await;

    run_scheduled(&stack.app).await.unwrap();

    let messages = receive_all(&stack).await;
    assert_eq!(messages.len(), 2, "the original and the re-enqueued copy");
    assert_eq!(messages[0].body(), messages[1].body());
    assert!(process(&stack.app, &messages[..1]).await.is_empty());
    let once = state_of(&stack.app, "mem_twice").await;
    assert!(process(&stack.app, &messages[1..]).await.is_empty());
    let twice = state_of(&stack.app, "mem_twice").await;
    assert_eq!(twice, once, "the second delivery left the state as it was");
    assert_eq!(twice.observations, 1);
    assert_eq!(webhook_log(&stack.app, &pk).await["status"], "PROCESSED");
}

#[tokio::test]
async fn two_maintenance_runs_at_once_send_a_stuck_claim_once() {
    let stack = start_stack().await;
    stuck_ingest(&stack, "mem_race").await;

    let (first, second) = tokio::join!(run_scheduled(&stack.app), run_scheduled(&stack.app));

    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        count(&first, "stuck-ingests", "claims_requeued")
            + count(&second, "stuck-ingests", "claims_requeued"),
        1
    );
    assert_eq!(receive_all(&stack).await.len(), 1);
}

#[tokio::test]
async fn a_stuck_claim_without_its_message_is_stranded_and_counted_once() {
    let stack = start_stack().await;
    let pk = stuck_ingest(&stack, "mem_stranded").await;
    let table = &stack.app.config.tables.webhook_events;
    update(&stack.app, table, &[("pk", &pk)], "REMOVE message", &[]).await;

    let first = run_scheduled(&stack.app).await.unwrap();
    let second = run_scheduled(&stack.app).await.unwrap();

    assert_eq!(count(&first, "stuck-ingests", "claims_stranded"), 1);
    assert_eq!(count(&second, "stuck-ingests", "claims_stranded"), 0);
    assert!(receive_all(&stack).await.is_empty());
    let log = webhook_log(&stack.app, &pk).await;
    assert_eq!(
        log["status"], "RECEIVED",
        "a sender's retry may still take it over"
    );
    assert_eq!(log["stranded_reason"], "no_message");
    assert_eq!(
        pending_index(&stack.app).await,
        vec![(pk, STRANDED.to_owned())],
        "out of the watchdog's Queries, listed under its own key"
    );
}

/// The pending index as (claim key, index key) pairs, read whole: the claims waiting for their
/// processing, and the stranded ones.
async fn pending_index(app: &App) -> Vec<(String, String)> {
    let output = app
        .dynamodb
        .scan()
        .table_name(&app.config.tables.webhook_events)
        .index_name(PENDING_INDEX)
        .send()
        .await
        .unwrap();
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        item[name].as_s().unwrap().clone()
    };
    output
        .items()
        .iter()
        .map(|item| (text(item, "pk"), text(item, "pending")))
        .collect()
}

#[tokio::test]
async fn the_stuck_ingest_task_queries_each_pending_shard_and_scans_nothing() {
    let stack = start_stack().await;
    stuck_ingest(&stack, "mem_query").await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);

    let summary = invoke(&app, serde_json::json!({"task": "stuck-ingests"}))
        .await
        .expect("maintenance succeeds");

    assert_eq!(count(&summary, "stuck-ingests", "claims_read"), 1);
    assert_eq!(count(&summary, "stuck-ingests", "claims_requeued"), 1);
    let (queries, others): (Vec<String>, Vec<String>) = requests
        .take()
        .into_iter()
        .partition(|operation| operation == "Query");
    assert_eq!(queries.len(), usize::from(PENDING_SHARDS), "one per shard");
    assert_eq!(
        others,
        ["BatchGetItem", "UpdateItem", "SendMessage"],
        "the claim found, read whole; its lock moved; its message sent again"
    );
}

#[tokio::test]
async fn a_claim_leaves_the_pending_index_in_the_update_that_marks_it_processed_or_failed() {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let events = history("mem_index");
    let keys: Vec<String> = events[..2]
        .iter()
        .map(|(id, _)| format!("whop#{id}"))
        .collect();
    // One warm instance; signed with the unrecorded app (the sender's read of the secret).
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&app),
    )));
    for (id, body) in &events[..2] {
        let request = signed_webhook(&stack.app, Source::Whop, body, id).await;
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 202);
        let operations = requests.take();
        assert_eq!(
            operations[operations.len() - 2..],
            ["PutItem", "SendMessage"],
            "its claim enters the index in the claim's own write"
        );
    }
    assert_eq!(waiting(&stack.app).await, keys);
    let messages = receive_all(&stack).await;
    let first = messages
        .iter()
        .find(|m| m.body().unwrap().contains(&events[0].0))
        .unwrap()
        .clone();

    assert!(process(&app, &[first]).await.is_empty());

    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem", "UpdateItem"],
        "the state write, its company made known (the membership's first event) and the \
         PROCESSED mark, nothing more"
    );
    assert_eq!(waiting(&stack.app).await, keys[1..]);
    let failed = ProcessingMark::Failed {
        at: Utc::now(),
        attempt: 1,
        error: "state_unavailable".into(),
    };
    assert!(
        DynamoClaims::of(&app)
            .mark(&keys[1], &failed)
            .await
            .unwrap()
    );
    assert_eq!(requests.take(), ["UpdateItem"]);
    assert!(waiting(&stack.app).await.is_empty());
}

/// The keys of the claims in the pending index under a shard key (`P#n`), sorted.
async fn waiting(app: &App) -> Vec<String> {
    let mut keys: Vec<String> = pending_index(app)
        .await
        .into_iter()
        .filter(|(_, shard)| shard.starts_with("P#"))
        .map(|(pk, _)| pk)
        .collect();
    keys.sort();
    keys
}

/// A run of its own scope (`company_id`), started and left as its last writer left it an hour
/// and more ago, its lease lapsed.
async fn stalled_run(stack: &LocalStack, company_id: &str, pages: &[Option<&str>]) -> SyncRun {
    let runs = DynamoRuns::of(&stack.app);
    let started = Utc::now();
    let run = SyncRun::new(Scope::company(company_id), "test", started);
    runs.start_run(&run, started + TimeDelta::hours(1))
        .await
        .unwrap();
    for (page, next_cursor) in pages.iter().enumerate() {
        runs.page_done(
            &run,
            page as u64,
            &SyncCounts::default(),
            *next_cursor,
            started,
            started + TimeDelta::hours(1),
        )
        .await
        .unwrap()
        .unwrap();
    }
    age_run(stack, &run).await;
    run
}

/// Moves `run`'s last update and its scope lock's lease two hours back: its lease lapsed.
async fn age_run(stack: &LocalStack, run: &SyncRun) {
    let past = (Utc::now() - TimeDelta::hours(2)).timestamp_millis();
    let state = &stack.app.config.tables.state;
    for (sk, attribute) in [
        (format!("RUN#{}", run.run_id), "updated_at"),
        (
            format!("LOCK#company:{}", run.scope.company_id),
            "lease_until",
        ),
    ] {
        update(
            &stack.app,
            state,
            &[("pk", "SYNC#whop"), ("sk", &sk)],
            &format!("SET {attribute} = :past"),
            &[(":past", past)],
        )
        .await;
    }
}

async fn lock_holder(stack: &LocalStack, company_id: &str) -> Option<String> {
    let item = stack
        .app
        .dynamodb
        .get_item()
        .table_name(&stack.app.config.tables.state)
        .key("pk", AttributeValue::S("SYNC#whop".into()))
        .key(
            "sk",
            AttributeValue::S(format!("LOCK#company:{company_id}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item?;
    Some(item["run_id"].as_s().unwrap().clone())
}

async fn sync_jobs(stack: &LocalStack) -> Vec<PageJob> {
    let output = stack
        .app
        .sqs
        .receive_message()
        .queue_url(&stack.app.config.queues.sync_jobs)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    output
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn stalled_runs_are_completed_resumed_to_their_end_or_failed_and_free_their_scope() {
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 2,
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed(5);
    let stack = start_stack().await;
    let runs = DynamoRuns::of(&stack.app);
    // Every page counted; the end was lost.
    let counted = stalled_run(&stack, "biz_counted", &[Some("cur_1"), None]).await;
    // A run of the fake's 5 memberships in 3 pages: two pages worked by the sync worker, then the
    // chain of jobs was lost (the third page's job never arrives).
    let syncer = crate::sync::syncer(&stack, &fake).await;
    let midway = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    crate::sync::work_jobs(&stack, &syncer, &midway.run_id, 2).await;
    purge(&stack.app, &stack.app.config.queues.sync_jobs).await;
    let lost = runs.run(&midway.run_id).await.unwrap().unwrap();
    assert_eq!((lost.pages, lost.status), (2, RunStatus::Running));
    let (next_page, next_cursor) = lost.next_page.clone().unwrap();
    assert_eq!(next_page, 2);
    age_run(&stack, &lost).await;
    // Resumed the most times already.
    let hopeless = stalled_run(&stack, "biz_hopeless", &[Some("cur_1")]).await;
    let hopeless_sk = format!("RUN#{}", hopeless.run_id);
    update(
        &stack.app,
        &stack.app.config.tables.state,
        &[("pk", "SYNC#whop"), ("sk", &hopeless_sk)],
        "SET resumes = :max",
        &[(":max", i64::from(MAX_RESUMES))],
    )
    .await;

    let summary = run_scheduled(&stack.app)
        .await
        .expect("maintenance succeeds");

    assert_eq!(count(&summary, "stalled-runs", "runs_completed"), 1);
    assert_eq!(count(&summary, "stalled-runs", "runs_resumed"), 1);
    assert_eq!(count(&summary, "stalled-runs", "runs_failed"), 1);
    let counted = runs.run(&counted.run_id).await.unwrap().unwrap();
    assert_eq!(counted.status, RunStatus::Completed);
    assert_eq!(lock_holder(&stack, "biz_counted").await, None);
    let hopeless = runs.run(&hopeless.run_id).await.unwrap().unwrap();
    assert_eq!(
        (hopeless.status, hopeless.last_error.as_deref()),
        (RunStatus::Failed, Some("stalled"))
    );
    assert_eq!(lock_holder(&stack, "biz_hopeless").await, None);
    let resumed = runs.run(&midway.run_id).await.unwrap().unwrap();
    assert_eq!((resumed.status, resumed.resumes), (RunStatus::Running, 1));
    assert_eq!(
        lock_holder(&stack, COMPANY_ID).await.as_deref(),
        Some(midway.run_id.as_str()),
        "the resumed run holds its scope again"
    );
    let jobs = sync_jobs(&stack).await;
    assert_eq!(
        jobs,
        vec![PageJob {
            run_id: midway.run_id.clone(),
            page: 2,
            cursor: Some(next_cursor),
            deferrals: 0,
        }],
        "the page after the last counted one, with its cursor"
    );

    // The sync worker takes the resumed run to its end.
    assert!(matches!(
        syncer.run_page(&jobs[0]).await.unwrap(),
        PageOutcome::Counted {
            completed: true,
            ..
        }
    ));
    let finished = runs.run(&midway.run_id).await.unwrap().unwrap();
    assert_eq!(
        (finished.status, finished.pages, finished.resumes),
        (RunStatus::Completed, 3, 1)
    );
    assert_eq!(
        (finished.counts.seen, finished.counts.drifted),
        (5, 5),
        "every membership once"
    );
    assert_eq!(lock_holder(&stack, COMPANY_ID).await, None);
    crate::sync::assert_state_equals_the_api(&syncer, &fake).await;
}

/// An item key as (attribute, string value) pairs.
type Key<'a> = Vec<(&'a str, &'a str)>;

async fn put(app: &App, table: &str, key: &[(&str, &str)], expires_at: i64) {
    let mut request = app.dynamodb.put_item().table_name(table);
    for (name, value) in key {
        request = request.item(*name, AttributeValue::S((*value).to_owned()));
    }
    request
        .item("expires_at", AttributeValue::N(expires_at.to_string()))
        .send()
        .await
        .unwrap();
}

async fn exists(app: &App, table: &str, key: &[(&str, &str)]) -> bool {
    let mut request = app
        .dynamodb
        .get_item()
        .table_name(table)
        .consistent_read(true);
    for (name, value) in key {
        request = request.key(*name, AttributeValue::S((*value).to_owned()));
    }
    request.send().await.unwrap().item.is_some()
}

#[tokio::test]
async fn expired_sessions_claims_and_failure_counters_are_deleted_and_live_ones_kept() {
    let stack = start_stack().await;
    let app = &stack.app;
    let tables = &app.config.tables;
    let now = Utc::now().timestamp();
    let (past, future) = (now - 60, now + 3600);
    let items: [(&str, Key<'_>, Key<'_>); 3] = [
        (
            &tables.sessions,
            vec![("pk", "sess_expired")],
            vec![("pk", "sess_live")],
        ),
        (
            &tables.webhook_events,
            vec![("pk", "whop#evt_expired")],
            vec![("pk", "whop#evt_live")],
        ),
        (
            &tables.state,
            vec![("pk", "RATE#203.0.113.1#1"), ("sk", "RATE")],
            vec![("pk", "RATE#203.0.113.2#2"), ("sk", "RATE")],
        ),
    ];
    for (table, expired, live) in &items {
        put(app, table, expired, past).await;
        put(app, table, live, future).await;
    }

    let summary = run_scheduled(&stack.app)
        .await
        .expect("maintenance succeeds");

    assert_eq!(count(&summary, "expired-items", "items_deleted"), 3);
    for (table, expired, live) in &items {
        assert!(
            !exists(app, table, expired).await,
            "{table}: {expired:?} deleted"
        );
        assert!(exists(app, table, live).await, "{table}: {live:?} kept");
    }
}

#[tokio::test]
async fn a_failed_task_fails_the_function_by_name_and_the_other_tasks_still_run() {
    let stack = start_stack().await;
    let app = &stack.app;
    app.sqs
        .delete_queue()
        .queue_url(&app.config.queues.events_dlq)
        .send()
        .await
        .unwrap();
    let past = Utc::now().timestamp() - 60;
    put(
        app,
        &app.config.tables.sessions,
        &[("pk", "sess_expired")],
        past,
    )
    .await;

    let error = run_scheduled(&stack.app).await.unwrap_err();

    assert!(
        error
            .to_string()
            .contains("failed tasks: queues-and-secrets"),
        "{error}"
    );
    assert!(!exists(app, &app.config.tables.sessions, &[("pk", "sess_expired")]).await);
}

#[tokio::test]
async fn the_scheduled_run_reports_every_dead_letter_queue_and_secret() {
    let stack = start_stack().await;

    let summary = run_scheduled(&stack.app)
        .await
        .expect("maintenance succeeds");

    assert_eq!(count(&summary, "queues-and-secrets", "secrets_checked"), 3);
    assert_eq!(count(&summary, "queues-and-secrets", "secrets_overdue"), 0);
    assert_eq!(count(&summary, "queues-and-secrets", "dlq_messages"), 0);
}

/// The `webhook-events` items of the stack, read whole.
async fn claim_items(app: &App) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    app.dynamodb
        .scan()
        .table_name(&app.config.tables.webhook_events)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

/// The claim of each webhook fixture (`events/apigw-webhook-*.json`, signed anew) as ingest
/// stores it (the message deflated, a key in the pending index) and as it stored it before (the
/// message as text), and the PROCESSED mark's update, billed by the larger of the claim and the
/// processed item. The index adds one write for the claim and one for the mark (a keys-only
/// entry: under 1 KB).
///
///     cargo test -p it claim_item_sizes -- --ignored --nocapture
#[tokio::test]
#[ignore = "prints figures; run with --ignored --nocapture"]
async fn claim_item_sizes_with_the_message_deflated() {
    use shared::aws::item::item_size;

    let stack = start_stack().await;
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&stack.app),
    )));
    let mut fixtures: Vec<_> = std::fs::read_dir(churnsaver::workspace_root().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("apigw-webhook-"))
        .collect();
    fixtures.sort();
    let mut sizes = Vec::new();
    for (index, name) in fixtures.iter().enumerate() {
        let event: Value = serde_json::from_str(&fixture(name)).unwrap();
        let body = event["body"].as_str().unwrap();
        let provider = event["rawPath"]
            .as_str()
            .unwrap()
            .trim_start_matches("/webhooks/");
        let source = Source::parse(provider).unwrap();
        let request = signed_webhook(&stack.app, source, body, &format!("msg_size{index}")).await;
        let status = router.clone().oneshot(request).await.unwrap().status();
        assert_eq!(status.as_u16(), 202, "{name}");
        let claims = claim_items(&stack.app).await;
        let item = claims
            .into_iter()
            .find(|item| !sizes.iter().any(|(_, _, pk, _, _)| *pk == item["pk"]))
            .unwrap();
        let record = shared::aws::claims::claim_record(item.clone()).unwrap();
        let before = item_size(&serde_dynamo::to_item(&record).unwrap());
        sizes.push((
            name.clone(),
            body.len(),
            item["pk"].clone(),
            before,
            item_size(&item),
        ));
    }
    assert!(
        process(&stack.app, &receive_all(&stack).await)
            .await
            .is_empty()
    );
    let processed = claim_items(&stack.app).await;

    let units = |bytes: usize| bytes.div_ceil(1024);
    println!(
        "{:<52} {:>5}  {:>18}  {:>18}  {:>15}",
        "fixture", "body", "claim before B/WRU", "claim after B/WRU", "WRU per webhook"
    );
    let (mut total_before, mut total_after) = (0, 0);
    for (name, body, pk, before, after) in &sizes {
        let done = item_size(processed.iter().find(|item| item["pk"] == *pk).unwrap());
        // Claim + mark; after: + the index entry's write and removal.
        let per_webhook_before = units(*before) + units((*before).max(done));
        let per_webhook_after = units(*after) + units((*after).max(done)) + 2;
        total_before += per_webhook_before;
        total_after += per_webhook_after;
        println!(
            "{name:<52} {body:>5}  {:>12} / {:>3}  {:>12} / {:>3}  {per_webhook_before:>6} -> {per_webhook_after:<6}",
            before,
            units(*before),
            after,
            units(*after),
        );
    }
    println!(
        "{} fixtures: {total_before} -> {total_after} write units for claim, mark (and index)",
        sizes.len()
    );
}
