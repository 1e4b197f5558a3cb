//! Every sample in `events/` is a valid event for its trigger, and the functions answer them.

use std::sync::Arc;

use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{fixture, start_stack};

fn sample_names() -> Vec<String> {
    let dir = churnsaver::workspace_root().join("events");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_sample_parses_as_its_trigger() {
    let names = sample_names();
    assert!(names.len() >= 20, "{names:?}");
    for name in &names {
        let text = fixture(name);
        let parsed = if name.starts_with("apigw-") {
            lambda_http::request::from_str(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else if name.starts_with("sqs-") {
            serde_json::from_str::<SqsEvent>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else if name.starts_with("rotation-") {
            serde_json::from_str::<SecretsManagerSecretRotationEvent>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else {
            serde_json::from_str::<Value>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
}

#[tokio::test]
async fn the_health_function_answers_its_api_gateway_samples() {
    let stack = start_stack().await;
    for name in [
        "apigw-health.json",
        "apigw-health-db.json",
        "apigw-health-webhooks.json",
        "apigw-health-external.json",
    ] {
        let request = lambda_http::request::from_str(&fixture(name)).unwrap();
        let response = health::router(Arc::new(shared::edge::deps::health::HealthDeps::build(
            Arc::clone(&stack.app),
        )))
        .oneshot(request)
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn the_sync_function_answers_http_in_api_gateway_format() {
    let stack = start_stack().await;
    let event: Value = serde_json::from_str(&fixture("apigw-sync-start.json")).unwrap();

    let state = Arc::new(sync::SyncDeps::build(Arc::clone(&stack.app)));
    let response = sync::handle(state, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();

    // The test stack names no Whop company, so sync is off: a 503 the client can retry.
    assert_eq!(response["statusCode"], 503);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "dependency_unavailable");
}

/// The dummy secrets and fixed time the webhook samples are signed with (see `events/README.md`).
const SAMPLE_SECRETS: [(&str, &str); 3] = [
    (
        "whop",
        "ws_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    ("stripe", "whsec_test_secret"),
    ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
];
const SAMPLE_TIME: i64 = 1_772_366_398;

#[test]
fn every_webhook_sample_verifies_and_normalises_to_a_known_kind() {
    use shared::domain::webhooks::event::normalise;
    use shared::domain::webhooks::verify::{SigningSecret, VerifyOptions, verify};

    let samples: Vec<String> = sample_names()
        .into_iter()
        .filter(|n| n.starts_with("apigw-webhook-"))
        .collect();
    assert!(samples.len() >= 10, "{samples:?}");
    for name in samples {
        let request = lambda_http::request::from_str(&fixture(&name)).unwrap();
        let provider = request
            .uri()
            .path()
            .trim_start_matches("/webhooks/")
            .to_owned();
        let source = shared::domain::webhooks::Source::parse(&provider).unwrap();
        let secret = SAMPLE_SECRETS
            .iter()
            .find(|(p, _)| *p == provider)
            .unwrap()
            .1;
        let secrets = [SigningSecret::parse(source, secret).unwrap()];
        let body = request.body().to_vec();

        let verified = verify(
            source,
            request.headers(),
            &body,
            &secrets,
            SAMPLE_TIME,
            VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {}", e.reason_code()));
        let event = normalise(source, &verified, &body, chrono::Utc::now())
            .unwrap_or_else(|e| panic!("{name}: {}", e.reason_code()));

        assert!(
            event.kind.is_known() || source == shared::domain::webhooks::Source::Standard,
            "{name}: {}",
            event.kind.as_str()
        );
    }
}

#[tokio::test]
async fn the_processor_applies_its_sqs_sample() {
    use shared::domain::ports::StateStore;
    let stack = start_stack().await;
    let event: SqsEvent = serde_json::from_str(&fixture("sqs-events-batch.json")).unwrap();
    let response = processor::handle(
        Arc::new(shared::edge::deps::processor::ProcessorDeps::build(
            Arc::clone(&stack.app),
        )),
        LambdaEvent::new(event, Context::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let store = shared::aws::state::DynamoState::of(&stack.app);
    let whop = store
        .membership("mem_4HtR8wLq2ZcV1n")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(whop.state().status.as_deref(), Some("active"));
    let stripe = store
        .membership("sub_1PqRsTLkdIwHu7ixKlMnOpQr")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stripe.state().open_signals(),
        vec![shared::domain::state::model::SignalKind::AtRisk]
    );
}
