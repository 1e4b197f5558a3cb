//! The ports of the notification pipeline: the queue of notification jobs the processor fills,
//! and the claims that make each message go out once.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::notify::{Delivery, Job};

/// The `notifications` queue: the processor puts a job on it when an event opens or closes a
/// signal.
pub trait NotificationQueue: Send + Sync {
    fn enqueue(&self, job: &Job) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// What claiming a message's key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send: new, or found `sending` past its lease (`resumed`), so a send may have gone
    /// out already under the same idempotency key.
    Won { resumed: bool },
    /// Already sent, refused or suppressed: nothing to do.
    Finished,
    /// Another delivery holds it within its lease: try again later.
    InFlight,
}

/// One claim per message, keyed by its idempotency key.
pub trait NotificationClaims: Send + Sync {
    /// Claims `key` at `now` with one conditional write; a claim still `sending` after `lease`
    /// can be taken over.
    fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, DependencyError>> + Send;

    /// Records how the claimed message ended.
    fn record(
        &self,
        key: &str,
        delivery: &Delivery,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}
