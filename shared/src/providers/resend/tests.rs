use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::providers::client::{NoAdmission, RetryPolicy, Sleeper, StaticKey};

/// Records each wait instead of sleeping.
#[derive(Default)]
struct NoWait(std::sync::Mutex<Vec<Duration>>);

impl Sleeper for NoWait {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

fn mailer(server: &MockServer, waits: Arc<NoWait>) -> ResendMailer<NoAdmission, StaticKey> {
    let client = ResilientClient::new(reqwest::Client::new(), RetryPolicy::default(), NoAdmission)
        .with_sleeper(waits);
    ResendMailer::new(
        client,
        StaticKey("re_test".to_owned().into()),
        Url::parse(&server.uri()).unwrap(),
    )
}

fn email() -> Email {
    Email {
        idempotency_key: "k1".into(),
        from: "Churn Saver <alerts@example.com>".into(),
        to: vec!["owner@example.com".into()],
        reply_to: None,
        subject: "A membership is at risk".into(),
        html: "<p>hi</p>".into(),
        text: "hi".into(),
        headers: vec![("List-Unsubscribe".into(), "<https://x/u>".into())],
    }
}

#[tokio::test]
async fn a_send_posts_the_message_with_its_key_agent_and_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", "Bearer re_test"))
        .and(header("idempotency-key", "k1"))
        .and(header("user-agent", USER_AGENT))
        .and(body_partial_json(json!({
            "from": "Churn Saver <alerts@example.com>",
            "to": ["owner@example.com"],
            "text": "hi",
            "headers": {"List-Unsubscribe": "<https://x/u>"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "em_1"})))
        .expect(1)
        .mount(&server)
        .await;
    let sent = mailer(&server, Arc::default()).send_email(&email()).await;
    assert_eq!(
        sent,
        Ok(Sent {
            provider: "resend",
            message_id: "em_1".into()
        })
    );
}

#[tokio::test]
async fn a_422_is_refused_with_resends_name_after_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"statusCode": 422, "message": "bad", "name": "validation_error"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let error = mailer(&server, Arc::default())
        .send_email(&email())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Refused {
            provider: "resend",
            code: "validation_error".into()
        }
    );
}

#[tokio::test]
async fn a_429_then_200_sends_once_after_the_advertised_wait() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    Mock::given(method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                ResponseTemplate::new(429).insert_header("retry-after", "2")
            } else {
                ResponseTemplate::new(200).set_body_json(json!({"id": "em_2"}))
            }
        })
        .mount(&server)
        .await;
    let waits = Arc::new(NoWait::default());
    let sent = mailer(&server, Arc::clone(&waits))
        .send_email(&email())
        .await
        .unwrap();
    assert_eq!(sent.message_id, "em_2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(*waits.0.lock().unwrap(), vec![Duration::from_secs(2)]);
}

#[tokio::test]
async fn server_errors_past_the_budget_leave_the_message_unsent_and_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(4)
        .mount(&server)
        .await;
    let error = mailer(&server, Arc::default())
        .send_email(&email())
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Unavailable { .. }), "{error:?}");
}
