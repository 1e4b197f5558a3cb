//! Stripe: its `Stripe-Signature` scheme, its event envelope ([`normalise`]) and what its
//! subscription and invoice events say about a membership ([`observe`]).
//!
//! Sync: a company's subscriptions listed page by page ([`sync`]).

pub mod normalise;
pub mod observe;
pub mod sync;

use crate::domain::webhooks::verify::{
    STRIPE_SIGNATURE, SigningSecret, VerifyError, VerifyOptions, header, sign_t_v1, verify_t_v1,
};
use crate::domain::webhooks::{Headers, Scheme, Verified};

/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `{t}.{body}`.
///
/// # Errors
/// See [`VerifyError`].
pub fn verify<'h, H: Headers + ?Sized>(
    headers: &'h H,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    verify_t_v1(
        Scheme::Stripe,
        STRIPE_SIGNATURE,
        header(headers, STRIPE_SIGNATURE)?,
        body,
        secrets,
        now,
        options,
    )
}

/// The header Stripe sends for `body`: `stripe-signature: t=<ts>,v1=<hex>`.
pub fn sign(secret: &SigningSecret, body: &[u8], timestamp: i64) -> Vec<(&'static str, String)> {
    sign_t_v1(STRIPE_SIGNATURE, secret, body, timestamp)
}
