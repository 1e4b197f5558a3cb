//! The port of [`crate::domain::auth::limits`].

use std::future::Future;

use super::DependencyError;

/// Counts failed authentications per IP and window, shared by all instances.
pub trait FailureCounter: Send + Sync {
    /// Adds one failure for `ip` in the window starting at `window_start` (epoch seconds) and
    /// lasting `window_secs`; returns the window's count including it.
    fn record_failure(
        &self,
        ip: &str,
        window_start: i64,
        window_secs: u64,
    ) -> impl Future<Output = Result<u64, DependencyError>> + Send;

    /// The failures counted for `ip` in the window starting at `window_start`; 0 when none.
    fn failures(
        &self,
        ip: &str,
        window_start: i64,
    ) -> impl Future<Output = Result<u64, DependencyError>> + Send;
}
