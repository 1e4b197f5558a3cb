//! The port of [`crate::domain::emergency`].

use std::future::Future;

use super::DependencyError;
use crate::domain::emergency::Emergency;

/// Where the emergency switches are stored, one per provider.
pub trait EmergencyStore: Send + Sync {
    /// `provider`'s switch as stored, expired or not; `None` when none is stored.
    fn load(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<Option<Emergency>, DependencyError>> + Send;

    /// Stores `emergency`, replacing the provider's switch if one is stored.
    fn save(
        &self,
        emergency: &Emergency,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// Removes `provider`'s switch; the one that was stored, if any.
    fn remove(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<Option<Emergency>, DependencyError>> + Send;

    /// Every stored switch, expired or not (stores may bound this to the providers they know of).
    fn list(&self) -> impl Future<Output = Result<Vec<Emergency>, DependencyError>> + Send;
}
