//! `churnsaver dlq peek | redrive` against the emulator's dead-letter queues.

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::Message;
use churnsaver::dlq::{self, RedriveReport};
use churnsaver::local::LocalStack;
use serde_json::json;
use shared::domain::ports::{OutboundMessage, Publisher, QueueDepth, QueueProbe};

use crate::helpers::start_stack;

const KINDS: [&str; 3] = [
    "membership.activated",
    "payment.failed",
    "membership.deactivated",
];

/// Queues `count` events as ingest does, then receives them without deleting until the redrive
/// policy moves them to the DLQ. Returns each body by its event id.
async fn dead_letter(stack: &LocalStack, count: usize) -> BTreeMap<String, String> {
    let sqs = &stack.app.sqs;
    let queues = &stack.app.config.queues;
    let mut bodies = BTreeMap::new();
    for (i, kind) in KINDS.iter().cycle().take(count).enumerate() {
        let event_id = format!("msg_{i}");
        let body = json!({
            "provider": "whop",
            "event_id": event_id,
            "kind": kind,
            "subject": {"membership_id": format!("mem_{i}")},
            "occurred_at": "2026-11-23T10:00:00Z",
            "received_at": "2026-11-23T10:00:01Z",
            "raw": {"id": event_id, "type": kind},
        })
        .to_string();
        let message = OutboundMessage {
            body: body.clone(),
            attributes: vec![("provider", "whop".into()), ("kind", (*kind).into())],
            delay: None,
        };
        sqs.publish(&queues.events, &message).await.unwrap();
        bodies.insert(event_id, body);
    }
    // moto moves a message on the receive after the one that reached maxReceiveCount (5).
    for attempt in 0..6 {
        let received = receive(sqs, &queues.events, 0).await;
        let expected = if attempt < 5 { count } else { 0 };
        assert_eq!(received.len(), expected, "receive {attempt}");
    }
    assert_eq!(depth(sqs, &queues.events_dlq).await.visible, count as u64);
    bodies
}

/// One receive of up to 10 messages with their attributes, hidden for `visibility` seconds.
async fn receive(sqs: &Client, queue_url: &str, visibility: i32) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

async fn depth(sqs: &Client, queue_url: &str) -> QueueDepth {
    sqs.queue_depth(queue_url).await.unwrap()
}

#[tokio::test]
async fn peek_lists_dead_letters_and_leaves_them_receivable() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let dlq_url = &stack.app.config.queues.events_dlq;
    dead_letter(&stack, 3).await;

    let mut peeked = dlq::peek(sqs, dlq_url, 10).await.unwrap();

    peeked.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let shown: Vec<(&str, &str, &str)> = peeked
        .iter()
        .map(|m| (m.provider.as_str(), m.kind.as_str(), m.event_id.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("whop", KINDS[0], "msg_0"),
            ("whop", KINDS[1], "msg_1"),
            ("whop", KINDS[2], "msg_2"),
        ]
    );
    assert!(
        peeked
            .iter()
            .all(|m| m.receive_count >= 5 && m.sent_at.is_some() && m.message_id != "-"),
        "{peeked:?}"
    );
    assert_eq!(receive(sqs, dlq_url, 0).await.len(), 3);
}

#[tokio::test]
async fn peek_stops_at_n_and_releases_everything() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let dlq_url = &stack.app.config.queues.events_dlq;
    dead_letter(&stack, 3).await;

    let peeked = dlq::peek(sqs, dlq_url, 2).await.unwrap();

    assert_eq!(peeked.len(), 2);
    assert_eq!(
        depth(sqs, dlq_url).await,
        QueueDepth {
            visible: 3,
            in_flight: 0,
            delayed: 0
        }
    );
}

#[tokio::test]
async fn redrive_moves_up_to_max_then_the_rest_with_bodies_and_attributes_intact() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queues = &stack.app.config.queues;
    let bodies = dead_letter(&stack, 3).await;

    let first = dlq::redrive(sqs, &queues.events_dlq, &queues.events, Some(1))
        .await
        .unwrap();

    assert_eq!(
        first,
        RedriveReport {
            moved: 1,
            failed: 0,
            failure: None
        }
    );
    assert_eq!(depth(sqs, &queues.events).await.visible, 1);
    assert_eq!(
        depth(sqs, &queues.events_dlq).await,
        QueueDepth {
            visible: 2,
            in_flight: 0,
            delayed: 0
        }
    );

    let rest = dlq::redrive(sqs, &queues.events_dlq, &queues.events, None)
        .await
        .unwrap();

    assert_eq!((rest.moved, rest.failed), (2, 0));
    let redriven = receive(sqs, &queues.events, 30).await;
    let mut by_event_id = BTreeMap::new();
    for message in &redriven {
        let body: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
        let attributes = message.message_attributes().unwrap();
        assert_eq!(attributes["provider"].string_value(), Some("whop"));
        assert_eq!(
            attributes["kind"].string_value(),
            body["kind"].as_str(),
            "{body}"
        );
        let previous = by_event_id.insert(
            body["event_id"].as_str().unwrap().to_owned(),
            message.body().unwrap().to_owned(),
        );
        assert_eq!(previous, None, "redriven twice: {body}");
    }
    assert_eq!(by_event_id, bodies);
    assert_eq!(depth(sqs, &queues.events_dlq).await, QueueDepth::default());
}

#[tokio::test]
async fn a_redrive_that_cannot_send_leaves_every_message_in_the_dlq() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queues = &stack.app.config.queues;
    dead_letter(&stack, 3).await;
    let missing = format!("{}-missing", queues.events);

    let report = dlq::redrive(sqs, &queues.events_dlq, &missing, None)
        .await
        .unwrap();

    assert_eq!((report.moved, report.failed), (0, 3));
    let failure = report.failure.unwrap();
    assert!(failure.contains("sending to"), "{failure}");
    assert_eq!(
        depth(sqs, &queues.events_dlq).await,
        QueueDepth {
            visible: 3,
            in_flight: 0,
            delayed: 0
        }
    );
}
