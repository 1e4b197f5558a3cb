//! The resilience of a message call through the resilient client and its guard, shown with a
//! plain JSON mailer, and the helpers the SendGrid and Twilio tests share: a test clock that
//! moves when the client waits, a guarded client, a dead address and a log capture.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::breaker::BreakerSettings;
use crate::domain::breaker::memory::MemoryBreakers;
use crate::domain::ports::{Clock, Email, Mailer};
use crate::edge::config::{ProviderLimits, RateLimit};
use crate::providers::client::{
    Admission, ProviderGuard, ResilientClient, RetryPolicy, Sleeper, StaticKey,
};

/// Test time: `now` moves only when the client or the guard waits, and every wait is recorded.
#[derive(Clone)]
pub(crate) struct TestTime(Arc<Mutex<(DateTime<Utc>, Vec<Duration>)>>);

impl TestTime {
    pub(crate) fn new() -> Self {
        let start = Utc.timestamp_opt(1_900_000_000, 0).unwrap();
        Self(Arc::new(Mutex::new((start, Vec::new()))))
    }

    /// The waits asked for, in order.
    pub(crate) fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().1.clone()
    }
}

impl Clock for TestTime {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().unwrap().0
    }
}

impl Sleeper for TestTime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.0.lock().unwrap();
        state.0 += TimeDelta::from_std(duration).unwrap();
        state.1.push(duration);
        Box::pin(std::future::ready(()))
    }
}

pub(crate) type Guard = ProviderGuard<MemoryBreakers, TestTime>;

/// A client behind a guard whose breaker opens after 3 failures, with 4 attempts a call.
pub(crate) fn guarded_client(service: &str) -> (ResilientClient<Guard>, TestTime) {
    let time = TestTime::new();
    let limits = ProviderLimits {
        breaker: BreakerSettings {
            failure_threshold: 3,
            recovery_timeout: Duration::from_secs(30),
            half_open_probes: 1,
            success_threshold: 1,
        },
        rate_limit: RateLimit {
            requests: 1000.try_into().unwrap(),
            window: Duration::from_secs(1),
            burst: 1000.try_into().unwrap(),
        },
        ..ProviderLimits::default()
    };
    let guard = ProviderGuard::new(MemoryBreakers::default(), time.clone())
        .with_limits(service, limits)
        .with_breaker_cache_ttl(Duration::ZERO)
        .with_sleeper(Arc::new(time.clone()));
    let policy = RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::default()
    };
    let client = ResilientClient::new(reqwest::Client::new(), policy, guard)
        .with_sleeper(Arc::new(time.clone()))
        .with_clock(Arc::new(time.clone()));
    (client, time)
}

/// A loopback URL nothing listens on: connections are refused.
pub(crate) async fn dead_url() -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    url::Url::parse(&format!("http://{address}")).unwrap()
}

/// Every event and span field recorded while `future` runs, one line each.
pub(crate) async fn captured<F: Future>(future: F) -> (F::Output, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let output = future.with_subscriber(Capture(Arc::clone(&lines))).await;
    let lines = lines.lock().unwrap().clone();
    (output, lines)
}

struct Capture(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        write!(self.0, " {}={value:?}", field.name()).unwrap();
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        let mut line = format!("{} {}", meta.level(), meta.target());
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// An e-mail whose every personal part is recognisable in a log.
pub(crate) fn email(key: &str) -> Email {
    Email {
        idempotency_key: key.into(),
        from: "Churn Saver <alerts@churnsaver.test>".into(),
        to: vec!["ann.member@example.com".into()],
        reply_to: Some("support@churnsaver.test".into()),
        subject: "Your payment failed, Ann".into(),
        html: "<p>Secret body: update your card</p>".into(),
        text: "Secret body: update your card".into(),
        headers: vec![
            (
                "List-Unsubscribe".into(),
                "<https://churnsaver.test/u/tok>".into(),
            ),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}

/// `first` answers exactly the first `times` POSTs, `then` exactly one more.
pub(crate) async fn answer_then(
    server: &MockServer,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .respond_with(first)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .respond_with(then)
        .expect(1)
        .mount(server)
        .await;
}

/// A provider-agnostic mailer over the resilient client: `POST /emails` with the key as
/// `Idempotency-Key`, `{"id"}` back, the port's errors from [`send_error`].
struct JsonMailer<A> {
    client: ResilientClient<A>,
    url: String,
}

#[derive(serde::Deserialize)]
struct Id {
    id: String,
}

impl<A: Admission> Mailer for JsonMailer<A> {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        let keys = StaticKey(SecretString::from("key_1"));
        send("mail", &keys, &email.idempotency_key, &email.to[0], |key| {
            let build = move || {
                self.client
                    .http()
                    .post(&self.url)
                    .bearer_auth(key.expose_secret())
                    .header("Idempotency-Key", &email.idempotency_key)
                    .json(&serde_json::json!({"to": email.to, "subject": email.subject}))
            };
            async move {
                let (result, report) = self.client.send_json::<Id, _>("mail", build).await;
                (result.map(|id| id.id), report)
            }
        })
        .await
    }
}

async fn json_mailer(server: &MockServer) -> (JsonMailer<Guard>, TestTime) {
    let (client, time) = guarded_client("mail");
    let url = format!("{}/emails", server.uri());
    (JsonMailer { client, url }, time)
}

fn sent() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "msg_1"}))
}

