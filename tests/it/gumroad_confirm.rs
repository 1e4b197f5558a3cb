//! The processor's confirmation of Gumroad's pings on moto and the stand-in Gumroad (README
//! "Gumroad"): each ping fired at the stack's webhook route, then the queued message processed by
//! the processor the function runs, which reads the sale or the subscriber back from the
//! stand-in before it applies the ping. Its Gumroad calls are admitted by a guard of the test's
//! own, with no shared window and a bucket that never makes a call wait, so no outcome depends on
//! the clock (the functions' admission is the end-to-end test's, `tests/it/gumroad.rs`).

use churnsaver::fake_gumroad::{FakeGumroad, Faults, SELLER_ID};
use churnsaver::local::LocalStack;
use shared::aws::breaker::DynamoBreakers;
use shared::aws::contradictions::contradiction_pk;
use shared::aws::state::DynamoState;
use shared::domain::ports::SystemClock;
use shared::domain::ports::{InboundMessage, StateStore};
use shared::domain::state::model::PaymentStatus;
use shared::domain::state::process::BatchReport;
use shared::edge::config::{Provider, ProviderLimits};
use shared::edge::deps::gumroad::connector_over;
use shared::edge::deps::processor::{AppConfirmer, processor};
use shared::providers::client::{ProviderGuard, ResilientClient};
use shared::providers::google::exchange_policy;
use shared::providers::gumroad::SERVICE;
use shared::providers::gumroad::confirm::GumroadConfirmer;

use crate::gumroad_sync::{connect, connector, stack_and_gumroad};
use crate::helpers::{receive_all, state_items};
use crate::sync::quick_limits;

/// A stack whose company is connected to the stand-in's seller.
async fn connected() -> (LocalStack, FakeGumroad) {
    let (stack, gumroad) = stack_and_gumroad().await;
    connect(&connector(&stack)).await;
    (stack, gumroad)
}

/// The queued events, received once, as the processor's records on their `receive_count`-th
/// delivery.
async fn queued(stack: &LocalStack, receive_count: u32) -> Vec<InboundMessage> {
    receive_all(stack)
        .await
        .into_iter()
        .map(|message| InboundMessage {
            message_id: message.message_id,
            body: message.body,
            receive_count,
        })
        .collect()
}

/// The processor function's processor, confirming through one attempt a call (as the function
/// does) under the test's admission.
async fn process(stack: &LocalStack, records: &[InboundMessage]) -> BatchReport {
    let app = &stack.app;
    let guard = ProviderGuard::new(DynamoBreakers::of(app), SystemClock).with_limits(
        SERVICE,
        ProviderLimits {
            rate_limit: quick_limits(Provider::Gumroad).rate_limit,
            ..Provider::Gumroad.default_limits()
        },
    );
    let client = ResilientClient::new(reqwest::Client::new(), exchange_policy(), guard);
    let connector = connector_over(app, app.config.gumroad.clone().unwrap(), client);
    let confirmer = AppConfirmer::with_gumroad(app, GumroadConfirmer { connector });
    processor(app)
        .with_confirmation(confirmer)
        .process_batch(records)
        .await
        .unwrap()
}

fn sale<'a>(sale_id: &'a str, subscription_id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("seller_id", SELLER_ID),
        ("sale_id", sale_id),
        ("subscription_id", subscription_id),
        ("product_id", "prod_gc"),
        ("purchaser_id", "buyer_gc"),
        ("price", "900"),
        ("currency", "usd"),
        ("sale_timestamp", "2026-01-05T10:00:00Z"),
    ]
}

#[tokio::test]
async fn a_confirmed_sale_ping_is_applied_after_exactly_one_read_of_the_sale() {
    let (stack, gumroad) = connected().await;
    assert_eq!(
        gumroad
            .fire("sale", &sale("sale_c1", "sub_c1"))
            .await
            .unwrap(),
        [202]
    );
    let records = queued(&stack, 1).await;
    let report = process(&stack, &records).await;
    assert_eq!(
        (report.counts.applied, report.failed.len()),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(gumroad.reads("/v2/sales/sale_c1"), 1);
    let stored = DynamoState::of(&stack.app)
        .membership("sub_c1")
        .await
        .unwrap()
        .unwrap();
    let state = stored.state();
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.payments.len(), 1);
    stack.shutdown().await;
}

