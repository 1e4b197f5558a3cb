//! The webhook providers as the domain sees them: verification and normalisation for ingest, the
//! observation of a queued event for the processor. The registry in the providers layer
//! implements it by dispatching on [`Source`]; the methods are generic, so a call is
//! monomorphised and nothing in the hot path goes through a vtable.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::domain::state::observe::{ObserveError, Observed};
use crate::domain::webhooks::event::{Event, NormaliseError, QueuedEvent};
use crate::domain::webhooks::verify::{CertifiedError, SigningSecret, VerifyError, VerifyOptions};
use crate::domain::webhooks::{Headers, Source, Verified};

/// Every provider's signature schemes, envelopes and observations.
pub trait WebhookProviders: Send + Sync {
    /// Verifies a delivery from `source` against every active secret (rotation overlap); `now`
    /// is the current time in Unix seconds.
    ///
    /// # Errors
    /// See [`VerifyError`]; the first failing check in the order headers → secrets → timestamp →
    /// signatures wins.
    fn verify<'h, H: Headers + ?Sized>(
        &self,
        source: Source,
        headers: &'h H,
        body: &[u8],
        secrets: &[SigningSecret],
        now: i64,
        options: VerifyOptions,
    ) -> Result<Verified<'h>, VerifyError>;

    /// Verifies a delivery from a source that signs with a public key the delivery names
    /// (PayPal: the certificate at `PAYPAL-CERT-URL`), fetching and caching the key; `None` for
    /// the sources verified with shared secrets by [`Self::verify`].
    ///
    /// # Errors
    /// [`CertifiedError::Rejected`] (401) or [`CertifiedError::Unavailable`] (the key could not
    /// be fetched: 503).
    fn verify_certified<'h, H: Headers + ?Sized>(
        &self,
        source: Source,
        headers: &'h H,
        body: &[u8],
        now: i64,
        options: VerifyOptions,
    ) -> impl Future<Output = Option<Result<Verified<'h>, CertifiedError>>> + Send {
        let _ = (source, headers, body, now, options);
        std::future::ready(None)
    }

    /// Normalises a verified body from `source` into an [`Event`].
    ///
    /// # Errors
    /// See [`NormaliseError`].
    fn normalise<'a>(
        &self,
        source: Source,
        verified: &Verified<'_>,
        body: &'a [u8],
        received_at: DateTime<Utc>,
    ) -> Result<Event<'a>, NormaliseError>;

    /// Reads what a queued `event` says about its membership.
    ///
    /// # Errors
    /// [`ObserveError`] if the body is not JSON.
    fn observe(&self, event: &QueuedEvent) -> Result<Observed, ObserveError>;
}
