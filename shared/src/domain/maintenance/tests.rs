use std::collections::BTreeSet;

use chrono::{TimeDelta, TimeZone, Utc};

use super::decide::{
    ClaimAction, MAX_REQUEUES, MAX_RESUMES, RunAction, STUCK_MARGIN_SECS, claim_action, run_action,
    secret_age,
};
use super::*;
use crate::domain::sync::{PageJob, Scope, SyncRun};
use crate::domain::webhooks::claims::{ClaimRecord, ClaimStatus};

const T0: i64 = 1_800_000_000;

fn received() -> ClaimRecord {
    let at = Utc.timestamp_opt(T0, 0).unwrap();
    ClaimRecord::new("whop", "evt_1", "membership.activated", "ab".into(), at)
        .with_message(r#"{"provider":"whop","event_id":"evt_1"}"#)
}

/// The first second at which `record` counts as stuck.
fn stuck_at(record: &ClaimRecord) -> i64 {
    record.lock_until + STUCK_MARGIN_SECS + 1
}

#[test]
fn a_received_claim_past_its_lock_and_the_margin_is_sent_again_as_ingest_sent_it() {
    let record = received();

    let action = claim_action(&record, stuck_at(&record));

    let ClaimAction::Requeue(message) = action else {
        panic!("expected a requeue, got {action:?}");
    };
    assert_eq!(message.body, r#"{"provider":"whop","event_id":"evt_1"}"#);
    assert_eq!(
        message.attributes,
        vec![
            ("provider", "whop".to_owned()),
            ("kind", "membership.activated".to_owned()),
            ("event_id", "evt_1".to_owned()),
        ]
    );
    assert_eq!(message.delay, None);
}

#[test]
fn a_claim_within_its_lock_or_the_margin_is_left_alone() {
    let record = received();

    assert_eq!(
        claim_action(&record, record.lock_until - 1),
        ClaimAction::Leave
    );
    assert_eq!(
        claim_action(&record, record.lock_until + STUCK_MARGIN_SECS),
        ClaimAction::Leave
    );
}

#[test]
fn processed_failed_stranded_and_expired_claims_are_left_alone() {
    let now = stuck_at(&received());
    let processed = ClaimRecord {
        status: ClaimStatus::Processed,
        ..received()
    };
    let failed = ClaimRecord {
        status: ClaimStatus::Failed,
        ..received()
    };
    let stranded = ClaimRecord {
        stranded_at: Some(now - 60),
        ..received()
    };
    let expired = ClaimRecord {
        expires_at: now - 1,
        ..received()
    };

    for record in [processed, failed, stranded, expired] {
        assert_eq!(claim_action(&record, now), ClaimAction::Leave, "{record:?}");
    }
}

#[test]
fn a_stuck_claim_without_its_message_is_stranded() {
    let record = ClaimRecord {
        message: None,
        ..received()
    };

    assert_eq!(
        claim_action(&record, stuck_at(&record)),
        ClaimAction::Strand("no_message")
    );
}

#[test]
fn a_claim_requeued_the_most_times_is_stranded_rather_than_sent_again() {
    let record = ClaimRecord {
        requeues: MAX_REQUEUES,
        ..received()
    };

    assert_eq!(
        claim_action(&record, stuck_at(&record)),
        ClaimAction::Strand("requeued_too_often")
    );
}

#[test]
fn a_message_larger_than_an_item_can_hold_is_not_kept_on_the_claim() {
    let large = "x".repeat(crate::domain::webhooks::claims::MAX_STORED_MESSAGE_BYTES + 1);
    let at = Utc.timestamp_opt(T0, 0).unwrap();

    let record = ClaimRecord::new("whop", "evt_1", "k", "ab".into(), at).with_message(&large);

    assert_eq!(record.message, None);
}

fn run() -> SyncRun {
    SyncRun::new(
        Scope::company("biz_1"),
        "schedule",
        Utc.timestamp_opt(T0, 0).unwrap(),
    )
}

fn job(run: &SyncRun, page: u64, cursor: Option<&str>) -> RunAction {
    RunAction::Resume(PageJob {
        run_id: run.run_id.clone(),
        page,
        cursor: cursor.map(str::to_owned),
        deferrals: 0,
    })
}

#[test]
fn a_run_that_counted_no_page_resumes_from_the_first() {
    let run = run();

    assert_eq!(run_action(&run), job(&run, 0, None));
}

#[test]
fn a_run_resumes_from_the_page_after_its_last_counted_one_with_that_pages_cursor() {
    let run = SyncRun {
        pages: 2,
        done_pages: BTreeSet::from([0, 1]),
        next_page: Some((2, "cur_2".into())),
        ..run()
    };

    assert_eq!(run_action(&run), job(&run, 2, Some("cur_2")));
}

#[test]
fn a_run_whose_every_page_was_counted_is_completed() {
    let run = SyncRun {
        pages: 2,
        done_pages: BTreeSet::from([0, 1]),
        last_page: Some(1),
        ..run()
    };

    assert_eq!(run_action(&run), RunAction::Complete);
}

#[test]
fn a_run_without_a_resume_point_is_failed() {
    // Pages counted out of order left a resume point that is already done.
    let run = SyncRun {
        pages: 2,
        done_pages: BTreeSet::from([0, 1]),
        next_page: Some((1, "cur_1".into())),
        ..run()
    };

    assert_eq!(run_action(&run), RunAction::Fail("stalled_no_resume_point"));
}

#[test]
fn a_run_resumed_the_most_times_is_failed() {
    let run = SyncRun {
        resumes: MAX_RESUMES,
        ..run()
    };

    assert_eq!(run_action(&run), RunAction::Fail("stalled"));
}

#[test]
fn a_secret_is_overdue_only_past_the_rotation_period() {
    let changed = Utc.timestamp_opt(T0, 0).unwrap();
    let week = TimeDelta::days(7);

    assert_eq!(
        secret_age(changed, changed + week, week),
        (week, false),
        "at the period exactly"
    );
    assert_eq!(
        secret_age(changed, changed + week + TimeDelta::seconds(1), week),
        (week + TimeDelta::seconds(1), true)
    );
    assert_eq!(
        secret_age(changed, changed - TimeDelta::hours(1), week),
        (TimeDelta::zero(), false),
        "a change date ahead of this clock is age 0"
    );
}

#[test]
fn the_summary_is_one_line_of_counts_per_task_naming_the_failed_ones() {
    let mut stuck = TaskReport::new(Task::StuckIngests);
    stuck.add(crate::domain::metrics::catalogue::CLAIMS_READ, 3);
    stuck.add(crate::domain::metrics::catalogue::CLAIMS_REQUEUED, 1);
    stuck.add(crate::domain::metrics::catalogue::CLAIMS_READ, 2);
    let mut watched = TaskReport::new(Task::QueuesAndSecrets);
    watched.add(crate::domain::metrics::catalogue::DLQ_MESSAGES, 0);
    watched.fail("events DLQ: not found");
    watched.bounded = true;
    let summary = Summary {
        reports: vec![stuck, watched],
    };

    assert_eq!(
        summary.line(),
        "stuck-ingests: claims_read=5 claims_requeued=1; queues-and-secrets: dlq_messages=0 \
         errors=1 (bounded) FAILED: events DLQ: not found"
    );
    assert_eq!(summary.failed(), vec![Task::QueuesAndSecrets]);
}

#[test]
fn every_task_parses_back_from_its_name() {
    for task in Task::ALL {
        assert_eq!(Task::parse(task.as_str()), Some(task));
    }
    assert_eq!(Task::parse("everything"), None);
}
