use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

/// Records each wait instead of sleeping, so tests run in no real time.
#[derive(Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

impl RecordingSleeper {
    fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Membership {
    id: String,
}

fn client(policy: RetryPolicy) -> (ResilientClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = ResilientClient::new(reqwest::Client::new(), policy, NoAdmission)
        .with_sleeper(Arc::clone(&sleeper) as Arc<dyn Sleeper>);
    (client, sleeper)
}

fn ok_body() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "mem_1", "extra": true}))
}

fn rate_limited() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .set_body_json(serde_json::json!({"message": "You are being rate limited"}))
}

async fn call(
    client: &ResilientClient,
    server: &MockServer,
) -> (Result<Membership, ClientError>, CallReport) {
    let url = format!("{}/memberships/mem_1", server.uri());
    client.send_json("whop", || client.http().get(&url)).await
}

#[tokio::test]
async fn retry_after_seconds_is_waited_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/memberships/mem_1"))
        .respond_with(rate_limited().insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(RetryPolicy::default());

    let (result, report) = call(&client, &server).await;

    assert_eq!(
        result.unwrap(),
        Membership {
            id: "mem_1".to_owned()
        }
    );
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1)]);
    assert_eq!(
        report,
        CallReport {
            attempts: 2,
            retries: 1,
            waited: Duration::from_secs(1),
            outcome: "ok"
        }
    );
}

#[tokio::test]
async fn rate_limit_without_retry_after_backs_off() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(rate_limited())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .mount(&server)
        .await;
    let policy = RetryPolicy::default();
    let (client, sleeper) = client(policy);

    let (result, report) = call(&client, &server).await;

    assert!(result.is_ok());
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 1);
    // Full jitter: anywhere in [0, base_delay].
    assert!(waits[0] <= policy.base_delay, "{waits:?}");
    assert_eq!(report.attempts, 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .expect(1)
        .mount(&server)
        .await;
    let policy = RetryPolicy::default();
    let (client, sleeper) = client(policy);

    let (result, report) = call(&client, &server).await;

    assert!(result.is_ok());
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    // Exponential steps: base, then 2 × base, each jittered down.
    assert!(
        waits[0] <= policy.base_delay && waits[1] <= policy.base_delay * 2,
        "{waits:?}"
    );
    assert_eq!((report.attempts, report.retries), (3, 2));
}

#[tokio::test]
async fn hanging_response_times_out_each_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_body().set_delay(Duration::from_secs(5)))
        .expect(3)
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        max_attempts: 3,
        attempt_timeout: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let (client, sleeper) = client(policy);

    let (result, report) = call(&client, &server).await;

    assert_eq!(
        result.unwrap_err(),
        ClientError::Timeout { service: "whop" }
    );
    assert_eq!(sleeper.waits().len(), 2);
    assert_eq!(report.outcome, "timeout");
    assert_eq!(report.attempts, 3);
}

