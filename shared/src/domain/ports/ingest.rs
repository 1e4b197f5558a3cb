//! The ports of [`crate::domain::ingest`]: where jobs are kept, where report files are uploaded
//! and read, and what reads a report.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::ingest::{IngestionJob, JobId, Report};

/// Ingestion jobs (`aws::ingest`): one item per job in the company's partition.
pub trait IngestionStore: Send + Sync {
    /// Stores a new `pending` job, to expire at `expires_at` unless a run claims it.
    fn create(
        &self,
        job: &IngestionJob,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// The job, if it exists.
    fn job(
        &self,
        id: &JobId,
    ) -> impl Future<Output = Result<Option<IngestionJob>, DependencyError>> + Send;

    /// A company's jobs, newest first, created before the job `before` (a job id's time-ordered
    /// part), at most `limit`.
    fn jobs(
        &self,
        company_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<IngestionJob>, DependencyError>> + Send;

    /// Moves the job to `parsing` for a run, when it is `pending` or a run's lease on it ended
    /// before `now`: the job as claimed, or `None` when it is not claimable (absent, ended, or
    /// another run's lease still holds).
    fn claim(
        &self,
        id: &JobId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<IngestionJob>, DependencyError>> + Send;

    /// Writes the run's outcome, only while the run's claim (its `attempts`) still holds:
    /// `false` when a later run took the job over.
    fn finish(
        &self,
        job: &IngestionJob,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
}

/// A presigned upload: the request the uploader must make, as given.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadUrl {
    pub method: String,
    pub url: String,
    /// Headers the upload must carry exactly (they are signed).
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for UploadUrl {
    // The URL is a bearer credential for its object until it expires.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadUrl")
            .field("method", &self.method)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What reading an uploaded object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredObject {
    /// No such object (expired, or never uploaded).
    Missing,
    /// Larger than the cap it was read with: its size, unread.
    TooLarge(u64),
    Bytes(Vec<u8>),
}

/// Where report files are uploaded (`aws::ingest`, an S3 bucket).
pub trait ReportObjects: Send + Sync {
    /// A presigned PUT of exactly `size` bytes to `key`, valid for `expires_in`.
    fn upload_url(
        &self,
        key: &str,
        size: u64,
        expires_in: Duration,
    ) -> impl Future<Output = Result<UploadUrl, DependencyError>> + Send;

    /// The object at `key`, read only when it holds at most `max_bytes`.
    fn read(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<StoredObject, DependencyError>> + Send;
}

/// Reads a report file into sales (the KDP reader, `providers::kdp`).
pub trait ReportReader: Send + Sync {
    /// The report, or why the file as a whole cannot be read (in words fit for the creator).
    fn read(&self, file_name: &str, bytes: &[u8], company_id: &str) -> Result<Report, String>;
}
