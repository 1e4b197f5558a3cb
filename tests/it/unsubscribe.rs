//! The suppression list, the one-click unsubscribe and Resend's bounce and complaint webhooks,
//! through the webhooks function's router against the emulator.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::Request;
use serde_json::Value;
use shared::domain::auth::keys::SigningKey;
use shared::domain::notify::unsubscribe::{Unsubscription, sign_token};
use shared::domain::ports::SuppressionList;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::SigningSecret;
use shared::edge::deps::webhooks::{WebhooksDeps, suppression_list, unsubscribe_tokens};
use tower::ServiceExt;

use crate::helpers::{signed_request, signed_webhook, start_stack, state_items};

const ADDRESS: &str = "Ann.Member@Example.com";

fn router(stack: &churnsaver::local::LocalStack) -> axum::Router {
    webhooks::router(Arc::new(WebhooksDeps::build(Arc::clone(&stack.app))))
}

async fn send(router: &axum::Router, request: Request<Body>) -> (u16, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn unsubscribe_request(method: &str, token: &str) -> Request<Body> {
    let request = Request::builder()
        .method(method)
        .uri(format!("/unsubscribe?token={token}"));
    if method == "POST" {
        request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click"))
            .unwrap()
    } else {
        request.body(Body::empty()).unwrap()
    }
}

/// Every `SUPPRESS#` item of the stack's state table.
async fn suppression_items(stack: &churnsaver::local::LocalStack) -> Vec<Value> {
    let items = state_items(&stack.app, "SUPPRESS#").await;
    items
        .into_iter()
        .map(|item| serde_dynamo::from_item(item).unwrap())
        .collect()
}

async fn token(stack: &churnsaver::local::LocalStack) -> String {
    unsubscribe_tokens(&stack.app)
        .unwrap()
        .token(ADDRESS, "biz_1", chrono::Utc::now())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_links_post_suppresses_the_address_and_its_get_changes_nothing() {
    let stack = start_stack().await;
    let router = router(&stack);
    let list = suppression_list(&stack.app).unwrap();
    let token = token(&stack).await;

    let (status, page) = send(&router, unsubscribe_request("GET", &token)).await;
    assert_eq!(status, 200);
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(!list.is_suppressed(ADDRESS).await.unwrap());
    assert!(suppression_items(&stack).await.is_empty());

    let (status, _) = send(&router, unsubscribe_request("POST", &token)).await;
    assert_eq!(status, 200);
    assert!(list.is_suppressed(" ann.member@example.COM").await.unwrap());
    let items = suppression_items(&stack).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["reason"], "unsubscribed");
    // Keyed by the hash alone: the address is nowhere in the item.
    let stored = items[0].to_string().to_lowercase();
    assert!(!stored.contains("ann.member"), "{stored}");
}

#[tokio::test]
async fn a_forged_or_expired_token_is_400_and_suppresses_nothing() {
    let stack = start_stack().await;
    let router = router(&stack);
    let real = token(&stack).await;
    let forged = sign_token(
        &SigningKey::parse(&"f".repeat(64)).unwrap(),
        &Unsubscription {
            address: ADDRESS.to_owned(),
            company_id: "biz_1".to_owned(),
            issued_at: chrono::Utc::now(),
        },
    );
    let tampered = format!("{}x", real.trim_end_matches(|c| c != '.'));
    let key_value = stack
        .app
        .secrets_manager
        .get_secret_value()
        .secret_id(stack.app.config.unsubscribe.key_secret.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let expired = sign_token(
        &SigningKey::parse(&key_value).unwrap(),
        &Unsubscription {
            address: ADDRESS.to_owned(),
            company_id: "biz_1".to_owned(),
            issued_at: chrono::Utc::now() - chrono::Duration::days(181),
        },
    );
    for token in [
        forged.as_str(),
        tampered.as_str(),
        expired.as_str(),
        "nonsense",
    ] {
        for method in ["GET", "POST"] {
            let (status, body) = send(&router, unsubscribe_request(method, token)).await;
            assert_eq!(status, 400, "{method} {token}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "invalid_unsubscribe_token", "{body}");
        }
    }
    assert!(suppression_items(&stack).await.is_empty());
}

fn complaint(address: &str) -> String {
    format!(
        r#"{{"type":"email.complained","created_at":"2026-11-23T10:00:00.000Z","data":{{"email_id":"e_1","from":"alerts@churnsaver.dev","to":["{address}"],"subject":"Your payment failed"}}}}"#
    )
}

#[tokio::test]
async fn a_signed_complaint_suppresses_once_and_a_forged_one_is_401() {
    let stack = start_stack().await;
    let router = router(&stack);
    let list = suppression_list(&stack.app).unwrap();
    let body = complaint(ADDRESS);

    let forged = signed_request(
        Source::Resend,
        &SigningSecret::parse(Source::Resend, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        &body,
        "msg_forged",
    );
    let (status, _) = send(&router, forged).await;
    assert_eq!(status, 401);
    assert!(!list.is_suppressed(ADDRESS).await.unwrap());

    let request = signed_webhook(&stack.app, Source::Resend, &body, "msg_complaint_1").await;
    assert!(request.headers().contains_key("svix-signature"));
    let (status, answer) = send(&router, request).await;
    assert_eq!(status, 200, "{answer}");
    assert!(list.is_suppressed(ADDRESS).await.unwrap());
    let first = suppression_items(&stack).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["reason"], "complained");

    // The same delivery again (Resend retries with the same svix-id): one suppression, unchanged.
    let again = signed_webhook(&stack.app, Source::Resend, &body, "msg_complaint_1").await;
    let (status, _) = send(&router, again).await;
    assert_eq!(status, 200);
    assert_eq!(suppression_items(&stack).await, first);
}

#[tokio::test]
async fn other_resend_events_are_acknowledged_and_suppress_nothing() {
    let stack = start_stack().await;
    let router = router(&stack);
    let delivered = complaint(ADDRESS).replace("email.complained", "email.delivered");
    let request = signed_webhook(&stack.app, Source::Resend, &delivered, "msg_delivered").await;
    let (status, answer) = send(&router, request).await;
    assert_eq!(status, 200, "{answer}");
    assert!(suppression_items(&stack).await.is_empty());
}

/// Every field of every event and span, as text (also the notify log test's capture).
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Captured {
    /// What a deployed function writes (`ApplicationLogLevel: INFO`), and every level of the
    /// project's own crates; the AWS SDK's and HTTP stack's debug and trace output (request and
    /// response bodies included) is never logged by a function.
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
            || ["shared", "webhooks", "notify", "churnsaver"]
                .iter()
                .any(|own| metadata.target().starts_with(own))
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut Fields(&mut self.0.lock().unwrap()));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        text.push('\n');
        event.record(&mut Fields(&mut text));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn no_log_line_of_an_unsubscribe_or_a_complaint_names_the_address() {
    let stack = start_stack().await;
    let router = router(&stack);
    let token = token(&stack).await;
    let complaint_request = signed_webhook(
        &stack.app,
        Source::Resend,
        &complaint("bob@example.com"),
        "msg_c",
    )
    .await;
    let captured = Captured::default();
    let guard = tracing::subscriber::set_default(captured.clone());
    let (unsubscribed, _) = send(&router, unsubscribe_request("POST", &token)).await;
    let (complained, _) = send(&router, complaint_request).await;
    drop(guard);
    assert_eq!((unsubscribed, complained), (200, 200));
    let logs = captured.0.lock().unwrap().to_lowercase();
    assert!(logs.contains("suppressed address"), "{logs}");
    for needle in ["ann.member", "example.com", "bob@"] {
        assert!(!logs.contains(needle), "{needle} in {logs}");
    }
}
