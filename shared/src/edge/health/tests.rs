use url::Url;

use super::*;
use crate::domain::ports::{QueueDepth, TableStatus};

struct Tables3(&'static [(&'static str, Result<&'static str, DependencyError>)]);

impl TableProbe for Tables3 {
    async fn describe_table(&self, table: &str) -> Result<TableStatus, DependencyError> {
        let (_, result) = self.0.iter().find(|(name, _)| *name == table).unwrap();
        result.clone().map(|s| TableStatus {
            status: s.to_owned(),
        })
    }
}

fn tables() -> Tables {
    Tables {
        webhook_events: "we".into(),
        sessions: "se".into(),
        state: "st".into(),
    }
}

#[tokio::test]
async fn db_report_names_the_missing_table() {
    let probe = Tables3(&[
        ("we", Ok("ACTIVE")),
        ("se", Err(DependencyError::NotFound)),
        ("st", Ok("ACTIVE")),
    ]);

    let report = check_tables(&probe, &tables()).await;

    assert_eq!(report.http_status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(report.failed_checks(), ["table:sessions"]);
    assert_eq!(report.checks[1].error.as_deref(), Some("does not exist"));
}

#[tokio::test]
async fn db_report_fails_on_a_table_that_is_not_active() {
    let probe = Tables3(&[
        ("we", Ok("ACTIVE")),
        ("se", Ok("ACTIVE")),
        ("st", Ok("CREATING")),
    ]);
    let report = check_tables(&probe, &tables()).await;
    assert_eq!(report.failed_checks(), ["table:state"]);
}

struct Depths(QueueDepth, Result<QueueDepth, DependencyError>);

impl QueueProbe for Depths {
    async fn queue_depth(&self, url: &str) -> Result<QueueDepth, DependencyError> {
        if url == "dlq" {
            self.1.clone()
        } else {
            Ok(self.0)
        }
    }
}

fn queues() -> Queues {
    Queues {
        events: "events".into(),
        events_dlq: "dlq".into(),
        sync_jobs: "sync".into(),
        sync_jobs_dlq: "sync-dlq".into(),
    }
}

#[tokio::test]
async fn queue_report_fails_when_the_dlq_holds_messages() {
    let busy = QueueDepth {
        visible: 40,
        in_flight: 3,
        delayed: 0,
    };
    let dead = QueueDepth {
        visible: 2,
        ..QueueDepth::default()
    };

    let report = check_queues(&Depths(busy, Ok(dead)), &queues()).await;

    assert_eq!(report.failed_checks(), ["queue:events_dlq"]);
    assert_eq!(report.checks[0].details["depth"]["visible"], 40);
}

#[tokio::test]
async fn queue_report_is_ok_with_an_empty_dlq() {
    let report = check_queues(
        &Depths(QueueDepth::default(), Ok(QueueDepth::default())),
        &queues(),
    )
    .await;
    assert_eq!(report.http_status(), StatusCode::OK);
}

struct Answers(Result<u16, DependencyError>);

impl EndpointProbe for Answers {
    async fn probe(&self, _url: &Url, _timeout: Duration) -> Result<u16, DependencyError> {
        self.0.clone()
    }
}

fn whop_only() -> ProviderApis {
    let env = [
        ("STAGE", "dev"),
        ("WHOP_APP_ID", "app_x"),
        ("WEBHOOK_EVENTS_TABLE", "a"),
        ("SESSIONS_TABLE", "b"),
        ("STATE_TABLE", "c"),
        ("EVENTS_QUEUE_URL", "http://q/1"),
        ("EVENTS_DLQ_URL", "http://q/2"),
        ("SYNC_JOBS_QUEUE_URL", "http://q/3"),
        ("SYNC_JOBS_DLQ_URL", "http://q/4"),
        ("WHOP_API_BASE_URL", "https://api.whop.com/api/v1"),
    ];
    let config = Config::from_lookup(&|var| {
        env.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    config.provider_apis
}

#[tokio::test]
async fn providers_without_a_base_url_are_unconfigured_not_failed() {
    let report =
        check_providers(&Answers(Ok(401)), &whop_only(), PROVIDER_PROBE_TIMEOUT, &[]).await;

    assert_eq!(report.http_status(), StatusCode::OK);
    let statuses: Vec<_> = report
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("provider:whop", CheckStatus::Ok),
            ("provider:stripe", CheckStatus::Unconfigured),
            ("provider:gumroad", CheckStatus::Unconfigured),
            ("provider:paypal", CheckStatus::Unconfigured),
            ("provider:google", CheckStatus::Unconfigured),
            ("provider:resend", CheckStatus::Unconfigured),
            ("provider:sendgrid", CheckStatus::Unconfigured),
            ("provider:twilio", CheckStatus::Unconfigured),
            ("provider:ga4", CheckStatus::Unconfigured),
        ]
    );
}

#[tokio::test]
async fn a_provider_answering_5xx_or_not_at_all_fails() {
    for answer in [Ok(503), Err(DependencyError::Timeout)] {
        let report =
            check_providers(&Answers(answer), &whop_only(), PROVIDER_PROBE_TIMEOUT, &[]).await;
        assert_eq!(report.failed_checks(), ["provider:whop"]);
    }
}

use chrono::TimeZone;

use crate::domain::breaker::memory::MemoryBreakers;
use crate::domain::breaker::{BreakerRecord, BreakerState};
use crate::domain::ports::SystemClock;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_900_000_000 + secs, 0).unwrap()
}

