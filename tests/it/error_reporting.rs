//! Error reporting (README "Error reporting"): an ERROR event logged under the reporter reaches the
//! stand-in Sentry and OTLP sinks scrubbed, with the function, stage and code; with neither sink
//! configured nothing is read from Secrets Manager and nothing is sent.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use churnsaver::fake_sinks::{FakeSinks, LOCAL_SENTRY_KEY};
use futures_util::FutureExt;
use lambda_runtime::tracing::subscriber::{self, prelude::*};
use shared::edge::telemetry::Reporter;

use crate::helpers::{RequestLog, start_stack, start_stack_with};

/// What an injected error carries that must not leave the process.
const PERSONAL: [&str; 4] = [
    "jane@example.com",
    "sk_live_0123456789abcdefghijkl",
    "Bearer",
    "{\"card\"",
];

/// The stack with both sinks configured, its reporting secrets stored, and a started reporter.
async fn reporting_stack(
    sinks: &FakeSinks,
) -> (churnsaver::local::LocalStack, Reporter, RequestLog) {
    let dsn_secret = format!("{}-sentry-dsn", crate::helpers::stack_name());
    let headers_secret = format!("{}-otlp-headers", crate::helpers::stack_name());
    let stack = start_stack_with(BTreeMap::from([
        ("SentryDsnSecretArn".to_owned(), dsn_secret.clone()),
        ("OtlpEndpoint".to_owned(), sinks.otlp_endpoint()),
        ("OtlpHeadersSecretArn".to_owned(), headers_secret.clone()),
    ]))
    .await;
    for (name, value) in [
        (dsn_secret, sinks.sentry_dsn()),
        (
            headers_secret,
            r#"{"api-key": "nr-license-123"}"#.to_owned(),
        ),
    ] {
        stack
            .app
            .secrets_manager
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let log = RequestLog::default();
    let reporter = Reporter::default();
    reporter.start_for(&log.app(&stack.app)).await;
    (stack, reporter, log)
}

/// Logs what a handler might: an error with a code, an id, personal and secret fields, and an
/// INFO line, under a subscriber with only `reporter`.
fn inject_error(reporter: &Reporter) {
    let subscriber = subscriber::registry().with(reporter.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("an info line is never reported");
        tracing::error!(
            code = "state_unavailable",
            run.id = "run_1",
            attempts = 3,
            user.email = "jane@example.com",
            authorization = "Bearer abc",
            body = "{\"card\": 1}",
            "the state table failed for jane@example.com: key sk_live_0123456789abcdefghijkl"
        );
    });
}

#[tokio::test]
async fn an_injected_error_reaches_sentry_and_otlp_scrubbed_with_function_stage_and_code() {
    let sinks = FakeSinks::start().await.unwrap();
    let (_stack, reporter, log) = reporting_stack(&sinks).await;
    assert_eq!(log.take(), ["GetSecretValue", "GetSecretValue"]);
    assert!(reporter.is_on());

    inject_error(&reporter);
    reporter.flush().await;

    let sentry = sinks.sentry_requests();
    assert_eq!(sentry.len(), 1);
    assert!(
        sentry[0].headers["x-sentry-auth"].contains(&format!("sentry_key={LOCAL_SENTRY_KEY}")),
        "{:?}",
        sentry[0].headers
    );
    let events = sinks.sentry_events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    // Sentry's protocol leaves out the default level, `error`.
    assert!(
        event.get("level").is_none_or(|level| level == "error"),
        "{event}"
    );
    assert_eq!(event["environment"], "local");
    assert_eq!(event["tags"]["function"], "local");
    assert_eq!(event["tags"]["stage"], "local");
    assert_eq!(event["tags"]["code"], "state_unavailable");
    assert_eq!(event["extra"]["run.id"], "run_1");
    assert_eq!(event["extra"]["attempts"], 3);
    assert_eq!(
        event["message"],
        "the state table failed for [email]: key [redacted]"
    );
    for field in ["user.email", "authorization", "body"] {
        assert!(event["extra"].get(field).is_none(), "{field} was sent");
    }

    let otlp = sinks.otlp_requests();
    assert_eq!(otlp.len(), 1);
    assert_eq!(otlp[0].headers["api-key"], "nr-license-123");
    assert_eq!(otlp[0].headers["content-type"], "application/json");
    let records = sinks.otlp_records();
    assert_eq!(records.len(), 1);
    let (resource, record) = &records[0];
    let attribute = |attributes: &serde_json::Value, key: &str| {
        attributes
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    assert_eq!(
        attribute(resource, "faas.name").unwrap()["stringValue"],
        "local"
    );
    assert_eq!(
        attribute(resource, "deployment.environment").unwrap()["stringValue"],
        "local"
    );
    assert_eq!(record["severityText"], "ERROR");
    assert_eq!(record["severityNumber"], 17);
    assert_eq!(
        record["body"]["stringValue"],
        "the state table failed for [email]: key [redacted]"
    );
    let attributes = &record["attributes"];
    assert_eq!(
        attribute(attributes, "code").unwrap()["stringValue"],
        "state_unavailable"
    );
    assert_eq!(
        attribute(attributes, "run.id").unwrap()["stringValue"],
        "run_1"
    );
    assert_eq!(attribute(attributes, "attempts").unwrap()["intValue"], "3");
    for field in ["user.email", "authorization", "body"] {
        assert!(attribute(attributes, field).is_none(), "{field} was sent");
    }

    for body in sentry.iter().chain(&otlp).map(|request| &request.body) {
        for personal in PERSONAL {
            assert!(!body.contains(personal), "{personal} was sent: {body}");
        }
    }
}

#[tokio::test]
async fn with_neither_sink_set_no_secret_is_read_and_nothing_is_sent() {
    let sinks = FakeSinks::start().await.unwrap();
    let stack = start_stack().await;
    assert!(!stack.app.config.reporting.is_on());
    let log = RequestLog::default();
    let reporter = Reporter::default();
    reporter.start_for(&log.app(&stack.app)).await;
    assert!(log.take().is_empty());
    assert!(!reporter.is_on());

    inject_error(&reporter);
    reporter.flush().await;

    assert!(sinks.sentry_requests().is_empty());
    assert!(sinks.otlp_requests().is_empty());
}

#[tokio::test]
async fn a_panicking_invocation_is_reported_before_the_panic_reaches_the_runtime() {
    let sinks = FakeSinks::start().await.unwrap();
    let (_stack, reporter, _log) = reporting_stack(&sinks).await;
    let _subscriber =
        tracing::subscriber::set_default(subscriber::registry().with(reporter.clone()));

    let outcome = AssertUnwindSafe(reporter.finish(async {
        panic!("the handler failed for jane@example.com");
    }))
    .catch_unwind()
    .await;

    assert!(outcome.is_err(), "the panic did not carry on");
    let events = sinks.sentry_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["tags"]["code"], "panic");
    assert_eq!(events[0]["message"], "the handler panicked");
    let records = sinks.otlp_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1["body"]["stringValue"], "the handler panicked");
}
