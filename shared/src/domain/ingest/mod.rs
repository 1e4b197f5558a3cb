//! KDP report uploads and their ingestion jobs (`docs/architecture.md`, "KDP uploads").
//!
//! A creator asks for an upload ([`request_upload`]): a `pending` job and a presigned PUT of
//! exactly the declared size to `ingestions/<company>/<job>/<file name>`. The bucket's
//! object-created event runs the job ([`Ingestor::run`]): claimed `pending → parsing` (a
//! redelivered event finds it claimed or ended and does nothing), the object read (size-checked),
//! the report read ([`ReportReader`](crate::domain::ports::ReportReader)), its sales recorded in chunks, the outcome written
//! (`completed` with its counts, or `failed` with the reason) and the creator's message enqueued.

pub mod notify;
pub mod run;
pub mod views;

#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::companies::CompanyError;
use crate::domain::ports::DependencyError;
use crate::domain::sales::SaleEvent;

pub use run::{Ingestor, RunOutcome};
pub use views::{JobPage, list_jobs, request_upload, show_job};

/// The platform of KDP jobs.
pub const PLATFORM_KDP: &str = "kdp";
/// The upload cap unless configured (`INGEST_MAX_UPLOAD_BYTES`): 50 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;
/// How long a presigned upload URL is valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a `pending` job waits for its upload before its item expires (TTL).
pub const PENDING_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// A run's hold on a `parsing` job: longer than the ingest function's timeout (120 s), shorter
/// than the queue's visibility timeout (720 s), so the redelivery of a crashed run's event finds
/// the lease over and runs the job again.
pub const CLAIM_LEASE: Duration = Duration::from_secs(300);
/// Sales written per `SalesStore::record` call.
pub const SALES_CHUNK: usize = 500;
/// Rejected rows a job keeps (the reader's own limit).
pub const REJECTED_KEPT: usize = 100;
/// The longest file name kept in a key.
pub const MAX_FILE_NAME: usize = 100;
/// The longest company id an ingestion route takes.
pub const MAX_COMPANY_ID: usize = 64;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its upload.
    Pending,
    /// A run holds it (until [`IngestionJob::lease_until`]).
    Parsing,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Parsing => "parsing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Whether the job has ended.
    pub fn ended(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A rejected row as a job keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub sheet: String,
    /// 1-based, as a spreadsheet shows it.
    pub row: u64,
    pub reason: String,
}

/// Why a job failed: a stable code and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `unreadable_report`, `file_too_large`, `size_mismatch`, `file_missing`.
    pub code: String,
    pub reason: String,
}

/// What a report file held, as the reader gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub rows_read: u64,
    pub sales: Vec<SaleEvent>,
    /// The first [`REJECTED_KEPT`].
    pub rejected: Vec<RejectedRow>,
    pub rejected_count: u64,
}

/// One ingestion job. Every item says its company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestionJob {
    pub job_id: String,
    pub company_id: String,
    /// `kdp`.
    pub platform: String,
    /// The uploaded file's name, sanitised ([`sanitise_file_name`]).
    pub file_name: String,
    /// The declared size in bytes (the upload is signed for exactly this size).
    pub size: u64,
    pub status: JobStatus,
    /// The user who asked for the upload.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Runs that claimed it.
    #[serde(default)]
    pub attempts: u32,
    /// While `parsing`: when the run's hold ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub sales_written: u64,
    #[serde(default)]
    pub duplicates_skipped: u64,
    /// Every rejected row.
    #[serde(default)]
    pub rows_rejected: u64,
    /// The first [`REJECTED_KEPT`] rejected rows.
    #[serde(default)]
    pub rejected: Vec<RejectedRow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl IngestionJob {
    /// The object key its upload goes to.
    pub fn object_key(&self) -> String {
        format!(
            "ingestions/{}/{}/{}",
            self.company_id,
            self.id_part(),
            self.file_name
        )
    }

    /// The time-ordered part of its id.
    pub fn id_part(&self) -> &str {
        self.job_id
            .rsplit_once('.')
            .map_or(self.job_id.as_str(), |(_, part)| part)
    }
}

/// A job's id: `<company id>.<uuid v7, simple>`, so the id names its company (the access check
/// needs no read) and ids sort by creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId {
    pub company_id: String,
    /// 32 lower-case hex digits.
    pub part: String,
}

