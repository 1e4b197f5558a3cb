//! Tests of the processor as its root composes it: in-memory stores, every provider's reading.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use crate::domain::ports::{Clock, DependencyError, InboundMessage, ProcessingLog, StateStore};
use crate::domain::state::memory::{MemoryProcessingLog, MemoryStateStore};
use crate::domain::state::model::SignalKind;
use crate::domain::state::model::{Observation, PaymentStatus};
use crate::domain::state::observe::Observed;
use crate::domain::state::process::*;
use crate::domain::state::store::Recorded;
use crate::domain::state::store::{Page, StoredMembership, Upkeep};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::claims::ProcessingMark;
use crate::domain::webhooks::event::QueuedEvent;
use crate::providers::{Registry, observe};

#[derive(Debug, Clone, Copy)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_366_460, 0).unwrap()
    }
}

/// A store that fails every write while `down` is set.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStateStore,
    down: AtomicBool,
}

impl StateStore for FlakyStore {
    async fn record(
        &self,
        membership_id: &str,
        provider: Source,
        observation: &Observation,
    ) -> Result<Recorded, DependencyError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(DependencyError::Timeout);
        }
        self.inner
            .record(membership_id, provider, observation)
            .await
    }
    async fn upkeep(&self, id: &str, upkeep: &Upkeep) -> Result<bool, DependencyError> {
        self.inner.upkeep(id, upkeep).await
    }
    async fn membership(&self, id: &str) -> Result<Option<StoredMembership>, DependencyError> {
        self.inner.membership(id).await
    }
    async fn memberships(&self, ids: &[String]) -> Result<Vec<StoredMembership>, DependencyError> {
        self.inner.memberships(ids).await
    }
    async fn memberships_of_user(
        &self,
        user: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        self.inner.memberships_of_user(user, limit, after).await
    }
}

fn message(event_id: &str, kind: &str, subject: &str, data: &str, at: &str) -> String {
    format!(
        r#"{{"provider":"whop","event_id":"{event_id}","kind":"{kind}","subject":{subject},"occurred_at":"{at}","received_at":"2026-03-01T12:00:00Z","raw":{{"type":"{kind}","data":{data}}}}}"#
    )
}

/// Whop's `membership.activated` of `mem_1`, as event `event_id`.
fn activated(event_id: &str) -> String {
    message(
        event_id,
        "membership.activated",
        MEMBERSHIP,
        "{}",
        "2026-03-01T11:00:00Z",
    )
}

const MEMBERSHIP: &str = r#"{"membership_id":"mem_1","user_id":"user_1"}"#;
const PAYMENT: &str = r#"{"membership_id":"mem_1","user_id":"user_1","payment_id":"pay_1"}"#;

fn record(id: &str, body: String) -> InboundMessage {
    InboundMessage {
        message_id: Some(id.to_owned()),
        body: Some(body),
        receive_count: 2,
    }
}

fn processor(pks: &[&str]) -> Processor<FlakyStore, MemoryProcessingLog, FixedClock, Registry> {
    Processor::new(
        FlakyStore::default(),
        MemoryProcessingLog::with_records(pks.iter().copied()),
        FixedClock,
        Registry::default(),
    )
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let processor = processor(&["whop#e1", "whop#e2"]);
    let batch = [
        record(
            "m1",
            message(
                "e1",
                "membership.activated",
                MEMBERSHIP,
                r#"{"status":"active"}"#,
                "2026-03-01T11:00:00Z",
            ),
        ),
        record("m2", "{not json".to_owned()),
        record(
            "m3",
            message(
                "e2",
                "payment.failed",
                PAYMENT,
                r#"{"total":29.0}"#,
                "2026-03-01T11:30:00Z",
            ),
        ),
    ];
    let report = processor.process_batch(&batch).await.unwrap();
    assert_eq!(report.failed, vec!["m2"]);
    assert_eq!(report.counts.applied, 2);
    assert_eq!(report.counts.failed_permanent, 1);
    assert_eq!(report.counts.opened, [1, 0, 0, 0], "at_risk opened once");

    let state = processor
        .state
        .inner
        .membership("mem_1")
        .await
        .unwrap()
        .unwrap()
        .state();
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.open_signals(), vec![SignalKind::AtRisk]);
    assert_eq!(
        state.last_payment.map(|p| p.status),
        Some(PaymentStatus::Failed)
    );
    assert!(matches!(
        processor.log.mark_of("whop#e1"),
        Some(ProcessingMark::Processed {
            attempt: 2,
            latency_ms: 60_000,
            ..
        })
    ));
}

#[tokio::test]
async fn duplicates_and_ignored_events_are_counted_and_marked() {
    let processor = processor(&["whop#e1", "whop#e9"]);
    let activated = activated("e1");
    let report = processor
        .process_batch(&[
            record("m1", activated.clone()),
            record("m2", activated),
            record(
                "m3",
                message("e9", "entry.created", "{}", "{}", "2026-03-01T11:00:00Z"),
            ),
        ])
        .await
        .unwrap();
    assert!(report.failed.is_empty());
    assert_eq!(
        (
            report.counts.applied,
            report.counts.duplicate,
            report.counts.ignored
        ),
        (1, 1, 1)
    );
    assert!(matches!(
        processor.log.mark_of("whop#e9"),
        Some(ProcessingMark::Processed { .. })
    ));
}

