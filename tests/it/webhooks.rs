//! `POST /webhooks/{provider}` end to end against the emulator.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use churnsaver::local::{LocalStack, webhook_secret};
use http::Request;
use serde_json::{Value, json};
use shared::App;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::SigningSecret;
use shared::providers::sign;
use tower::ServiceExt;

use crate::helpers::{RequestLog, receive_all, start_stack};

const MEMBERSHIP_ACTIVATED: &str = r#"{"id":"msg_1","api_version":"v1","type":"membership.activated","timestamp":"2026-11-23T10:00:00.000Z","company_id":"biz_1","data":{"id":"mem_1","status":"active","user":{"id":"user_1"},"product":{"id":"prod_1"}}}"#;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A Whop v1 delivery signed with the stack's secret.
async fn signed_whop(app: &App, body: &str, message_id: &str) -> Request<Body> {
    crate::helpers::signed_webhook(app, Source::Whop, body, message_id).await
}

async fn send(app: &Arc<App>, request: Request<Body>) -> (u16, Value) {
    send_to(
        &webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
            Arc::clone(app),
        ))),
        request,
    )
    .await
}

/// Sends through `router` (one warm instance: its caches live across calls).
async fn send_to(router: &axum::Router, request: Request<Body>) -> (u16, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn claim(
    stack: &LocalStack,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    stack
        .app
        .dynamodb
        .get_item()
        .table_name(&stack.app.config.tables.webhook_events)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn set_attributes(stack: &LocalStack, pk: &str, updates: &[(&str, AttributeValue)]) {
    let mut request = stack
        .app
        .dynamodb
        .update_item()
        .table_name(&stack.app.config.tables.webhook_events)
        .key("pk", AttributeValue::S(pk.to_owned()));
    let mut expression = Vec::new();
    for (i, (name, value)) in updates.iter().enumerate() {
        expression.push(format!("#a{i} = :v{i}"));
        request = request
            .expression_attribute_names(format!("#a{i}"), *name)
            .expression_attribute_values(format!(":v{i}"), value.clone());
    }
    request
        .update_expression(format!("SET {}", expression.join(", ")))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_accepted_delivery_is_claimed_and_enqueued_once() {
    let stack = start_stack().await;

    let (status, body) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;

    assert_eq!(
        (status, &body),
        (
            202,
            &json!({"accepted": true, "event_id": "msg_1", "kind": "membership.activated"})
        )
    );
    let messages = receive_all(&stack).await;
    let [message] = &messages[..] else {
        panic!("{messages:?}")
    };
    let attributes = message.message_attributes().unwrap();
    assert_eq!(attributes["provider"].string_value(), Some("whop"));
    assert_eq!(
        attributes["kind"].string_value(),
        Some("membership.activated")
    );
    let queued: Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(queued["event_id"], "msg_1");
    assert_eq!(queued["subject"]["membership_id"], "mem_1");
    assert_eq!(
        queued["raw"],
        serde_json::from_str::<Value>(MEMBERSHIP_ACTIVATED).unwrap()
    );
    let record = claim(&stack, "whop#msg_1").await.unwrap();
    assert_eq!(record["status"], AttributeValue::S("RECEIVED".into()));
    assert_eq!(
        record["kind"],
        AttributeValue::S("membership.activated".into())
    );
}

#[tokio::test]
async fn duplicates_are_409_while_received_and_200_once_processed() {
    let stack = start_stack().await;
    send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;

    let (status, body) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("in_progress"))
    );

    set_attributes(
        &stack,
        "whop#msg_1",
        &[("status", AttributeValue::S("PROCESSED".into()))],
    )
    .await;
    let (status, body) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    assert_eq!(
        (status, &body),
        (
            200,
            &json!({"duplicate": true, "event_id": "msg_1", "status": "PROCESSED"})
        )
    );

    assert_eq!(receive_all(&stack).await.len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_event_enqueue_exactly_one() {
    let stack = start_stack().await;
    let mut requests = Vec::new();
    for _ in 0..50 {
        requests.push(signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await);
    }

    let statuses: Vec<u16> = futures_util::future::join_all(requests.into_iter().map(|r| {
        let app = Arc::clone(&stack.app);
        async move { send(&app, r).await.0 }
    }))
    .await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(receive_all(&stack).await.len(), 1);
}

#[tokio::test]
async fn a_queue_failure_answers_503_releases_the_claim_and_a_retry_succeeds() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queue_url = stack.app.config.queues.events.clone();
    let queue_name = queue_url.rsplit('/').next().unwrap().to_owned();
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();

    let (status, body) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("dependency_unavailable"))
    );
    assert!(
        claim(&stack, "whop#msg_1").await.is_none(),
        "the claim must be released"
    );

    sqs.create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap();
    let (status, _) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(receive_all(&stack).await.len(), 1);
}

