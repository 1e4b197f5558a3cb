//! The port of [`crate::domain::breaker`].

use std::future::Future;

use super::DependencyError;
use crate::domain::breaker::BreakerRecord;

/// Where breakers are shared between instances.
pub trait BreakerStore: Send + Sync {
    /// The stored breaker and its version; `None` if never stored.
    fn load(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(BreakerRecord, u64)>, DependencyError>> + Send;

    /// Writes `record` at version `expected_version + 1` if the stored version is still
    /// `expected_version` (0: no item yet). `Ok(false)`: another writer won the race.
    fn save(
        &self,
        name: &str,
        record: &BreakerRecord,
        expected_version: u64,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    /// Every stored breaker, by name (stores may bound this to the breakers they know of, e.g. one
    /// per provider).
    fn list(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, BreakerRecord, u64)>, DependencyError>> + Send;
}
