//! The pure decisions of the maintenance tasks: what to do with a stuck claim, a stalled run and
//! a secret's age, as functions of what was read and the time.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::ports::OutboundMessage;
use crate::domain::sync::{PageJob, SyncRun};
use crate::domain::webhooks::claims::{ClaimRecord, ClaimStatus};

/// How long after its lock ended a RECEIVED claim counts as stuck. The lock (5 minutes) already
/// covers a normal ingest-to-processed time; the 10 minutes more cover a processor that is slow
/// or backed up and the SQS redeliveries of a batch that failed before it could mark anything
/// (visibility timeout 3 minutes), so a re-enqueue mostly concerns a message that truly never
/// reached the queue. One that did is processed twice, which changes nothing (the processor is
/// idempotent), so the margin trades queue traffic against how soon a lost message is repaired.
pub const STUCK_MARGIN_SECS: i64 = 10 * 60;
/// Re-enqueues of one claim before maintenance gives up on it (each one reached the queue, yet
/// the claim stayed RECEIVED).
pub const MAX_REQUEUES: u32 = 3;
/// Resumes of one sync run before maintenance fails it.
pub const MAX_RESUMES: u32 = 3;

/// What to do with a claim the stuck-ingest scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAction {
    /// Send its message again.
    Requeue(OutboundMessage),
    /// It cannot be re-enqueued: mark it and count it (an alarm watches the count).
    Strand(&'static str),
    /// Not stuck (any more), or not ours to touch.
    Leave,
}

/// The decision for `record` at `now` (Unix seconds).
pub fn claim_action(record: &ClaimRecord, now: i64) -> ClaimAction {
    let stuck = record.status == ClaimStatus::Received
        && record.stranded_at.is_none()
        && record.expires_at > now
        && record.lock_until + STUCK_MARGIN_SECS < now;
    if !stuck {
        return ClaimAction::Leave;
    }
    if record.requeues >= MAX_REQUEUES {
        return ClaimAction::Strand("requeued_too_often");
    }
    match record.queued_message() {
        Some(message) => ClaimAction::Requeue(message),
        None => ClaimAction::Strand("no_message"),
    }
}

/// What to do with a run whose lease lapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAction {
    /// Every page was counted; only its end was lost.
    Complete,
    /// Send this page job again (the page after the last one counted).
    Resume(PageJob),
    /// End it as failed with this code, freeing its scope.
    Fail(&'static str),
}

/// The decision for a stalled `run`.
pub fn run_action(run: &SyncRun) -> RunAction {
    if run.all_pages_done() {
        return RunAction::Complete;
    }
    if run.resumes >= MAX_RESUMES {
        return RunAction::Fail("stalled");
    }
    let job = |page, cursor| {
        RunAction::Resume(PageJob {
            run_id: run.run_id.clone(),
            page,
            cursor,
            deferrals: 0,
        })
    };
    match &run.next_page {
        None if run.done_pages.is_empty() => job(0, None),
        Some((page, cursor)) if !run.done_pages.contains(page) && run.last_page.is_none() => {
            job(*page, Some(cursor.clone()))
        }
        _ => RunAction::Fail("stalled_no_resume_point"),
    }
}

/// A secret's age at `now`, and whether it is past `max_age`.
pub fn secret_age(
    changed: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: TimeDelta,
) -> (TimeDelta, bool) {
    let age = (now - changed).max(TimeDelta::zero());
    (age, age > max_age)
}
