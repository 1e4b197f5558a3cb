//! The AWS adapters behind the ports, against the emulator.

use std::time::Duration;

use secrecy::ExposeSecret;
use shared::domain::ports::{OutboundMessage, Publisher, SecretSource, SystemClock, VersionStage};
use shared::domain::secret::VersionedSecret;

use crate::helpers::start_stack;

#[tokio::test]
async fn publisher_sends_the_body_and_string_attributes() {
    let stack = start_stack().await;
    let queue = &stack.app.config.queues.events;
    let message = OutboundMessage {
        body: r#"{"event_id":"evt_1"}"#.into(),
        attributes: vec![
            ("provider", "whop".into()),
            ("kind", "membership.activated".into()),
        ],
        delay: None,
    };

    let id = stack.app.sqs.publish(queue, &message).await.unwrap();

    let received = stack
        .app
        .sqs
        .receive_message()
        .queue_url(queue)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let [received] = &received[..] else {
        panic!("{received:?}")
    };
    assert_eq!(received.message_id(), Some(id.as_str()));
    assert_eq!(received.body(), Some(message.body.as_str()));
    let attributes = received.message_attributes().unwrap();
    assert_eq!(attributes["provider"].string_value(), Some("whop"));
    assert_eq!(
        attributes["kind"].string_value(),
        Some("membership.activated")
    );
}

#[tokio::test]
async fn secret_source_reads_explicit_stages_across_a_stage_move() {
    let stack = start_stack().await;
    let secrets = &stack.app.secrets_manager;
    let id = stack.app.config.secrets.whop_api_key.clone().unwrap();
    let first = secrets
        .secret_version(&id, VersionStage::Current)
        .await
        .unwrap()
        .unwrap();
    assert!(
        secrets
            .secret_version(&id, VersionStage::Previous)
            .await
            .unwrap()
            .is_none()
    );

    // A rotation's finishSecret: the new version takes AWSCURRENT, the old one becomes AWSPREVIOUS.
    let token = uuid::Uuid::new_v4().to_string();
    secrets
        .put_secret_value()
        .secret_id(&id)
        .client_request_token(&token)
        .secret_string(r#"{"api_key":"rotated"}"#)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    secrets
        .update_secret_version_stage()
        .secret_id(&id)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&token)
        .remove_from_version_id(&first.version_id)
        .send()
        .await
        .unwrap();

    let current = secrets
        .secret_version(&id, VersionStage::Current)
        .await
        .unwrap()
        .unwrap();
    let previous = secrets
        .secret_version(&id, VersionStage::Previous)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version_id, token);
    assert_eq!(current.value.expose_secret(), r#"{"api_key":"rotated"}"#);
    assert_eq!(previous.version_id, first.version_id);
}

#[tokio::test]
async fn cached_secrets_pick_up_a_new_value_after_invalidation() {
    let stack = start_stack().await;
    let id = stack.app.config.secrets.webhook_secrets.clone().unwrap();
    let cache = VersionedSecret::new(
        stack.app.secrets_manager.clone(),
        SystemClock,
        id.clone(),
        Duration::from_secs(300),
        |value| Ok::<_, ()>(value.to_owned()),
    );
    let before = cache.get(VersionStage::Current).await.unwrap().unwrap();

    stack
        .app
        .secrets_manager
        .put_secret_value()
        .secret_id(&id)
        .secret_string(r#"{"whop":["ws_new"]}"#)
        .send()
        .await
        .unwrap();
    let cached = cache.get(VersionStage::Current).await.unwrap().unwrap();
    cache.invalidate();
    let fresh = cache.get(VersionStage::Current).await.unwrap().unwrap();

    assert_eq!(cached, before);
    assert_eq!(fresh.as_str(), r#"{"whop":["ws_new"]}"#);
}
