//! The processor's handler time for one SQS batch of 10, excluding the network: the real decode,
//! observation, fold and signal diff over in-memory ports.
//!
//!     cargo bench -p shared --bench processor

#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure is a broken benchmark"
)]

use std::hint::black_box;

use aws_lambda_events::sqs::SqsMessage;
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use shared::domain::ports::Clock;
use shared::domain::state::memory::{MemoryProcessingLog, MemoryStateStore};
use shared::domain::state::process::Processor;
use shared::providers::Registry;

#[derive(Clone, Copy)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_430_000, 0).unwrap()
    }
}

/// A queued Whop v1 event as ingest enqueues it: the verified body embedded in `raw`, padded to
/// about 2 KiB like a real membership payload.
fn message(index: usize, membership: &str, kind: &str, data: &str) -> SqsMessage {
    let note = "x".repeat(1400);
    let body = format!(
        r#"{{"provider":"whop","event_id":"msg_{index:04}","kind":"{kind}","subject":{{"membership_id":"{membership}","user_id":"user_1","payment_id":"pay_{index}"}},"occurred_at":"2026-11-23T10:{:02}:00Z","received_at":"2026-11-23T11:00:00Z","raw":{{"id":"msg_{index:04}","api_version":"v1","type":"{kind}","timestamp":"2026-11-23T10:{:02}:00.000Z","data":{data},"metadata":{{"note":"{note}"}}}}}}"#,
        index % 60,
        index % 60
    );
    let mut record = SqsMessage::default();
    record.message_id = Some(format!("m{index}"));
    record.body = Some(body);
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), "1".into());
    record
}

fn batch(memberships: impl Fn(usize) -> String) -> Vec<SqsMessage> {
    (0..10)
        .map(|i| {
            let membership = memberships(i);
            match i % 4 {
                0 => message(i, &membership, "membership.activated", &format!(r#"{{"id":"{membership}","status":"active","cancel_at_period_end":false,"renewal_period_end":"2026-12-23T10:00:00Z"}}"#)),
                1 => message(i, &membership, "payment.failed", &format!(r#"{{"id":"pay_{i}","total":29.0,"currency":"usd","membership":{{"id":"{membership}","status":"past_due"}}}}"#)),
                2 => message(i, &membership, "payment.succeeded", &format!(r#"{{"id":"pay_{i}","total":29.0,"currency":"usd","membership":{{"id":"{membership}","status":"active"}}}}"#)),
                _ => message(i, &membership, "membership.cancel_at_period_end_changed", &format!(r#"{{"id":"{membership}","status":"active","cancel_at_period_end":true}}"#)),
            }
        })
        .collect()
}

fn processor() -> Processor<MemoryStateStore, MemoryProcessingLog, FixedClock, Registry> {
    Processor::new(
        MemoryStateStore::new(),
        MemoryProcessingLog::default(),
        FixedClock,
        Registry::default(),
    )
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("process_batch_of_10");
    for (name, messages) in [
        ("ten_memberships", batch(|i| format!("mem_{i}"))),
        ("one_membership", batch(|_| "mem_1".to_owned())),
    ] {
        let messages = shared::edge::runtime::inbound_batch(&messages);
        group.bench_function(name, |b| {
            b.iter_batched(
                processor,
                |processor| {
                    let report = runtime.block_on(processor.process_batch(black_box(&messages)));
                    assert!(report.unwrap().failed.is_empty());
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
