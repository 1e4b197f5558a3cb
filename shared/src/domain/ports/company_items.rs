//! The creator view's own items: the cached answers of the access check and each company's
//! settings (both in the `state` table, see `docs/architecture.md`, "Creator view").

use std::future::Future;

use chrono::{DateTime, Utc};

use super::{AccessLevel, DependencyError};
use crate::domain::companies::settings::CompanySettings;

/// An answer of the provider's access check, kept until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedAccess {
    pub level: AccessLevel,
    pub checked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Where the access check's answers are cached.
pub trait AccessCacheStore: Send + Sync {
    /// The cached answer for `user_id` and `company_id`, fresh or not; `None` when there is none.
    fn cached_access(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<CachedAccess>, DependencyError>> + Send;

    /// Every cached answer for `user_id`, fresh or not, by company id: the companies the user
    /// was checked against.
    fn cached_companies(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, CachedAccess)>, DependencyError>> + Send;

    /// Keeps `access` as the answer for `user_id` and `company_id`.
    fn remember_access(
        &self,
        user_id: &str,
        company_id: &str,
        access: &CachedAccess,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// Each company's settings.
pub trait SettingsStore: Send + Sync {
    /// The stored settings; `None` when the company never saved any.
    fn company_settings(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<CompanySettings>, DependencyError>> + Send;

    /// Replaces the company's settings.
    fn put_company_settings(
        &self,
        company_id: &str,
        settings: &CompanySettings,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}
