//! The ports of the creator's view: a company's memberships as the `state` table lists them, and
//! the provider's word on who administers a company.

use std::future::Future;

use super::DependencyError;
use crate::domain::state::model::SignalKind;
use crate::domain::state::store::{Page, StoredMembership};

/// A company's memberships, listed without a scan: through the company index, or through the
/// sparse index of one open signal kind.
pub trait CompanyMemberships: Send + Sync {
    /// The company's memberships whose `signal` is open, most recent signal start first, `limit`
    /// per page, after the cursor `after` (the `next` of the previous page).
    fn with_open_signal(
        &self,
        company_id: &str,
        signal: SignalKind,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<StoredMembership>, DependencyError>> + Send;

    /// All of the company's memberships, in membership-id order, `limit` per page, after the
    /// cursor `after`.
    fn of_company(
        &self,
        company_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<StoredMembership>, DependencyError>> + Send;
}

/// What a provider says a user is to a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    Admin,
    Customer,
    NoAccess,
}

/// Why the provider's answer on access is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessCheckError {
    /// The provider could not be asked or gave no usable answer (breaker open, rate limited,
    /// 5xx, timeout, malformed body).
    #[error("access check unavailable: {0}")]
    Unavailable(String),
}

/// The provider's access check (Whop: `GET /api/v1/users/{user_id}/access/{company_id}`).
pub trait CompanyAccess: Send + Sync {
    /// What `user_id` is to `company_id`, asked of the provider now (callers cache).
    fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> impl Future<Output = Result<AccessLevel, AccessCheckError>> + Send;
}
