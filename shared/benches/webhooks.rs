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
//! PayPal signs with RSA: its line verifies a 2 KiB delivery with the certificate already cached
//! (fetched once at set-up from a local server, as a warm function has it), beside its floor, one
//! CRC-32 of the body and one RSA-2048 PKCS#1 v1.5 SHA-256 verify of the signed string.
//!
//! After criterion's figures, a side-by-side pass prints each provider's ratios to its floor from
//! interleaved batches (see [`ratios`]): the figures to quote from a machine shared with other work.
//!
//!     cargo bench -p shared --bench webhooks -- --warm-up-time 1 --measurement-time 3

#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure is a broken benchmark"
)]

use std::hint::black_box;

use base64::Engine;
use std::time::Instant;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use shared::domain::webhooks::event::Event;
use shared::domain::webhooks::verify::{SigningSecret, VerifyOptions};
use shared::domain::webhooks::{Source, Verified};
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
        // Unsigned: never benchmarked here.
        Source::Gumroad => String::new(),
        Source::PayPal => unreachable!("PayPal signs with RSA, not among the HMAC deliveries"),
    }
}

/// The HMAC key each bench secret decodes to (see `SigningSecret::parse`).
fn key(source: Source) -> Vec<u8> {
    match source {
        Source::Whop => WHOP_SECRET.as_bytes().to_vec(),
        Source::Stripe | Source::Gumroad => STRIPE_SECRET.as_bytes().to_vec(),
        Source::Standard | Source::Resend => STANDARD_KEY.to_vec(),
        Source::PayPal => unreachable!("PayPal signs with RSA, not among the HMAC deliveries"),
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

/// One signed delivery and everything its passes need, keyed once.
struct Delivery {
    source: Source,
    secrets: [SigningSecret; 1],
    headers: HeaderMap,
    body: Vec<u8>,
    keyed: Hmac<Sha256>,
    prefix: String,
}

impl Delivery {
    /// The floor: one HMAC-SHA256 of the signed content.
    fn floor(&self) -> impl Sized {
        let mut mac = self.keyed.clone();
        mac.update(black_box(self.prefix.as_bytes()));
        mac.update(black_box(&self.body));
        mac.finalize()
    }

    fn verify(&self) -> Verified<'_> {
        verify(
            self.source,
            black_box(&self.headers),
            black_box(&self.body),
            &self.secrets,
            TIMESTAMP,
            VerifyOptions::default(),
        )
        .unwrap()
    }

    fn normalise(&self, verified: &Verified<'_>, received_at: DateTime<Utc>) -> Event<'_> {
        normalise(self.source, verified, black_box(&self.body), received_at).unwrap()
    }

    fn verify_and_normalise(&self, received_at: DateTime<Utc>) -> Event<'_> {
        self.normalise(&self.verify(), received_at)
    }
}

fn prepared() -> Vec<Delivery> {
    deliveries()
        .into_iter()
        .map(|(source, secret, headers, body)| Delivery {
            source,
            secrets: [secret],
            headers,
            body,
            keyed: Hmac::<Sha256>::new_from_slice(&key(source)).unwrap(),
            prefix: signed_prefix(source),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let received_at = Utc::now();
    let mut group = c.benchmark_group("webhook 2 KiB");
    for delivery in prepared() {
        let source = delivery.source;
        group.bench_function(
            format!("{source} floor (HMAC-SHA256 of the signed content)"),
            |b| b.iter(|| black_box(delivery.floor())),
        );
        group.bench_function(format!("{source} verify + normalise"), |b| {
            b.iter(|| black_box(delivery.verify_and_normalise(received_at)));
        });
        let verified = delivery.verify();
        group.bench_function(format!("{source} normalise only"), |b| {
            b.iter(|| black_box(delivery.normalise(&verified, received_at)));
        });
        if source == Source::Standard {
            group.bench_function("standard verify only", |b| {
                b.iter(|| black_box(delivery.verify()));
            });
            let peer = standardwebhooks::Webhook::new(&format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(STANDARD_KEY)
            ))
            .unwrap();
            // The reference library checks against the wall clock, so its copy is signed now.
            let peer_headers = headers_now(&delivery.secrets[0], &delivery.body);
            group.bench_function("standardwebhooks verify only (peer)", |b| {
                b.iter(|| {
                    peer.verify(black_box(&delivery.body), black_box(&peer_headers))
                        .unwrap()
                });
            });
        }
    }
    // PayPal's lines (see the module).
    let paypal = PayPalDelivery::new();
    group.bench_function(
        "paypal floor (CRC-32 + RSA-2048 PKCS#1 v1.5 SHA-256 verify)",
        |b| b.iter(|| black_box(paypal.floor())),
    );
    group.bench_function("paypal verify + normalise (cached certificate)", |b| {
        b.iter(|| black_box(paypal.verify_and_normalise(received_at)));
    });
    group.finish();
}

/// A signed PayPal delivery, the registry whose certificate cache holds its certificate, and the
/// verified certificate for the floor.
struct PayPalDelivery {
    runtime: tokio::runtime::Runtime,
    registry: shared::providers::Registry,
    headers: HeaderMap,
    body: Vec<u8>,
    certificate: shared::providers::paypal::certs::Certificate,
    signed: String,
    signature: Vec<u8>,
    /// Serves the certificate (kept alive with the delivery).
    _server: wiremock::MockServer,
}

impl PayPalDelivery {
    const WEBHOOK_ID: &str = "9XL90610J3647323C";
    const TIME: &str = "2025-01-01T00:00:00Z";

    fn new() -> Self {
        use shared::domain::ports::{SystemClock, WebhookProviders};
        use shared::providers::paypal::{self, PayPal, PayPalSettings, test_chain};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let chain = test_chain::make(test_chain::LeafSpec::default()).unwrap();
        let server = runtime.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::method("GET"))
                .respond_with(
                    wiremock::ResponseTemplate::new(200).set_body_string(chain.chain_pem.clone()),
                )
                .mount(&server)
                .await;
            server
        });
        let settings = PayPalSettings {
            webhook_id: Self::WEBHOOK_ID.to_owned(),
            company_id: Some("biz_1".to_owned()),
            test_root_pem: Some(chain.root_pem.clone()),
            allow_loopback_cert_urls: true,
            tolerance_secs: shared::domain::webhooks::verify::DEFAULT_TOLERANCE_SECS,
            verification: paypal::Verification::Offline,
            api: None,
        };
        let registry = shared::providers::Registry::with_paypal(std::sync::Arc::new(
            PayPal::new(
                &settings,
                reqwest::Client::new(),
                std::sync::Arc::new(SystemClock),
            )
            .unwrap(),
        ));
        let body = body(
            r#"{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_version":"1.0","create_time":"2025-01-01T00:00:00.000Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","resource":{"id":"80021663DE681814L","state":"completed","amount":{"total":"29.00","currency":"USD"},"billing_agreement_id":"I-BW452GLLEP1G""#,
            "}}",
        );
        let transmission_id = "d938e770-8046-11e6-8103-6b62a8a99ac4";
        let cert_url = format!("{}/v1/notifications/certs/CERT-bench", server.uri());
        let headers = headers(
            paypal::sign(
                &chain.leaf_key().unwrap(),
                Self::WEBHOOK_ID,
                &cert_url,
                transmission_id,
                Self::TIME,
                &body,
            )
            .unwrap(),
        );
        let certificate = settings
            .trust()
            .unwrap()
            .check_chain(chain.chain_pem.as_bytes(), TIMESTAMP)
            .unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(headers["paypal-transmission-sig"].as_bytes())
            .unwrap();
        let delivery = Self {
            signed: paypal::verify::signed_string(
                transmission_id,
                Self::TIME,
                Self::WEBHOOK_ID,
                &body,
            ),
            runtime,
            registry,
            headers,
            body,
            certificate,
            signature,
            _server: server,
        };
        // The first delivery fetches the certificate; the measured ones find it cached.
        let warm = delivery
            .runtime
            .block_on(delivery.registry.verify_certified(
                Source::PayPal,
                &delivery.headers,
                &delivery.body,
                TIMESTAMP,
                VerifyOptions::default(),
            ));
        assert!(matches!(warm, Some(Ok(_))), "{warm:?}");
        delivery
    }

    /// The floor: the body's CRC-32 (in the signed string) and one RSA verify.
    fn floor(&self) -> bool {
        let crc = shared::providers::paypal::verify::crc32(black_box(&self.body));
        black_box(crc);
        self.certificate
            .verifies(black_box(self.signed.as_bytes()), &self.signature)
    }

    fn verify_and_normalise(&self, received_at: DateTime<Utc>) -> Event<'_> {
        use shared::domain::ports::WebhookProviders;
        let verified = self
            .runtime
            .block_on(self.registry.verify_certified(
                Source::PayPal,
                black_box(&self.headers),
                black_box(&self.body),
                TIMESTAMP,
                VerifyOptions::default(),
            ))
            .unwrap()
            .unwrap();
        self.registry
            .normalise(Source::PayPal, &verified, &self.body, received_at)
            .unwrap()
    }
}

