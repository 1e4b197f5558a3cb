//! What every signature scheme shares; the schemes themselves live with their providers, and the
//! domain reaches them through [`crate::domain::ports::WebhookProviders`].
//!
//! Every scheme is HMAC-SHA256: a [`SigningSecret`] holds the pre-keyed MAC, so a verification
//! clones it, feeds the signed parts (no concatenated buffer) and compares the tag against each
//! candidate signature in constant time ([`CtOutput`]'s equality). Candidates are decoded into
//! fixed `[u8; 32]` arrays: the verify path does not allocate. Headers are read through
//! [`Headers`], so nothing here names an HTTP type.
//!
//! Check order: headers present and well-formed → a secret is configured → timestamp within the
//! tolerance (both directions, every scheme) → signatures. No byte of the body is parsed.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::CtOutput;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use super::{Headers, NotText, Scheme, Source, Verified};

/// The default timestamp tolerance, in seconds, in both directions (all reference libraries use 5 min).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

pub type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 tag.
pub type Tag = [u8; TAG_LEN];
pub const TAG_LEN: usize = 32;
/// Length of a tag in padded standard base64.
pub const TAG_BASE64_LEN: usize = 44;

const WHSEC_PREFIX: &str = "whsec_";

/// Standard alphabet, padding optional: secrets are copied by hand and often lose their `=`.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The header names the schemes read (lowercase, as [`Headers::text`] takes them).
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub const STRIPE_SIGNATURE: &str = "stripe-signature";
pub const WHOP_SIGNATURE: &str = "x-whop-signature";
pub const WHOP_TIMESTAMP: &str = "x-whop-timestamp";

/// A signing secret decoded once into its HMAC key.
///
/// It holds a pre-keyed `Hmac<Sha256>`, so each verification skips the key schedule. `Debug` is
/// redacted: it shows only the [fingerprint](Self::fingerprint).
#[derive(Clone)]
pub struct SigningSecret {
    mac: HmacSha256,
    fingerprint: String,
}

impl SigningSecret {
    /// Decodes `secret` the way `source` uses it.
    ///
    /// - Whop: `whsec_…` → base64 of the rest (padding optional); anything else (e.g. `ws_…`) → the
    ///   raw UTF-8 bytes of the whole string (`docs/providers.md` §1a: the key is the literal `ws_…` bytes).
    /// - Stripe: the raw UTF-8 bytes of the whole string, `whsec_` included (never base64).
    /// - Standard: strip an optional `whsec_` prefix and base64-decode (padding optional).
    ///
    /// The string is used exactly as given: it is not trimmed.
    ///
    /// # Errors
    /// [`SecretError::Empty`] if the secret (or its decoded key) is empty, [`SecretError::NotBase64`]
    /// if a part that must be base64 is not.
    pub fn parse(source: Source, secret: &str) -> Result<Self, SecretError> {
        if secret.is_empty() {
            return Err(SecretError::Empty);
        }
        let mac = match source {
            // Gumroad signs nothing; its pings never reach signature verification.
            Source::Stripe | Source::Gumroad => keyed(secret.as_bytes())?,
            Source::Whop => match secret.strip_prefix(WHSEC_PREFIX) {
                Some(encoded) => keyed_from_base64(encoded)?,
                None => keyed(secret.as_bytes())?,
            },
            Source::Standard | Source::Resend => {
                keyed_from_base64(secret.strip_prefix(WHSEC_PREFIX).unwrap_or(secret))?
            }
            Source::PayPal => return Err(SecretError::NotShared),
        };
        Ok(Self {
            mac,
            fingerprint: crate::domain::fingerprint(secret.as_bytes()),
        })
    }

    /// The 8-hex fingerprint of the secret string (first 4 bytes of its SHA-256), safe to log.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The MAC of the concatenation of `parts`, fed one by one.
    pub fn mac(&self, parts: &[&[u8]]) -> CtOutput<HmacSha256> {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize()
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecret")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn keyed(key: &[u8]) -> Result<HmacSha256, SecretError> {
    if key.is_empty() {
        return Err(SecretError::Empty);
    }
    // HMAC accepts keys of any length (longer ones are hashed), so this error cannot happen.
    HmacSha256::new_from_slice(key).map_err(|_| SecretError::Empty)
}

fn keyed_from_base64(encoded: &str) -> Result<HmacSha256, SecretError> {
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    // Zeroised on drop: the decoded key lives only as long as the key schedule needs it.
    let key: SecretSlice<u8> = SECRET_BASE64
        .decode(encoded)
        .map_err(|_| SecretError::NotBase64)?
        .into();
    keyed(key.expose_secret())
}

/// Why a signing secret could not be parsed. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret, or the key it decodes to, is empty.
    #[error("the signing secret is empty")]
    Empty,
    /// The secret must be base64 (after an optional `whsec_` prefix) and is not.
    #[error("the signing secret is not valid base64")]
    NotBase64,
    /// The source signs with a public key (PayPal's certificate), not a shared secret.
    #[error("this provider signs with a certificate, not a shared secret")]
    NotShared,
}

