//! Tests of every provider's signature schemes (through [`verify`] and [`sign`]) and of the
//! shared checks.

use super::whop::verify::{sign_whop_bare, sign_whop_legacy};
use super::*;
use crate::domain::webhooks::verify::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use proptest::prelude::*;

// --- `docs/providers.md` §5 and §6 vectors ---------------------------------------------------

const SW1_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW1_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW1_TS: i64 = 1_614_265_330;
const SW1_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW1_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const GO_WRONG: &str = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

const SW2_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SW2_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const SW2_TS: i64 = 1_649_367_553;
const SW2_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const SW2_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
const RUST_DECOYS: [&str; 3] = [
    "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
    "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
];

const STRIPE_SECRET: &str = "whsec_test_secret";
const STRIPE_TS: i64 = 1_700_000_000;
const STRIPE_BODY: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";
const STRIPE_HEADER: &str =
    "t=1700000000,v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
const STRIPE_COMPACT_SECRET: &str = "whsec_abc123";
const STRIPE_COMPACT_TS: i64 = 1_712_345_678;
const STRIPE_COMPACT_BODY: &[u8] =
    br#"{"id":"evt_1","object":"event","type":"checkout.session.completed"}"#;
const STRIPE_COMPACT_HEADER: &str =
    "t=1712345678,v1=8f4ed0fd89c6c66fa3edddcbba154dd44ca276b9d4bb995dc91090c206c298f1";

const WHOP_SECRET: &str = "ws_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const WHOP_ID: &str = "msg_test_1";
const WHOP_TS: i64 = 1_735_689_600;
const WHOP_BODY: &[u8] = br#"{"id":"msg_xxxxxxxxxxxxxxxxxxxxxxxx","api_version":"v1","data":{"id":"mem_xxxxxxxxxxxxxx","status":"active"},"timestamp":"2025-01-01T00:00:00.000Z","type":"membership.activated","company_id":"biz_xxxxxxxxxxxxxx"}"#;
const WHOP_SIG: &str = "v1,RhlO1OaeFFqnFXJQgs0Kk9skRGWxDpbzZ4Y+F0NKxB8=";
const WHOP_LEGACY_BODY: &[u8] =
    br#"{"action":"membership.went_valid","api_version":"v5","data":{"id":"mem_123"}}"#;
const WHOP_LEGACY_HEADER: &str =
    "t=1735689600,v1=2dd9214707adc802a85e6e9769f9758999e6c110218f26befae83ebe64389f19";

// --- helpers ------------------------------------------------------------------------------

fn secret(source: Source, value: &str) -> SigningSecret {
    SigningSecret::parse(source, value).unwrap()
}

fn headers<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_ref().as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_ref()).unwrap(),
        );
    }
    map
}

fn standard_headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
    headers(&[
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature.to_owned()),
    ])
}

fn stripe_headers(value: &str) -> HeaderMap {
    headers(&[("stripe-signature", value)])
}

fn without(mut map: HeaderMap, name: &str) -> HeaderMap {
    map.remove(name);
    map
}

fn bare_on() -> VerifyOptions {
    VerifyOptions {
        accept_whop_bare: true,
        ..VerifyOptions::default()
    }
}

fn verify_one<'h>(
    source: Source,
    map: &'h HeaderMap,
    body: &[u8],
    secret: &SigningSecret,
    now: i64,
) -> Result<Verified<'h>, VerifyError> {
    verify(
        source,
        map,
        body,
        std::slice::from_ref(secret),
        now,
        VerifyOptions::default(),
    )
}

fn reason(result: Result<Verified<'_>, VerifyError>) -> &'static str {
    result.unwrap_err().reason_code()
}

fn sw1() -> (SigningSecret, HeaderMap) {
    (
        secret(Source::Standard, SW1_SECRET),
        standard_headers(SW1_ID, SW1_TS, SW1_SIG),
    )
}

// --- official vectors ---------------------------------------------------------------------

#[test]
fn resend_verifies_the_official_vector_under_svix_names_and_not_under_webhook_names() {
    let key = secret(Source::Resend, SW1_SECRET);
    let mut map = HeaderMap::new();
    map.insert("svix-id", SW1_ID.parse().unwrap());
    map.insert("svix-timestamp", SW1_TS.to_string().parse().unwrap());
    map.insert("svix-signature", SW1_SIG.parse().unwrap());
    let verified = verify_one(Source::Resend, &map, SW1_BODY, &key, SW1_TS).unwrap();
    assert_eq!(verified.message_id, Some(SW1_ID));
    assert_eq!(
        sign(Source::Resend, &key, SW1_BODY, SW1_TS, SW1_ID)
            .into_iter()
            .find(|(name, _)| *name == "svix-signature")
            .map(|(_, value)| value)
            .as_deref(),
        Some(SW1_SIG)
    );
    let (_, webhook_names) = sw1();
    assert_eq!(
        verify_one(Source::Resend, &webhook_names, SW1_BODY, &key, SW1_TS).unwrap_err(),
        VerifyError::MissingHeader("svix-signature")
    );
}

#[test]
fn verifies_the_first_official_standard_webhooks_vector() {
    let (key, map) = sw1();

    let verified = verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS).unwrap();

    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::StandardWebhooks,
            timestamp: SW1_TS,
            message_id: Some(SW1_ID),
        }
    );
}

#[test]
fn verifies_the_first_vector_with_the_python_unprefixed_secret() {
    let key = secret(Source::Standard, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let map = standard_headers(SW1_ID, SW1_TS, SW1_SIG);

    assert!(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS).is_ok());
}

