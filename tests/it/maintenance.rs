//! The maintenance function through its entry point, with the schedule's sample event, against
//! the emulator: stuck ingests re-enqueued (once, even by two runs at once) and then processed,
//! stalled sync runs completed, resumed or failed with their scope freed, expired items deleted
//! and live ones kept.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeDelta, Utc};
use churnsaver::local::LocalStack;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shared::App;
use shared::aws::sync::DynamoRuns;
use shared::domain::maintenance::decide::MAX_RESUMES;
use shared::domain::ports::SyncStore;
use shared::domain::sync::{PageJob, RunStatus, Scope, SyncCounts, SyncRun};
use shared::edge::deps::maintenance::MaintenanceDeps;
use shared::edge::error::EventError;

use crate::helpers::{fixture, receive_all, start_stack};
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

/// Ingests the first event of a history for `membership` and loses its message, as when the
/// webhooks function dies between the claim and the send; returns its webhook-events key.
async fn stuck_ingest(stack: &LocalStack, membership: &str) -> String {
    let (id, body) = history(membership).remove(0);
    assert_eq!(ingest(&stack.app, &id, &body).await, 202);
    stack
        .app
        .sqs
        .purge_queue()
        .queue_url(&stack.app.config.queues.events)
        .send()
        .await
        .unwrap();
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
}

/// A run of its own scope (`company_id`), started and left as its last writer left it an hour
/// and more ago, its lease lapsed.
async fn stalled_run(stack: &LocalStack, company_id: &str, pages: &[Option<&str>]) -> SyncRun {
    let runs = DynamoRuns::of(&stack.app);
    let started = Utc::now();
    let run = SyncRun::new(
        Scope {
            company_id: company_id.to_owned(),
            user_id: None,
            since: None,
        },
        "test",
        started,
    );
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
    let past = (Utc::now() - TimeDelta::hours(2)).timestamp_millis();
    let state = &stack.app.config.tables.state;
    for (sk, attribute) in [
        (format!("RUN#{}", run.run_id), "updated_at"),
        (format!("LOCK#company:{company_id}"), "lease_until"),
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
    run
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
async fn stalled_runs_are_completed_resumed_or_failed_and_an_ended_one_frees_its_scope() {
    let stack = start_stack().await;
    let runs = DynamoRuns::of(&stack.app);
    // Every page counted; the end was lost.
    let counted = stalled_run(&stack, "biz_counted", &[Some("cur_1"), None]).await;
    // Two pages counted; the chain of jobs was lost after the second.
    let midway = stalled_run(&stack, "biz_midway", &[Some("cur_1"), Some("cur_2")]).await;
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
        lock_holder(&stack, "biz_midway").await.as_deref(),
        Some(midway.run_id.as_str()),
        "the resumed run holds its scope again"
    );
    assert_eq!(
        sync_jobs(&stack).await,
        vec![PageJob {
            run_id: midway.run_id.clone(),
            page: 2,
            cursor: Some("cur_2".into()),
            deferrals: 0,
        }],
        "the page after the last counted one, with its cursor"
    );
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
