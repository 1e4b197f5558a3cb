//! PayPal's offline verification: the signed string
//! `transmission_id|transmission_time|webhook_id|crc32(body)` (the CRC-32 as an unsigned decimal),
//! RSA PKCS#1 v1.5 SHA-256 with the certificate at `PAYPAL-CERT-URL` (`docs/providers.md`, PayPal).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::certs::Certificate;
use crate::domain::time::parse_time_str;
use crate::domain::webhooks::verify::{VerifyError, VerifyOptions, check_tolerance, header};
use crate::domain::webhooks::{Headers, Scheme, Verified};

pub const TRANSMISSION_ID: &str = "paypal-transmission-id";
pub const TRANSMISSION_TIME: &str = "paypal-transmission-time";
pub const TRANSMISSION_SIG: &str = "paypal-transmission-sig";
pub const CERT_URL: &str = "paypal-cert-url";
pub const AUTH_ALGO: &str = "paypal-auth-algo";
/// The one algorithm PayPal names (RSA PKCS#1 v1.5 with SHA-256).
pub const SHA256_WITH_RSA: &str = "SHA256withRSA";
/// PayPal's transmission ids are UUIDs; anything much longer is not one.
const MAX_TRANSMISSION_ID: usize = 64;
/// Base64 of a 4096-bit signature is 684 characters.
const MAX_SIGNATURE_BASE64: usize = 1024;

/// A delivery's transmission headers, read and checked before any certificate is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission<'h> {
    pub id: &'h str,
    /// As sent (it is signed as sent).
    pub time: &'h str,
    /// `time` in Unix seconds.
    pub timestamp: i64,
    pub cert_url: &'h str,
    pub signature: Vec<u8>,
}

/// Reads the five headers: all present, `PAYPAL-AUTH-ALGO` is `SHA256withRSA`, the time is
/// RFC 3339 and within the tolerance around `now`, the signature is base64.
///
/// # Errors
/// See [`VerifyError`].
pub fn transmission<'h, H: Headers + ?Sized>(
    headers: &'h H,
    now: i64,
    options: VerifyOptions,
) -> Result<Transmission<'h>, VerifyError> {
    let id = header(headers, TRANSMISSION_ID)?;
    let time = header(headers, TRANSMISSION_TIME)?;
    let signature = header(headers, TRANSMISSION_SIG)?;
    let cert_url = header(headers, CERT_URL)?;
    let algorithm = header(headers, AUTH_ALGO)?;
    if algorithm != SHA256_WITH_RSA {
        return Err(VerifyError::MalformedHeader(AUTH_ALGO));
    }
    if id.is_empty() || id.len() > MAX_TRANSMISSION_ID || id.contains('|') {
        return Err(VerifyError::MalformedHeader(TRANSMISSION_ID));
    }
    let timestamp = parse_time_str(time)
        .filter(|_| !time.contains('|'))
        .ok_or(VerifyError::MalformedHeader(TRANSMISSION_TIME))?
        .timestamp();
    if signature.len() > MAX_SIGNATURE_BASE64 {
        return Err(VerifyError::MalformedHeader(TRANSMISSION_SIG));
    }
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| VerifyError::MalformedHeader(TRANSMISSION_SIG))?;
    check_tolerance(timestamp, now, options.tolerance_secs)?;
    Ok(Transmission {
        id,
        time,
        timestamp,
        cert_url,
        signature,
    })
}

/// The body's CRC-32 (IEEE, zlib's), as PayPal signs it.
pub fn crc32(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

/// `transmission_id|transmission_time|webhook_id|crc32(body)`.
pub fn signed_string(transmission_id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{transmission_id}|{time}|{webhook_id}|{}", crc32(body))
}

/// Checks the transmission's signature over its signed string with `certificate` (already
/// verified for the transmission time).
///
/// # Errors
/// [`VerifyError::NoMatchingSignature`] when the signature does not verify: the body was
/// changed, or the delivery was signed for another webhook id (the two cannot be told apart).
pub fn check<'h>(
    transmission: &Transmission<'h>,
    webhook_id: &str,
    body: &[u8],
    certificate: &Certificate,
) -> Result<Verified<'h>, VerifyError> {
    let signed = signed_string(transmission.id, transmission.time, webhook_id, body);
    if certificate.verifies(signed.as_bytes(), &transmission.signature) {
        Ok(verified(transmission))
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// A transmission found genuine (here, or by PayPal's verify API).
pub fn verified<'h>(transmission: &Transmission<'h>) -> Verified<'h> {
    Verified {
        scheme: Scheme::PayPal,
        timestamp: transmission.timestamp,
        message_id: Some(transmission.id),
    }
}