#[test]
fn verifies_the_rust_library_vector() {
    let key = secret(Source::Standard, SW2_SECRET);
    let map = standard_headers(SW2_ID, SW2_TS, SW2_SIG);

    let verified = verify_one(Source::Standard, &map, SW2_BODY, &key, SW2_TS).unwrap();

    assert_eq!(verified.message_id, Some(SW2_ID));
}

#[test]
fn verifies_the_rust_library_vector_among_its_multi_signature_decoys() {
    let key = secret(Source::Standard, SW2_SECRET);
    let value = format!(
        "{} {} {SW2_SIG} {}",
        RUST_DECOYS[0], RUST_DECOYS[1], RUST_DECOYS[2]
    );
    let map = standard_headers(SW2_ID, SW2_TS, &value);

    assert!(verify_one(Source::Standard, &map, SW2_BODY, &key, SW2_TS).is_ok());
}

#[test]
fn rejects_the_rust_library_decoys_alone() {
    let key = secret(Source::Standard, SW2_SECRET);
    let map = standard_headers(SW2_ID, SW2_TS, &RUST_DECOYS.join(" "));

    assert_eq!(
        reason(verify_one(Source::Standard, &map, SW2_BODY, &key, SW2_TS)),
        "no_matching_signature"
    );
}

#[test]
fn verifies_the_go_multi_signature_header() {
    let (key, _) = sw1();
    let value = format!("v1,{GO_WRONG} v2,{GO_WRONG} {SW1_SIG} v1,{GO_WRONG}");
    let map = standard_headers(SW1_ID, SW1_TS, &value);

    assert!(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS).is_ok());
}

#[test]
fn rejects_the_go_wrong_signature() {
    let (key, _) = sw1();
    let map = standard_headers(SW1_ID, SW1_TS, &format!("v1,{GO_WRONG}"));

    assert_eq!(
        reason(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS)),
        "no_matching_signature"
    );
}

#[test]
fn verifies_the_spec_example_shape_with_a_v1a_entry_alongside() {
    let (key, _) = sw1();
    let value = format!(
        "{SW1_SIG} v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
    );
    let map = standard_headers(SW1_ID, SW1_TS, &value);

    assert!(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS).is_ok());
}

#[test]
fn verifies_the_stripe_fixture_payload() {
    let key = secret(Source::Stripe, STRIPE_SECRET);
    let map = stripe_headers(STRIPE_HEADER);

    let verified = verify_one(Source::Stripe, &map, STRIPE_BODY, &key, STRIPE_TS).unwrap();

    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::Stripe,
            timestamp: STRIPE_TS,
            message_id: None,
        }
    );
}

#[test]
fn verifies_the_stripe_rotation_header_with_zeros_first() {
    let key = secret(Source::Stripe, STRIPE_SECRET);
    let value = format!(
        "t=1700000000,v1={},v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd",
        "0".repeat(64)
    );
    let map = stripe_headers(&value);

    assert!(verify_one(Source::Stripe, &map, STRIPE_BODY, &key, STRIPE_TS).is_ok());
}

#[test]
fn verifies_the_stripe_header_with_a_trailing_bad_signature_and_v0() {
    let key = secret(Source::Stripe, STRIPE_SECRET);
    let map = stripe_headers(&format!("{STRIPE_HEADER},v1=bad_signature,v0=abc,x=y"));

    assert!(verify_one(Source::Stripe, &map, STRIPE_BODY, &key, STRIPE_TS).is_ok());
}

#[test]
fn verifies_the_compact_stripe_vector() {
    let key = secret(Source::Stripe, STRIPE_COMPACT_SECRET);
    let map = stripe_headers(STRIPE_COMPACT_HEADER);

    assert!(
        verify_one(
            Source::Stripe,
            &map,
            STRIPE_COMPACT_BODY,
            &key,
            STRIPE_COMPACT_TS
        )
        .is_ok()
    );
}

#[test]
fn stripe_secrets_keep_the_whsec_prefix_and_are_not_base64_decoded() {
    let stripe = secret(Source::Stripe, "whsec_abcd");
    let as_base64 = secret(Source::Standard, "whsec_abcd");

    let raw = sign(Source::Stripe, &stripe, b"{}", 1, "");
    let decoded = sign(Source::Stripe, &as_base64, b"{}", 1, "");

    // Python: hmac.new(b"whsec_abcd", b"1.{}", hashlib.sha256).hexdigest()
    assert_eq!(
        raw,
        vec![(
            "stripe-signature",
            "t=1,v1=d9a597963f8df5297b4dab4d9efd7255cb46ddd5ff0dbf09291425792297a872".to_owned()
        )]
    );
    assert_ne!(raw, decoded);
}

#[test]
fn verifies_the_whop_v1_vector_with_the_ws_secret() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = standard_headers(WHOP_ID, WHOP_TS, WHOP_SIG);

    let verified = verify_one(Source::Whop, &map, WHOP_BODY, &key, WHOP_TS).unwrap();

    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::StandardWebhooks,
            timestamp: WHOP_TS,
            message_id: Some(WHOP_ID),
        }
    );
}

#[test]
fn whop_whsec_secret_is_the_base64_of_the_key_like_the_sdk_docs_btoa() {
    let encoded = format!("whsec_{}", STANDARD.encode(WHOP_SECRET));
    let key = secret(Source::Whop, &encoded);
    let map = standard_headers(WHOP_ID, WHOP_TS, WHOP_SIG);

    assert!(verify_one(Source::Whop, &map, WHOP_BODY, &key, WHOP_TS).is_ok());
}

