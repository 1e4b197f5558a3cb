//! The daily digest's schedule (`docs/architecture.md`, "Daily digest"): each company with a
//! digest keeps the instant of its next one, so the hourly run lists the due companies without a
//! scan, and a digest job reads and advances it.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::companies::settings::CompanySettings;

/// A company whose digest was due at `due_at` (at or before the run's time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDigest {
    pub company_id: String,
    pub due_at: DateTime<Utc>,
}

/// A company's settings and the instant of its next digest (`None` without a digest).
pub type DigestSettings = (CompanySettings, Option<DateTime<Utc>>);

/// Where each company's next digest instant is kept (beside its settings).
pub trait DigestSchedule: Send + Sync {
    /// Every company whose next digest is at or before `now` (a digest missed by an outage is
    /// still due), at most `limit`.
    fn due_digests(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDigest>, DependencyError>> + Send;

    /// The company's settings and the instant of its next digest (`None` without a digest), read
    /// at once; `None` when it has no settings.
    fn digest_settings(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<DigestSettings>, DependencyError>> + Send;

    /// Moves the next digest from `due_at` to `next_at`, only if it is still `due_at`.
    /// `Ok(false)`: it was not (another job advanced it, or the settings changed).
    fn advance_digest(
        &self,
        company_id: &str,
        due_at: DateTime<Utc>,
        next_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
}