async fn stored(breakers: &[(&str, BreakerState)]) -> SharedBreaker<MemoryBreakers, SystemClock> {
    let store = MemoryBreakers::default();
    for (name, state) in breakers {
        let record = BreakerRecord {
            state: *state,
            since: at(0),
        };
        assert!(store.save(name, &record, 0).await.unwrap());
    }
    SharedBreaker::new(store, SystemClock)
}

#[tokio::test]
async fn an_open_breaker_fails_naming_its_provider_and_the_others_are_ok() {
    let breakers = stored(&[
        (
            "gumroad",
            BreakerState::HalfOpen {
                probes_in_flight: 1,
                successes: 0,
            },
        ),
        (
            "stripe",
            BreakerState::Closed {
                consecutive_failures: 2,
            },
        ),
        ("whop", BreakerState::Open { until: at(30) }),
    ])
    .await;

    let report = check_external(
        &Answers(Ok(200)),
        &whop_only(),
        PROVIDER_PROBE_TIMEOUT,
        &breakers,
        &[],
        at(10),
    )
    .await;

    assert_eq!(report.http_status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(report.failed_checks(), ["breaker:whop"]);
    let whop = report
        .checks
        .iter()
        .find(|c| c.name == "breaker:whop")
        .unwrap();
    assert_eq!(
        whop.error.as_deref(),
        Some(
            "circuit open for whop until 2030-03-17T17:47:10Z: calls to whop are refused; close it early with `churnsaver breaker reset whop`"
        )
    );
    assert_eq!(whop.details["open_until"], json!(at(30)));
    let stripe = &report.checks[Provider::ALL.len() + 1];
    assert_eq!(
        (
            stripe.name.as_str(),
            &stripe.details["state"],
            &stripe.details["failures"]
        ),
        ("breaker:stripe", &json!("closed"), &json!(2))
    );
    assert_eq!(
        report.checks[Provider::ALL.len()].details["state"],
        "half_open"
    );
}

#[tokio::test]
async fn an_open_breaker_due_for_a_probe_is_ok_and_no_breakers_add_no_checks() {
    let breakers = stored(&[("whop", BreakerState::Open { until: at(30) })]).await;

    let due = check_breakers(&breakers, at(30)).await;
    let none = check_breakers(&stored(&[]).await, at(30)).await;

    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].status, &due[0].details["state"]),
        (CheckStatus::Ok, &json!("open"))
    );
    assert!(none.is_empty());
}

/// Fails the test if the provider is probed.
struct NeverProbed;

impl EndpointProbe for NeverProbed {
    async fn probe(&self, url: &Url, _timeout: Duration) -> Result<u16, DependencyError> {
        panic!("{url} was probed");
    }
}

#[tokio::test]
async fn a_provider_in_emergency_mode_is_degraded_not_probed_and_the_report_answers_200() {
    let on = Emergency {
        provider: "whop".into(),
        since: at(0),
        expires_at: at(3600),
        by: "ops".into(),
        reason: "whop is down".into(),
    };

    let report = check_providers(&NeverProbed, &whop_only(), PROVIDER_PROBE_TIMEOUT, &[on]).await;

    assert_eq!(report.status, OverallStatus::Degraded);
    assert_eq!(report.http_status(), StatusCode::OK);
    let whop = &report.checks[0];
    assert_eq!(
        (whop.name.as_str(), whop.status),
        ("provider:whop", CheckStatus::Degraded)
    );
    assert_eq!(whop.details["reason"], "emergency_mode");
    assert_eq!(whop.details["until"], "2030-03-17T18:46:40Z");
    let shown = serde_json::to_string(&report).unwrap();
    assert!(
        !shown.contains("ops") && !shown.contains("whop is down"),
        "{shown}"
    );
}

#[test]
fn a_failed_check_outweighs_a_degraded_one() {
    let report = HealthReport::from_checks(vec![
        CheckResult::new("provider:whop", CheckStatus::Degraded),
        CheckResult::failed("breaker:stripe", "open"),
    ]);

    assert_eq!(report.status, OverallStatus::Failed);
    assert_eq!(report.http_status(), StatusCode::SERVICE_UNAVAILABLE);
}