#[test]
fn verifies_the_whop_legacy_v5_vector() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = headers(&[("x-whop-signature", WHOP_LEGACY_HEADER)]);

    let verified = verify_one(Source::Whop, &map, WHOP_LEGACY_BODY, &key, WHOP_TS).unwrap();

    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::WhopLegacy,
            timestamp: WHOP_TS,
            message_id: None,
        }
    );
}

#[test]
fn header_names_are_case_insensitive() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = headers(&[("X-Whop-Signature", WHOP_LEGACY_HEADER)]);

    assert!(verify_one(Source::Whop, &map, WHOP_LEGACY_BODY, &key, WHOP_TS).is_ok());
}

// --- sign reproduces the vectors ------------------------------------------------------------

fn value_of(signed: &[(&'static str, String)], name: &str) -> String {
    signed
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.clone())
        .unwrap()
}

#[test]
fn sign_reproduces_the_standard_webhooks_vectors() {
    let first = sign(
        Source::Standard,
        &secret(Source::Standard, SW1_SECRET),
        SW1_BODY,
        SW1_TS,
        SW1_ID,
    );
    let second = sign(
        Source::Standard,
        &secret(Source::Standard, SW2_SECRET),
        SW2_BODY,
        SW2_TS,
        SW2_ID,
    );

    assert_eq!(
        first,
        vec![
            ("webhook-id", SW1_ID.to_owned()),
            ("webhook-timestamp", SW1_TS.to_string()),
            ("webhook-signature", SW1_SIG.to_owned()),
        ]
    );
    assert_eq!(value_of(&second, "webhook-signature"), SW2_SIG);
}

#[test]
fn sign_reproduces_the_stripe_vectors() {
    let fixture = sign(
        Source::Stripe,
        &secret(Source::Stripe, STRIPE_SECRET),
        STRIPE_BODY,
        STRIPE_TS,
        "ignored",
    );
    let compact = sign(
        Source::Stripe,
        &secret(Source::Stripe, STRIPE_COMPACT_SECRET),
        STRIPE_COMPACT_BODY,
        STRIPE_COMPACT_TS,
        "ignored",
    );

    assert_eq!(
        fixture,
        vec![("stripe-signature", STRIPE_HEADER.to_owned())]
    );
    assert_eq!(
        compact,
        vec![("stripe-signature", STRIPE_COMPACT_HEADER.to_owned())]
    );
}

#[test]
fn sign_reproduces_the_whop_vectors() {
    let key = secret(Source::Whop, WHOP_SECRET);

    let v1 = sign(Source::Whop, &key, WHOP_BODY, WHOP_TS, WHOP_ID);
    let legacy = sign_whop_legacy(&key, WHOP_LEGACY_BODY, WHOP_TS);

    assert_eq!(value_of(&v1, "webhook-id"), WHOP_ID);
    assert_eq!(value_of(&v1, "webhook-timestamp"), WHOP_TS.to_string());
    assert_eq!(value_of(&v1, "webhook-signature"), WHOP_SIG);
    assert_eq!(
        legacy,
        vec![("x-whop-signature", WHOP_LEGACY_HEADER.to_owned())]
    );
}

#[test]
fn sign_whop_bare_is_the_hex_mac_of_the_body_alone() {
    let key = secret(Source::Whop, WHOP_SECRET);

    let bare = sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS);

    // Python: hmac.new(b"ws_0123…cdef", body, hashlib.sha256).hexdigest()
    assert_eq!(
        bare,
        vec![
            (
                "x-whop-signature",
                "ff4a76f38336d01b2566720028bba4e3334e173a3c2b453db2ca43b8f6d982d9".to_owned()
            ),
            ("x-whop-timestamp", WHOP_TS.to_string()),
        ]
    );
}

// --- negatives: body, secret, tolerance ----------------------------------------------------

#[test]
fn rejects_a_tampered_body_for_every_scheme() {
    let (sw, sw_map) = sw1();
    let stripe = secret(Source::Stripe, STRIPE_SECRET);
    let stripe_map = stripe_headers(STRIPE_HEADER);
    let whop = secret(Source::Whop, WHOP_SECRET);
    let legacy_map = headers(&[("x-whop-signature", WHOP_LEGACY_HEADER)]);
    let bare_map = headers(&sign_whop_bare(&whop, WHOP_LEGACY_BODY, WHOP_TS));

    let tampered = |body: &[u8]| {
        let mut copy = body.to_vec();
        copy[0] ^= 1;
        copy
    };

    assert_eq!(
        reason(verify_one(
            Source::Standard,
            &sw_map,
            &tampered(SW1_BODY),
            &sw,
            SW1_TS
        )),
        "no_matching_signature"
    );
    assert_eq!(
        reason(verify_one(
            Source::Stripe,
            &stripe_map,
            &tampered(STRIPE_BODY),
            &stripe,
            STRIPE_TS
        )),
        "no_matching_signature"
    );
    assert_eq!(
        reason(verify_one(
            Source::Whop,
            &legacy_map,
            &tampered(WHOP_LEGACY_BODY),
            &whop,
            WHOP_TS
        )),
        "no_matching_signature"
    );
    assert_eq!(
        reason(verify(
            Source::Whop,
            &bare_map,
            &tampered(WHOP_LEGACY_BODY),
            &[whop],
            WHOP_TS,
            bare_on()
        )),
        "no_matching_signature"
    );
}

#[test]
fn rejects_a_wrong_secret() {
    let map = standard_headers(SW1_ID, SW1_TS, SW1_SIG);
    let wrong = secret(Source::Standard, SW2_SECRET);

    assert_eq!(
        reason(verify_one(Source::Standard, &map, SW1_BODY, &wrong, SW1_TS)),
        "no_matching_signature"
    );
}

