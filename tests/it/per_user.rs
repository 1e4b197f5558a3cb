//! The creator routes' per-user limit: past `CREATOR_RATE_LIMIT_REQUESTS` (default 60) in a
//! window, 429 with `Retry-After`; other users keep their own count.

use churnsaver::local::LocalStack;

use crate::helpers::{get_with_token, open_session, start_running_stack};

/// `GET /companies/biz_local/settings` with `token`: the status and `Retry-After`, if any.
async fn settings(stack: &LocalStack, token: &str) -> (u16, Option<u64>) {
    let answer = get_with_token(stack, "/companies/biz_local/settings", token).await;
    (answer.status, answer.retry_after)
}

#[tokio::test]
async fn a_user_past_the_creator_limit_gets_429_with_retry_after_and_others_do_not() {
    let stack = start_running_stack().await;
    let admin = open_session(&stack, "user_local_admin").await;
    let customer = open_session(&stack, "user_local_customer").await;

    // 60 per minute by default: within 121 requests one is refused, wherever a window boundary
    // fell (at most one falls within them), and every one before it was served.
    let mut served = 0;
    let retry_after = loop {
        match settings(&stack, &admin).await {
            (200, None) => served += 1,
            (429, Some(retry_after)) => break retry_after,
            other => panic!("after {served} served: {other:?}"),
        }
        assert!(served <= 120, "never throttled");
    };
    assert!(served >= 60, "{served}");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Refused from then on, until the window ends.
    assert_eq!(settings(&stack, &admin).await.0, 429);
    // Another user (refused by the access check: a customer) is not throttled by that count.
    assert_eq!(settings(&stack, &customer).await.0, 403);
    stack.shutdown().await;
}
