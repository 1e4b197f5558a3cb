//! The port of [`crate::domain::auth::sessions`].

use std::future::Future;

use super::DependencyError;
use crate::domain::auth::sessions::SessionRecord;

/// The `sessions` table.
pub trait SessionStore: Send + Sync {
    /// Stores a new session (never overwrites one).
    fn put(
        &self,
        record: &SessionRecord,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
    fn get(
        &self,
        pk: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>, DependencyError>> + Send;
    /// Extends a session that still exists and was created after `created_after` (its maximum
    /// age, checked in the write's condition); `Ok(false)` if it was revoked meanwhile or is
    /// older.
    fn extend(
        &self,
        pk: &str,
        expires_at: i64,
        last_seen: i64,
        created_after: i64,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
    fn delete(&self, pk: &str) -> impl Future<Output = Result<(), DependencyError>> + Send;
    /// A user's sessions, oldest first.
    fn of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, DependencyError>> + Send;
}