#[test]
fn rejects_a_signature_made_for_another_message_id() {
    let (key, _) = sw1();
    let map = standard_headers("msg_other", SW1_TS, SW1_SIG);

    assert_eq!(
        reason(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS)),
        "no_matching_signature"
    );
}

#[test]
fn accepts_timestamps_exactly_at_the_tolerance_in_both_directions() {
    let (key, map) = sw1();
    let stripe = secret(Source::Stripe, STRIPE_SECRET);
    let stripe_map = stripe_headers(STRIPE_HEADER);

    for now in [SW1_TS - 300, SW1_TS + 300] {
        assert!(verify_one(Source::Standard, &map, SW1_BODY, &key, now).is_ok());
    }
    for now in [STRIPE_TS - 300, STRIPE_TS + 300] {
        assert!(verify_one(Source::Stripe, &stripe_map, STRIPE_BODY, &stripe, now).is_ok());
    }
}

#[test]
fn rejects_timestamps_301_seconds_too_old_or_too_new_for_every_scheme() {
    let (sw, sw_map) = sw1();
    let stripe = secret(Source::Stripe, STRIPE_SECRET);
    let stripe_map = stripe_headers(STRIPE_HEADER);
    let whop = secret(Source::Whop, WHOP_SECRET);
    let v1_map = standard_headers(WHOP_ID, WHOP_TS, WHOP_SIG);
    let legacy_map = headers(&[("x-whop-signature", WHOP_LEGACY_HEADER)]);
    let bare_map = headers(&sign_whop_bare(&whop, WHOP_LEGACY_BODY, WHOP_TS));

    for offset in [-301, 301] {
        // Too old: now is after the timestamp; too new: now is before it.
        let out_of_tolerance = |timestamp: i64| {
            Err::<Verified<'_>, _>(VerifyError::TimestampOutOfTolerance {
                timestamp,
                now: timestamp + offset,
            })
        };
        assert_eq!(
            verify_one(Source::Standard, &sw_map, SW1_BODY, &sw, SW1_TS + offset),
            out_of_tolerance(SW1_TS)
        );
        assert_eq!(
            verify_one(
                Source::Stripe,
                &stripe_map,
                STRIPE_BODY,
                &stripe,
                STRIPE_TS + offset
            ),
            out_of_tolerance(STRIPE_TS)
        );
        assert_eq!(
            verify_one(Source::Whop, &v1_map, WHOP_BODY, &whop, WHOP_TS + offset),
            out_of_tolerance(WHOP_TS)
        );
        assert_eq!(
            verify_one(
                Source::Whop,
                &legacy_map,
                WHOP_LEGACY_BODY,
                &whop,
                WHOP_TS + offset
            ),
            out_of_tolerance(WHOP_TS)
        );
        assert_eq!(
            verify(
                Source::Whop,
                &bare_map,
                WHOP_LEGACY_BODY,
                std::slice::from_ref(&whop),
                WHOP_TS + offset,
                bare_on()
            ),
            out_of_tolerance(WHOP_TS)
        );
    }
}

#[test]
fn tolerance_is_checked_before_signatures() {
    let (key, _) = sw1();
    let map = standard_headers(SW1_ID, SW1_TS, &format!("v1,{GO_WRONG}"));

    assert_eq!(
        reason(verify_one(
            Source::Standard,
            &map,
            SW1_BODY,
            &key,
            SW1_TS + 301
        )),
        "timestamp_out_of_tolerance"
    );
}

#[test]
fn a_custom_tolerance_is_honoured() {
    let (key, map) = sw1();
    let options = VerifyOptions {
        tolerance_secs: 10,
        ..VerifyOptions::default()
    };
    let run = |now| {
        verify(
            Source::Standard,
            &map,
            SW1_BODY,
            std::slice::from_ref(&key),
            now,
            options,
        )
    };

    assert!(run(SW1_TS + 10).is_ok());
    assert_eq!(reason(run(SW1_TS + 11)), "timestamp_out_of_tolerance");
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    let (key, _) = sw1();
    let map = standard_headers(SW1_ID, i64::MAX, SW1_SIG);

    assert_eq!(
        reason(verify_one(Source::Standard, &map, SW1_BODY, &key, i64::MIN)),
        "timestamp_out_of_tolerance"
    );
}

// --- negatives: headers --------------------------------------------------------------------

#[test]
fn rejects_each_missing_standard_webhooks_header_by_name() {
    let (key, map) = sw1();

    for source in [Source::Standard, Source::Whop] {
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let partial = without(map.clone(), name);
            let result = verify_one(source, &partial, SW1_BODY, &key, SW1_TS);
            assert_eq!(
                result,
                Err(VerifyError::MissingHeader(match name {
                    "webhook-id" => "webhook-id",
                    "webhook-timestamp" => "webhook-timestamp",
                    _ => "webhook-signature",
                })),
                "{source} without {name}"
            );
        }
    }
}

#[test]
fn rejects_a_missing_stripe_signature_header() {
    let key = secret(Source::Stripe, STRIPE_SECRET);

    assert_eq!(
        verify_one(
            Source::Stripe,
            &HeaderMap::new(),
            STRIPE_BODY,
            &key,
            STRIPE_TS
        ),
        Err(VerifyError::MissingHeader("stripe-signature"))
    );
}

#[test]
fn rejects_a_whop_delivery_with_no_signature_header_at_all() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = headers(&[("x-whop-timestamp", "1735689600")]);

    assert_eq!(
        verify_one(Source::Whop, &map, WHOP_BODY, &key, WHOP_TS),
        Err(VerifyError::MissingHeader("webhook-signature"))
    );
}

