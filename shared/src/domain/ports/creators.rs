//! The ports of [`crate::domain::creators`]: creators' profiles, their plans, and a company's
//! open-signal counts.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::companies::summary::ByKind;
use crate::domain::creators::plan::CreatorPlan;
use crate::domain::creators::profile::{CreatorProfile, DiscoveryMark};

/// Where profiles are kept (the `state` table).
pub trait ProfileStore: Send + Sync {
    /// Creates `user_id`'s profile as of `at` if there is none, and adds `identity` to it if it
    /// does not hold it; one conditional write. `Ok(true)` when it wrote, `Ok(false)` when the
    /// profile already held the identity.
    fn record_identity(
        &self,
        user_id: &str,
        identity: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    /// `user_id`'s profile; `None` when it has none.
    fn profile(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<CreatorProfile>, DependencyError>> + Send;

    /// Records that the discovery of `user_id`'s companies has checked every known company up
    /// to `mark`; one write, nothing when the user has no profile.
    fn advance_discovery(
        &self,
        user_id: &str,
        mark: &DiscoveryMark,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// A creator's plan ([`crate::domain::creators::plan::Plans`] over the state table).
pub trait CreatorPlans: Send + Sync {
    fn plan(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<CreatorPlan, DependencyError>> + Send;
}

/// How many memberships of a company have each signal kind open, counted in the sparse signal
/// indexes.
pub trait OpenSignalCounts: Send + Sync {
    fn open_signal_counts(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<ByKind, DependencyError>> + Send;
}