impl JobId {
    /// A new id for a job of `company_id`.
    pub fn new(company_id: &str) -> Self {
        Self {
            company_id: company_id.to_owned(),
            part: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// The id `text`, when it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let (company_id, part) = text.rsplit_once('.')?;
        (valid_company(company_id) && valid_part(part)).then(|| Self {
            company_id: company_id.to_owned(),
            part: part.to_owned(),
        })
    }

    /// The job of an uploaded object's key (`ingestions/<company>/<part>/<file>`), when the key
    /// is one. S3 events give keys URL-encoded: decode first ([`decode_event_key`]).
    pub fn of_object_key(key: &str) -> Option<Self> {
        let mut parts = key.splitn(4, '/');
        let (Some("ingestions"), Some(company_id), Some(part), Some(file)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        (valid_company(company_id) && valid_part(part) && !file.is_empty()).then(|| Self {
            company_id: company_id.to_owned(),
            part: part.to_owned(),
        })
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.company_id, self.part)
    }
}

fn valid_part(part: &str) -> bool {
    part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A company id an ingestion takes: `[A-Za-z0-9_-]`, at most [`MAX_COMPANY_ID`] (it is part of
/// object keys and job ids).
pub fn valid_company(company_id: &str) -> bool {
    !company_id.is_empty()
        && company_id.len() <= MAX_COMPANY_ID
        && company_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An S3 event's object key, decoded (`+` is a space, `%XX` a byte); `None` when the decoding
/// is not UTF-8.
pub fn decode_event_key(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The file name as a key keeps it: its last path component, every byte outside
/// `[A-Za-z0-9._-]` made `_`, no leading dot, at most [`MAX_FILE_NAME`] characters; `None` when
/// nothing is left.
pub fn sanitise_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    let kept: String = if trimmed.len() > MAX_FILE_NAME {
        // Keep the extension, which hints at the format.
        let extension = trimmed
            .rsplit_once('.')
            .map(|(_, ext)| ext)
            .filter(|ext| ext.len() <= 10)
            .unwrap_or_default();
        let head = MAX_FILE_NAME - extension.len() - usize::from(!extension.is_empty());
        let mut kept = trimmed[..head].to_owned();
        if !extension.is_empty() {
            kept.push('.');
            kept.push_str(extension);
        }
        kept
    } else {
        trimmed.to_owned()
    };
    (!kept.is_empty() && kept.chars().any(|c| c != '_' && c != '.')).then_some(kept)
}

/// Why an ingestion request was refused. The messages are the ones callers see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// No usable file name.
    #[error("`file_name` must name the report file (letters, digits, `.`, `_`, `-`)")]
    InvalidFileName,
    /// A size of zero, or above the cap.
    #[error("`size` must be between 1 and {max} bytes")]
    InvalidSize { max: u64 },
    /// A company id an ingestion cannot take.
    #[error("`company_id` must be letters, digits, `_` or `-`, at most 64")]
    InvalidCompany,
    /// Not a job id.
    #[error("not an ingestion job id")]
    InvalidJobId,
    /// `limit` or `after` do not parse.
    #[error("{0}")]
    InvalidQuery(&'static str),
    #[error("no such ingestion job")]
    NotFound,
    /// The company check refused (not an admin, the check unavailable).
    #[error(transparent)]
    Company(#[from] CompanyError),
    /// The job table or the bucket failed (logged where it happened).
    #[error("ingestions are unavailable; retry later")]
    Unavailable,
}

pub(crate) fn unavailable(error: &DependencyError) -> IngestError {
    tracing::error!(%error, "an ingestion dependency failed");
    IngestError::Unavailable
}

/// How an ingestion ended, as the creator's message tells it (ids and figures only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestionEnd {
    pub company_id: String,
    pub job_id: String,
    pub platform: String,
    pub file_name: String,
    pub completed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub ended_at: DateTime<Utc>,
    pub rows_read: u64,
    pub sales_written: u64,
    pub duplicates_skipped: u64,
    pub rows_rejected: u64,
}

impl IngestionEnd {
    /// The end of `job` (an ended job).
    pub fn of(job: &IngestionJob) -> Self {
        Self {
            company_id: job.company_id.clone(),
            job_id: job.job_id.clone(),
            platform: job.platform.clone(),
            file_name: job.file_name.clone(),
            completed: job.status == JobStatus::Completed,
            failure: job.failure.clone(),
            ended_at: job.ended_at.unwrap_or(job.updated_at),
            rows_read: job.rows_read,
            sales_written: job.sales_written,
            duplicates_skipped: job.duplicates_skipped,
            rows_rejected: job.rows_rejected,
        }
    }
}