#[tokio::test]
async fn a_received_claim_whose_lock_expired_is_taken_over_and_enqueued_again() {
    let stack = start_stack().await;
    send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    let first_claim = claim(&stack, "whop#msg_1").await.unwrap()["claim_id"].clone();
    set_attributes(
        &stack,
        "whop#msg_1",
        &[("lock_until", AttributeValue::N((now() - 1).to_string()))],
    )
    .await;

    let (status, _) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;

    assert_eq!(status, 202);
    assert_ne!(
        claim(&stack, "whop#msg_1").await.unwrap()["claim_id"],
        first_claim
    );
    assert_eq!(
        receive_all(&stack).await.len(),
        2,
        "both deliveries enqueued; processing absorbs the duplicate"
    );
}

#[tokio::test]
async fn a_record_past_its_retention_counts_as_absent() {
    let stack = start_stack().await;
    send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    set_attributes(
        &stack,
        "whop#msg_1",
        &[
            ("status", AttributeValue::S("PROCESSED".into())),
            ("expires_at", AttributeValue::N((now() - 1).to_string())),
        ],
    )
    .await;

    let (status, _) = send(
        &stack.app,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;

    assert_eq!(
        status, 202,
        "the emulator never expires items: expiry is checked in the claim"
    );
}

#[tokio::test]
async fn a_forged_delivery_is_401_and_writes_nothing() {
    let stack = start_stack().await;
    let forged = SigningSecret::parse(Source::Whop, "ws_not_the_secret").unwrap();
    let mut request = Request::post("/webhooks/whop").header("content-type", "application/json");
    for (name, value) in sign(
        Source::Whop,
        &forged,
        MEMBERSHIP_ACTIVATED.as_bytes(),
        now(),
        "msg_1",
    ) {
        request = request.header(name, value);
    }

    let (status, body) = send(
        &stack.app,
        request.body(Body::from(MEMBERSHIP_ACTIVATED)).unwrap(),
    )
    .await;

    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("no_matching_signature"))
    );
    assert!(claim(&stack, "whop#msg_1").await.is_none());
    assert!(receive_all(&stack).await.is_empty());
}

#[tokio::test]
async fn a_tampered_body_is_401() {
    let stack = start_stack().await;
    let signed = signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await;
    let (parts, _) = signed.into_parts();
    let tampered = MEMBERSHIP_ACTIVATED.replace("mem_1", "mem_2");

    let (status, body) = send(&stack.app, Request::from_parts(parts, Body::from(tampered))).await;

    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("no_matching_signature"))
    );
}

