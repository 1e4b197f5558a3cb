//! PayPal's webhooks against the emulator and the PayPal stand-in: what is accepted, what is
//! refused and why, and, end to end on the running stack, what its events do to a subscription.

use std::collections::BTreeMap;

use churnsaver::fake_paypal::{self, Cert, FakePayPal};
use churnsaver::local::LocalStack;
use serde_json::{Value, json};
use shared::domain::state::model::PaymentStatus;

use crate::helpers::{fixture, open_session, receive_all, start_running_stack, start_stack_with};

const SUBSCRIPTION: &str = "I-BW452GLLEP1G";

/// A delivery's headers, as `FakePayPal::sign` makes them.
type Headers = Vec<(&'static str, String)>;

/// A subscription event for `SUBSCRIPTION`, with its own event id.
fn subscription_event(event_id: &str, kind: &str, status: &str) -> String {
    json!({
        "id": event_id, "event_version": "1.0", "create_time": "2026-03-01T10:00:00.000Z",
        "resource_type": "subscription", "event_type": kind,
        "resource": {"id": SUBSCRIPTION, "plan_id": "P-5ML4271244454362WXNWU5NQ", "status": status,
            "subscriber": {"email_address": "jane@example.com", "payer_id": "2J6QB8YJQSJRJ"}},
    })
    .to_string()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A stack (no workers) whose PayPal webhooks verify with `paypal`'s certificates.
async fn stack_with(paypal: &FakePayPal) -> LocalStack {
    start_stack_with(paypal.parameters().into_iter().collect::<BTreeMap<_, _>>()).await
}

/// A fresh stand-in, and a stack (no workers) verifying with it.
async fn paypal_and_stack() -> (FakePayPal, LocalStack) {
    let paypal = FakePayPal::start().await.unwrap();
    let stack = stack_with(&paypal).await;
    (paypal, stack)
}

/// `POST /webhooks/paypal` with `headers`: status and JSON body.
async fn post(stack: &LocalStack, headers: &Headers, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/webhooks/paypal", stack.base_url()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `body` signed now with the valid certificate for the stack's webhook id, then posted.
async fn post_signed(stack: &LocalStack, paypal: &FakePayPal, body: &str) -> (u16, Value) {
    let headers = paypal
        .sign(
            Cert::Valid,
            None,
            fake_paypal::LOCAL_WEBHOOK_ID,
            &now_rfc3339(),
            body.as_bytes(),
        )
        .unwrap();
    post(stack, &headers, body).await
}

/// The claims in the stack's `webhook-events` table.
async fn claims(stack: &LocalStack) -> Vec<String> {
    let items = stack
        .app
        .dynamodb
        .scan()
        .table_name(&stack.app.config.tables.webhook_events)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items
        .iter()
        .map(|item| item["pk"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn a_signed_delivery_is_202_claimed_and_enqueued_and_its_duplicate_adds_no_claim() {
    let (paypal, stack) = paypal_and_stack().await;
    let body = subscription_event(
        "WH-1AB23456CD789012E-3FG45678HI901234J",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "ACTIVE",
    );

    let (status, answer) = post_signed(&stack, &paypal, &body).await;
    assert_eq!(
        (status, answer),
        (
            202,
            json!({"accepted": true, "event_id": "WH-1AB23456CD789012E-3FG45678HI901234J",
                "kind": "BILLING.SUBSCRIPTION.ACTIVATED"})
        )
    );
    // PayPal retries with a new transmission id; the event id is the same.
    let (status, answer) = post_signed(&stack, &paypal, &body).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (409, json!("in_progress"))
    );

    assert_eq!(
        claims(&stack).await,
        ["paypal#WH-1AB23456CD789012E-3FG45678HI901234J"]
    );
    let messages = receive_all(&stack).await;
    let [message] = &messages[..] else {
        panic!("{messages:?}")
    };
    let queued: Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(queued["provider"], "paypal");
    assert_eq!(queued["subject"]["subscription_id"], SUBSCRIPTION);
    assert_eq!(
        queued["subject"]["company_id"],
        fake_paypal::LOCAL_COMPANY_ID
    );
    assert_eq!(paypal.cert_fetches(), 1, "the certificate is cached by URL");
}

#[tokio::test]
async fn forged_stale_or_badly_certified_deliveries_are_401_with_their_reason_and_claim_nothing() {
    let (paypal, stack) = paypal_and_stack().await;
    let body = subscription_event(
        "WH-5KL67890MN123456P-7QR89012ST345678U",
        "BILLING.SUBSCRIPTION.CANCELLED",
        "CANCELLED",
    );
    let now = now_rfc3339();
    let hour_ago = (chrono::Utc::now() - chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sign = |cert: Cert, cert_url: Option<&str>, webhook_id: &str, time: &str| {
        paypal
            .sign(cert, cert_url, webhook_id, time, body.as_bytes())
            .unwrap()
    };
    let webhook_id = fake_paypal::LOCAL_WEBHOOK_ID;
    // The stand-in's own certificate path, but on a host name rather than a loopback address:
    // were it fetched, the stand-in would count it.
    let off_list = paypal
        .cert_url(Cert::Valid)
        .replace("127.0.0.1", "localhost");
    let tampered = body.replace("CANCELLED", "ACTIVE");

    // Refused before any certificate is fetched: these two come first.
    let cases: [(&str, Headers, &str, &str); 6] = [
        (
            "certificate URL off the allow-list",
            sign(Cert::Valid, Some(&off_list), webhook_id, &now),
            &body,
            "certificate_url_refused",
        ),
        (
            "stale transmission time",
            sign(Cert::Valid, None, webhook_id, &hour_ago),
            &body,
            "timestamp_out_of_tolerance",
        ),
        (
            "tampered body",
            sign(Cert::Valid, None, webhook_id, &now),
            &tampered,
            "no_matching_signature",
        ),
        (
            "another webhook id",
            sign(Cert::Valid, None, "ANOTHERWEBHOOK1", &now),
            &body,
            "no_matching_signature",
        ),
        (
            "expired certificate",
            sign(Cert::Expired, None, webhook_id, &now),
            &body,
            "certificate_expired",
        ),
        (
            "certificate of another name",
            sign(Cert::NotPayPal, None, webhook_id, &now),
            &body,
            "certificate_wrong_subject",
        ),
    ];
    for (case, headers, sent, reason) in cases {
        let (status, answer) = post(&stack, &headers, sent).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some(reason)),
            "{case}"
        );
        if matches!(
            reason,
            "certificate_url_refused" | "timestamp_out_of_tolerance"
        ) {
            assert_eq!(paypal.cert_fetches(), 0, "{case}: nothing fetched");
        }
    }

    assert_eq!(claims(&stack).await, Vec::<String>::new());
    assert!(receive_all(&stack).await.is_empty());
}

#[tokio::test]
async fn the_paypal_samples_signed_as_webhook_send_signs_them_are_accepted() {
    let (_paypal, stack) = paypal_and_stack().await;
    for (name, kind) in SAMPLES {
        let body = sample_body(name);
        let headers = churnsaver::webhook::paypal_local_headers(
            &stack.environment,
            body.as_bytes(),
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
        .unwrap();
        let (status, answer) = post(&stack, &headers, &body).await;
        assert_eq!(
            (status, answer["kind"].as_str()),
            (202, Some(kind)),
            "{name}"
        );
    }
}

/// The PayPal samples in `events/`, in the order the end-to-end story sends them, and their kinds.
const SAMPLES: [(&str, &str); 3] = [
    (
        "apigw-webhook-paypal-payment-failed.json",
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
    ),
    (
        "apigw-webhook-paypal-sale-completed.json",
        "PAYMENT.SALE.COMPLETED",
    ),
    (
        "apigw-webhook-paypal-subscription-cancelled.json",
        "BILLING.SUBSCRIPTION.CANCELLED",
    ),
];

fn sample_body(name: &str) -> String {
    let sample: Value = serde_json::from_str(&fixture(name)).unwrap();
    sample["body"].as_str().unwrap().to_owned()
}

/// The ids of the local company's memberships with `signal` open, as its admin sees them.
async fn with_signal(stack: &LocalStack, admin: &str, signal: &str) -> Vec<String> {
    let (status, body) = crate::companies::get(
        stack,
        admin,
        &format!(
            "/companies/{}/memberships?signal={signal}",
            fake_paypal::LOCAL_COMPANY_ID
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the processor has recorded `count` observations of `SUBSCRIPTION`.
async fn processed(stack: &LocalStack, count: usize) {
    let store = shared::aws::state::DynamoState::of(&stack.app);
    for _ in 0..300 {
        // A keys-only item (moto writes a created item in steps) is not recorded yet.
        let recorded = shared::domain::ports::StateStore::membership(&store, SUBSCRIPTION)
            .await
            .ok()
            .flatten()
            .map_or(0, |stored| stored.observations.len());
        if recorded >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the processor did not record {count} observations of {SUBSCRIPTION}");
}

#[tokio::test]
async fn end_to_end_a_failed_payment_is_at_risk_a_completed_sale_recovered_and_a_cancellation_churned()
 {
    let stack = start_running_stack().await;
    let paypal = stack.paypal.as_ref().expect("the running stack's PayPal");
    let admin = open_session(&stack, "user_local_admin").await;

    for ((name, _), (count, signal)) in
        SAMPLES
            .into_iter()
            .zip([(1, "at_risk"), (2, "recovered"), (3, "churned")])
    {
        let (status, answer) = post_signed(&stack, paypal, &sample_body(name)).await;
        assert_eq!(status, 202, "{name}: {answer}");
        processed(&stack, count).await;
        assert_eq!(
            with_signal(&stack, &admin, signal).await,
            [SUBSCRIPTION],
            "{name}"
        );
    }
    assert_eq!(
        with_signal(&stack, &admin, "at_risk").await,
        Vec::<String>::new(),
        "the failure was recovered, then the subscription churned"
    );

    // The completed sale is refunded: the refund names only the sale, whose subscription
    // PayPal's API gives.
    let completed: Value = serde_json::from_str(&sample_body(SAMPLES[1].0)).unwrap();
    paypal.put_sale(completed["resource"].clone());
    let refund = sample_body("apigw-webhook-paypal-sale-refunded.json");
    let (status, answer) = post_signed(&stack, paypal, &refund).await;
    assert_eq!(status, 202, "{answer}");
    processed(&stack, 4).await;
    let state = shared::aws::state::DynamoState::of(&stack.app);
    let stored = shared::domain::ports::StateStore::membership(&state, SUBSCRIPTION)
        .await
        .unwrap()
        .unwrap()
        .state();
    let sale = completed["resource"]["id"].as_str().unwrap();
    let payments: Vec<(&str, PaymentStatus)> = stored
        .payments
        .iter()
        .map(|p| (p.id.as_str(), p.status))
        .filter(|(id, _)| *id == sale)
        .collect();
    assert_eq!(
        payments,
        [(sale, PaymentStatus::Refunded)],
        "the sale's payment is refunded, not a second one"
    );
}

#[tokio::test]
async fn online_verification_asks_paypal_with_one_cached_token_and_fetches_no_certificate() {
    let paypal = FakePayPal::start().await.unwrap();
    let mut parameters: BTreeMap<String, String> = paypal.parameters().into_iter().collect();
    parameters.insert("PayPalVerification".into(), "online".into());
    let stack = start_stack_with(parameters).await;
    let activated = subscription_event(
        "WH-ONLINE00000000001-00000000000000001",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "ACTIVE",
    );
    let cancelled = subscription_event(
        "WH-ONLINE00000000002-00000000000000002",
        "BILLING.SUBSCRIPTION.CANCELLED",
        "CANCELLED",
    );

    assert_eq!(post_signed(&stack, &paypal, &activated).await.0, 202);
    assert_eq!(post_signed(&stack, &paypal, &cancelled).await.0, 202);
    let headers = paypal
        .sign(
            Cert::Valid,
            None,
            fake_paypal::LOCAL_WEBHOOK_ID,
            &now_rfc3339(),
            activated.as_bytes(),
        )
        .unwrap();
    let (status, answer) = post(&stack, &headers, &activated.replace("ACTIVE", "SUSPENDED")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("no_matching_signature"))
    );

    assert_eq!(
        (
            paypal.verify_calls(),
            paypal.token_grants(),
            paypal.cert_fetches()
        ),
        (3, 1, 0),
        "three checks, one token, no certificate fetched here"
    );
    assert_eq!(claims(&stack).await.len(), 2);
}