#[test]
fn rejects_a_bare_whop_delivery_without_its_timestamp_header() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = without(
        headers(&sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS)),
        "x-whop-timestamp",
    );

    assert_eq!(
        verify(
            Source::Whop,
            &map,
            WHOP_LEGACY_BODY,
            &[key],
            WHOP_TS,
            bare_on()
        ),
        Err(VerifyError::MissingHeader("x-whop-timestamp"))
    );
}

#[test]
fn rejects_malformed_stripe_headers() {
    let key = secret(Source::Stripe, STRIPE_SECRET);
    let v1 = "v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
    let cases = [
        "garbage".to_owned(),
        String::new(),
        format!("t=abc,{v1}"),
        format!("t=,{v1}"),
        format!("t=-1700000000,{v1}"),
        format!("t= 1700000000,{v1}"),
        format!("t=99999999999999999999,{v1}"),
        v1.to_owned(),
        "t=1700000000".to_owned(),
        "t=1700000000,v0=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd"
            .to_owned(),
        format!("t=1700000000,V1{}", &v1[2..]),
    ];

    for value in cases {
        let map = stripe_headers(&value);
        assert_eq!(
            verify_one(Source::Stripe, &map, STRIPE_BODY, &key, STRIPE_TS),
            Err(VerifyError::MalformedHeader("stripe-signature")),
            "{value:?}"
        );
    }
}

#[test]
fn a_stripe_v1_that_is_not_64_hex_digits_just_does_not_match() {
    let key = secret(Source::Stripe, STRIPE_SECRET);
    for value in [
        "t=1700000000,v1=".to_owned(),
        "t=1700000000,v1=xyz".to_owned(),
        format!("{STRIPE_HEADER}0"),
        STRIPE_HEADER[..STRIPE_HEADER.len() - 1].to_owned(),
    ] {
        let map = stripe_headers(&value);
        assert_eq!(
            reason(verify_one(
                Source::Stripe,
                &map,
                STRIPE_BODY,
                &key,
                STRIPE_TS
            )),
            "no_matching_signature",
            "{value:?}"
        );
    }
}

#[test]
fn rejects_malformed_whop_legacy_headers() {
    let key = secret(Source::Whop, WHOP_SECRET);
    for value in [
        "t=abc,v1=2dd9214707adc802a85e6e9769f9758999e6c110218f26befae83ebe64389f19",
        "t=1735689600",
        "t=1735689600,v0=2dd9214707adc802a85e6e9769f9758999e6c110218f26befae83ebe64389f19",
        "v1=2dd9214707adc802a85e6e9769f9758999e6c110218f26befae83ebe64389f19",
    ] {
        let map = headers(&[("x-whop-signature", value)]);
        assert_eq!(
            verify_one(Source::Whop, &map, WHOP_LEGACY_BODY, &key, WHOP_TS),
            Err(VerifyError::MalformedHeader("x-whop-signature")),
            "{value:?}"
        );
    }
}

#[test]
fn rejects_a_whop_signature_that_is_neither_pairs_nor_64_hex_digits() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let not_hex = "g".repeat(64);
    for value in ["garbage", "", "abcd", not_hex.as_str()] {
        let map = headers(&[
            ("x-whop-signature", value),
            ("x-whop-timestamp", "1735689600"),
        ]);
        assert_eq!(
            verify(
                Source::Whop,
                &map,
                WHOP_LEGACY_BODY,
                std::slice::from_ref(&key),
                WHOP_TS,
                bare_on()
            ),
            Err(VerifyError::MalformedHeader("x-whop-signature")),
            "{value:?}"
        );
    }
}

#[test]
fn rejects_malformed_standard_webhooks_timestamps() {
    let (key, map) = sw1();
    for value in [
        "abc",
        "",
        "1614265330.5",
        "+1614265330",
        "-5",
        " 1614265330",
    ] {
        let mut bad = map.clone();
        bad.insert("webhook-timestamp", HeaderValue::from_str(value).unwrap());
        assert_eq!(
            verify_one(Source::Standard, &bad, SW1_BODY, &key, SW1_TS),
            Err(VerifyError::MalformedHeader("webhook-timestamp")),
            "{value:?}"
        );
    }
}

#[test]
fn rejects_a_standard_webhooks_signature_header_with_no_entries_as_malformed() {
    let (key, _) = sw1();
    for value in ["", "garbage", "   ", "v1"] {
        let map = standard_headers(SW1_ID, SW1_TS, value);
        assert_eq!(
            verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS),
            Err(VerifyError::MalformedHeader("webhook-signature")),
            "{value:?}"
        );
    }
}

#[test]
fn a_partial_v1_entry_does_not_match() {
    let (key, _) = sw1();
    for value in ["v1,", "v1, v1,", "v1,===="] {
        let map = standard_headers(SW1_ID, SW1_TS, value);
        assert_eq!(
            reason(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS)),
            "no_matching_signature",
            "{value:?}"
        );
    }
}

#[test]
fn a_partial_v1_entry_before_a_valid_one_is_skipped() {
    let (key, _) = sw1();
    let map = standard_headers(SW1_ID, SW1_TS, &format!("v1, {SW1_SIG}"));

    assert!(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS).is_ok());
}