#[tokio::test]
async fn pings_the_api_contradicts_are_recorded_counted_and_not_applied() {
    let (stack, gumroad) = connected().await;
    // A real subscription, so the forged pings below name something Gumroad knows.
    gumroad
        .fire("sale", &sale("sale_c2", "sub_c2"))
        .await
        .unwrap();
    let report = process(&stack, &queued(&stack, 1).await).await;
    assert_eq!(report.counts.applied, 1, "{report:?}");

    // A sale Gumroad never made, a refund of a sale it did not refund, a cancellation of a
    // subscriber still alive.
    gumroad
        .forge("sale", &sale("sale_forged", "sub_forged"))
        .await
        .unwrap();
    gumroad
        .forge("refund", &sale("sale_c2", "sub_c2"))
        .await
        .unwrap();
    gumroad
        .forge(
            "cancellation",
            &[
                ("subscription_id", "sub_c2"),
                ("cancelled", "true"),
                ("cancelled_at", "2026-02-01T09:00:00Z"),
            ],
        )
        .await
        .unwrap();
    let report = process(&stack, &queued(&stack, 1).await).await;
    assert_eq!(
        (
            report.counts.contradicted,
            report.counts.applied,
            report.failed.len()
        ),
        (3, 0, 0),
        "{report:?}"
    );
    let metrics = report.metrics("processor").to_emf(0).to_string();
    assert!(metrics.contains("\"events_contradicted\":3"), "{metrics}");

    let mut reasons: Vec<(String, String)> = state_items(&stack.app, "CONTRADICTED#gumroad#")
        .await
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            (text("kind"), text("reason"))
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("cancellation".into(), "subscriber_not_cancelled".into()),
            ("refund".into(), "sale_not_refunded".into()),
            ("sale".into(), "sale_not_found".into()),
        ]
    );
    let forged =
        &state_items(&stack.app, &contradiction_pk("gumroad", "sale:sale_forged")).await[0];
    assert_eq!(forged["membership_id"].as_s().unwrap(), "sub_forged");
    assert!(!forged.contains_key("email"), "ids only");

    let state = DynamoState::of(&stack.app);
    assert!(state.membership("sub_forged").await.unwrap().is_none());
    let kept = state.membership("sub_c2").await.unwrap().unwrap().state();
    assert!(
        !kept.cancel_at_period_end,
        "the forged cancellation is not applied"
    );
    assert_eq!(kept.payments.len(), 1);
    assert_eq!(
        kept.payments[0].status,
        PaymentStatus::Succeeded,
        "the forged refund is not applied"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_gumroad_outage_fails_the_ping_retryably_and_a_later_delivery_applies_it() {
    let (stack, gumroad) = connected().await;
    gumroad
        .fire("sale", &sale("sale_c3", "sub_c3"))
        .await
        .unwrap();
    let first = queued(&stack, 1).await;
    gumroad.inject(Faults {
        unavailable: 1,
        ..Faults::default()
    });
    let report = process(&stack, &first).await;
    assert_eq!(
        (report.counts.failed_retryable, report.counts.applied),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(report.failed.len(), 1, "SQS keeps the message");
    let state = DynamoState::of(&stack.app);
    assert!(state.membership("sub_c3").await.unwrap().is_none());

    // SQS delivers it again: Gumroad is back.
    let again: Vec<InboundMessage> = first
        .into_iter()
        .map(|record| InboundMessage {
            receive_count: 2,
            ..record
        })
        .collect();
    let report = process(&stack, &again).await;
    assert_eq!(
        (report.counts.applied, report.failed.len()),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(
        gumroad.reads("/v2/sales/sale_c3"),
        1,
        "the outage answered before the sale was read; the redelivery read it"
    );
    assert!(state.membership("sub_c3").await.unwrap().is_some());
    stack.shutdown().await;
}

#[tokio::test]
async fn a_test_ping_is_recorded_without_a_call_to_gumroad() {
    let (stack, gumroad) = connected().await;
    let mut ping = sale("sale_c4", "sub_c4");
    ping.push(("test", "true"));
    gumroad.forge("sale", &ping).await.unwrap();
    let calls = gumroad.calls();
    let report = process(&stack, &queued(&stack, 1).await).await;
    assert_eq!(
        (report.counts.ignored, report.failed.len()),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(gumroad.calls(), calls, "no Gumroad call");
    assert!(
        DynamoState::of(&stack.app)
            .membership("sub_c4")
            .await
            .unwrap()
            .is_none()
    );
    stack.shutdown().await;
}
