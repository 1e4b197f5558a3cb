//! No existence oracle: a membership that is another user's and one that does not exist answer the
//! same 404, body and all, on the state route and on `POST /sync`.

use churnsaver::local::LocalStack;
use serde_json::json;

use crate::helpers::{open_session, start_running_stack, start_stack};

/// A request's status, content type and body bytes.
async fn answer(request: reqwest::RequestBuilder) -> (u16, String, Vec<u8>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

async fn read(stack: &LocalStack, token: &str, membership: &str) -> (u16, String, Vec<u8>) {
    let url = format!("{}/memberships/{membership}", stack.base_url());
    answer(reqwest::Client::new().get(url).bearer_auth(token)).await
}

#[tokio::test]
async fn another_users_membership_and_an_unknown_one_read_as_the_same_404() {
    let stack = start_stack().await;
    let processor = shared::edge::deps::processor::processor(&stack.app);
    let event = json!({
        "provider": "whop", "event_id": "evt_oracle", "kind": "membership.activated",
        "subject": {"membership_id": "mem_oracle", "user_id": "user_owner"},
        "occurred_at": "2026-11-23T10:00:00Z", "received_at": "2026-11-23T10:00:00Z",
        "raw": {"type": "membership.activated", "data": {"status": "active"}},
    });
    processor.process(&event.to_string(), 1).await.unwrap();
    let owner = open_session(&stack, "user_owner").await;
    let stranger = open_session(&stack, "user_stranger").await;
    assert_eq!(read(&stack, &owner, "mem_oracle").await.0, 200);

    let others = read(&stack, &stranger, "mem_oracle").await;
    let unknown = read(&stack, &stranger, "mem_never_seen").await;

    assert_eq!(others, unknown);
    assert_eq!(others.0, 404);
    let body: serde_json::Value = serde_json::from_slice(&others.2).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn syncing_another_users_membership_and_an_unknown_one_answer_the_same_404() {
    let stack = start_running_stack().await;
    let whop = stack.whop.as_ref().unwrap();
    assert!(
        whop.membership("mem_00004").is_some(),
        "the stand-in has it"
    );
    let sync = |token: String, membership: &'static str| {
        let url = format!("{}/sync", stack.base_url());
        let request = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&json!({"membership_id": membership}));
        answer(request)
    };
    // Two strangers, so that neither request waits out the other's cooldown.
    let first = open_session(&stack, "user_00005").await;
    let second = open_session(&stack, "user_00006").await;

    let others = sync(first, "mem_00004").await;
    let unknown = sync(second, "mem_00099999").await;

    assert_eq!(others, unknown);
    assert_eq!(others.0, 404);
    stack.shutdown().await;
}