#[test]
fn only_v1_entries_count() {
    let (key, _) = sw1();
    let valid = &SW1_SIG[3..];
    for value in [
        format!("v1a,{valid}"),
        format!("v0,{valid}"),
        format!("v2,{valid}"),
        format!("V1,{valid}"),
        format!("v1a,{valid} v0,{valid}"),
    ] {
        let map = standard_headers(SW1_ID, SW1_TS, &value);
        assert_eq!(
            reason(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS)),
            "no_matching_signature",
            "{value:?}"
        );
    }
}

#[test]
fn an_unpadded_or_truncated_base64_signature_does_not_match() {
    let (key, _) = sw1();
    for value in [SW1_SIG.trim_end_matches('='), &SW1_SIG[..SW1_SIG.len() - 2]] {
        let map = standard_headers(SW1_ID, SW1_TS, value);
        assert_eq!(
            reason(verify_one(Source::Standard, &map, SW1_BODY, &key, SW1_TS)),
            "no_matching_signature",
            "{value:?}"
        );
    }
}

#[test]
fn rejects_non_utf8_header_values_as_malformed() {
    let (key, mut bad) = sw1();
    bad.insert("webhook-id", HeaderValue::from_bytes(b"msg_\xff").unwrap());
    let mut bad_whop = HeaderMap::new();
    bad_whop.insert(
        "x-whop-signature",
        HeaderValue::from_bytes(b"\xfe").unwrap(),
    );

    assert_eq!(
        verify_one(Source::Standard, &bad, SW1_BODY, &key, SW1_TS),
        Err(VerifyError::MalformedHeader("webhook-id"))
    );
    assert_eq!(
        verify_one(Source::Whop, &bad_whop, SW1_BODY, &key, SW1_TS),
        Err(VerifyError::MalformedHeader("x-whop-signature"))
    );
}

// --- Whop scheme selection -----------------------------------------------------------------

#[test]
fn whop_prefers_standard_webhooks_when_both_header_sets_are_present() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let mut map = standard_headers(WHOP_ID, WHOP_TS, WHOP_SIG);
    map.insert("x-whop-signature", HeaderValue::from_static("garbage"));

    let verified = verify_one(Source::Whop, &map, WHOP_BODY, &key, WHOP_TS).unwrap();

    assert_eq!(verified.scheme, Scheme::StandardWebhooks);
}

#[test]
fn rejects_the_bare_whop_form_when_it_is_disabled() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = headers(&sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS));

    assert_eq!(
        verify_one(Source::Whop, &map, WHOP_LEGACY_BODY, &key, WHOP_TS),
        Err(VerifyError::SchemeDisabled("whop_bare"))
    );
}

#[test]
fn accepts_the_bare_whop_form_when_it_is_enabled() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let map = headers(&sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS));

    let verified = verify(
        Source::Whop,
        &map,
        WHOP_LEGACY_BODY,
        &[key],
        WHOP_TS + 42,
        bare_on(),
    )
    .unwrap();

    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::WhopBare,
            timestamp: WHOP_TS,
            message_id: None,
        }
    );
}

#[test]
fn accepts_an_uppercase_hex_bare_signature() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let signed = sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS);
    let map = headers(&[
        (
            "x-whop-signature",
            value_of(&signed, "x-whop-signature").to_uppercase(),
        ),
        ("x-whop-timestamp", WHOP_TS.to_string()),
    ]);

    assert!(
        verify(
            Source::Whop,
            &map,
            WHOP_LEGACY_BODY,
            &[key],
            WHOP_TS,
            bare_on()
        )
        .is_ok()
    );
}

#[test]
fn rejects_a_bare_whop_form_with_a_bad_timestamp() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let signature = value_of(
        &sign_whop_bare(&key, WHOP_LEGACY_BODY, WHOP_TS),
        "x-whop-signature",
    );
    for timestamp in ["abc", "", "1735689600.0", "2025-01-01T00:00:00Z"] {
        let map = headers(&[
            ("x-whop-signature", signature.as_str()),
            ("x-whop-timestamp", timestamp),
        ]);
        assert_eq!(
            verify(
                Source::Whop,
                &map,
                WHOP_LEGACY_BODY,
                std::slice::from_ref(&key),
                WHOP_TS,
                bare_on()
            ),
            Err(VerifyError::MalformedHeader("x-whop-timestamp")),
            "{timestamp:?}"
        );
    }
}

#[test]
fn a_legacy_signature_is_not_accepted_as_bare_or_vice_versa() {
    let key = secret(Source::Whop, WHOP_SECRET);
    let legacy_hex = &WHOP_LEGACY_HEADER["t=1735689600,v1=".len()..];
    let bare_map = headers(&[
        ("x-whop-signature", legacy_hex),
        ("x-whop-timestamp", "1735689600"),
    ]);

    assert_eq!(
        reason(verify(
            Source::Whop,
            &bare_map,
            WHOP_LEGACY_BODY,
            &[key],
            WHOP_TS,
            bare_on()
        )),
        "no_matching_signature"
    );
}

// --- secrets and rotation ------------------------------------------------------------------

#[test]
fn rejects_every_scheme_when_no_secret_is_configured() {
    let (_, sw_map) = sw1();
    let stripe_map = stripe_headers(STRIPE_HEADER);
    let legacy_map = headers(&[("x-whop-signature", WHOP_LEGACY_HEADER)]);
    let whop = secret(Source::Whop, WHOP_SECRET);
    let bare_map = headers(&sign_whop_bare(&whop, WHOP_LEGACY_BODY, WHOP_TS));

    let none = |source, map: &HeaderMap, body: &[u8], now| {
        verify(source, map, body, &[], now, bare_on()).map(|_| ())
    };

    assert_eq!(
        none(Source::Standard, &sw_map, SW1_BODY, SW1_TS),
        Err(VerifyError::NoSecrets)
    );
    assert_eq!(
        none(Source::Stripe, &stripe_map, STRIPE_BODY, STRIPE_TS),
        Err(VerifyError::NoSecrets)
    );
    assert_eq!(
        none(Source::Whop, &legacy_map, WHOP_LEGACY_BODY, WHOP_TS),
        Err(VerifyError::NoSecrets)
    );
    assert_eq!(
        none(Source::Whop, &bare_map, WHOP_LEGACY_BODY, WHOP_TS),
        Err(VerifyError::NoSecrets)
    );
}

