//! `verify` on arbitrary header values and an arbitrary body, for every source, with a fixed secret
//! and `accept_whop_bare` both ways.
//!
//! Properties:
//! - never panics;
//! - whatever verifies stops verifying when the body changes (first byte flipped, or a byte appended
//!   to an empty body): the only possible error is then `NoMatchingSignature`;
//! - whatever verifies with the fixed secret also verifies with it second in a rotation pair, and
//!   never with an unrelated secret alone.
//!
//! An HMAC match cannot be found by mutation, so an input may ask for the headers a real sender
//! would send (`sign*`, signed with the fixed secret at `NOW + offset`) before its arbitrary
//! header values are laid over them.

#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::{SigningSecret, VerifyError, VerifyOptions};
use shared::providers::whop::verify::{sign_whop_bare, sign_whop_legacy};
use shared::providers::{sign, verify};

/// The verifier's clock.
const NOW: i64 = 1_700_000_000;
/// A Standard Webhooks test secret; parsed per source (base64 for Whop and Standard, raw for Stripe).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

struct Secrets {
    source: Source,
    fixed: SigningSecret,
    other: SigningSecret,
}

static SECRETS: LazyLock<[Secrets; Source::ALL.len()]> = LazyLock::new(|| {
    Source::ALL.map(|source| Secrets {
        source,
        fixed: SigningSecret::parse(source, SECRET).expect("the fixed secret parses"),
        other: SigningSecret::parse(source, OTHER_SECRET).expect("the other secret parses"),
    })
});

/// Which real sender's headers to start from.
#[derive(Debug, Arbitrary)]
enum Signed<'a> {
    /// `sign(source, …)`: Standard Webhooks for Whop and Standard, `stripe-signature` for Stripe.
    Native {
        message_id: &'a str,
    },
    WhopLegacy,
    WhopBare,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Start from a real signature over `body` at `NOW + offset`, or from no headers.
    signed: Option<(Signed<'a>, i16)>,
    /// Values laid over the signed ones (`insert`); `None` leaves the header as it is.
    webhook_id: Option<&'a [u8]>,
    webhook_timestamp: Option<&'a [u8]>,
    webhook_signature: Option<&'a [u8]>,
    x_whop_signature: Option<&'a [u8]>,
    x_whop_timestamp: Option<&'a [u8]>,
    stripe_signature: Option<&'a [u8]>,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    for secrets in SECRETS.iter() {
        let headers = headers(&input, secrets);
        for accept_whop_bare in [false, true] {
            check(secrets, &headers, input.body, accept_whop_bare);
        }
    }
});

fn headers(input: &Input<'_>, secrets: &Secrets) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some((signed, offset)) = &input.signed {
        let timestamp = NOW + i64::from(*offset);
        let pairs = match signed {
            Signed::Native { message_id } => sign(
                secrets.source,
                &secrets.fixed,
                input.body,
                timestamp,
                message_id,
            ),
            Signed::WhopLegacy => sign_whop_legacy(&secrets.fixed, input.body, timestamp),
            Signed::WhopBare => sign_whop_bare(&secrets.fixed, input.body, timestamp),
        };
        for (name, value) in pairs {
            // A message id a header cannot carry is left out, as a sender could not send it.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    let overrides = [
        ("webhook-id", input.webhook_id),
        ("webhook-timestamp", input.webhook_timestamp),
        ("webhook-signature", input.webhook_signature),
        ("x-whop-signature", input.x_whop_signature),
        ("x-whop-timestamp", input.x_whop_timestamp),
        ("stripe-signature", input.stripe_signature),
    ];
    for (name, value) in overrides {
        if let Some(Ok(value)) = value.map(HeaderValue::from_bytes) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

fn check(secrets: &Secrets, headers: &HeaderMap, body: &[u8], accept_whop_bare: bool) {
    let source = secrets.source;
    let options = VerifyOptions {
        accept_whop_bare,
        ..VerifyOptions::default()
    };
    let fixed = std::slice::from_ref(&secrets.fixed);
    let Ok(verified) = verify(source, headers, body, fixed, NOW, options) else {
        return;
    };

    // The body is signed: any change to it must be caught, and by the signature check alone.
    let mut tampered = body.to_vec();
    match tampered.first_mut() {
        Some(first) => *first ^= 0x01,
        None => tampered.push(b'{'),
    }
    let result = verify(source, headers, &tampered, fixed, NOW, options);
    assert_eq!(
        result,
        Err(VerifyError::NoMatchingSignature),
        "{source}: a tampered body verified (original verified as {verified:?})",
    );

    // Rotation: the matching secret may come second.
    let pair = [secrets.other.clone(), secrets.fixed.clone()];
    assert_eq!(
        verify(source, headers, body, &pair, NOW, options),
        Ok(verified),
        "{source}: verifies with the fixed secret alone but not second in a rotation pair",
    );
    // An unrelated secret alone must not verify it.
    let other = std::slice::from_ref(&secrets.other);
    assert_eq!(
        verify(source, headers, body, other, NOW, options),
        Err(VerifyError::NoMatchingSignature),
        "{source}: verifies with an unrelated secret",
    );
}
