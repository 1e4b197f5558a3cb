//! Every sample in `events/` is a valid event for its trigger, and its function answers it.

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

    // The test stack has no default Whop company and the request names none: a 400 that says
    // which field to give.
    assert_eq!(response["statusCode"], 400);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "invalid_sync_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("company_id"),
        "{body}"
    );
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
    use shared::domain::webhooks::verify::{SigningSecret, VerifyOptions};
    use shared::providers::{normalise, verify};

    let samples: Vec<String> = sample_names()
        .into_iter()
        // PayPal's samples are signed at run time with the stand-in's key (`tests/it/paypal.rs`).
        .filter(|n| n.starts_with("apigw-webhook-") && !n.starts_with("apigw-webhook-paypal-"))
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

/// The placeholder the samples carry where a real session token goes (see `events/README.md`).
const SESSION_PLACEHOLDER: &str =
    "sess_placeholder_replace_with_the_token_returned_by_POST_auth_session";
/// The user the authorized samples act for.
const SAMPLE_USER: &str = "user_9aQ1fN3bXk2Lp";

#[tokio::test]
async fn the_authorizer_answers_its_samples_denying_the_placeholder_and_admitting_a_real_session() {
    use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
    use shared::edge::deps::auth::AuthorizerDeps;

    let stack = start_stack().await;
    let deps = Arc::new(AuthorizerDeps::build(Arc::clone(&stack.app)));
    let token = crate::helpers::open_session(&stack, SAMPLE_USER).await;
    for name in ["authorizer-request.json", "authorizer-request-cookie.json"] {
        let sample = fixture(name);
        assert!(sample.contains(SESSION_PLACEHOLDER), "{name}");
        for (text, admitted) in [
            (sample.clone(), false),
            (sample.replace(SESSION_PLACEHOLDER, &token), true),
        ] {
            let request: ApiGatewayV2CustomAuthorizerV2Request =
                serde_json::from_str(&text).unwrap();
            let response = auth::authorize(
                Arc::clone(&deps),
                LambdaEvent::new(request, Context::default()),
            )
            .await
            .unwrap();
            assert_eq!(response.is_authorized, admitted, "{name}");
            if admitted {
                assert_eq!(response.context["user_id"], SAMPLE_USER, "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_state_function_answers_its_samples_with_the_processor_samples_membership() {
    use shared::edge::deps::processor::ProcessorDeps;
    use shared::edge::deps::state::StateDeps;

    let stack = start_stack().await;
    let batch: SqsEvent = serde_json::from_str(&fixture("sqs-events-batch.json")).unwrap();
    let processed = processor::handle(
        Arc::new(ProcessorDeps::build(Arc::clone(&stack.app))),
        LambdaEvent::new(batch, Context::default()),
    )
    .await
    .unwrap();
    assert!(processed.batch_item_failures.is_empty());

    let router = state::router(Arc::new(StateDeps::build(Arc::clone(&stack.app))));
    let read = |name: &str| {
        let request = lambda_http::request::from_str(&fixture(name)).unwrap();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (status, membership) = read("apigw-membership-get.json").await;
    assert_eq!(status, 200, "{membership}");
    assert_eq!(membership["id"], "mem_4HtR8wLq2ZcV1n");
    assert_eq!(membership["user_id"], SAMPLE_USER);
    assert_eq!(membership["status"], "active");

    let (status, page) = read("apigw-user-memberships.json").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["user_id"], SAMPLE_USER);
    assert_eq!(page["memberships"][0]["id"], "mem_4HtR8wLq2ZcV1n");
}

#[tokio::test]
async fn the_rotation_function_answers_its_four_samples_in_order_and_the_new_key_is_current() {
    use shared::domain::ports::{SecretSource, VersionStage};
    use shared::edge::deps::rotate_secret::RotateSecretDeps;

    let stack = start_stack().await;
    let secret_id = stack.app.config.secrets.session_keys.clone().unwrap();
    let deps = Arc::new(RotateSecretDeps::build(Arc::clone(&stack.app)));
    let mut token = String::new();
    for name in [
        "rotation-create-secret.json",
        "rotation-set-secret.json",
        "rotation-test-secret.json",
        "rotation-finish-secret.json",
    ] {
        let mut event: SecretsManagerSecretRotationEvent =
            serde_json::from_str(&fixture(name)).unwrap();
        // The samples name a deployed stack's secret; the test stack has its own.
        event.secret_id.clone_from(&secret_id);
        token.clone_from(&event.client_request_token);
        rotate_secret::handle(
            Arc::clone(&deps),
            LambdaEvent::new(event, Context::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let current = stack
        .app
        .secrets_manager
        .secret_version(&secret_id, VersionStage::Current)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version_id, token);
}

#[tokio::test]
async fn the_schedule_samples_are_answered_by_their_functions() {
    use churnsaver::fake_whop::{FakeWhop, FakeWhopOptions};
    use shared::edge::deps::maintenance::MaintenanceDeps;

    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    let stack = crate::helpers::start_stack_with(std::collections::BTreeMap::from([
        ("WhopApiBaseUrl".to_owned(), fake.base_url()),
        ("WhopCompanyId".to_owned(), "biz_events".to_owned()),
    ]))
    .await;
    let schedule: Value = serde_json::from_str(&fixture("schedule-sync-reconcile.json")).unwrap();
    let deps = Arc::new(sync::SyncDeps::build(Arc::clone(&stack.app)));
    let answer = sync::handle(deps, LambdaEvent::new(schedule, Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["outcome"], "scheduled", "{answer}");
    assert_eq!(answer["runs"][0]["outcome"], "started", "{answer}");

    // Every maintenance task runs and reports its counts.
    let tick: Value = serde_json::from_str(&fixture("schedule-maintenance.json")).unwrap();
    let answer = maintenance::handle(
        Arc::new(MaintenanceDeps::build(Arc::clone(&stack.app))),
        LambdaEvent::new(tick, Context::default()),
    )
    .await
    .unwrap();
    for task in shared::domain::maintenance::Task::ALL {
        assert!(answer[task.as_str()].is_object(), "{answer}");
    }
}
