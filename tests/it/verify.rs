//! `churnsaver verify` against the whole local stack (workers running, as `churnsaver local` runs
//! it).

use churnsaver::local::LocalStack;
use churnsaver::verify::{DEFAULT_PROCESSING_TIMEOUT, verify};

use crate::helpers::start_running_stack;

/// How many items `table` holds.
async fn item_count(stack: &LocalStack, table: &str) -> i32 {
    stack
        .app
        .dynamodb
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count
}

#[tokio::test]
async fn verify_passes_on_a_fresh_local_stack_and_leaves_no_claim_or_session_behind() {
    let stack = start_running_stack().await;

    let verification = verify(&stack.app, &stack.base_url(), DEFAULT_PROCESSING_TIMEOUT).await;

    let table = verification.table();
    assert!(verification.passed(), "{table}");
    let names: Vec<&str> = verification.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "health",
            "health/db",
            "health/external",
            "health/webhooks",
            "dynamodb",
            "sqs",
            "secrets",
            "webhook",
            "metrics",
            "auth"
        ]
    );
    assert!(table.contains("PROCESSED after"), "{table}");
    let tables = &stack.app.config.tables;
    assert_eq!(item_count(&stack, &tables.webhook_events).await, 0);
    assert_eq!(item_count(&stack, &tables.sessions).await, 0);
    stack.shutdown().await;
}

#[tokio::test]
async fn verify_fails_naming_the_queue_and_the_webhook_checks_when_the_events_queue_is_gone() {
    let stack = start_running_stack().await;
    stack
        .app
        .sqs
        .delete_queue()
        .queue_url(&stack.app.config.queues.events)
        .send()
        .await
        .unwrap();

    let verification = verify(&stack.app, &stack.base_url(), DEFAULT_PROCESSING_TIMEOUT).await;

    let table = verification.table();
    assert!(!verification.passed());
    let failed = verification.failed();
    assert!(
        failed.contains(&"sqs") && failed.contains(&"webhook"),
        "{table}"
    );
    assert!(table.contains("queue events:"), "{table}");
    assert!(
        table.contains("POST /webhooks/whop answered 503"),
        "{table}"
    );
    assert_eq!(
        item_count(&stack, &stack.app.config.tables.webhook_events).await,
        0
    );
    stack.shutdown().await;
}
