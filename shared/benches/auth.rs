//! Whop user-token verification with the key already cached: the cost every request from an
//! embedded app pays. Peer: `jsonwebtoken::decode` alone with the same key and its own exp/iss/aud
//! checks, which shows what our pre-checks, claim rules and cache lookup add.
//!
//! Also the session-token check (shape, kid, HMAC) that precedes any table access.
//!
//!     cargo bench -p shared --bench auth

#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure is a broken benchmark"
)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use shared::domain::ports::SystemClock;
use shared::providers::whop::user_token::{ISSUER, KeySet, TokenSettings, WhopKeys, verify};

const APP: &str = "app_bench1";
const KID: &str = "bench-key";

/// Serves `body` to every request on a loopback port, for the one JWKS fetch that warms the cache.
fn serve(body: String) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url.parse().unwrap()
}

fn bench(c: &mut Criterion) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
    let point = pair.public_key().as_ref();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": KID, "x": x, "y": y}]});

    let now = Utc::now().timestamp();
    let claims: Value =
        json!({"iss": ISSUER, "aud": APP, "sub": "user_bench1", "iat": now, "exp": now + 3600});
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KID.to_owned());
    let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys = WhopKeys::new(reqwest::Client::new(), serve(jwks.to_string()), SystemClock);
    let settings = TokenSettings::new(APP);
    // Warm the cache: every measured verification finds the key without fetching.
    runtime.block_on(keys.key(KID)).unwrap();
    assert!(
        runtime
            .block_on(verify(&token, &keys, &settings, Utc::now()))
            .is_ok()
    );

    let mut group = c.benchmark_group("whop_token");
    group.bench_function("verify_es256_cached_key", |b| {
        b.iter(|| {
            runtime
                .block_on(verify(black_box(&token), &keys, &settings, Utc::now()))
                .unwrap()
        });
    });

    let key = DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[APP]);
    validation.set_issuer(&[ISSUER]);
    group.bench_function("peer_jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(black_box(&token), &key, &validation).unwrap());
    });
    group.finish();
}

/// The session-token check that runs before any table access: shape, kid and HMAC-SHA256.
fn session_token(c: &mut Criterion) {
    use secrecy::ExposeSecret;
    use shared::domain::auth::keys::SigningKey;
    use shared::domain::auth::sessions::{issue_token, verify_token};

    let key = SigningKey::parse("bench-0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
    let (token, _) = issue_token(&key).unwrap();
    let token = token.expose_secret().to_owned();
    assert!(verify_token(&token, &key).is_ok());
    let mut group = c.benchmark_group("session_token");
    group.bench_function("verify_mac", |b| {
        b.iter(|| verify_token(black_box(&token), &key).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench, session_token);
criterion_main!(benches);