/// Knobs of verification ([`crate::domain::ports::WebhookProviders::verify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Maximum |now − timestamp|, in seconds, in both directions. Negative values act as 0.
    pub tolerance_secs: i64,
    /// Accept Whop's oldest form (`x-whop-signature: <hex>` over the body alone, with an unsigned
    /// `x-whop-timestamp`). Off by default: its timestamp is not signed, so replays are only bounded
    /// by idempotency.
    pub accept_whop_bare: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            accept_whop_bare: false,
        }
    }
}

/// Why a delivery was rejected. [`VerifyError::reason_code`] gives a stable code for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the scheme needs is absent; carries the header name.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header is not valid UTF-8 or not in the scheme's format; carries the header name.
    #[error("malformed header `{0}`")]
    MalformedHeader(&'static str),
    /// The delivery's timestamp is further than the tolerance from `now`, in either direction.
    #[error("timestamp {timestamp} is outside the tolerance around now ({now})")]
    TimestampOutOfTolerance {
        /// The delivery's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// No candidate signature matches any active secret.
    #[error("no signature matches an active secret")]
    NoMatchingSignature,
    /// No active secret is configured for this source.
    #[error("no active signing secret is configured for this source")]
    NoSecrets,
    /// The delivery uses a scheme that is switched off; carries the scheme name (e.g. `whop_bare`).
    #[error("signature scheme `{0}` is disabled")]
    SchemeDisabled(&'static str),
    /// The certificate the delivery names cannot vouch for it (PayPal).
    #[error("signing certificate refused: {0}")]
    Certificate(CertificateProblem),
}

/// Why the certificate a delivery names was refused; each has its own reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    /// The certificate URL is not on the allow-list (nothing was fetched).
    #[error("the certificate URL is not an allowed https URL of the provider")]
    UrlRefused,
    /// The chain does not lead to a trusted root, or is not a valid chain.
    #[error("the certificate does not chain to a trusted root")]
    Untrusted,
    /// The certificate (or one of its issuers) was not valid at the transmission time.
    #[error("the certificate was not valid at the transmission time")]
    Expired,
    /// The certificate's subject is not the provider's.
    #[error("the certificate's subject is not the provider's")]
    WrongSubject,
    /// The document is not a PEM certificate chain, or its key is not an RSA key.
    #[error("the certificate is unusable")]
    Unusable,
}

impl CertificateProblem {
    /// `certificate_url_refused`, `certificate_untrusted`, `certificate_expired`,
    /// `certificate_wrong_subject` or `certificate_unusable`.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::UrlRefused => "certificate_url_refused",
            Self::Untrusted => "certificate_untrusted",
            Self::Expired => "certificate_expired",
            Self::WrongSubject => "certificate_wrong_subject",
            Self::Unusable => "certificate_unusable",
        }
    }
}

/// Why a delivery signed with a fetched public key was not verified: refused (401), or the key
/// could not be fetched (503, the sender retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertifiedError {
    #[error(transparent)]
    Rejected(#[from] VerifyError),
    #[error("the signing certificate could not be fetched: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// A stable, snake_case code: `missing_header`, `malformed_header`, `timestamp_out_of_tolerance`,
    /// `no_matching_signature`, `no_secrets`, `scheme_disabled` or a [`CertificateProblem`]'s.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::NoMatchingSignature => "no_matching_signature",
            Self::NoSecrets => "no_secrets",
            Self::SchemeDisabled(_) => "scheme_disabled",
            Self::Certificate(problem) => problem.reason_code(),
        }
    }
}

/// `t=<unix>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`: Stripe, and Whop's legacy form.
pub fn verify_t_v1<'h>(
    scheme: Scheme,
    name: &'static str,
    value: &str,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    let mut raw_timestamp = None;
    let mut has_v1 = false;
    for (key, item) in key_values(value) {
        match key {
            "t" if raw_timestamp.is_none() => raw_timestamp = Some(item),
            "v1" => has_v1 = true,
            _ => {}
        }
    }
    let malformed = || VerifyError::MalformedHeader(name);
    let raw_timestamp = raw_timestamp.ok_or_else(malformed)?;
    let timestamp = parse_timestamp(raw_timestamp).ok_or_else(malformed)?;
    if !has_v1 {
        return Err(malformed());
    }
    require_secrets(secrets)?;
    check_tolerance(timestamp, now, options.tolerance_secs)?;

    let parts: [&[u8]; 3] = [raw_timestamp.as_bytes(), b".", body];
    find_match(secrets, &parts, || {
        key_values(value)
            .filter(|(key, _)| *key == "v1")
            .filter_map(|(_, signature)| decode_hex_tag(signature))
    })?;
    Ok(Verified {
        scheme,
        timestamp,
        message_id: None,
    })
}