#[tokio::test]
async fn a_429_then_a_success_sends_once_after_the_advertised_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "k1"))
        .respond_with(sent())
        .expect(1)
        .mount(&server)
        .await;
    let (mailer, time) = json_mailer(&server).await;
    let sent = mailer.send_email(&email("k1")).await.unwrap();
    assert_eq!(sent.message_id, "msg_1");
    assert_eq!(time.waits(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn server_errors_are_retried_within_the_budget() {
    let server = MockServer::start().await;
    answer_then(&server, ResponseTemplate::new(500), 2, sent()).await;
    let (mailer, time) = json_mailer(&server).await;
    assert_eq!(
        mailer.send_email(&email("k1")).await.unwrap().message_id,
        "msg_1"
    );
    assert_eq!(time.waits().len(), 2);
    assert!(time.waits().iter().sum::<Duration>() < RetryPolicy::default().budget);
}

#[tokio::test]
async fn a_422_is_refused_with_its_code_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(serde_json::json!({"code": "invalid_parameter", "message": "ann.member@example.com is bad"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (mailer, time) = json_mailer(&server).await;
    assert_eq!(
        mailer.send_email(&email("k1")).await,
        Err(SendError::Refused {
            provider: "mail",
            code: "invalid_parameter".into()
        })
    );
    assert!(time.waits().is_empty());
}

#[tokio::test]
async fn a_dead_api_opens_the_breaker_and_is_unavailable_so_the_job_is_retried() {
    let (client, _) = guarded_client("mail");
    let url = format!("{}emails", dead_url().await);
    let mailer = JsonMailer { client, url };
    let first = mailer.send_email(&email("k1")).await.unwrap_err();
    let second = mailer.send_email(&email("k1")).await.unwrap_err();
    for error in [&first, &second] {
        assert!(
            matches!(error, SendError::Unavailable { reason, .. } if reason == "circuit_open"),
            "{error:?}"
        );
    }
}

#[test]
fn only_4xx_other_than_401_408_409_429_are_refused() {
    let provider = |status, code: Option<&str>| {
        CallError::Call(ClientError::Provider {
            service: "mail",
            status,
            code: code.map(str::to_owned),
        })
    };
    for status in [400, 403, 404, 422] {
        assert!(matches!(
            send_error("mail", provider(status, None)),
            SendError::Refused { code, .. } if code == format!("http_{status}")
        ));
    }
    for status in [401, 408, 409, 500, 503] {
        assert!(matches!(
            send_error("mail", provider(status, Some("x"))),
            SendError::Unavailable { .. }
        ));
    }
    assert!(matches!(
        send_error("mail", CallError::Key(KeyUnavailable("no secret".into()))),
        SendError::Unavailable { reason, .. } if reason == "api_key_unavailable"
    ));
}

#[test]
fn stable_codes_keep_field_names_and_drop_anything_like_an_address() {
    assert_eq!(
        stable_code("personalizations.0.to.0.email").as_deref(),
        Some("personalizations.0.to.0.email")
    );
    assert_eq!(stable_code("ann@example.com"), None);
    assert_eq!(stable_code("has space"), None);
    assert_eq!(stable_code(&"a".repeat(101)), None);
}