/// Batches per pass in [`ratios`], and calls per batch.
const ROUNDS: u32 = 400;
const BATCH: u32 = 500;

/// The ratios to the floor, measured side by side. Criterion times each function in its own
/// window, so on a machine shared with other work its ratios drift with the neighbours' load;
/// here short batches of the floor and of each pass take turns, and each keeps its fastest batch.
fn ratios() {
    let received_at = Utc::now();
    println!("\nside by side ({ROUNDS} rounds of {BATCH} calls each, fastest batch per call):");
    for delivery in prepared() {
        let verified = delivery.verify();
        let passes: [&dyn Fn(); 4] = [
            &|| {
                black_box(delivery.floor());
            },
            &|| {
                black_box(delivery.verify());
            },
            &|| {
                black_box(delivery.normalise(&verified, received_at));
            },
            &|| {
                black_box(delivery.verify_and_normalise(received_at));
            },
        ];
        let mut fastest = [f64::MAX; 4];
        for _ in 0..ROUNDS {
            for (pass, best) in passes.iter().zip(&mut fastest) {
                let start = Instant::now();
                for _ in 0..BATCH {
                    pass();
                }
                *best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH));
            }
        }
        let [floor, verify, normalise, both] = fastest;
        println!(
            "{:<8} floor {floor:>6.0} ns | verify {verify:>6.0} ns ({:.2}x) | normalise {normalise:>4.0} ns \
             | verify + normalise {both:>6.0} ns ({:.2}x the floor)",
            delivery.source.to_string(),
            verify / floor,
            both / floor,
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only when benchmarking (`cargo bench`): not when `cargo test --benches` runs each once, nor
    // under `--profile-time`.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        ratios();
    }
}