/// Computes the MAC of `parts` once per secret and compares it, in constant time, with each
/// candidate. Stops at the first match: only whether some candidate matched leaks, which the
/// response reveals anyway.
pub fn find_match<I>(
    secrets: &[SigningSecret],
    parts: &[&[u8]],
    candidates: impl Fn() -> I,
) -> Result<(), VerifyError>
where
    I: Iterator<Item = Tag>,
{
    for secret in secrets {
        let expected = secret.mac(parts);
        for candidate in candidates() {
            if expected == CtOutput::new(candidate.into()) {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatchingSignature)
}

/// A required header as text.
pub fn header<'h, H: Headers + ?Sized>(
    headers: &'h H,
    name: &'static str,
) -> Result<&'h str, VerifyError> {
    optional_header(headers, name)?.ok_or(VerifyError::MissingHeader(name))
}

/// An optional header as text; present but not visible ASCII (tabs allowed) is malformed.
pub fn optional_header<'h, H: Headers + ?Sized>(
    headers: &'h H,
    name: &'static str,
) -> Result<Option<&'h str>, VerifyError> {
    headers
        .text(name)
        .transpose()
        .map_err(|NotText| VerifyError::MalformedHeader(name))
}

pub fn require_secrets(secrets: &[SigningSecret]) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        Err(VerifyError::NoSecrets)
    } else {
        Ok(())
    }
}

/// Unix seconds: ASCII digits only (no sign, no spaces), within `i64`.
pub fn parse_timestamp(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

pub fn check_tolerance(timestamp: i64, now: i64, tolerance_secs: i64) -> Result<(), VerifyError> {
    let tolerance = u64::try_from(tolerance_secs).unwrap_or(0);
    if now.abs_diff(timestamp) > tolerance {
        Err(VerifyError::TimestampOutOfTolerance { timestamp, now })
    } else {
        Ok(())
    }
}

/// The `version,signature` entries of a space-separated Standard Webhooks header.
pub fn standard_entries(value: &str) -> impl Iterator<Item = (&str, &str)> {
    pairs(value, b' ', b',')
}

/// The `key=value` pairs of a comma-separated header, split at the first `=`; items without one
/// are skipped.
pub fn key_values(value: &str) -> impl Iterator<Item = (&str, &str)> {
    pairs(value, b',', b'=')
}

/// The items of `value` separated by `separator`, each split at its first `pair`; items without
/// one are skipped. Both are ASCII, so a byte search splits where a `char` one would: a header is
/// short, and the scan costs less than a `char` pattern's search set-up.
fn pairs(value: &str, separator: u8, pair: u8) -> impl Iterator<Item = (&str, &str)> {
    fn split(text: &str, byte: u8) -> Option<(&str, &str)> {
        let at = text.bytes().position(|found| found == byte)?;
        Some((text.get(..at)?, text.get(at + 1..)?))
    }
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        loop {
            let text = rest?;
            let item = match split(text, separator) {
                Some((item, next)) => {
                    rest = Some(next);
                    item
                }
                None => {
                    rest = None;
                    text
                }
            };
            if let Some(found) = split(item, pair) {
                return Some(found);
            }
        }
    })
}

/// A padded standard-base64 tag (the form every Standard Webhooks library emits and compares).
pub fn decode_base64_tag(encoded: &str) -> Option<Tag> {
    if encoded.len() != TAG_BASE64_LEN {
        return None;
    }
    let mut tag = [0; TAG_LEN];
    match STANDARD.decode_slice(encoded, &mut tag) {
        Ok(TAG_LEN) => Some(tag),
        _ => None,
    }
}

/// A 64-digit hex tag (either case).
pub fn decode_hex_tag(encoded: &str) -> Option<Tag> {
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(encoded, &mut tag).ok().map(|()| tag)
}

pub fn sign_t_v1(
    name: &'static str,
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, String)> {
    let timestamp = timestamp.to_string();
    let tag = secret.mac(&[timestamp.as_bytes(), b".", body]);
    vec![(
        name,
        format!("t={timestamp},v1={}", hex::encode(tag.as_bytes())),
    )]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{key_values, standard_entries};

    proptest! {
        /// The byte splitter against `str`'s own `split` and `split_once`, over header-like text
        /// dense in separators (empty items, leading and trailing ones, repeated ones).
        #[test]
        fn pairs_split_as_str_split_and_split_once_do(value in "[a-c ,=\t]{0,24}") {
            let standard: Vec<_> = standard_entries(&value).collect();
            let oracle: Vec<_> = value.split(' ').filter_map(|entry| entry.split_once(',')).collect();
            prop_assert_eq!(standard, oracle);
            let stripe: Vec<_> = key_values(&value).collect();
            let oracle: Vec<_> = value.split(',').filter_map(|pair| pair.split_once('=')).collect();
            prop_assert_eq!(stripe, oracle);
        }
    }
}
