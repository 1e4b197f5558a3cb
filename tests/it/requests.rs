//! What goes to AWS, operation by operation: per accepted webhook (on a cold and on a warm
//! instance) and per sync page. These sequences are the cost and the behaviour of the adapters;
//! a change to them is a change of behaviour.

use std::sync::Arc;

use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions, LOCAL_API_KEY};
use shared::App;
use shared::domain::ports::SyncStore;
use shared::domain::sync::worker::PageOutcome;
use shared::domain::sync::{PageJob, RunStatus};
use shared::domain::webhooks::Source;
use tower::ServiceExt;

use crate::helpers::{RequestLog, signed_webhook, start_stack, start_stack_with};

fn activated(message_id: &str, membership: &str) -> String {
    format!(
        r#"{{"id":"{message_id}","api_version":"v1","type":"membership.activated","timestamp":"2026-11-23T10:00:00.000Z","company_id":"biz_1","data":{{"id":"{membership}","status":"active","user":{{"id":"user_1"}},"product":{{"id":"prod_1"}}}}}}"#
    )
}

fn ops(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[tokio::test]
async fn an_accepted_webhook_reads_the_secret_on_a_cold_instance_only() {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    // Signed with the unrecorded app: the sender's read of the secret is not the function's.
    let first = signed_webhook(
        &stack.app,
        Source::Whop,
        &activated("msg_a", "mem_a"),
        "msg_a",
    )
    .await;
    let second = signed_webhook(
        &stack.app,
        Source::Whop,
        &activated("msg_b", "mem_b"),
        "msg_b",
    )
    .await;
    let third = signed_webhook(
        &stack.app,
        Source::Whop,
        &activated("msg_c", "mem_c"),
        "msg_c",
    )
    .await;

    // One router is one instance: built at cold start, warm for the deliveries after.
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&app),
    )));
    assert_eq!(
        router
            .clone()
            .oneshot(first)
            .await
            .unwrap()
            .status()
            .as_u16(),
        202
    );
    let cold = requests.take();
    assert_eq!(router.oneshot(second).await.unwrap().status().as_u16(), 202);
    let warm = requests.take();
    assert_eq!(
        (cold, warm),
        (
            ops(&["GetSecretValue", "PutItem", "SendMessage"]),
            ops(&["PutItem", "SendMessage"])
        ),
        "cold: the webhook secrets (AWSCURRENT), the claim, the enqueue; warm: no secret read"
    );

    // Another cold start reads the secret again.
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&app),
    )));
    assert_eq!(router.oneshot(third).await.unwrap().status().as_u16(), 202);
    assert_eq!(
        requests.take(),
        ops(&["GetSecretValue", "PutItem", "SendMessage"])
    );
}

/// The next page job on the sync-jobs queue (deleted from it).
async fn next_job(app: &App) -> PageJob {
    let queue = &app.config.queues.sync_jobs;
    for _ in 0..10 {
        let received = app
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(message) = received.messages().first() {
            app.sqs
                .delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            return serde_json::from_str(message.body().unwrap()).unwrap();
        }
    }
    panic!("no page job arrived");
}

#[tokio::test]
async fn a_sync_page_costs_a_fixed_sequence_of_requests() {
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 2,
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed(3);
    let stack = start_stack_with(std::collections::BTreeMap::from([
        ("WhopApiBaseUrl".to_owned(), fake.base_url()),
        ("WhopCompanyId".to_owned(), COMPANY_ID.to_owned()),
    ]))
    .await;
    stack
        .app
        .secrets_manager
        .put_secret_value()
        .secret_id(stack.app.config.secrets.whop_api_key.as_deref().unwrap())
        .secret_string(format!(r#"{{"api_key":"{LOCAL_API_KEY}"}}"#))
        .send()
        .await
        .unwrap();
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    // The sync function's own syncer (its limits, breaker cache and retry policy) over `app`.
    let syncer = shared::edge::deps::sync::syncer(&app).unwrap();

    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    assert_eq!(
        requests.take(),
        ops(&["TransactWriteItems", "SendMessage"]),
        "start: the run and its lock in one transaction, then the first page job"
    );

    // The first page on a cold instance: the run, the API key, the emergency switch, the breaker,
    // the stored memberships, two new ones written (past due and canceled: each opens a signal,
    // so each record is followed by its company-index upkeep), the next job, the page counted and
    // the lease extended. (The call's add to the shared rate limit is not logged: see
    // `RequestLog`.)
    let job = next_job(&stack.app).await;
    assert!(matches!(
        syncer.run_page(&job).await.unwrap(),
        PageOutcome::Counted {
            completed: false,
            ..
        }
    ));
    assert_eq!(
        requests.take(),
        ops(&[
            "GetItem",
            "GetSecretValue",
            "GetItem",
            "GetItem",
            "BatchGetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "SendMessage",
            "UpdateItem",
            "UpdateItem",
        ])
    );

    // The last page, warm: no key read, the switch and the breaker cached; the run ends,
    // releases its lock and tells the company.
    let job = next_job(&stack.app).await;
    assert!(matches!(
        syncer.run_page(&job).await.unwrap(),
        PageOutcome::Counted {
            completed: true,
            ..
        }
    ));
    assert_eq!(
        requests.take(),
        ops(&[
            "GetItem",
            "BatchGetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "DeleteItem",
            // The company's run ended: its recipients are told through the notifications queue.
            "SendMessage",
        ])
    );
    let run = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    assert_eq!((run.status, run.pages), (RunStatus::Completed, 2));
}
