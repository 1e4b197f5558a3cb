//! Rotation of the session signing keys against moto: the rotation function's four steps, invoked
//! as Lambda would (moto's `RotateSecret` cannot run our function), and what `SessionKeys` readers
//! see afterwards.

use std::collections::BTreeMap;

use churnsaver::functions::{Invoker, registry};
use churnsaver::local::LocalStack;
use secrecy::ExposeSecret;
use serde_json::json;
use shared::domain::auth::keys::{DEFAULT_TTL, SessionKeys, kid_of};
use shared::domain::auth::rotation::{self, RotationError, Step};
use shared::domain::ports::{RotationStore, SecretSource, SystemClock, VersionStage};

use crate::helpers::start_stack;

const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";
const T3: &str = "33333333-3333-4333-8333-333333333333";

fn secret_id(stack: &LocalStack) -> String {
    stack.app.config.secrets.session_keys.clone().unwrap()
}

fn rotation_function(stack: &LocalStack) -> Invoker {
    registry(&stack.app)
        .remove("rotate-secret")
        .and_then(|function| function.invoke)
        .unwrap()
}

/// The four steps for `token`, each invoked with the event Secrets Manager sends.
async fn rotate(stack: &LocalStack, token: &str) {
    let function = rotation_function(stack);
    for step in Step::ALL {
        function(json!({
            "Step": step.as_str(),
            "SecretId": secret_id(stack),
            "ClientRequestToken": token,
        }))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", step.as_str()));
    }
}

async fn value(stack: &LocalStack, stage: VersionStage) -> Option<(String, String)> {
    stack
        .app
        .secrets_manager
        .secret_version(&secret_id(stack), stage)
        .await
        .unwrap()
        .map(|v| (v.version_id, v.value.expose_secret().to_owned()))
}

/// Every version, labelled or not, with its labels.
async fn all_versions(stack: &LocalStack) -> BTreeMap<String, Vec<String>> {
    let output = stack
        .app
        .secrets_manager
        .list_secret_version_ids()
        .secret_id(secret_id(stack))
        .include_deprecated(true)
        .send()
        .await
        .unwrap();
    output
        .versions()
        .iter()
        .map(|v| {
            (
                v.version_id().unwrap().to_owned(),
                v.version_stages().to_vec(),
            )
        })
        .collect()
}

fn fresh_keys(stack: &LocalStack) -> SessionKeys<aws_sdk_secretsmanager::Client, SystemClock> {
    SessionKeys::new(
        stack.app.secrets_manager.clone(),
        SystemClock,
        secret_id(stack),
        DEFAULT_TTL,
    )
}

#[tokio::test]
async fn a_rotation_run_twice_with_the_same_token_changes_nothing_the_second_time() {
    let stack = start_stack().await;
    let (original_version, original) = value(&stack, VersionStage::Current).await.unwrap();

    rotate(&stack, T1).await;
    let after_first = all_versions(&stack).await;
    let current = value(&stack, VersionStage::Current).await.unwrap();
    rotate(&stack, T1).await;

    assert_eq!(current.0, T1);
    assert_ne!(current.1, original);
    assert_eq!(current.1.len(), 64);
    assert!(current.1.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        after_first,
        BTreeMap::from([
            (original_version, vec!["AWSPREVIOUS".to_owned()]),
            (T1.to_owned(), vec!["AWSCURRENT".to_owned()]),
        ]),
        "AWSPREVIOUS follows the old version and AWSPENDING is gone"
    );
    assert_eq!(all_versions(&stack).await, after_first);
    assert_eq!(value(&stack, VersionStage::Current).await.unwrap(), current);
}

#[tokio::test]
async fn readers_verify_with_current_and_previous_until_the_next_rotation() {
    let stack = start_stack().await;
    let (_, oldest) = value(&stack, VersionStage::Current).await.unwrap();

    rotate(&stack, T1).await;
    let keys = fresh_keys(&stack);
    let signing = keys.signing_key().await.unwrap();
    let (_, middle) = value(&stack, VersionStage::Current).await.unwrap();
    assert_eq!(signing.kid(), kid_of(&middle));
    let old = keys.verifying_key(&kid_of(&oldest)).await.unwrap().unwrap();
    assert_eq!(old.kid(), kid_of(&oldest));

    rotate(&stack, T2).await;
    let keys = fresh_keys(&stack);
    let (_, newest) = value(&stack, VersionStage::Current).await.unwrap();
    assert_eq!(keys.signing_key().await.unwrap().kid(), kid_of(&newest));
    assert!(
        keys.verifying_key(&kid_of(&oldest))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        keys.verifying_key(&kid_of(&middle))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn create_secret_refuses_while_another_rotation_is_pending() {
    let stack = start_stack().await;
    let secrets = &stack.app.secrets_manager;
    let id = secret_id(&stack);
    rotation::create_secret(secrets, &id, T2).await.unwrap();
    let pending = secrets
        .secret_version_by_id(&id, T2, VersionStage::Pending)
        .await
        .unwrap()
        .unwrap();
    let before = all_versions(&stack).await;

    let refused = rotation::create_secret(secrets, &id, T3).await;

    assert_eq!(
        refused,
        Err(RotationError::InProgress {
            version: T2.to_owned()
        })
    );
    assert_eq!(all_versions(&stack).await, before);
    let still_pending = secrets
        .secret_version_by_id(&id, T2, VersionStage::Pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        still_pending.value.expose_secret(),
        pending.value.expose_secret()
    );
    // The rotation it belongs to can still finish.
    let rotated = rotation::rotate(secrets, &id, T2).await.unwrap();
    assert_eq!(rotated.kid, kid_of(pending.value.expose_secret()));
}

#[tokio::test]
async fn a_warm_reader_accepts_the_new_kid_before_its_cache_expires() {
    let stack = start_stack().await;
    let warm = fresh_keys(&stack);
    let before = warm.signing_key().await.unwrap();

    rotate(&stack, T1).await;
    let new = fresh_keys(&stack).signing_key().await.unwrap();
    let message = b"session token claims";
    let tag = new.mac(message);

    assert_ne!(new.kid(), before.kid());
    let found = warm.verifying_key(new.kid()).await.unwrap().unwrap();
    assert!(found.verify(message, &tag));
    assert!(
        warm.verifying_key(before.kid()).await.unwrap().is_some(),
        "the old key still verifies as AWSPREVIOUS"
    );
}
