//! The processor against the emulator: signed webhooks in through ingest, the processor's real
//! handler over the queued messages, state and the webhook log out.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::{DateTime, Utc};
use churnsaver::local::LocalStack;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::App;
use shared::aws::state::DynamoState;
use shared::domain::ports::StateStore;
use shared::domain::state::model::{MembershipState, PaymentStatus, SignalKind};
use shared::domain::webhooks::Source;
use tower::ServiceExt;

use crate::helpers::{RequestLog, receive_all, signed_webhook, start_stack};

/// Deterministic draws (xorshift) for the tests' shuffles and choices.
pub struct Draws(u64);

impl Draws {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// One membership's history, in the provider's order: activated, a failed payment, a successful
/// retry, cancellation scheduled, deactivated, reactivated.
pub fn history(membership: &str) -> Vec<(String, String)> {
    let user = json!({"id": "user_1"});
    let events = [
        (
            "membership.activated",
            json!({"id": membership, "status": "active", "cancel_at_period_end": false,
                   "user": user, "plan": {"id": "plan_1"}, "product": {"id": "prod_1"}}),
        ),
        (
            "payment.failed",
            json!({"id": format!("pay_1_{membership}"), "status": "open", "substatus": "failed",
                   "total": 29.0, "currency": "usd", "user": user,
                   "membership": {"id": membership, "status": "past_due"}}),
        ),
        (
            "payment.succeeded",
            json!({"id": format!("pay_2_{membership}"), "status": "paid", "substatus": "succeeded",
                   "total": 29.0, "currency": "usd", "user": user,
                   "membership": {"id": membership, "status": "active"}}),
        ),
        (
            "membership.cancel_at_period_end_changed",
            json!({"id": membership, "status": "active", "cancel_at_period_end": true, "user": user}),
        ),
        (
            "membership.deactivated",
            json!({"id": membership, "status": "canceled", "cancel_at_period_end": true, "user": user}),
        ),
        (
            "membership.activated",
            json!({"id": membership, "status": "active", "cancel_at_period_end": false, "user": user}),
        ),
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(i, (kind, data))| {
            let id = format!("evt_{i}_{membership}");
            let body = json!({
                "id": id, "api_version": "v1", "type": kind,
                "timestamp": format!("2026-11-23T10:0{i}:00.000Z"),
                "company_id": "biz_1", "data": data,
            });
            (id, body.to_string())
        })
        .collect()
}

fn minute(i: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-23T10:0{i}:00Z"))
        .unwrap()
        .to_utc()
}

/// The oracle: what [`history`] must add up to, written out by hand.
pub fn assert_history_state(state: &MembershipState, membership: &str) {
    assert_eq!(state.id, membership);
    assert_eq!(state.provider, Source::Whop);
    assert_eq!(state.user_id.as_deref(), Some("user_1"));
    assert_eq!(state.plan_id.as_deref(), Some("plan_1"));
    assert_eq!(state.company_id.as_deref(), Some("biz_1"));
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.valid, Some(true));
    assert!(!state.cancel_at_period_end);
    assert_eq!(state.observations, 6);
    let last = state.last_payment.as_ref().unwrap();
    assert_eq!(
        (last.payment_id.as_str(), last.status),
        (
            format!("pay_2_{membership}").as_str(),
            PaymentStatus::Succeeded
        )
    );
    let payments: Vec<(&str, PaymentStatus, Option<&str>, Option<&str>)> = state
        .payments
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.status,
                p.amount.as_deref(),
                p.failure_reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        payments,
        vec![
            (
                format!("pay_2_{membership}").as_str(),
                PaymentStatus::Succeeded,
                Some("29.00"),
                None
            ),
            (
                format!("pay_1_{membership}").as_str(),
                PaymentStatus::Failed,
                Some("29.00"),
                Some("failed")
            ),
        ]
    );
    let signals: Vec<(SignalKind, DateTime<Utc>, Option<DateTime<Utc>>)> = state
        .signals
        .iter()
        .map(|s| (s.kind, s.started_at, s.ended_at))
        .collect();
    assert_eq!(
        signals,
        vec![
            (SignalKind::Recovered, minute(5), None),
            (SignalKind::Churned, minute(4), Some(minute(5))),
            (SignalKind::CancelScheduled, minute(3), Some(minute(4))),
            (SignalKind::Recovered, minute(2), Some(minute(4))),
            (SignalKind::AtRisk, minute(1), Some(minute(2))),
        ]
    );
    assert_eq!(state.open_signals(), vec![SignalKind::Recovered]);
}