#[tokio::test]
async fn a_state_outage_fails_the_message_retryably_and_a_retry_applies_it_once() {
    let processor = processor(&["whop#e1"]);
    let body = message(
        "e1",
        "membership.deactivated",
        MEMBERSHIP,
        "{}",
        "2026-03-01T11:00:00Z",
    );
    processor.state.down.store(true, Ordering::Relaxed);
    let report = processor
        .process_batch(&[record("m1", body.clone())])
        .await
        .unwrap();
    assert_eq!(report.failed, vec!["m1"]);
    assert_eq!(report.counts.failed_retryable, 1);
    assert!(matches!(
        processor.log.mark_of("whop#e1"),
        Some(ProcessingMark::Failed { ref error, .. }) if error == "state_unavailable"
    ));

    processor.state.down.store(false, Ordering::Relaxed);
    for _ in 0..2 {
        let report = processor
            .process_batch(&[record("m1", body.clone())])
            .await
            .unwrap();
        assert!(report.failed.is_empty());
    }
    let state = processor
        .state
        .inner
        .membership("mem_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.observations.len(), 1);
    assert_eq!(state.state().open_signals(), vec![SignalKind::Churned]);
    assert!(matches!(
        processor.log.mark_of("whop#e1"),
        Some(ProcessingMark::Processed { .. })
    ));
}

#[tokio::test]
async fn a_failed_mark_never_overwrites_processed() {
    let log = MemoryProcessingLog::with_records(["whop#e1"]);
    let at = FixedClock.now();
    let processed = ProcessingMark::Processed {
        at,
        latency_ms: 1,
        attempt: 1,
    };
    assert!(log.mark("whop#e1", &processed).await.unwrap());
    let failed = ProcessingMark::Failed {
        at,
        attempt: 2,
        error: "x".into(),
    };
    assert!(!log.mark("whop#e1", &failed).await.unwrap());
    assert!(!log.mark("whop#missing", &processed).await.unwrap());
    assert_eq!(log.mark_of("whop#e1"), Some(processed));
}

#[tokio::test]
async fn a_record_without_message_id_fails_the_whole_batch() {
    let processor = processor(&[]);
    let mut anonymous = record("x", "{}".into());
    anonymous.message_id = None;
    assert_eq!(
        processor.process_batch(&[anonymous]).await,
        Err(MissingMessageId)
    );
}

#[tokio::test]
async fn many_events_of_one_membership_compact_without_changing_state() {
    let forward = processor(&[]);
    let mut bodies = Vec::new();
    for day in 0..40 {
        let kind = if day % 3 == 0 {
            "payment.failed"
        } else {
            "payment.succeeded"
        };
        let at = (DateTime::from_timestamp(1_767_225_600 + day * 86_400, 0).unwrap()).to_rfc3339();
        bodies.push(message(&format!("e{day:02}"), kind, PAYMENT, "{}", &at));
    }
    for (index, body) in bodies.iter().enumerate() {
        forward
            .process_batch(&[record(&format!("m{index}"), body.clone())])
            .await
            .unwrap();
    }
    let stored = forward
        .state
        .inner
        .membership("mem_1")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.base.is_some(), "compacted");
    // Days 11–39 are within 28 days of the newest and stay exact; days 0–10 are in the base.
    assert_eq!(stored.observations.len(), 29);

    // The same events folded in memory, without any compaction.
    let observations: Vec<Observation> = bodies
        .iter()
        .map(|body| {
            let event: QueuedEvent = serde_json::from_str(body).unwrap();
            match observe(&event).unwrap() {
                Observed::Membership { observation, .. } => *observation,
                Observed::Ignored(reason) => panic!("{reason}"),
            }
        })
        .collect();
    let reference = crate::domain::state::model::MembershipState::empty("mem_1", Source::Whop)
        .fold(&observations);
    assert_eq!(stored.state(), reference);
}

#[tokio::test]
async fn a_batch_reports_each_kind_with_its_failures_and_latencies_as_catalogued_metrics() {
    let processor = processor(&["whop#e1", "whop#e2", "whop#e3"]);
    let report = processor
        .process_batch(&[
            record("m1", activated("e1")),
            record("m2", "{not json".to_owned()),
            record("m3", activated("e2")),
            record(
                "m4",
                message("e3", "made.up", "{}", "{}", "2026-03-01T11:00:00Z"),
            ),
        ])
        .await
        .unwrap();

    let kinds: Vec<(&str, u64, u64, Vec<i64>)> = report
        .kinds
        .iter()
        .map(|k| (k.kind, k.processed, k.failed, k.latencies_ms.clone()))
        .collect();
    // received 12:00:00, processed at the clock's 12:01:00.
    assert_eq!(
        kinds,
        [
            ("membership.activated", 2, 0, vec![60_000, 60_000]),
            ("undecodable", 1, 1, vec![]),
            ("other", 1, 0, vec![60_000]),
        ]
    );
    let documents: Vec<serde_json::Value> = report
        .kind_metrics("processor")
        .iter()
        .chain([&report.metrics("processor")])
        .map(|m| m.to_emf(0))
        .collect();
    for document in &documents {
        let problems = crate::domain::metrics::catalogue::undeclared(document);
        assert!(problems.is_empty(), "{problems:?} in {document}");
    }
    assert_eq!(documents[0]["kind"], "membership.activated");
    assert_eq!(
        documents[0]["event_processing_latency"],
        serde_json::json!([60_000.0, 60_000.0])
    );
    assert_eq!(documents[1]["events_failed"], 1.0);
}