#[tokio::test]
async fn connection_refused_is_unreachable_after_retries() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (client, sleeper) = client(RetryPolicy::default());
    let url = format!("http://127.0.0.1:{port}/memberships");

    let (result, report): (Result<Membership, _>, _) =
        client.send_json("whop", || client.http().get(&url)).await;

    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Unreachable {
                service: "whop",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(report.attempts, 4);
    assert_eq!(sleeper.waits().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_the_code() {
    let server = MockServer::start().await;
    Mock::given(path("/missing"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                serde_json::json!({"error": {"code": "not_found", "message": "no"}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/denied"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(serde_json::json!({"code": "unauthorized"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(RetryPolicy::default());

    let missing: Result<Membership, _> = client
        .get_json("whop", &format!("{}/missing", server.uri()))
        .await;
    let denied: Result<Membership, _> = client
        .get_json("whop", &format!("{}/denied", server.uri()))
        .await;

    assert_eq!(
        missing.unwrap_err(),
        ClientError::Provider {
            service: "whop",
            status: 404,
            code: Some("not_found".to_owned())
        }
    );
    let denied = denied.unwrap_err();
    assert_eq!(
        denied,
        ClientError::Provider {
            service: "whop",
            status: 401,
            code: Some("unauthorized".to_owned())
        }
    );
    assert!(!denied.is_retryable());
    assert_eq!(denied.code(), "provider_error");
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_without_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/memberships/mem_1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"id\": "))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/wrong-shape"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(RetryPolicy::default());

    let (truncated, report) = call(&client, &server).await;
    let wrong: Result<Membership, _> = client
        .get_json("whop", &format!("{}/wrong-shape", server.uri()))
        .await;

    assert!(
        matches!(
            truncated,
            Err(ClientError::Decode {
                service: "whop",
                ..
            })
        ),
        "{truncated:?}"
    );
    assert!(
        matches!(wrong, Err(ClientError::Decode { .. })),
        "{wrong:?}"
    );
    assert_eq!((report.attempts, report.outcome), (1, "decode_error"));
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn retry_after_beyond_cap_or_budget_returns_rate_limited_without_waiting() {
    let server = MockServer::start().await;
    Mock::given(path("/memberships/mem_1"))
        .respond_with(rate_limited().insert_header("Retry-After", "120"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/cooldown"))
        .respond_with(rate_limited().insert_header("Retry-After", "30"))
        .expect(1)
        .mount(&server)
        .await;
    // Cap 60 s, budget 20 s: 120 s is over the cap, 30 s under the cap but over the budget.
    let (client, sleeper) = client(RetryPolicy::default());

    let (over_cap, _) = call(&client, &server).await;
    let over_budget: Result<Membership, _> = client
        .get_json("whop", &format!("{}/cooldown", server.uri()))
        .await;

    assert_eq!(
        over_cap.unwrap_err(),
        ClientError::RateLimited {
            service: "whop",
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(
        over_budget.unwrap_err(),
        ClientError::RateLimited {
            service: "whop",
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn retry_after_http_date_is_parsed() {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let server = MockServer::start().await;
    let at = httpdate::fmt_http_date(std::time::SystemTime::from(
        now + chrono::Duration::seconds(3),
    ));
    Mock::given(method("GET"))
        .respond_with(rate_limited().insert_header("Retry-After", at.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .mount(&server)
        .await;
    let (client, sleeper) = client(RetryPolicy::default());
    let client = client.with_clock(Arc::new(FixedClock(now)));

    let (result, _) = call(&client, &server).await;

    assert!(result.is_ok());
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(3)]);
}

#[test]
fn retry_after_header_forms() {
    let clock = FixedClock(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let parse = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers, &clock)
    };
    assert_eq!(parse("7"), Some(Duration::from_secs(7)));
    assert_eq!(
        parse("Mon, 23 Nov 2026 12:01:00 GMT"),
        Some(Duration::from_secs(60))
    );
    assert_eq!(parse("Mon, 23 Nov 2026 11:00:00 GMT"), Some(Duration::ZERO));
    assert_eq!(parse("soon"), None);
    assert_eq!(parse("-1"), None);
    assert_eq!(retry_after(&HeaderMap::new(), &clock), None);
}

/// Refuses every attempt, as an open circuit would.
struct OpenCircuit(Mutex<Vec<CallOutcome>>);

impl Admission for OpenCircuit {
    async fn admit(&self, service: &'static str) -> Result<Permit, ClientError> {
        Err(ClientError::CircuitOpen { service })
    }

    async fn record(&self, _service: &'static str, outcome: CallOutcome) {
        self.0.lock().unwrap().push(outcome);
    }
}

#[tokio::test]
async fn refused_admission_is_not_retried_and_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .expect(0)
        .mount(&server)
        .await;
    let client = ResilientClient::new(
        reqwest::Client::new(),
        RetryPolicy::default(),
        OpenCircuit(Mutex::default()),
    );

    let result: Result<Membership, _> = client.get_json("whop", &server.uri()).await;

    assert_eq!(
        result.unwrap_err(),
        ClientError::CircuitOpen { service: "whop" }
    );
}

#[tokio::test]
async fn budget_bounds_the_whole_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_body().set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    // The second attempt gets only what the first left of the budget, then nothing is left to wait.
    let policy = RetryPolicy {
        budget: Duration::from_millis(150),
        attempt_timeout: Duration::from_millis(100),
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let (client, _) = client(policy);

    let (result, report) = call(&client, &server).await;

    // Usually 2 attempts; 1 if a loaded machine let the first eat the whole budget.
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::BudgetExhausted {
                service: "whop",
                attempts: 1..=2
            }
        ),
        "{error:?}"
    );
    assert_eq!(report.outcome, "budget_exhausted");
}

#[test]
fn calls_are_send() {
    // Axum handlers and spawned tasks need Send futures.
    fn assert_send<F: Send>(_: &F) {}
    let client = ResilientClient::new(reqwest::Client::new(), RetryPolicy::default(), NoAdmission);
    let future = client.get_json::<Membership>("whop", "http://127.0.0.1:9/");
    assert_send(&future);
}

/// A server on loopback that answers one request with `total` bytes of body, written 64 KiB at
/// a time (chunked, or with a `Content-Length`), and returns how many body bytes it managed to
/// write before the client hung up.
async fn huge_body_server(total: usize, chunked: bool) -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small send buffer, so what the server wrote is close to what the client took.
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let url = format!("http://{}/big", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
        }
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {total}")
        };
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n");
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut written = 0;
        while written < total {
            let result = if chunked {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed).await
            } else {
                stream.write_all(&chunk).await
            };
            if result.is_err() {
                return written;
            }
            written += chunk.len();
        }
        if chunked {
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
        written
    });
    (url, server)
}

#[tokio::test]
async fn a_50_mib_body_fails_as_response_too_large_and_the_server_is_cut_off_long_before_its_end() {
    const BODY: usize = 50 * 1024 * 1024;
    for chunked in [true, false] {
        let (url, server) = huge_body_server(BODY, chunked).await;
        let (client, _) = client(RetryPolicy {
            max_attempts: 1,
            attempt_timeout: Duration::from_secs(60),
            budget: Duration::from_secs(60),
            ..RetryPolicy::default()
        });
        let result: Result<serde_json::Value, ClientError> = client.get_json("whop", &url).await;
        drop(client);
        let error = result.unwrap_err();
        assert_eq!(
            error,
            ClientError::ResponseTooLarge {
                service: "whop",
                limit: DEFAULT_MAX_RESPONSE_BYTES
            }
        );
        assert_eq!(error.code(), "response_too_large");
        assert!(!error.is_retryable());
        let written = server.await.unwrap();
        eprintln!("chunked {chunked}: the server wrote {written} of {BODY} body bytes");
        // The client stops at its limit (8 MiB by default), or before reading any of the body
        // when the length is announced; what the server wrote past that sat in the sockets'
        // buffers (about 0.25 MiB on loopback; the bound leaves room for a busy machine).
        let bound = if chunked {
            2 * DEFAULT_MAX_RESPONSE_BYTES
        } else {
            DEFAULT_MAX_RESPONSE_BYTES
        };
        assert!(
            written < bound,
            "chunked {chunked}: {written} bytes written"
        );
    }
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
    let server = MockServer::start().await;
    let body = br#"{"id":"mem_1"}"#;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_vec(), "application/json"))
        .mount(&server)
        .await;
    let url = format!("{}/memberships/mem_1", server.uri());
    let (client, _) = client(RetryPolicy::default());
    let exact = client.with_max_response_bytes(body.len());
    let read: Membership = exact.get_json("whop", &url).await.unwrap();
    assert_eq!(read.id, "mem_1");
    let smaller = exact.with_max_response_bytes(body.len() - 1);
    assert_eq!(
        smaller.get_json::<Membership>("whop", &url).await,
        Err(ClientError::ResponseTooLarge {
            service: "whop",
            limit: body.len() - 1
        })
    );
}

/// A write the provider does not deduplicate ([`Reply::repeatable`] false): its id, or nothing.
struct OnceOnly;

impl Reply for OnceOnly {
    type Output = ();

    fn success(&self, _: StatusCode, _: &HeaderMap, _: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn repeatable(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_write_without_idempotency_is_not_repeated_after_a_5xx_or_a_timeout_but_is_after_a_429() {
    for (first, error) in [
        (
            ResponseTemplate::new(502),
            ClientError::Provider {
                service: "texts",
                status: 502,
                code: None,
            },
        ),
        (
            ok_body().set_delay(Duration::from_secs(5)),
            ClientError::Timeout { service: "texts" },
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(first)
            .expect(1)
            .mount(&server)
            .await;
        let (client, sleeper) = client(RetryPolicy {
            attempt_timeout: Duration::from_millis(200),
            ..RetryPolicy::default()
        });
        let url = format!("{}/messages", server.uri());

        let (result, report) = client
            .send_with("texts", || client.http().post(&url), &OnceOnly)
            .await;

        assert_eq!(result.unwrap_err(), error);
        assert_eq!(report.attempts, 1);
        assert!(sleeper.waits().is_empty());
    }

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(rate_limited().insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok_body())
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(RetryPolicy::default());
    let url = format!("{}/messages", server.uri());
    let (result, report) = client
        .send_with("texts", || client.http().post(&url), &OnceOnly)
        .await;
    assert!(result.is_ok());
    assert_eq!(report.attempts, 2);
}

#[tokio::test]
async fn a_write_without_idempotency_is_repeated_after_a_refused_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (client, _) = client(RetryPolicy::default());
    let url = format!("http://127.0.0.1:{port}/messages");

    let (result, report) = client
        .send_with("texts", || client.http().post(&url), &OnceOnly)
        .await;

    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Unreachable {
                connected: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.may_have_reached());
    assert_eq!(report.attempts, 4);
}

/// The one metrics document `client`'s call wrote to `sink`, checked against the catalogue.
fn the_call_document(sink: &crate::domain::metrics::Captured) -> serde_json::Value {
    let documents = sink.documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    let document = documents[0].clone();
    let problems = crate::domain::metrics::catalogue::undeclared(&document);
    assert!(problems.is_empty(), "{problems:?}");
    document
}

/// The metric names of each directive of `document`, with its dimension names.
fn directives(document: &serde_json::Value) -> Vec<(Vec<String>, Vec<String>)> {
    document["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|directive| {
            let strings = |value: &serde_json::Value| -> Vec<String> {
                value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            };
            let metrics = directive["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap().to_owned())
                .collect();
            (strings(&directive["Dimensions"][0]), metrics)
        })
        .collect()
}

#[tokio::test]
async fn a_call_writes_one_catalogued_document_with_its_attempts_5xx_429_wait_and_remaining() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(rate_limited().insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body().insert_header("x-ratelimit-remaining", "17"))
        .mount(&server)
        .await;
    let sink = Arc::new(crate::domain::metrics::Captured::default());
    let (client, _) = client(RetryPolicy::default());
    let client = client.with_metric_sink(Arc::clone(&sink) as Arc<dyn MetricSink>);

    let (result, _) = call(&client, &server).await;

    assert_eq!(result.unwrap().id, "mem_1");
    let document = the_call_document(&sink);
    assert_eq!(document["function"], "provider_client");
    assert_eq!(document["provider"], "whop");
    assert_eq!(document["endpoint"], "GET /memberships/{id}");
    assert_eq!(document["status_class"], "2xx");
    assert_eq!(document["outcome"], "ok");
    assert_eq!(document["provider_requests"], 1.0);
    assert_eq!(document["provider_attempts"], 3.0);
    assert_eq!(document["provider_retries"], 2.0);
    assert_eq!(
        document["provider_responses_5xx"],
        serde_json::json!([1.0, 0.0, 0.0])
    );
    assert_eq!(
        document["provider_responses_429"],
        serde_json::json!([0.0, 1.0, 0.0])
    );
    assert_eq!(document["provider_rate_limit_wait"], 2000.0);
    assert_eq!(document["provider_ratelimit_remaining"], 17.0);
    assert_eq!(
        document["provider_latency"].as_array().map(Vec::len),
        Some(3)
    );
    let by_provider = ["function", "provider"].map(str::to_owned).to_vec();
    let (_, all) = &directives(&document)[0];
    assert_eq!(directives(&document)[0].0, by_provider);
    for name in [
        "provider_requests",
        "provider_attempts",
        "provider_retries",
        "provider_responses_5xx",
        "provider_responses_429",
        "provider_rate_limit_wait",
        "provider_latency",
        "provider_ratelimit_remaining",
    ] {
        assert!(all.iter().any(|n| n == name), "{name} in {all:?}");
    }
    assert_eq!(
        directives(&document)[1..],
        [
            (
                ["function", "provider", "endpoint", "status_class"]
                    .map(str::to_owned)
                    .to_vec(),
                vec!["provider_requests".to_owned()]
            ),
            (
                ["function", "provider", "outcome"]
                    .map(str::to_owned)
                    .to_vec(),
                vec!["provider_requests".to_owned()]
            ),
        ]
    );
}

#[tokio::test]
async fn a_call_refused_before_sending_is_counted_as_refused_with_its_error_code() {
    let server = MockServer::start().await;
    let sink = Arc::new(crate::domain::metrics::Captured::default());
    let client = ResilientClient::new(
        reqwest::Client::new(),
        RetryPolicy::default(),
        OpenCircuit(Mutex::default()),
    )
    .with_metric_sink(Arc::clone(&sink) as Arc<dyn MetricSink>);

    let url = format!("{}/v2/sales/AbC123==", server.uri());
    let (result, _) = client
        .send_json::<Membership, _>("gumroad", || client.http().get(&url))
        .await;

    assert!(result.is_err());
    let document = the_call_document(&sink);
    assert_eq!(document["provider"], "gumroad");
    assert_eq!(document["endpoint"], "GET /v2/sales/{id}");
    assert_eq!(document["status_class"], "refused");
    assert_eq!(document["outcome"], "circuit_open");
    assert_eq!(document["provider_requests"], 1.0);
    assert_eq!(document.get("provider_latency"), None);
}
