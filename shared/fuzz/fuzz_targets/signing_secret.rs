//! `SigningSecret::parse` on arbitrary strings, for every source.
//!
//! Properties:
//! - never panics;
//! - the empty string is refused; Stripe, and Whop without `whsec_`, take any other string as raw
//!   key bytes;
//! - a parsed secret's fingerprint is 8 lowercase hex digits and its `Debug` shows no more;
//! - a parsed secret verifies what it signs (`sign` → `verify`) for its source.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::{SecretError, SigningSecret, VerifyOptions};
use shared::providers::{sign, verify};

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"membership.activated","data":{"id":"mem_1"}}"#;

fuzz_target!(|secret: &str| {
    for source in Source::ALL {
        let parsed = SigningSecret::parse(source, secret);
        if secret.is_empty() {
            assert_eq!(
                parsed.as_ref().err(),
                Some(&SecretError::Empty),
                "{source}: empty"
            );
        }
        let raw_key =
            source == Source::Stripe || (source == Source::Whop && !secret.starts_with("whsec_"));
        if raw_key && !secret.is_empty() {
            assert!(
                parsed.is_ok(),
                "{source}: a raw-bytes secret was refused: {parsed:?}"
            );
        }
        let Ok(parsed) = parsed else {
            continue;
        };

        let fingerprint = parsed.fingerprint();
        assert!(
            fingerprint.len() == 8
                && fingerprint
                    .bytes()
                    .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')),
            "{source}: fingerprint {fingerprint:?}",
        );
        assert_eq!(
            format!("{parsed:?}"),
            format!("SigningSecret {{ fingerprint: {fingerprint:?}, .. }}"),
            "{source}: Debug shows more than the fingerprint",
        );

        let mut headers = HeaderMap::new();
        for (name, value) in sign(source, &parsed, BODY, NOW, "msg_1") {
            let value = HeaderValue::from_str(&value).expect("signed headers are valid values");
            headers.insert(HeaderName::from_static(name), value);
        }
        let secrets = [parsed];
        let verified = verify(
            source,
            &headers,
            BODY,
            &secrets,
            NOW,
            VerifyOptions::default(),
        );
        assert!(
            verified.is_ok(),
            "{source}: does not verify what it signed: {verified:?}"
        );
    }
});
