//! The port of [`crate::domain::companies::known`]: the companies the deployment knows.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::companies::known::{KnownCompany, KnownSource};

/// Where the known companies are kept (the `state` table, listed without a scan).
pub trait KnownCompanies: Send + Sync {
    /// Makes `company_id` known as of `at`, learnt from `source`; idempotent. A company marked
    /// revoked becomes schedulable again. `Ok(true)` when this call made it known (it was not, or
    /// it was revoked), `Ok(false)` when it already was.
    fn remember(
        &self,
        company_id: &str,
        source: KnownSource,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    /// Every known company, revoked ones included.
    fn known_companies(
        &self,
    ) -> impl Future<Output = Result<Vec<KnownCompany>, DependencyError>> + Send;

    /// Marks `company_id` revoked for `reason` (a stable code) as of `at`, so the schedule skips
    /// it until it is remembered again.
    fn revoke(
        &self,
        company_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// A store borrowed (tests keep it to look at afterwards).
impl<T: KnownCompanies> KnownCompanies for &T {
    fn remember(
        &self,
        company_id: &str,
        source: KnownSource,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send {
        T::remember(self, company_id, source, at)
    }

    fn known_companies(
        &self,
    ) -> impl Future<Output = Result<Vec<KnownCompany>, DependencyError>> + Send {
        T::known_companies(self)
    }

    fn revoke(
        &self,
        company_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send {
        T::revoke(self, company_id, reason, at)
    }
}
