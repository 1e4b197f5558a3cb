//! Verify + normalise of a 2 KiB delivery per provider, side by side with its floor and with the
//! Standard Webhooks reference verifier (`standardwebhooks` crate, verify only) as the peer.
//!
//! The floor of a provider is what any verifier of its scheme must compute: one HMAC-SHA256 over
//! the signed content (`{webhook-id}.{webhook-timestamp}.{body}` for Whop v1 and Standard
//! Webhooks, `{t}.{body}` for Stripe), keyed once outside the loop (a clone of the keyed state per
//! delivery, as the verifier does), with the `hmac`/`sha2` crates the verifier uses. No header
//! parsing, no tag decoding or comparison, no JSON. (`svix` 2.9.1, the
//! first choice of peer, does not compile against the hyper-util this graph resolves.)
//!
//!     cargo bench -p shared --bench webhooks

#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure is a broken benchmark"
)]

use std::hint::black_box;

use base64::Engine;
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::{SigningSecret, VerifyOptions};
use shared::providers::{normalise, sign, verify};

const TIMESTAMP: i64 = 1_735_689_600;
const BODY_BYTES: usize = 2048;

/// An envelope padded (inside `data.metadata`) to exactly 2 KiB.
fn body(prefix: &str, suffix: &str) -> Vec<u8> {
    let fixed = prefix.len() + suffix.len() + r#","metadata":{"note":""}"#.len();
    let note = "x".repeat(BODY_BYTES - fixed);
    let body = format!(r#"{prefix},"metadata":{{"note":"{note}"}}{suffix}"#);
    assert_eq!(body.len(), BODY_BYTES);
    body.into_bytes()
}

fn headers(pairs: Vec<(&'static str, String)>) -> HeaderMap {
    pairs
        .into_iter()
        .map(|(name, value)| {
            (
                HeaderName::from_static(name),
                HeaderValue::try_from(value).unwrap(),
            )
        })
        .collect()
}

fn headers_now(secret: &SigningSecret, body: &[u8]) -> HeaderMap {
    headers(sign(
        Source::Standard,
        secret,
        body,
        Utc::now().timestamp(),
        "msg_2Yb6vKqQ",
    ))
}

/// The signed content's prefix before the body, as each scheme builds it.
fn signed_prefix(source: Source) -> String {
    match source {
        Source::Stripe => format!("{TIMESTAMP}."),
        Source::Whop | Source::Standard | Source::Resend => format!("msg_2Yb6vKqQ.{TIMESTAMP}."),
    }
}

/// The HMAC key each bench secret decodes to (see `SigningSecret::parse`).
fn key(source: Source) -> Vec<u8> {
    match source {
        Source::Whop => WHOP_SECRET.as_bytes().to_vec(),
        Source::Stripe => STRIPE_SECRET.as_bytes().to_vec(),
        Source::Standard | Source::Resend => STANDARD_KEY.to_vec(),
    }
}

const WHOP_SECRET: &str = "ws_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const STRIPE_SECRET: &str = "whsec_test_secret";
const STANDARD_KEY: &[u8] = b"0123456789abcdef01234567";

fn deliveries() -> Vec<(Source, SigningSecret, HeaderMap, Vec<u8>)> {
    let whop = body(
        r#"{"id":"msg_2Yb6vKqQ","api_version":"v1","type":"payment.failed","timestamp":"2025-01-01T00:00:00.000Z","company_id":"biz_1","data":{"id":"pay_1","status":"open","membership":{"id":"mem_1"},"user":{"id":"user_1"}"#,
        "}}",
    );
    let stripe = body(
        r#"{"id":"evt_1","object":"event","type":"invoice.payment_failed","created":1735689600,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","subscription":"sub_1""#,
        "}}}",
    );
    let standard = body(
        r#"{"type":"subscription.canceled","timestamp":"2025-01-01T00:00:00Z","data":{"id":"sub_1""#,
        "}}",
    );
    let standard_secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(STANDARD_KEY)
    );
    [
        (Source::Whop, WHOP_SECRET.to_owned(), whop),
        (Source::Stripe, STRIPE_SECRET.to_owned(), stripe),
        (Source::Standard, standard_secret, standard),
    ]
    .into_iter()
    .map(|(source, secret, body)| {
        let secret = SigningSecret::parse(source, &secret).unwrap();
        let headers = headers(sign(source, &secret, &body, TIMESTAMP, "msg_2Yb6vKqQ"));
        (source, secret, headers, body)
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let options = VerifyOptions::default();
    let received_at = Utc::now();
    let mut group = c.benchmark_group("webhook 2 KiB");
    for (source, secret, headers, body) in deliveries() {
        let secrets = [secret];
        let keyed = Hmac::<Sha256>::new_from_slice(&key(source)).unwrap();
        let prefix = signed_prefix(source);
        group.bench_function(
            format!("{source} floor (HMAC-SHA256 of the signed content)"),
            |b| {
                b.iter(|| {
                    let mut mac = keyed.clone();
                    mac.update(black_box(prefix.as_bytes()));
                    mac.update(black_box(&body));
                    black_box(mac.finalize())
                });
            },
        );
        group.bench_function(format!("{source} verify + normalise"), |b| {
            b.iter(|| {
                let verified = verify(
                    source,
                    black_box(&headers),
                    black_box(&body),
                    &secrets,
                    TIMESTAMP,
                    options,
                )
                .unwrap();
                black_box(normalise(source, &verified, &body, received_at).unwrap());
            });
        });
        let verified = verify(source, &headers, &body, &secrets, TIMESTAMP, options).unwrap();
        group.bench_function(format!("{source} normalise only"), |b| {
            b.iter(|| {
                black_box(normalise(source, &verified, black_box(&body), received_at).unwrap())
            });
        });
        if source == Source::Standard {
            group.bench_function("standard verify only", |b| {
                b.iter(|| {
                    black_box(
                        verify(
                            source,
                            black_box(&headers),
                            black_box(&body),
                            &secrets,
                            TIMESTAMP,
                            options,
                        )
                        .unwrap(),
                    )
                });
            });
            let peer = standardwebhooks::Webhook::new(&format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(STANDARD_KEY)
            ))
            .unwrap();
            // The reference library checks against the wall clock, so its copy is signed now.
            let peer_headers = headers_now(&secrets[0], &body);
            group.bench_function("standardwebhooks verify only (peer)", |b| {
                b.iter(|| {
                    peer.verify(black_box(&body), black_box(&peer_headers))
                        .unwrap()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
