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
        let response = health::router(Arc::clone(&stack.app))
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

    let response = sync::handle(
        Arc::clone(&stack.app),
        LambdaEvent::new(event, Context::default()),
    )
    .await
    .unwrap();

    assert_eq!(response["statusCode"], 501);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "not_implemented");
}
