//! One module per provider, and the resilient HTTP client their API clients share.
//!
//! Each provider module owns its signature scheme(s), its envelope → [`Event`] normalisation and
//! its observations; the functions below dispatch on [`Source`], and [`Registry`] offers them to
//! the domain as its [`WebhookProviders`] port. Adding a provider is one module and one arm in
//! each of them.

pub mod client;
pub mod google;
pub mod gumroad;
pub mod jwks;
pub mod kdp;
pub mod paypal;
pub mod resend;
pub mod standard;
pub mod stripe;
pub mod whop;

pub mod messaging;
pub mod sendgrid;
pub mod twilio;

// Google Analytics 4's Measurement Protocol (`domain::analytics`).
pub mod ga4;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName};

use crate::domain::json::{self, Known, Slots};
use crate::domain::ports::WebhookProviders;
use crate::domain::state::observe::{ObserveError, Observed};
use crate::domain::webhooks::event::{Event, EventKind, NormaliseError, QueuedEvent, Subject};
use crate::domain::webhooks::verify::{CertifiedError, SigningSecret, VerifyError, VerifyOptions};
use crate::domain::webhooks::{Headers, NotText, Scheme, Source, Verified};

/// Verifies a delivery against every active secret of its source (rotation overlap).
///
/// `now` is the current time in Unix seconds (injected, so tests are deterministic). The scheme
/// is the source's (for Whop, the one its headers name: see [`whop::verify::verify`]).
///
/// # Errors
/// See [`VerifyError`]; the first failing check in the order headers → secrets → timestamp →
/// signatures wins.
pub fn verify<'h, H: Headers + ?Sized>(
    source: Source,
    headers: &'h H,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    match source {
        Source::Whop => whop::verify::verify(headers, body, secrets, now, options),
        Source::Stripe => stripe::verify(headers, body, secrets, now, options),
        Source::Standard => standard::verify(headers, body, secrets, now, options),
        // Unsigned: a ping is admitted by its URL's token (`gumroad::ping`), never here.
        Source::Gumroad => Err(VerifyError::NoSecrets),
        Source::Resend => standard::verify_svix(headers, body, secrets, now, options),
        // PayPal signs with its certificate: `Registry::verify_certified`.
        Source::PayPal => Err(VerifyError::NoSecrets),
    }
}

/// The headers a real sender sends for `body` (lowercase names), for the CLI and tests.
///
/// Whop and Standard: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
/// Resend: the same under `svix-id`, `svix-timestamp`, `svix-signature`.
/// Stripe: `stripe-signature: t=<ts>,v1=<hex>` (`message_id` is ignored).
/// PayPal: none (it signs with a private key, not a shared secret: [`paypal::sign`]).
pub fn sign(
    source: Source,
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
    message_id: &str,
) -> Vec<(&'static str, String)> {
    match source {
        Source::Stripe => stripe::sign(secret, body, timestamp),
        Source::Gumroad => Vec::new(),
        Source::Whop | Source::Standard => standard::sign(secret, body, timestamp, message_id),
        Source::Resend => standard::sign_svix(secret, body, timestamp, message_id),
        Source::PayPal => Vec::new(),
    }
}

/// Normalises a verified body from `source` into an [`Event`]; each provider's `normalise` says
/// where the id, kind and time come from.
///
/// # Errors
/// See [`NormaliseError`].
pub fn normalise<'a>(
    source: Source,
    verified: &Verified<'_>,
    body: &'a [u8],
    received_at: DateTime<Utc>,
) -> Result<Event<'a>, NormaliseError> {
    // SIMD validation (runtime-selected on x86_64, NEON on aarch64); valid exactly when `std`'s is.
    let raw = simdutf8::basic::from_utf8(body).map_err(|_| NormaliseError::NotUtf8)?;
    let parts = match (source, verified.scheme) {
        (Source::Whop, Scheme::StandardWebhooks | Scheme::WhopLegacy | Scheme::WhopBare) => {
            whop::normalise::normalise(verified, raw)?
        }
        (Source::Stripe, Scheme::Stripe) => stripe::normalise::normalise(verified, raw)?,
        (Source::PayPal, Scheme::PayPal) => paypal::normalise::normalise(verified, raw)?,
        (Source::Standard | Source::Resend, Scheme::StandardWebhooks) => {
            standard::normalise(verified, raw)?
        }
        _ => return Err(NormaliseError::UnsupportedEnvelope("scheme_mismatch")),
    };
    Ok(Event {
        source,
        event_id: parts.event_id,
        kind: EventKind::parse(source, &parts.kind),
        subject: parts.subject,
        occurred_at: parts.occurred_at,
        received_at,
        raw,
    })
}