#[test]
fn verifies_a_delivery_signed_with_the_second_of_two_active_secrets() {
    let old = secret(Source::Standard, SW2_SECRET);
    let new = secret(Source::Standard, SW1_SECRET);
    let map = standard_headers(SW1_ID, SW1_TS, SW1_SIG);

    let verified = verify(
        Source::Standard,
        &map,
        SW1_BODY,
        &[old, new],
        SW1_TS,
        VerifyOptions::default(),
    );

    assert!(verified.is_ok());
}

#[test]
fn verifies_a_stripe_delivery_signed_with_the_second_of_two_active_secrets() {
    let secrets = [
        secret(Source::Stripe, "whsec_new"),
        secret(Source::Stripe, STRIPE_SECRET),
    ];
    let map = stripe_headers(STRIPE_HEADER);

    assert!(
        verify(
            Source::Stripe,
            &map,
            STRIPE_BODY,
            &secrets,
            STRIPE_TS,
            VerifyOptions::default()
        )
        .is_ok()
    );
}

#[test]
fn rejects_a_delivery_signed_with_a_removed_secret() {
    let removed = secret(Source::Standard, SW1_SECRET);
    let remaining = [
        secret(Source::Standard, SW2_SECRET),
        secret(Source::Standard, "whsec_dGhpcmQgc2VjcmV0IGZvciByb3RhdGlvbg"),
    ];
    let signed = sign(Source::Standard, &removed, SW1_BODY, SW1_TS, SW1_ID);
    let map = headers(&signed);

    assert_eq!(
        reason(verify(
            Source::Standard,
            &map,
            SW1_BODY,
            &remaining,
            SW1_TS,
            VerifyOptions::default()
        )),
        "no_matching_signature"
    );
}

#[test]
fn standard_secrets_accept_unpadded_base64() {
    let padded = secret(Source::Standard, "whsec_YWJjZA==");
    let unpadded = secret(Source::Standard, "whsec_YWJjZA");
    let signed = sign(Source::Standard, &padded, b"{}", 1, "msg_1");
    let map = headers(&signed);

    assert!(verify_one(Source::Standard, &map, b"{}", &unpadded, 1).is_ok());
}

#[test]
fn rejects_empty_secrets() {
    for source in Source::ALL {
        assert_eq!(
            SigningSecret::parse(source, "").unwrap_err(),
            SecretError::Empty
        );
    }
    assert_eq!(
        SigningSecret::parse(Source::Standard, "whsec_").unwrap_err(),
        SecretError::Empty
    );
    assert_eq!(
        SigningSecret::parse(Source::Whop, "whsec_").unwrap_err(),
        SecretError::Empty
    );
    assert!(SigningSecret::parse(Source::Stripe, "whsec_").is_ok());
}

#[test]
fn rejects_secrets_that_must_be_base64_but_are_not() {
    for (source, value) in [
        (Source::Standard, "whsec_not base64!"),
        (Source::Standard, "ws_0123"),
        (Source::Whop, "whsec_***"),
    ] {
        assert_eq!(
            SigningSecret::parse(source, value).unwrap_err(),
            SecretError::NotBase64,
            "{source} {value:?}"
        );
    }
}

#[test]
fn secret_debug_shows_only_the_fingerprint() {
    let key = secret(Source::Whop, WHOP_SECRET);

    let debug = format!("{key:?}");

    assert_eq!(
        key.fingerprint(),
        crate::domain::fingerprint(WHOP_SECRET.as_bytes())
    );
    assert_eq!(key.fingerprint().len(), 8);
    assert!(debug.contains(key.fingerprint()), "{debug}");
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
}

#[test]
fn reason_codes_are_stable() {
    let cases = [
        (VerifyError::MissingHeader("x"), "missing_header"),
        (VerifyError::MalformedHeader("x"), "malformed_header"),
        (
            VerifyError::TimestampOutOfTolerance {
                timestamp: 0,
                now: 0,
            },
            "timestamp_out_of_tolerance",
        ),
        (VerifyError::NoMatchingSignature, "no_matching_signature"),
        (VerifyError::NoSecrets, "no_secrets"),
        (VerifyError::SchemeDisabled("x"), "scheme_disabled"),
    ];
    for (error, code) in cases {
        assert_eq!(error.reason_code(), code);
    }
}

#[test]
fn default_options_are_five_minutes_and_no_bare_whop() {
    assert_eq!(
        VerifyOptions::default(),
        VerifyOptions {
            tolerance_secs: 300,
            accept_whop_bare: false,
        }
    );
}

// --- properties ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Form {
    Standard,
    WhopV1,
    WhopLegacy,
    WhopBare,
    Stripe,
}

impl Form {
    fn source(self) -> Source {
        match self {
            Self::Standard => Source::Standard,
            Self::Stripe => Source::Stripe,
            Self::WhopV1 | Self::WhopLegacy | Self::WhopBare => Source::Whop,
        }
    }

