//! Webhook ingest: what every sender shares. Signature checks ([`verify`]), the one
//! [`event::Event`] each sender's envelope normalises into ([`event`]), and [`ingest`] itself. Each
//! sender's schemes, envelope and observations live in its own module of [`crate::providers`].
//!
//! Order matters: no byte of a body is parsed before its signature is verified.

pub mod claims;
pub mod event;
pub mod ingest;
pub mod keys;
pub mod verify;

use serde::{Deserialize, Serialize};

/// A webhook sender, as named by `POST /webhooks/{provider}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Whop: Standard Webhooks headers (API v1), or the legacy `x-whop-signature` forms (v5/v2).
    Whop,
    /// Stripe: `Stripe-Signature`.
    Stripe,
    /// Any Standard Webhooks sender (symmetric `v1` signatures).
    Standard,
    /// Gumroad's pings: unsigned form posts to a connection's secret URL
    /// (`POST /webhooks/gumroad/{token}`, [`crate::domain::connections`]).
    Gumroad,
    /// Resend's e-mail events (bounces, complaints): Standard Webhooks signatures under `svix-*`
    /// header names; handled where they arrive, not queued (`domain::notify::suppression`).
    Resend,
    /// PayPal: `PAYPAL-TRANSMISSION-SIG`, RSA over the transmission's signed string with the
    /// certificate at `PAYPAL-CERT-URL` (no shared secret; `providers::paypal`).
    #[serde(rename = "paypal")]
    PayPal,
}

impl Source {
    pub const ALL: [Self; 6] = [
        Self::Whop,
        Self::Stripe,
        Self::Standard,
        Self::Gumroad,
        Self::Resend,
        Self::PayPal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whop => "whop",
            Self::Stripe => "stripe",
            Self::Standard => "standard",
            Self::Gumroad => "gumroad",
            Self::Resend => "resend",
            Self::PayPal => "paypal",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.as_str() == name)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signing scheme that verified a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature: v1,<base64>` (Whop v1 and `standard`).
    StandardWebhooks,
    /// Whop's `x-whop-signature: t=<unix>,v1=<hex>` over `{t}.{body}`.
    WhopLegacy,
    /// Whop's older `x-whop-signature: <hex>` over the body, with an unsigned `x-whop-timestamp`.
    WhopBare,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `{t}.{body}`.
    Stripe,
    /// PayPal's `PAYPAL-TRANSMISSION-SIG`: RSA PKCS#1 v1.5 SHA-256 with its certificate.
    PayPal,
}

/// What verification established about a delivery, from its headers: what normalisation may use
/// before (and besides) the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'h> {
    pub scheme: Scheme,
    /// The delivery's timestamp (Unix seconds): signed, except for [`Scheme::WhopBare`].
    pub timestamp: i64,
    /// The `webhook-id` header of Standard Webhooks deliveries (signed; the sender's idempotency key).
    pub message_id: Option<&'h str>,
}

/// The request headers verification reads, without naming an HTTP type (the edge implements it for
/// its header map). Verification is generic over it: no dynamic dispatch.
pub trait Headers {
    /// The value of header `name` (given in lowercase; matched case-insensitively), the first one
    /// if repeated, as text: visible ASCII and tabs, else [`NotText`]. `None` when absent.
    fn text(&self, name: &str) -> Option<Result<&str, NotText>>;
}

/// A header value with a byte outside visible ASCII and tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotText;
