//! The ingest function's work on one uploaded object ([`Ingestor::run`]).

use chrono::{DateTime, Utc};

use super::{
    CLAIM_LEASE, Failure, IngestionEnd, IngestionJob, JobId, JobStatus, REJECTED_KEPT, SALES_CHUNK,
};
use crate::domain::notify::Job;
use crate::domain::ports::{
    Clock, DependencyError, IngestionStore, NotificationQueue, ReportObjects, ReportReader,
    SalesStore, StoredObject,
};

/// What a run did with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The key names no job (not an upload's key, or its job is gone): dropped.
    UnknownObject,
    /// Another run holds the job (its lease still runs): nothing done.
    Held,
    /// The job had ended already (a redelivered event): its message enqueued again, which the
    /// notifier's claim sends once.
    AlreadyEnded(JobStatus),
    /// This run ended the job.
    Ended(Box<IngestionJob>),
    /// A later run took the job over before this one wrote its outcome: nothing written.
    Superseded,
}

/// The ingest function's dependencies.
pub struct Ingestor<S, O, R, L, Q, C> {
    pub store: S,
    pub objects: O,
    pub reader: R,
    pub sales: L,
    pub notifications: Q,
    pub clock: C,
    /// The upload cap (`INGEST_MAX_UPLOAD_BYTES`).
    pub max_bytes: u64,
}

impl<S, O, R, L, Q, C> Ingestor<S, O, R, L, Q, C>
where
    S: IngestionStore,
    O: ReportObjects,
    R: ReportReader,
    L: SalesStore,
    Q: NotificationQueue,
    C: Clock,
{
    /// Runs the job of the uploaded object `key` (decoded). A dependency failure is an error:
    /// the event is retried, and the retry claims the job again once this run's lease is over.
    ///
    /// # Errors
    /// [`DependencyError`] of the table, the bucket, the sales store or the queue.
    pub async fn run(&self, key: &str) -> Result<RunOutcome, DependencyError> {
        let Some(id) = JobId::of_object_key(key) else {
            return Ok(RunOutcome::UnknownObject);
        };
        let now = self.clock.now();
        let Some(mut job) = self.store.claim(&id, now, CLAIM_LEASE).await? else {
            return match self.store.job(&id).await? {
                None => Ok(RunOutcome::UnknownObject),
                Some(job) if job.status.ended() => {
                    self.tell(&job).await?;
                    Ok(RunOutcome::AlreadyEnded(job.status))
                }
                Some(_) => Ok(RunOutcome::Held),
            };
        };
        match self.ingest(&mut job, key).await? {
            Ok(()) => job.status = JobStatus::Completed,
            Err(failure) => {
                job.status = JobStatus::Failed;
                job.failure = Some(failure);
            }
        }
        let ended = self.clock.now();
        job.updated_at = ended;
        job.ended_at = Some(ended);
        job.lease_until = None;
        if !self.store.finish(&job).await? {
            return Ok(RunOutcome::Superseded);
        }
        self.tell(&job).await?;
        Ok(RunOutcome::Ended(Box::new(job)))
    }

    /// Reads, parses and records: the job's counts set, or why it failed.
    async fn ingest(
        &self,
        job: &mut IngestionJob,
        key: &str,
    ) -> Result<Result<(), Failure>, DependencyError> {
        let bytes = match self.objects.read(key, self.max_bytes).await? {
            StoredObject::Bytes(bytes) => bytes,
            StoredObject::Missing => {
                return Ok(Err(failure(
                    "file_missing",
                    "the uploaded file is no longer stored".to_owned(),
                )));
            }
            StoredObject::TooLarge(size) => {
                return Ok(Err(failure(
                    "file_too_large",
                    format!(
                        "the file is {size} bytes, above the {} allowed",
                        self.max_bytes
                    ),
                )));
            }
        };
        if bytes.len() as u64 != job.size {
            return Ok(Err(failure(
                "size_mismatch",
                format!(
                    "the file is {} bytes, not the {} declared",
                    bytes.len(),
                    job.size
                ),
            )));
        }
        let report = match self.reader.read(&job.file_name, &bytes, &job.company_id) {
            Ok(report) => report,
            Err(reason) => return Ok(Err(failure("unreadable_report", reason))),
        };
        drop(bytes);
        let mut written = 0;
        for chunk in report.sales.chunks(SALES_CHUNK) {
            written += self.sales.record(chunk).await?;
        }
        job.rows_read = report.rows_read;
        job.sales_written = written;
        job.duplicates_skipped = (report.sales.len() as u64).saturating_sub(written);
        job.rows_rejected = report.rejected_count;
        job.rejected = report.rejected;
        job.rejected.truncate(REJECTED_KEPT);
        Ok(Ok(()))
    }

    /// Enqueues the creator's "ingestion completed" or "ingestion failed" message.
    async fn tell(&self, job: &IngestionJob) -> Result<(), DependencyError> {
        self.notifications
            .enqueue(&Job::IngestionEnded(IngestionEnd::of(job)))
            .await
    }
}

fn failure(code: &str, reason: String) -> Failure {
    Failure {
        code: code.to_owned(),
        reason,
    }
}

/// When a claim made at `now` lets go.
pub fn lease_end(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(CLAIM_LEASE).unwrap_or_default()
}