    fn scheme(self) -> Scheme {
        match self {
            Self::Standard | Self::WhopV1 => Scheme::StandardWebhooks,
            Self::WhopLegacy => Scheme::WhopLegacy,
            Self::WhopBare => Scheme::WhopBare,
            Self::Stripe => Scheme::Stripe,
        }
    }

    fn sign(
        self,
        key: &SigningSecret,
        body: &[u8],
        timestamp: i64,
        id: &str,
    ) -> Vec<(&'static str, String)> {
        match self {
            Self::Standard | Self::WhopV1 | Self::Stripe => {
                sign(self.source(), key, body, timestamp, id)
            }
            Self::WhopLegacy => sign_whop_legacy(key, body, timestamp),
            Self::WhopBare => sign_whop_bare(key, body, timestamp),
        }
    }
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Standard),
        Just(Form::WhopV1),
        Just(Form::WhopLegacy),
        Just(Form::WhopBare),
        Just(Form::Stripe),
    ]
}

/// A secret string in a shape the form's source accepts.
fn secret_for(form: Form) -> BoxedStrategy<String> {
    let base64_key = prop::collection::vec(any::<u8>(), 1..64)
        .prop_map(|key| format!("whsec_{}", STANDARD.encode(key)))
        .boxed();
    match form {
        Form::Standard => base64_key,
        Form::Stripe => "whsec_[A-Za-z0-9]{1,48}".boxed(),
        Form::WhopV1 | Form::WhopLegacy | Form::WhopBare => {
            prop_oneof!["ws_[0-9a-f]{1,64}", base64_key].boxed()
        }
    }
}

fn case() -> impl Strategy<Value = (Form, String, Vec<u8>, i64, i64, String)> {
    form().prop_flat_map(|form| {
        (
            Just(form),
            secret_for(form),
            prop::collection::vec(any::<u8>(), 0..4096),
            0..4_000_000_000_i64,
            -300..=300_i64,
            "msg_[A-Za-z0-9]{1,32}",
        )
    })
}

/// Flips `mask` into one byte of the decoded signature and re-encodes it in the same header.
fn tamper_signature(
    signed: &[(&'static str, String)],
    index: prop::sample::Index,
    mask: u8,
) -> Vec<(&'static str, String)> {
    signed
        .iter()
        .map(|(name, value)| {
            let value = match *name {
                "webhook-signature" => {
                    let mut tag = STANDARD.decode(&value[3..]).unwrap();
                    tag[index.index(TAG_LEN)] ^= mask;
                    format!("v1,{}", STANDARD.encode(tag))
                }
                "stripe-signature" | "x-whop-signature" => {
                    let (prefix, encoded) = value
                        .rsplit_once('=')
                        .map_or(("", value.as_str()), |(prefix, encoded)| (prefix, encoded));
                    let mut tag = hex::decode(encoded).unwrap();
                    tag[index.index(TAG_LEN)] ^= mask;
                    let separator = if prefix.is_empty() { "" } else { "=" };
                    format!("{prefix}{separator}{}", hex::encode(tag))
                }
                _ => value.clone(),
            };
            (*name, value)
        })
        .collect()
}

fn options() -> VerifyOptions {
    VerifyOptions {
        accept_whop_bare: true,
        ..VerifyOptions::default()
    }
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(
        (form, secret_string, body, timestamp, skew, id) in case()
    ) {
        let key = SigningSecret::parse(form.source(), &secret_string).unwrap();
        let map = headers(&form.sign(&key, &body, timestamp, &id));

        let verified = verify(form.source(), &map, &body, &[key], timestamp + skew, options());

        let verified = verified.unwrap();
        prop_assert_eq!(verified.scheme, form.scheme());
        prop_assert_eq!(verified.timestamp, timestamp);
        let expected_id = matches!(form.scheme(), Scheme::StandardWebhooks).then_some(id.as_str());
        prop_assert_eq!(verified.message_id, expected_id);
    }

    #[test]
    fn flipping_any_byte_of_the_body_rejects(
        (form, secret_string, body, timestamp, skew, id) in case(),
        index in any::<prop::sample::Index>(),
        mask in 1..=u8::MAX,
    ) {
        prop_assume!(!body.is_empty());
        let key = SigningSecret::parse(form.source(), &secret_string).unwrap();
        let map = headers(&form.sign(&key, &body, timestamp, &id));
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= mask;

        let result = verify(form.source(), &map, &tampered, &[key], timestamp + skew, options());

        prop_assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn flipping_any_byte_of_the_signature_rejects(
        (form, secret_string, body, timestamp, skew, id) in case(),
        index in any::<prop::sample::Index>(),
        mask in 1..=u8::MAX,
    ) {
        let key = SigningSecret::parse(form.source(), &secret_string).unwrap();
        let signed = form.sign(&key, &body, timestamp, &id);
        let map = headers(&tamper_signature(&signed, index, mask));

        let result = verify(form.source(), &map, &body, &[key], timestamp + skew, options());

        prop_assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn verify_never_panics_on_arbitrary_headers(
        source in prop_oneof![Just(Source::Whop), Just(Source::Stripe), Just(Source::Standard)],
        signature in "[ -~]{0,120}",
        timestamp in "[ -~]{0,24}",
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let key = SigningSecret::parse(source, "whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4").unwrap();
        let map = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
            ("stripe-signature", signature.as_str()),
        ]);
        let whop_map = headers(&[
            ("x-whop-signature", signature.as_str()),
            ("x-whop-timestamp", timestamp.as_str()),
        ]);

        prop_assert!(verify(source, &map, &body, std::slice::from_ref(&key), 0, options()).is_err());
        prop_assert!(verify(source, &whop_map, &body, &[key], 0, options()).is_err());
    }
}