/// Reads what a queued `event` says about its membership.
///
/// # Errors
/// [`ObserveError`] if the body is not JSON.
pub fn observe(event: &QueuedEvent) -> Result<Observed, ObserveError> {
    let kind = event.event_kind();
    match event.provider {
        Source::Whop => whop::observe::observe(event, &kind),
        Source::Stripe => stripe::observe::observe(event, &kind),
        Source::Standard | Source::Resend => standard::observe(),
        Source::Gumroad => gumroad::observe::observe(event, &kind),
        Source::PayPal => paypal::observe::observe(event, &kind),
    }
}

/// The registry: every provider behind the domain's [`WebhookProviders`] port, dispatching on
/// [`Source`] through the functions above. PayPal's verification needs its deployment's
/// settings and certificate cache ([`Registry::with_paypal`]); without them a PayPal delivery is
/// refused with `no_secrets`, like a provider whose secrets are not configured.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    paypal: Option<Arc<paypal::PayPal>>,
}

impl Registry {
    /// The registry with PayPal's webhooks configured.
    pub fn with_paypal(paypal: Arc<paypal::PayPal>) -> Self {
        Self {
            paypal: Some(paypal),
        }
    }
}

impl WebhookProviders for Registry {
    fn verify<'h, H: Headers + ?Sized>(
        &self,
        source: Source,
        headers: &'h H,
        body: &[u8],
        secrets: &[SigningSecret],
        now: i64,
        options: VerifyOptions,
    ) -> Result<Verified<'h>, VerifyError> {
        verify(source, headers, body, secrets, now, options)
    }

    fn verify_certified<'h, H: Headers + ?Sized>(
        &self,
        source: Source,
        headers: &'h H,
        body: &[u8],
        now: i64,
        options: VerifyOptions,
    ) -> impl Future<Output = Option<Result<Verified<'h>, CertifiedError>>> + Send {
        let started = (source == Source::PayPal)
            .then(|| paypal::start(self.paypal.as_ref(), headers, now, options));
        async move {
            Some(match started? {
                Ok((paypal, transmission)) => paypal.verify(transmission, body).await,
                Err(error) => Err(error.into()),
            })
        }
    }

    fn normalise<'a>(
        &self,
        source: Source,
        verified: &Verified<'_>,
        body: &'a [u8],
        received_at: DateTime<Utc>,
    ) -> Result<Event<'a>, NormaliseError> {
        let mut event = normalise(source, verified, body, received_at)?;
        if source == Source::PayPal
            && let Some(company) = self.paypal.as_deref().and_then(paypal::PayPal::company_id)
        {
            event.subject.company_id = Some(company.into());
        }
        Ok(event)
    }

    fn observe(&self, event: &QueuedEvent) -> Result<Observed, ObserveError> {
        observe(event)
    }
}

/// What each provider's envelope reader extracts; [`normalise`] assembles the [`Event`].
pub(crate) struct Parts<'a> {
    pub(crate) event_id: String,
    pub(crate) kind: Cow<'a, str>,
    pub(crate) subject: Subject,
    pub(crate) occurred_at: DateTime<Utc>,
}

/// The one parse of an envelope: `raw` must be a single JSON object; its known keys fill
/// `envelope`, which starts empty (`T::default()`).
pub(crate) fn parse<'a, T: Slots<'a> + Default>(
    raw: &'a str,
    envelope: &mut T,
) -> Result<(), NormaliseError>
where
    Known<T::Key>: serde::Deserialize<'a>,
{
    json::read(raw, true, envelope).map_err(|error| NormaliseError::InvalidJson(error.to_string()))
}

static WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
static WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
static WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
static STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");
static WHOP_SIGNATURE: HeaderName = HeaderName::from_static("x-whop-signature");
static WHOP_TIMESTAMP: HeaderName = HeaderName::from_static("x-whop-timestamp");

impl Headers for HeaderMap {
    fn text(&self, name: &str) -> Option<Result<&str, NotText>> {
        // Pre-parsed names for the ones the schemes read: a lookup by `&str` would validate and
        // classify the name on every call.
        let known = match name {
            "webhook-id" => &WEBHOOK_ID,
            "webhook-timestamp" => &WEBHOOK_TIMESTAMP,
            "webhook-signature" => &WEBHOOK_SIGNATURE,
            "stripe-signature" => &STRIPE_SIGNATURE,
            "x-whop-signature" => &WHOP_SIGNATURE,
            "x-whop-timestamp" => &WHOP_TIMESTAMP,
            _ => return Self::get(self, name).map(header_text),
        };
        Self::get(self, known).map(header_text)
    }
}

/// `http`'s check is exactly [`Headers::text`]'s (visible ASCII and tab), in one pass.
fn header_text(value: &http::HeaderValue) -> Result<&str, NotText> {
    value.to_str().map_err(|_| NotText)
}

#[cfg(test)]
mod normalise_tests;
#[cfg(test)]
mod observe_tests;
#[cfg(test)]
mod tests;
