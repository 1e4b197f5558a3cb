use std::future::Future;

use super::DependencyError;
use crate::domain::connections::{Connection, ConnectionStatus, PingRoute};

/// Where connections to a provider account are kept (`aws::connections`).
pub trait ConnectionStore: Send + Sync {
    /// Stores `connection` for its company (replacing an earlier one) and its ping route.
    fn save(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
    /// The company's connection, if any.
    fn get(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<Connection>, DependencyError>> + Send;
    /// What the ping token whose hash is `token_hash` leads to, if anything: one read.
    fn ping_route(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<PingRoute>, DependencyError>> + Send;
    /// Sets the connection's status (and its sealed access token, when refreshed).
    fn set_status(
        &self,
        company_id: &str,
        status: ConnectionStatus,
        access_token: Option<&str>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
    /// Sets the connection's `initial_sync` (nothing when it is gone).
    fn set_initial_sync(
        &self,
        company_id: &str,
        initial_sync: &str,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
    /// The companies with a connection (the schedule syncs each): one read.
    fn connected_companies(
        &self,
    ) -> impl Future<Output = Result<Vec<String>, DependencyError>> + Send;
    /// Removes the company's connection (its tokens) and its ping route.
    fn delete(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}
