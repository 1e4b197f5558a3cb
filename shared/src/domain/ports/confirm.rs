//! Confirming a queued event with its provider before the processor applies it
//! (`docs/architecture.md`, "Gumroad": its pings are unsigned, so the money-relevant ones are
//! read back from Gumroad's API, `providers::gumroad::confirm`), and the record of the events the
//! provider contradicted.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::DependencyError;
use crate::domain::webhooks::event::QueuedEvent;

/// What the provider said about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The event is not one that needs confirming.
    Unneeded,
    /// The provider's API agrees with the event.
    Confirmed,
    /// The provider's API disagrees; the stable reason code (`sale_not_found`, …).
    Contradicted(&'static str),
}

/// Why an event could not be confirmed now. Always retryable: the message goes back to the queue,
/// never applied unconfirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// The provider is unavailable, refuses our credentials for now, or its admission (breaker,
    /// rate limit) did not let the call through; a stable code.
    #[error("the provider could not confirm the event ({0})")]
    Unavailable(String),
    /// A table or secret the confirmation needs failed.
    #[error("{0}")]
    Dependency(#[from] DependencyError),
}

/// An event the provider contradicted: which one and why, ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contradiction {
    pub provider: String,
    pub event_id: String,
    pub kind: String,
    /// The stable reason code of [`Confirmation::Contradicted`].
    pub reason: &'static str,
    pub company_id: Option<String>,
    pub membership_id: Option<String>,
    pub payment_id: Option<String>,
    pub at: DateTime<Utc>,
}

impl Contradiction {
    /// `event`'s contradiction for `reason`, found at `at`.
    pub fn of(event: &QueuedEvent, reason: &'static str, at: DateTime<Utc>) -> Self {
        let subject = &event.subject;
        let owned = |id: &Option<crate::domain::json::Id>| id.as_deref().map(str::to_owned);
        Self {
            provider: event.provider.as_str().to_owned(),
            event_id: event.event_id.clone(),
            kind: event.kind.clone(),
            reason,
            company_id: owned(&subject.company_id),
            membership_id: owned(&subject.membership_id)
                .or_else(|| owned(&subject.subscription_id)),
            payment_id: owned(&subject.payment_id),
            at,
        }
    }
}

/// Asks an event's provider whether the event is true, and what it leaves unsaid.
pub trait EventConfirmer: Send + Sync {
    /// `event` completed from its provider's API when it names its membership only through
    /// another object (a PayPal refund names its sale, not the subscription); `None` to take it
    /// as it is. Asked before the event is observed.
    fn resolve(
        &self,
        event: &QueuedEvent,
    ) -> impl Future<Output = Result<Option<QueuedEvent>, ConfirmError>> + Send {
        let _ = event;
        async { Ok(None) }
    }

    /// Confirms `event` (which observes as a membership change) with its provider.
    fn confirm(
        &self,
        event: &QueuedEvent,
    ) -> impl Future<Output = Result<Confirmation, ConfirmError>> + Send;
}

/// Where contradicted events are recorded (`aws::contradictions`).
pub trait ContradictionLog: Send + Sync {
    /// Records `contradiction` (again: the same event's record is replaced).
    fn record(
        &self,
        contradiction: &Contradiction,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// No confirmation: every event is applied as it came (signed providers).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConfirmation;

impl EventConfirmer for NoConfirmation {
    async fn confirm(&self, _: &QueuedEvent) -> Result<Confirmation, ConfirmError> {
        Ok(Confirmation::Unneeded)
    }
}

impl ContradictionLog for NoConfirmation {
    async fn record(&self, _: &Contradiction) -> Result<(), DependencyError> {
        Ok(())
    }
}
