use std::sync::atomic::{AtomicUsize, Ordering};

use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::fingerprint;
use crate::providers::client::{KeyUnavailable, StaticKey};
use crate::providers::messaging::tests::{
    Guard, TestTime, answer_then, captured, dead_url, email, guarded_client,
};

fn sendgrid(base: &str) -> (SendGrid<Guard, StaticKey>, TestTime) {
    let (client, time) = guarded_client(SERVICE);
    let key = StaticKey(SecretString::from("SG.key"));
    let base = Url::parse(base).unwrap();
    (SendGrid::new(client, &base, key).unwrap(), time)
}

fn accepted(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).insert_header("X-Message-Id", id)
}

fn refused(status: u16, field: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errors": [{
        "message": "ann.member@example.com does not contain a valid address",
        "field": field, "help": null}]}))
}

#[tokio::test]
async fn the_mail_send_body_carries_every_part_and_202_is_sent_with_its_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.key"))
        .and(body_json(json!({
            "personalizations": [{
                "to": [{"email": "ann.member@example.com"}],
                "custom_args": {"idempotency_key": "k1"}
            }],
            "from": {"email": "alerts@churnsaver.test", "name": "Churn Saver"},
            "reply_to": {"email": "support@churnsaver.test"},
            "subject": "Your payment failed, Ann",
            "content": [
                {"type": "text/plain", "value": "Secret body: update your card"},
                {"type": "text/html", "value": "<p>Secret body: update your card</p>"}
            ],
            "headers": {
                "List-Unsubscribe": "<https://churnsaver.test/u/tok>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
            }
        })))
        .respond_with(accepted("sg_1"))
        .expect(1)
        .mount(&server)
        .await;
    let (mailer, _) = sendgrid(&server.uri());
    assert_eq!(
        mailer.send_email(&email("k1")).await,
        Ok(Sent {
            provider: SERVICE,
            message_id: "sg_1".into()
        })
    );
}

#[tokio::test]
async fn a_429_then_202_sends_once_after_the_advertised_reset() {
    let server = MockServer::start().await;
    let (mailer, time) = sendgrid(&server.uri());
    let reset = time.now().timestamp() + 12;
    answer_then(
        &server,
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Reset", reset.to_string().as_str())
            .set_body_json(json!({"errors": [{"field": null, "message": "too many requests"}]})),
        1,
        accepted("sg_2"),
    )
    .await;
    assert_eq!(
        mailer.send_email(&email("k1")).await.unwrap().message_id,
        "sg_2"
    );
    assert_eq!(time.waits(), [Duration::from_secs(12)]);
}

/// SendGrid takes no idempotency key: after a 5xx the mail may have gone out, so the send is not
/// repeated; the job fails and its claim decides on redelivery.
#[tokio::test]
async fn a_server_error_is_not_repeated_since_the_mail_may_have_gone_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let (mailer, time) = sendgrid(&server.uri());
    let result = mailer.send_email(&email("k1")).await;
    assert!(
        matches!(result, Err(SendError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(time.waits().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_400_or_422_is_refused_with_the_field_not_retried() {
    for status in [400, 422] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(refused(status, "personalizations.0.to.0.email"))
            .expect(1)
            .mount(&server)
            .await;
        let (mailer, time) = sendgrid(&server.uri());
        assert_eq!(
            mailer.send_email(&email("k1")).await,
            Err(SendError::Refused {
                provider: SERVICE,
                code: "personalizations.0.to.0.email".into()
            }),
            "{status}"
        );
        assert!(time.waits().is_empty());
    }
}

#[tokio::test]
async fn a_dead_api_opens_the_breaker_and_is_unavailable() {
    let (mailer, _) = sendgrid(dead_url().await.as_str());
    for _ in 0..2 {
        let error = mailer.send_email(&email("k1")).await.unwrap_err();
        assert!(
            matches!(&error, SendError::Unavailable { reason, .. } if reason == "circuit_open"),
            "{error:?}"
        );
    }
    assert!(
        mailer
            .client()
            .admission()
            .limits(SERVICE)
            .breaker
            .failure_threshold
            == 3
    );
}

/// Hands out `key_old` until asked for a fresh read, then `key_new`.
#[derive(Default)]
struct Rotated(AtomicUsize);

impl ApiKeySource for Rotated {
    async fn api_key(&self, fresh: bool) -> Result<Arc<SecretString>, KeyUnavailable> {
        self.0.fetch_add(1, Ordering::Relaxed);
        let key = if fresh { "key_new" } else { "key_old" };
        Ok(Arc::new(SecretString::from(key)))
    }
}

#[tokio::test]
async fn a_401_re_reads_the_key_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer key_old"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer key_new"))
        .respond_with(accepted("sg_4"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = guarded_client(SERVICE);
    let base = Url::parse(&server.uri()).unwrap();
    let keys = Rotated::default();
    let mailer = SendGrid::new(client, &base, keys).unwrap();
    assert_eq!(
        mailer.send_email(&email("k1")).await.unwrap().message_id,
        "sg_4"
    );
    assert_eq!(mailer.key.0.load(Ordering::Relaxed), 2);
}

#[test]
fn addresses_with_and_without_a_name() {
    let parsed = Address::parse(" \"Churn Saver\" <alerts@churnsaver.test> ");
    assert_eq!(
        (parsed.email, parsed.name),
        ("alerts@churnsaver.test", Some("Churn Saver"))
    );
    let parsed = Address::parse("alerts@churnsaver.test");
    assert_eq!(
        (parsed.email, parsed.name),
        ("alerts@churnsaver.test", None)
    );
}

/// Sends that succeed, are refused and are retried log fingerprints, never an address, a
/// subject or a body.
#[tokio::test]
async fn no_address_subject_or_body_in_any_log_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json_key("k_refused"))
        .respond_with(refused(400, "personalizations.0.to.0.email"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_json_key("k_retried"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("sg_5"))
        .mount(&server)
        .await;
    let (mailer, _) = sendgrid(&server.uri());
    let (results, lines) = captured(async {
        let mut results = Vec::new();
        for key in ["k_sent", "k_refused", "k_retried"] {
            results.push(mailer.send_email(&email(key)).await);
        }
        results
    })
    .await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(SendError::Refused { .. })));

    let message = email("k");
    let personal = [
        message.to[0].as_str(),
        "alerts@churnsaver.test",
        "support@churnsaver.test",
        message.subject.as_str(),
        "Secret body",
    ];
    assert!(lines.len() >= 6, "{lines:#?}");
    for line in &lines {
        for part in personal {
            assert!(!line.contains(part), "{part} in {line}");
        }
    }
    let recipient = fingerprint(message.to[0].as_bytes());
    assert!(
        lines.iter().any(|line| line.contains(&recipient)),
        "{lines:#?}"
    );
}

/// Matches a mail send whose idempotency argument is `key`.
fn body_json_key(key: &'static str) -> impl wiremock::Match {
    move |request: &wiremock::Request| {
        serde_json::from_slice::<Value>(&request.body)
            .is_ok_and(|body| body["personalizations"][0]["custom_args"][IDEMPOTENCY_ARG] == key)
    }
}
