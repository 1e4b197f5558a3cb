//! Any Standard Webhooks sender: the `webhook-*` signature scheme (which Whop's API v1 uses too),
//! its envelope (`{type, timestamp, data}` by the spec's convention) and its observations (none:
//! such a sender has no fixed vocabulary).

pub mod resend;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::domain::json::{self, Field};
use crate::domain::state::observe::{ObserveError, Observed};
use crate::domain::webhooks::event::{NormaliseError, Subject, field_time, header_id, header_time};
use crate::domain::webhooks::verify::{
    SigningSecret, VerifyError, VerifyOptions, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    check_tolerance, decode_base64_tag, find_match, header, parse_timestamp, require_secrets,
    standard_entries,
};
use crate::domain::webhooks::{Headers, NotText, Scheme, Verified};
use crate::providers::Parts;

/// Verifies a Standard Webhooks delivery.
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
    let signatures = header(headers, WEBHOOK_SIGNATURE)?;
    verify_signatures(signatures, headers, body, secrets, now, options)
}

/// `webhook-id` / `webhook-timestamp` / `webhook-signature: v1,<base64> …` over `{id}.{ts}.{body}`;
/// `signatures` is the `webhook-signature` value, already looked up.
pub fn verify_signatures<'h, H: Headers + ?Sized>(
    signatures: &str,
    headers: &'h H,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    let id = header(headers, WEBHOOK_ID)?;
    let raw_timestamp = header(headers, WEBHOOK_TIMESTAMP)?;
    let timestamp =
        parse_timestamp(raw_timestamp).ok_or(VerifyError::MalformedHeader(WEBHOOK_TIMESTAMP))?;
    // Well-formed means at least one `version,signature` entry; which versions and whether they
    // decode only decides whether they can match.
    if standard_entries(signatures).next().is_none() {
        return Err(VerifyError::MalformedHeader(WEBHOOK_SIGNATURE));
    }
    require_secrets(secrets)?;
    check_tolerance(timestamp, now, options.tolerance_secs)?;

    let parts: [&[u8]; 5] = [id.as_bytes(), b".", raw_timestamp.as_bytes(), b".", body];
    find_match(secrets, &parts, || {
        standard_entries(signatures)
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| decode_base64_tag(signature))
    })?;
    Ok(Verified {
        scheme: Scheme::StandardWebhooks,
        timestamp,
        message_id: Some(id),
    })
}

/// The headers a Standard Webhooks sender sends for `body`: `webhook-id`, `webhook-timestamp`,
/// `webhook-signature: v1,<base64>`.
pub fn sign(
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
    message_id: &str,
) -> Vec<(&'static str, String)> {
    let timestamp = timestamp.to_string();
    let tag = secret.mac(&[
        message_id.as_bytes(),
        b".",
        timestamp.as_bytes(),
        b".",
        body,
    ]);
    vec![
        (WEBHOOK_ID, message_id.to_owned()),
        (WEBHOOK_TIMESTAMP, timestamp),
        (
            WEBHOOK_SIGNATURE,
            format!("v1,{}", STANDARD.encode(tag.as_bytes())),
        ),
    ]
}

/// Svix's names for the three Standard Webhooks headers; Resend sends these (`docs/providers.md`,
/// "Resend webhooks"), over the same algorithm and signed content.
pub const SVIX_ID: &str = "svix-id";
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
pub const SVIX_SIGNATURE: &str = "svix-signature";

/// The `svix-*` name of a `webhook-*` header (other names unchanged).
fn svix_name(name: &str) -> &str {
    match name {
        WEBHOOK_ID => SVIX_ID,
        WEBHOOK_TIMESTAMP => SVIX_TIMESTAMP,
        WEBHOOK_SIGNATURE => SVIX_SIGNATURE,
        other => other,
    }
}

/// A sender's headers read under the `svix-*` names where the scheme asks for `webhook-*`.
struct Svix<'a, H: ?Sized>(&'a H);

impl<H: Headers + ?Sized> Headers for Svix<'_, H> {
    fn text(&self, name: &str) -> Option<Result<&str, NotText>> {
        self.0.text(svix_name(name))
    }
}

/// Verifies a Standard Webhooks delivery sent under the `svix-*` header names ([`verify`] itself,
/// its errors naming the headers the sender sent).
///
/// # Errors
/// See [`VerifyError`].
pub fn verify_svix<'h, H: Headers + ?Sized>(
    headers: &'h H,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, VerifyError> {
    let rename = |error| match error {
        VerifyError::MissingHeader(name) => VerifyError::MissingHeader(svix_name(name)),
        VerifyError::MalformedHeader(name) => VerifyError::MalformedHeader(svix_name(name)),
        other => other,
    };
    let renamed = Svix(headers);
    let verified = verify(&renamed, body, secrets, now, options).map_err(rename)?;
    Ok(Verified {
        scheme: verified.scheme,
        timestamp: verified.timestamp,
        message_id: Some(header(headers, SVIX_ID)?),
    })
}

/// The headers a Svix sender sends for `body`: [`sign`]'s, under the `svix-*` names.
pub fn sign_svix(
    secret: &SigningSecret,
    body: &[u8],
    timestamp: i64,
    message_id: &str,
) -> Vec<(&'static str, String)> {
    sign(secret, body, timestamp, message_id)
        .into_iter()
        .map(|(name, value)| (svix_name(name), value))
        .collect()
}

json::lenient_object! {
    /// Whatever a Standard Webhooks sender sends; by the spec's convention `{type, timestamp, data}`.
    struct StandardEnvelope / StandardEnvelopeKey {
        "type" => kind: Field,
        "timestamp" => timestamp: Field,
        "data" => data: StandardData,
    }
}

json::lenient_object! {
    /// The sender's `data`.
    struct StandardData / StandardDataKey {
        "id" => id: Field,
    }
}

/// Id = the `webhook-id` header; kind = `type`; time = a parseable `timestamp`, else the header
/// time; the subject field named by the kind's first segment gets `data.id`.
pub(crate) fn normalise<'a>(
    verified: &Verified<'_>,
    raw: &'a str,
) -> Result<Parts<'a>, NormaliseError> {
    let mut envelope = StandardEnvelope::default();
    crate::providers::parse(raw, &mut envelope)?;
    let event_id = header_id(verified).ok_or(NormaliseError::MissingEventId)?;
    let kind = envelope
        .kind
        .into_str()
        .ok_or(NormaliseError::MissingEventType)?;
    // The body's time is the sender's own convention: use it when it reads as one.
    let occurred_at: DateTime<Utc> = match field_time(&envelope.timestamp, "timestamp") {
        Ok(Some(time)) => time,
        Ok(None) | Err(_) => header_time(verified)?,
    };
    let mut subject = Subject::default();
    let id = envelope.data.id.into_id();
    let field = match kind.split('.').next().unwrap_or_default() {
        "membership" => Some(&mut subject.membership_id),
        "user" => Some(&mut subject.user_id),
        "company" => Some(&mut subject.company_id),
        "product" => Some(&mut subject.product_id),
        "plan" => Some(&mut subject.plan_id),
        "payment" => Some(&mut subject.payment_id),
        "customer" => Some(&mut subject.customer_id),
        "subscription" => Some(&mut subject.subscription_id),
        "invoice" => Some(&mut subject.invoice_id),
        _ => None,
    };
    if let Some(field) = field {
        *field = id;
    }
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

/// A Standard Webhooks sender's events carry no state we read.
pub(crate) fn observe() -> Result<Observed, ObserveError> {
    Ok(Observed::Ignored("kind_without_state"))
}
