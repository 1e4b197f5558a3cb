//! The health routes against the emulator, including failing dependencies.

use std::collections::BTreeMap;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use churnsaver::local::LocalStack;

use crate::helpers::{
    call, failed_checks, get_with_token, open_session, start_stack, start_stack_with,
};

/// The stack's operator (the template's default `OperatorUserIds`).
const OPERATOR: &str = "op_churnsaver_cli";

/// `GET path` with a session of the operator: status and JSON body.
async fn operator_get(stack: &LocalStack, path: &str) -> (u16, serde_json::Value) {
    let token = open_session(stack, OPERATOR).await;
    let answer = get_with_token(stack, path, &token).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn the_detailed_reports_answer_only_the_operator_and_liveness_anyone() {
    let stack = start_stack().await;
    let user = open_session(&stack, "user_not_operator").await;
    for path in ["/health/db", "/health/webhooks", "/health/external"] {
        // Without a session the authorizer denies; a user's session reaches the route, which
        // refuses it; the operator's gets the report.
        assert_eq!(
            call(&stack, "GET", path).await,
            (403, json!({"message": "Forbidden"})),
            "{path}"
        );
        let answer = get_with_token(&stack, path, &user).await;
        assert_eq!(answer.status, 403, "{path}");
        assert_eq!(answer.body["error"]["code"], "not_operator", "{path}");
        let (status, body) = operator_get(&stack, path).await;
        assert!(body["checks"].is_array(), "{path}: {status} {body}");
    }
    assert_eq!(call(&stack, "GET", "/health").await.0, 200);
}

#[tokio::test]
async fn liveness_reports_version_and_stage() {
    let stack = start_stack().await;

    let (status, body) = call(&stack, "GET", "/health").await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "service": "churnsaver", "version": env!("CARGO_PKG_VERSION"), "stage": "local"})
    );
}

#[tokio::test]
async fn db_is_healthy_when_every_table_exists() {
    let stack = start_stack().await;

    let (status, body) = operator_get(&stack, "/health/db").await;

    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["table:webhook_events", "table:sessions", "table:state"]
    );
    assert!(
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["latency_ms"].as_f64().is_some())
    );
}

#[tokio::test]
async fn db_answers_503_naming_the_missing_table() {
    let stack = start_stack().await;
    // Not the sessions table: without it no session, the operator's included, is admitted (and
    // `churnsaver verify` reads the tables through the SDK for that case).
    let claims = stack.app.config.tables.webhook_events.clone();
    stack
        .app
        .dynamodb
        .delete_table()
        .table_name(&claims)
        .send()
        .await
        .unwrap();

    let (status, body) = operator_get(&stack, "/health/db").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["table:webhook_events"]);
    assert_eq!(body["checks"][0]["error"], "does not exist");
}

#[tokio::test]
async fn webhooks_is_healthy_with_an_empty_dead_letter_queue() {
    let stack = start_stack().await;
    stack
        .app
        .sqs
        .send_message()
        .queue_url(&stack.app.config.queues.events)
        .message_body("{}")
        .send()
        .await
        .unwrap();

    let (status, body) = operator_get(&stack, "/health/webhooks").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"][0]["depth"]["visible"], 1);
}

#[tokio::test]
async fn webhooks_answers_503_when_the_dead_letter_queue_holds_messages() {
    let stack = start_stack().await;
    let dlq = stack.app.config.queues.events_dlq.clone();
    stack
        .app
        .sqs
        .send_message()
        .queue_url(&dlq)
        .message_body("{}")
        .send()
        .await
        .unwrap();

    let (status, body) = operator_get(&stack, "/health/webhooks").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["queue:events_dlq"]);
    assert!(
        body["checks"][1]["error"]
            .as_str()
            .unwrap()
            .starts_with("1 dead message")
    );
}

#[tokio::test]
async fn webhooks_answers_503_when_the_events_queue_is_gone() {
    let stack = start_stack().await;
    let events = stack.app.config.queues.events.clone();
    stack
        .app
        .sqs
        .delete_queue()
        .queue_url(&events)
        .send()
        .await
        .unwrap();

    let (status, body) = operator_get(&stack, "/health/webhooks").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["queue:events"]);
}

async fn stack_with_whop_at(url: String) -> churnsaver::local::LocalStack {
    start_stack_with(BTreeMap::from([("WhopApiBaseUrl".to_owned(), url)])).await
}

#[tokio::test]
async fn external_reports_a_reachable_provider_and_the_unconfigured_ones() {
    let whop = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&whop)
        .await;
    let stack = stack_with_whop_at(format!("{}/api/v1", whop.uri())).await;

    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 200, "{body}");
    let statuses: Vec<(&str, &str)> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("provider:whop", "ok"),
            ("provider:stripe", "unconfigured"),
            ("provider:gumroad", "unconfigured"),
            ("provider:paypal", "unconfigured"),
            ("provider:google", "unconfigured"),
            // The local stack points Resend at its stand-in mail API.
            ("provider:resend", "ok"),
            ("provider:sendgrid", "unconfigured"),
            // And Twilio at its stand-in messaging API.
            ("provider:twilio", "ok"),
            ("provider:ga4", "ok")
        ]
    );
    assert_eq!(whop.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn external_answers_503_when_a_provider_fails() {
    let whop = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&whop)
        .await;
    let stack = stack_with_whop_at(whop.uri()).await;

    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["provider:whop"]);
    assert_eq!(body["checks"][0]["error"], "answered HTTP 503");
}

#[tokio::test]
async fn external_answers_503_when_a_provider_hangs() {
    let whop = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(10)))
        .mount(&whop)
        .await;
    let stack = stack_with_whop_at(whop.uri()).await;

    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"][0]["error"], "timed out");
}

#[tokio::test]
async fn external_answers_503_when_a_provider_refuses_connections() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stack = stack_with_whop_at(format!("http://127.0.0.1:{closed_port}")).await;

    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["provider:whop"]);
}

#[tokio::test]
async fn external_answers_503_naming_the_provider_whose_breaker_is_open() {
    let stack = start_stack().await;
    let breakers = shared::edge::deps::health::shared_breaker(&stack.app);
    // The default threshold: five consecutive failures.
    for _ in 0..5 {
        breakers.admit("whop").await.unwrap();
        breakers.record("whop", false).await;
    }

    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["breaker:whop"]);
    let breaker_check = shared::edge::config::Provider::ALL.len();
    let check = &body["checks"][breaker_check];
    assert_eq!(check["state"], "open");
    assert!(check["open_until"].is_string(), "{check}");
    assert!(
        check["error"]
            .as_str()
            .unwrap()
            .starts_with("circuit open for whop until "),
        "{check}"
    );

    breakers.reset("whop").await;
    let (status, body) = operator_get(&stack, "/health/external").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["checks"][breaker_check]["name"],
            &body["checks"][breaker_check]["state"]
        ),
        (&json!("breaker:whop"), &json!("closed"))
    );
}