#[tokio::test]
async fn bad_requests_get_precise_statuses() {
    let stack = start_stack().await;
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        Request::post(path)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let cases = [
        (
            post(
                "/webhooks/whop",
                "application/json",
                vec![b' '; 256 * 1024 + 1],
            ),
            413,
            "payload_too_large",
        ),
        (
            post("/webhooks/whop", "text/plain", b"{}".to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            post("/webhooks/whop", "application/json", b"{}".to_vec()),
            401,
            "missing_header",
        ),
        (
            post("/webhooks/nope", "application/json", b"{}".to_vec()),
            404,
            "not_found",
        ),
        // PayPal without `PAYPAL_WEBHOOK_ID` verifies nothing, like a provider without secrets.
        (
            post("/webhooks/paypal", "application/json", b"{}".to_vec()),
            401,
            "no_secrets",
        ),
        // Gumroad's pings carry their connection's token in the path.
        (
            post("/webhooks/gumroad", "application/json", b"{}".to_vec()),
            404,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let (actual, body) = send(&stack.app, request).await;
        assert_eq!(
            (actual, body["error"]["code"].as_str().unwrap()),
            (status, code)
        );
    }
}

#[tokio::test]
async fn a_verified_but_malformed_envelope_is_400_with_a_reason() {
    let stack = start_stack().await;
    let body = r#"{"id":"msg_2","api_version":"v1","data":{}}"#;

    let (status, response) = send(&stack.app, signed_whop(&stack.app, body, "msg_2").await).await;

    assert_eq!(
        (status, response["error"]["code"].clone()),
        (400, json!("missing_event_type"))
    );
}

#[tokio::test]
async fn a_newly_added_secret_is_honoured_without_a_restart() {
    let stack = start_stack().await;
    // One warm instance for every request: its key cache holds the seeded secret.
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&stack.app),
    )));
    let (warmed, _) = send_to(
        &router,
        signed_whop(&stack.app, MEMBERSHIP_ACTIVATED, "msg_1").await,
    )
    .await;
    assert_eq!(warmed, 202);
    let old = webhook_secret(&stack.app, "whop").await.unwrap();
    let added = "ws_added_during_rotation_0123456789abcdef0123456789abcdef";
    stack
        .app
        .secrets_manager
        .put_secret_value()
        .secret_id(stack.app.config.secrets.webhook_secrets.as_deref().unwrap())
        .secret_string(json!({"whop": [added, old]}).to_string())
        .send()
        .await
        .unwrap();
    let secret = SigningSecret::parse(Source::Whop, added).unwrap();
    let body = MEMBERSHIP_ACTIVATED.replace("msg_1", "msg_9");
    let mut request = Request::post("/webhooks/whop").header("content-type", "application/json");
    for (name, value) in sign(Source::Whop, &secret, body.as_bytes(), now(), "msg_9") {
        request = request.header(name, value);
    }

    let (status, _) = send_to(&router, request.body(Body::from(body)).unwrap()).await;

    assert_eq!(status, 202);
}

#[tokio::test]
async fn an_accepted_webhook_costs_two_aws_requests_and_a_duplicate_one() {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let router = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&app),
    )));
    let deliver = |request: Request<Body>| {
        let router = router.clone();
        async move { router.oneshot(request).await.unwrap().status().as_u16() }
    };
    // A warm function: the first delivery also reads the webhook secrets (once per TTL).
    assert_eq!(
        deliver(signed_whop(&app, MEMBERSHIP_ACTIVATED, "msg_warm").await).await,
        202
    );
    let signed = signed_whop(&app, MEMBERSHIP_ACTIVATED, "msg_counted").await;
    let duplicate = signed_whop(&app, MEMBERSHIP_ACTIVATED, "msg_counted").await;

    requests.take();
    assert_eq!(deliver(signed).await, 202);
    let accepted = requests.take();
    assert_eq!(deliver(duplicate).await, 409);
    let duplicated = requests.take();

    assert_eq!(
        (accepted, duplicated),
        (
            vec!["PutItem".to_owned(), "SendMessage".to_owned()],
            vec!["PutItem".to_owned()]
        ),
        "claim + send; the duplicate only its failed claim"
    );
}

#[tokio::test]
async fn an_api_gateway_event_with_a_base64_body_is_accepted() {
    let stack = start_stack().await;
    let secret = webhook_secret(&stack.app, "stripe").await.unwrap();
    let secret = SigningSecret::parse(Source::Stripe, &secret).unwrap();
    let body = r#"{"id":"evt_b64","object":"event","type":"invoice.payment_failed","created":1763892000,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","subscription":"sub_1"}}}"#;
    let mut headers = serde_json::Map::new();
    headers.insert(
        "content-type".into(),
        json!("application/json; charset=utf-8"),
    );
    for (name, value) in sign(Source::Stripe, &secret, body.as_bytes(), now(), "") {
        headers.insert(name.into(), json!(value));
    }
    // The sample's shape, with this delivery's signature and a base64-encoded body.
    let mut event: Value =
        serde_json::from_str(&crate::helpers::fixture("apigw-webhook-stripe.json")).unwrap();
    event["headers"] = Value::Object(headers);
    event["isBase64Encoded"] = json!(true);
    event["body"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        body
    ));
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();

    let response = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&stack.app),
    )))
    .oneshot(request)
    .await
    .unwrap();

    assert_eq!(response.status(), 202);
    let messages = receive_all(&stack).await;
    let queued: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        (
            queued["event_id"].as_str(),
            queued["subject"]["invoice_id"].as_str()
        ),
        (Some("evt_b64"), Some("in_1"))
    );
}