/// Posts `body` as a signed Whop webhook through the webhooks function.
pub(crate) async fn ingest(app: &Arc<App>, id: &str, body: &str) -> u16 {
    let request = signed_webhook(app, Source::Whop, body, id).await;
    webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(app),
    )))
    .oneshot(request)
    .await
    .unwrap()
    .status()
    .as_u16()
}

/// The SQS event Lambda would hand the processor for `messages`.
pub(crate) fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|message| {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.receipt_handle = message.receipt_handle.clone();
            record.body = message.body.clone();
            record.attributes = message
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect();
            record
        })
        .collect();
    event
}

/// Runs the processor's handler on `messages`; returns the failed message ids.
pub(crate) async fn process(
    app: &Arc<App>,
    messages: &[aws_sdk_sqs::types::Message],
) -> Vec<String> {
    let event = LambdaEvent::new(sqs_event(messages), Context::default());
    let response = processor::handle(
        Arc::new(shared::edge::deps::processor::ProcessorDeps::build(
            Arc::clone(app),
        )),
        event,
    )
    .await
    .unwrap();
    failed_ids(response)
}

/// The message ids a function reported in `batchItemFailures`.
pub(crate) fn failed_ids(response: aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

fn store(app: &App) -> DynamoState {
    DynamoState::of(app)
}

pub(crate) async fn state_of(app: &App, membership: &str) -> MembershipState {
    store(app)
        .membership(membership)
        .await
        .unwrap()
        .expect("the membership exists")
        .state()
}

pub(crate) async fn webhook_log(app: &App, pk: &str) -> Value {
    let mut item = app
        .dynamodb
        .get_item()
        .table_name(&app.config.tables.webhook_events)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // The message is stored deflated: shown as the text it is.
    if let Some(message) = shared::aws::claims::claim_record(item.clone())
        .unwrap()
        .message
    {
        item.insert("message".to_owned(), AttributeValue::S(message));
    }
    serde_dynamo::from_item(item).unwrap()
}

#[tokio::test]
async fn a_batch_with_a_poison_message_fails_only_it_at_one_state_write_per_event_and_one_per_signal_change()
 {
    let stack = start_stack().await;
    for (id, body) in history("mem_batch") {
        assert_eq!(ingest(&stack.app, &id, &body).await, 202);
    }
    stack
        .app
        .sqs
        .send_message()
        .queue_url(&stack.app.config.queues.events)
        .message_body("{\"provider\":\"whop\",")
        .send()
        .await
        .unwrap();
    let messages = receive_all(&stack).await;
    assert_eq!(messages.len(), 7);
    let poison = messages
        .iter()
        .find(|m| m.body() == Some("{\"provider\":\"whop\","))
        .and_then(|m| m.message_id.clone())
        .unwrap();

    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    assert_eq!(process(&app, &messages).await, vec![poison]);
    let mut operations = requests.take();
    operations.sort();
    let mut expected = vec!["SendMessage"; 5];
    expected.extend(vec!["UpdateItem"; 18]);
    assert_eq!(
        operations, expected,
        "per event: one conditional state write and one PROCESSED mark; no read; for each of \
         the five events that open or close a signal, one upkeep of the company indexes and one \
         notification job; and for the membership's first event, its company made known"
    );

    assert_history_state(&state_of(&stack.app, "mem_batch").await, "mem_batch");
    let log = webhook_log(&stack.app, "whop#evt_1_mem_batch").await;
    assert_eq!(log["status"], "PROCESSED");
    assert_eq!(log["attempts"], 1);
    assert!(log["processed_at"].is_string() && log["latency_ms"].is_number());

    // At-least-once delivery: the same messages again are no-ops, the indexes already right.
    let good: Vec<_> = messages
        .into_iter()
        .filter(|m| m.body().is_some_and(|b| b.len() > 40))
        .collect();
    assert!(process(&app, &good).await.is_empty());
    assert_eq!(requests.take().len(), 12);
    assert_history_state(&state_of(&stack.app, "mem_batch").await, "mem_batch");
}

#[tokio::test]
async fn shuffled_and_duplicated_batches_reach_the_provider_order_state() {
    let stack = start_stack().await;
    let events = history("mem_shuffled");
    for (id, body) in &events {
        assert_eq!(ingest(&stack.app, id, body).await, 202);
    }
    let mut messages = receive_all(&stack).await;
    // Newest first, each twice, in batches of 1 to 4.
    messages.reverse();
    let mut deliveries: Vec<_> = messages.iter().chain(messages.iter()).cloned().collect();
    deliveries.rotate_left(3);
    for batch in deliveries.chunks(4).chain(deliveries.chunks(1)) {
        assert!(process(&stack.app, batch).await.is_empty());
    }
    assert_history_state(&state_of(&stack.app, "mem_shuffled").await, "mem_shuffled");
}

#[tokio::test]
async fn concurrent_processors_on_one_membership_end_in_the_newer_state() {
    let stack = start_stack().await;
    // Two instances with their own clients, as two Lambda processors would be.
    let first = RequestLog::default().app(&stack.app);
    let second = RequestLog::default().app(&stack.app);
    for round in 0..8 {
        let membership = format!("mem_race_{round}");
        let events = history(&membership);
        // The item exists first: moto creates an item that an UpdateItem finds absent without a
        // lock, so two creating updates racing there lose one (DynamoDB serializes them).
        let (first_id, first_body) = &events[0];
        assert_eq!(ingest(&stack.app, first_id, first_body).await, 202);
        assert!(
            process(&stack.app, &receive_all(&stack).await)
                .await
                .is_empty()
        );
        // The deactivation (newer) and the cancellation notice (older) at the same moment.
        let (older_id, older) = &events[3];
        let (newer_id, newer) = &events[4];
        assert_eq!(ingest(&stack.app, older_id, older).await, 202);
        assert_eq!(ingest(&stack.app, newer_id, newer).await, 202);
        let messages = receive_all(&stack).await;
        let (older, newer): (Vec<_>, Vec<_>) = messages
            .into_iter()
            .partition(|m| m.body().is_some_and(|b| b.contains(older_id.as_str())));
        let (a, b) = if round % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        let (failed_a, failed_b) = tokio::join!(process(a, &older), process(b, &newer));
        assert!(failed_a.is_empty() && failed_b.is_empty());
        let state = state_of(&stack.app, &membership).await;
        assert_eq!(state.status.as_deref(), Some("canceled"), "round {round}");
        assert_eq!(state.open_signals(), vec![SignalKind::Churned]);
        assert_eq!(state.observations, 3);
    }

    // Many events of one membership from two processors at once: nothing lost.
    let membership = "mem_many";
    let mut expected = Vec::new();
    let mut halves = (Vec::new(), Vec::new());
    for i in 0..30 {
        let id = format!("evt_many_{i:02}");
        let kind = if i % 2 == 0 {
            "payment.failed"
        } else {
            "payment.succeeded"
        };
        let body = json!({"id": id, "api_version": "v1", "type": kind,
            "timestamp": format!("2026-11-23T11:{i:02}:00.000Z"),
            "data": {"id": format!("pay_{i}"), "total": 10, "currency": "usd",
                     "membership": {"id": membership}, "user": {"id": "user_many"}}})
        .to_string();
        assert_eq!(ingest(&stack.app, &id, &body).await, 202);
        expected.push(id);
    }
    let mut messages = receive_all(&stack).await;
    // The first one alone, so the item exists (see above).
    let opening = messages.split_off(1);
    assert!(process(&first, &messages).await.is_empty());
    for message in opening {
        if halves.0.len() <= halves.1.len() {
            halves.0.push(message);
        } else {
            halves.1.push(message);
        }
    }
    let (a, b) = tokio::join!(
        async {
            for batch in halves.0.chunks(3) {
                assert!(process(&first, batch).await.is_empty());
            }
        },
        async {
            for batch in halves.1.chunks(3) {
                assert!(process(&second, batch).await.is_empty());
            }
        }
    );
    let ((), ()) = (a, b);
    let stored = store(&stack.app)
        .membership(membership)
        .await
        .unwrap()
        .unwrap();
    let state = stored.state();
    assert_eq!(state.observations, 30, "every event is in the state");
    assert_eq!(
        state.version.as_ref().map(|v| v.event_id.as_str()),
        Some("evt_many_29")
    );
    assert_eq!(state.open_signals(), vec![SignalKind::Recovered]);
    assert!(
        stored.base.is_none(),
        "30 events within minutes stay exact, uncompacted"
    );
}

#[tokio::test]
async fn a_poison_message_reaches_the_dlq_after_five_deliveries() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queue = &stack.app.config.queues.events;
    let (id, body) = &history("mem_poison")[0];
    assert_eq!(ingest(&stack.app, id, body).await, 202);
    sqs.send_message()
        .queue_url(queue)
        .message_body("not an event")
        .send()
        .await
        .unwrap();
    let mut deliveries = 0;
    loop {
        // Visibility 0 stands in for the 180 s timeout passing between deliveries.
        let messages = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        deliveries += 1;
        let failed = process(&stack.app, &messages).await;
        for message in &messages {
            if !failed.contains(message.message_id.as_ref().unwrap()) {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        assert!(deliveries <= 6, "the poison message never left the queue");
    }
    assert_eq!(deliveries, 5);
    let dead = sqs
        .receive_message()
        .queue_url(&stack.app.config.queues.events_dlq)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("not an event"));
    assert_eq!(
        state_of(&stack.app, "mem_poison").await.status.as_deref(),
        Some("active"),
        "the good message was processed on the first delivery"
    );

    // `dlq peek` sees it; `dlq redrive` brings it back to the events queue, once.
    let dlq = &stack.app.config.queues.events_dlq;
    let peeked = churnsaver::dlq::peek(sqs, dlq, 10).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert!(peeked[0].receive_count >= 5, "{peeked:?}");
    let report = churnsaver::dlq::redrive(sqs, dlq, queue, None)
        .await
        .unwrap();
    assert_eq!((report.moved, report.failed), (1, 0));
    let back = receive_all(&stack).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body(), Some("not an event"));
    assert!(
        churnsaver::dlq::peek(sqs, dlq, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_long_history_is_compacted_in_the_table_without_changing_state() {
    use shared::domain::state::observe::Observed;
    use shared::providers::observe;

    let stack = start_stack().await;
    let processor = shared::edge::deps::processor::processor(&stack.app);
    // Sixty days, an event every other day: failures and recoveries, oldest first.
    let bodies: Vec<String> = (0..30)
        .map(|i| {
            let kind = if i % 3 == 1 {
                "payment.failed"
            } else {
                "payment.succeeded"
            };
            let at = DateTime::from_timestamp(1_767_225_600 + i * 2 * 86_400, 0).unwrap();
            json!({
                "provider": "whop", "event_id": format!("evt_long_{i:02}"), "kind": kind,
                "subject": {"membership_id": "mem_long", "user_id": "user_long",
                            "payment_id": format!("pay_{i}")},
                "occurred_at": at.to_rfc3339(), "received_at": at.to_rfc3339(),
                "raw": {"type": kind, "data": {"total": 9.5, "currency": "eur"}},
            })
            .to_string()
        })
        .collect();
    for body in &bodies {
        processor.process(body, 1).await.unwrap();
    }
    let stored = processor
        .state
        .membership("mem_long")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.base.is_some(), "compacted");
    // What the last 28 days hold stays exact: days 30 to 58.
    assert_eq!(stored.observations.len(), 15);
    let item = stack
        .app
        .dynamodb
        .get_item()
        .table_name(&stack.app.config.tables.state)
        .key("pk", AttributeValue::S("MEMBERSHIP#mem_long".into()))
        .key("sk", AttributeValue::S("STATE".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(item["base"].is_b(), "the base is stored deflated");

    let observations: Vec<_> = bodies
        .iter()
        .map(|body| {
            let event = serde_json::from_str(body).unwrap();
            match observe(&event).unwrap() {
                Observed::Membership { observation, .. } => *observation,
                Observed::Ignored(reason) => panic!("{reason}"),
            }
        })
        .collect();
    let expected = MembershipState::empty("mem_long", Source::Whop).fold(&observations);
    assert_eq!(stored.state(), expected);
    assert_eq!(expected.observations, 30);
    // Late duplicates of compacted events are stale no-ops.
    assert!(matches!(
        processor.process(&bodies[0], 2).await.unwrap(),
        shared::domain::state::process::Outcome::Stale
    ));
}

/// Posts a signed Whop delivery to the running stack over HTTP, as the provider does.
pub async fn post_webhook(stack: &LocalStack, id: &str, body: &str) -> u16 {
    let signed = signed_webhook(&stack.app, Source::Whop, body, id).await;
    let mut request = reqwest::Client::new().post(format!("{}/webhooks/whop", stack.base_url()));
    for (name, value) in signed.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    request
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn shuffled_duplicated_webhooks_through_the_running_stack_read_back_as_the_oracle() {
    let stack = crate::helpers::start_running_stack().await;
    let token = crate::helpers::open_session(&stack, "user_1").await;
    let events = history("mem_e2e");
    // Newest first, with provider retries (the same delivery id again) mixed in.
    for index in [5, 2, 0, 5, 3, 1, 4, 2, 0] {
        let (id, body) = &events[index];
        let status = post_webhook(&stack, id, body).await;
        assert!([200, 202, 409].contains(&status), "{id}: {status}");
    }
    // At-least-once delivery on the queue side too: one message enqueued twice.
    let message = json!({
        "provider": "whop", "event_id": events[1].0, "kind": "payment.failed",
        "subject": {"membership_id": "mem_e2e", "user_id": "user_1", "payment_id": "pay_1_mem_e2e"},
        "occurred_at": "2026-11-23T10:01:00Z", "received_at": "2026-11-23T10:01:00Z",
        "raw": serde_json::from_str::<Value>(&events[1].1).unwrap(),
    });
    stack
        .app
        .sqs
        .send_message()
        .queue_url(&stack.app.config.queues.events)
        .message_body(message.to_string())
        .send()
        .await
        .unwrap();

    let client = reqwest::Client::new();
    let url = format!("{}/memberships/mem_e2e", stack.base_url());
    let mut state = Value::Null;
    for _ in 0..100 {
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        if response.status() == 200 {
            state = response.json().await.unwrap();
            if state["observations"] == 6 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let view: MembershipState = serde_json::from_value(state.clone()).unwrap();
    assert_history_state(&view, "mem_e2e");
    assert_eq!(state["open_signals"], json!(["recovered"]));

    let listed: Value = client
        .get(format!("{}/users/user_1/memberships", stack.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["memberships"][0]["id"], "mem_e2e");
    assert_eq!(listed["memberships"].as_array().map(Vec::len), Some(1));

    // Another user's session reads neither: the membership is "not found" to them.
    let stranger = crate::helpers::open_session(&stack, "user_2").await;
    for (path, status) in [
        ("/memberships/mem_e2e", 404),
        ("/users/user_1/memberships", 403),
    ] {
        let response = client
            .get(format!("{}{path}", stack.base_url()))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn a_new_membership_from_shuffled_duplicated_deliveries_on_concurrent_processors_reads_as_the_oracle()
 {
    let stack = start_stack().await;
    // Three instances with their own clients, as three Lambda processors would be.
    let instances: Vec<Arc<App>> = (0..3)
        .map(|_| RequestLog::default().app(&stack.app))
        .collect();
    for round in 0u64..6 {
        // A membership never seen: its first writes race to create the item.
        let membership = format!("mem_new_{round}");
        for (id, body) in history(&membership) {
            assert_eq!(ingest(&stack.app, &id, &body).await, 202);
        }
        let messages = receive_all(&stack).await;
        assert_eq!(messages.len(), 6);
        // Each delivered twice, in an order drawn from the round's seed, dealt round-robin.
        let mut deliveries: Vec<_> = messages.iter().chain(messages.iter()).cloned().collect();
        Draws::new(round).shuffle(&mut deliveries);
        let mut dealt = vec![Vec::new(); instances.len()];
        for (i, delivery) in deliveries.into_iter().enumerate() {
            dealt[i % instances.len()].push(delivery);
        }
        let runs = instances.iter().zip(&dealt).map(|(app, batch)| async move {
            for chunk in batch.chunks(2) {
                assert!(process(app, chunk).await.is_empty());
            }
        });
        futures_util::future::join_all(runs).await;
        assert_history_state(&state_of(&stack.app, &membership).await, &membership);
    }
}
