//! The port of [`crate::domain::state::store`].

use std::future::Future;

use super::DependencyError;
use crate::domain::state::model::Observation;
use crate::domain::state::store::{Page, Recorded, StoredMembership, Upkeep};
use crate::domain::webhooks::Source;

/// The `state` table as memberships need it.
pub trait StateStore: Send + Sync {
    /// Records `observation` of `membership_id` with one conditional write.
    fn record(
        &self,
        membership_id: &str,
        provider: Source,
        observation: &Observation,
    ) -> impl Future<Output = Result<Recorded, DependencyError>> + Send;

    /// Applies `upkeep` (a compaction and/or the signal index) in one conditional write, if
    /// nothing was written since it was computed. `Ok(false)` when something was (that write's
    /// own upkeep covers it).
    fn upkeep(
        &self,
        membership_id: &str,
        upkeep: &Upkeep,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    /// One membership.
    fn membership(
        &self,
        membership_id: &str,
    ) -> impl Future<Output = Result<Option<StoredMembership>, DependencyError>> + Send;

    /// The stored memberships among `membership_ids` (unknown ids are left out), in any order.
    fn memberships(
        &self,
        membership_ids: &[String],
    ) -> impl Future<Output = Result<Vec<StoredMembership>, DependencyError>> + Send;

    /// A user's memberships, in membership-id order, `limit` per page, after the membership id
    /// `after`.
    fn memberships_of_user(
        &self,
        user_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<StoredMembership>, DependencyError>> + Send;
}
