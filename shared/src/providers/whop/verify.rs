//! Whop's signature schemes: Standard Webhooks headers (API v1), or the legacy `x-whop-signature`
//! forms (`t=…,v1=…` of v5, and the bare hex of v2 with an unsigned `x-whop-timestamp`).

use crate::domain::webhooks::verify::{
    SigningSecret, VerifyError, VerifyOptions, WEBHOOK_SIGNATURE, WHOP_SIGNATURE, WHOP_TIMESTAMP,
    check_tolerance, decode_hex_tag, find_match, header, optional_header, parse_timestamp,
    require_secrets, sign_t_v1, verify_t_v1,
};
use crate::domain::webhooks::{Headers, Scheme, Verified};
use crate::providers::standard;

const WHOP_BARE: &str = "whop_bare";

/// The scheme follows the headers: `webhook-signature` → Standard Webhooks; an `x-whop-signature`
/// with `key=value` pairs (`t=…,v1=…`) → legacy; a plain 64-hex `x-whop-signature` → bare (only
/// with [`VerifyOptions::accept_whop_bare`]).
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
    if let Some(signatures) = optional_header(headers, WEBHOOK_SIGNATURE)? {
        return standard::verify_signatures(signatures, headers, body, secrets, now, options);
    }
    let Some(value) = optional_header(headers, WHOP_SIGNATURE)? else {
        return Err(VerifyError::MissingHeader(WEBHOOK_SIGNATURE));
    };
    if value.contains('=') {
        verify_t_v1(
            Scheme::WhopLegacy,
            WHOP_SIGNATURE,
            value,
            body,
            secrets,
            now,
            options,
        )
    } else {
        verify_bare(value, headers, body, secrets, now, options)
    }
}

/// `x-whop-signature: <hex>` over the body alone, with an unsigned `x-whop-timestamp`.
fn verify_bare<'h, H: Headers + ?Sized>(
    signature: &str,
    headers: &H,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    let candidate =
        decode_hex_tag(signature).ok_or(VerifyError::MalformedHeader(WHOP_SIGNATURE))?;
    if !options.accept_whop_bare {
        return Err(VerifyError::SchemeDisabled(WHOP_BARE));
    }
    let timestamp = parse_timestamp(header(headers, WHOP_TIMESTAMP)?)
        .ok_or(VerifyError::MalformedHeader(WHOP_TIMESTAMP))?;
    require_secrets(secrets)?;
    check_tolerance(timestamp, now, options.tolerance_secs)?;

    find_match(secrets, &[body], || std::iter::once(candidate))?;
    Ok(Verified {
        scheme: Scheme::WhopBare,
        timestamp,
        message_id: None,
    })
}

/// Whop's legacy form: `x-whop-signature: t=<ts>,v1=<hex>` over `{ts}.{body}`.
pub fn sign_whop_legacy(
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, String)> {
    sign_t_v1(WHOP_SIGNATURE, secret, body, timestamp)
}

/// Whop's bare form: `x-whop-signature: <hex of HMAC(body)>` and `x-whop-timestamp: <ts>`.
pub fn sign_whop_bare(
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, String)> {
    let tag = secret.mac(&[body]);
    vec![
        (WHOP_SIGNATURE, hex::encode(tag.as_bytes())),
        (WHOP_TIMESTAMP, timestamp.to_string()),
    ]
}
