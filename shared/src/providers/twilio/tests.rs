use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::fingerprint;
use crate::providers::client::StaticKey;
use crate::providers::messaging::tests::{
    Guard, TestTime, answer_then, captured, dead_url, guarded_client,
};

const NUMBER: &str = "+14155550123";
const BODY: &str = "Secret text: your card failed";

fn credentials() -> TwilioCredentials {
    TwilioCredentials {
        account_sid: "AC123".into(),
        auth_token: SecretString::from("token"),
    }
}

fn twilio(base: &str) -> (Twilio<Guard, StaticKey<TwilioCredentials>>, TestTime) {
    let (client, time) = guarded_client(SERVICE);
    let base = Url::parse(base).unwrap();
    let sender = Twilio::new(client, base, StaticKey(credentials()), "+15005550006");
    (sender, time)
}

fn text(key: &str) -> TextMessage {
    TextMessage {
        idempotency_key: key.into(),
        to: NUMBER.into(),
        body: BODY.into(),
    }
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({"sid": sid, "status": "queued", "to": NUMBER, "body": BODY}))
}

fn refused(code: u32) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"code": code,
        "message": format!("The 'To' number {NUMBER} is not a valid phone number."),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": 400}))
}

#[tokio::test]
async fn the_form_goes_to_the_accounts_messages_with_basic_auth_and_201_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        // base64("AC123:token")
        .and(header("authorization", "Basic QUMxMjM6dG9rZW4="))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("To=%2B14155550123"))
        .and(body_string_contains("From=%2B15005550006"))
        .and(body_string_contains("Body=Secret+text%3A+your+card+failed"))
        .respond_with(created("SM1"))
        .expect(1)
        .mount(&server)
        .await;
    let (sender, _) = twilio(&server.uri());
    assert_eq!(
        sender.send_text(&text("k1")).await,
        Ok(Sent {
            provider: SERVICE,
            message_id: "SM1".into()
        })
    );
}

#[tokio::test]
async fn a_429_then_201_sends_once_after_the_advertised_wait() {
    let server = MockServer::start().await;
    answer_then(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
        1,
        created("SM2"),
    )
    .await;
    let (sender, time) = twilio(&server.uri());
    assert_eq!(
        sender.send_text(&text("k1")).await.unwrap().message_id,
        "SM2"
    );
    assert_eq!(time.waits(), [Duration::from_secs(3)]);
}

/// Twilio takes no idempotency key: after a 5xx the text may have gone out, so the send is not
/// repeated; the job fails and its claim decides on redelivery.
#[tokio::test]
async fn a_server_error_is_not_repeated_since_the_text_may_have_gone_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let (sender, time) = twilio(&server.uri());
    let result = sender.send_text(&text("k1")).await;
    assert!(
        matches!(result, Err(SendError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(time.waits().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_opted_out_or_invalid_number_is_refused_with_twilios_code_not_retried() {
    for code in [21610, 21211] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(refused(code))
            .expect(1)
            .mount(&server)
            .await;
        let (sender, time) = twilio(&server.uri());
        assert_eq!(
            sender.send_text(&text("k1")).await,
            Err(SendError::Refused {
                provider: SERVICE,
                code: code.to_string()
            })
        );
        assert!(time.waits().is_empty());
    }
}

#[tokio::test]
async fn a_dead_api_opens_the_breaker_and_is_unavailable() {
    let (sender, _) = twilio(dead_url().await.as_str());
    for _ in 0..2 {
        let error = sender.send_text(&text("k1")).await.unwrap_err();
        assert!(
            matches!(&error, SendError::Unavailable { reason, .. } if reason == "circuit_open"),
            "{error:?}"
        );
    }
}

#[test]
fn credentials_come_from_the_secret_and_errors_never_quote_it() {
    let parsed = parse_credentials(r#"{"account_sid":"AC9","auth_token":"tok_secret"}"#).unwrap();
    assert_eq!(parsed.account_sid, "AC9");
    assert_eq!(parsed.auth_token.expose_secret(), "tok_secret");
    assert!(!format!("{parsed:?}").contains("tok_secret"));
    for value in [
        r#"{"account_sid":"AC9","auth_token":""}"#,
        r#"{"account_sid":"XX9","auth_token":"tok_secret"}"#,
        "tok_secret",
    ] {
        let error = parse_credentials(value).unwrap_err();
        assert!(!error.contains("tok_secret"), "{error}");
    }
}

#[tokio::test]
async fn no_number_or_body_in_any_log_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("k_refused"))
        .respond_with(refused(21610))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(created("SM9"))
        .mount(&server)
        .await;
    let (sender, _) = twilio(&server.uri());
    let (results, lines) = captured(async {
        let first = sender.send_text(&text("k_sent")).await;
        // The body carries the key so the mock can tell the messages apart.
        let refused = TextMessage {
            body: format!("{BODY} k_refused"),
            ..text("k_refused")
        };
        (first, sender.send_text(&refused).await)
    })
    .await;
    assert!(results.0.is_ok(), "{results:?}");
    assert!(
        matches!(results.1, Err(SendError::Refused { .. })),
        "{results:?}"
    );
    assert!(lines.len() >= 4, "{lines:#?}");
    for line in &lines {
        for part in [NUMBER, "14155550123", BODY, "Secret text"] {
            assert!(!line.contains(part), "{part} in {line}");
        }
    }
    let recipient = fingerprint(NUMBER.as_bytes());
    assert!(
        lines.iter().any(|line| line.contains(&recipient)),
        "{lines:#?}"
    );
}
