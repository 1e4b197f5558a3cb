//! Whop user tokens end to end: ES256 tokens signed by key pairs generated here, verified against
//! a JWKS that wiremock serves, with the clock under the test's control.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Url;
use serde_json::{Value, json};
use shared::domain::ports::Clock;
use shared::providers::whop::user_token::{
    ISSUER, TokenError, TokenSettings, WhopKeys, WhopUser, verify,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP: &str = "app_test123";
const USER: &str = "user_abc123";
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// 2026-01-01T00:00:00Z.
fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600, 0).unwrap()
}

struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn new() -> Self {
        Self(Mutex::new(t0()))
    }

    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for &TestClock {
    fn now(&self) -> DateTime<Utc> {
        TestClock::now(self)
    }
}

/// An ES256 key pair with its `kid`.
pub struct TestKey {
    pair: EcdsaKeyPair,
    encoding: EncodingKey,
    kid: String,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        Self {
            pair,
            encoding,
            kid: kid.to_owned(),
        }
    }

    /// The uncompressed public point `04 ‖ x ‖ y`.
    fn point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn jwk(&self) -> Value {
        let point = self.point();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// A token for `claims` through `jsonwebtoken`, naming this key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A hand-made token: any header, with a genuine ES256 signature by this key over it.
    fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", segment(header), segment(claims));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message.as_bytes())
            .unwrap();
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn segment(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn claims() -> Value {
    let at = t0().timestamp();
    json!({"iss": ISSUER, "aud": APP, "sub": USER, "iat": at, "exp": at + 300})
}

fn claims_with(field: &str, value: Value) -> Value {
    let mut claims = claims();
    claims[field] = value;
    claims
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()})
}

fn jwks_response(keys: &[&TestKey]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(jwks(keys))
}

/// A JWKS server answering every request with `keys`.
async fn serve(keys: &[&TestKey]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(keys))
        .mount(&server)
        .await;
    server
}

fn jwks_url(server: &MockServer) -> Url {
    format!("{}{JWKS_PATH}", server.uri()).parse().unwrap()
}

/// A client that keeps no idle connections, so a stopped server is really gone.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn keys_at(url: Url, clock: &TestClock) -> WhopKeys<&TestClock> {
    WhopKeys::new(http(), url, clock).with_timeout(Duration::from_millis(500))
}

async fn check(
    token: &str,
    keys: &WhopKeys<&TestClock>,
    clock: &TestClock,
) -> Result<WhopUser, TokenError> {
    verify(token, keys, &TokenSettings::new(APP), clock.now()).await
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn user() -> WhopUser {
    WhopUser {
        user_id: USER.to_owned(),
        app_id: APP.to_owned(),
    }
}

#[tokio::test]
async fn accepts_a_valid_token() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    assert_eq!(check(&key.sign(&claims()), &keys, &clock).await, Ok(user()));
    assert_eq!(check(&key.sign(&claims()), &keys, &clock).await, Ok(user()));
    assert_eq!(
        requests(&server).await,
        1,
        "the second token used the cache"
    );
}

#[tokio::test]
async fn rejects_expired_and_not_yet_valid_tokens() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let at = t0().timestamp();

    let expired = key.sign(&claims_with("exp", json!(at - 60)));
    assert_eq!(
        check(&expired, &keys, &clock).await,
        Err(TokenError::Expired)
    );
    let early = key.sign(&claims_with("nbf", json!(at + 60)));
    assert_eq!(
        check(&early, &keys, &clock).await,
        Err(TokenError::NotYetValid)
    );
}

#[tokio::test]
async fn tolerates_clock_skew_within_the_leeway() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let at = t0().timestamp();

    let just_expired = key.sign(&claims_with("exp", json!(at - 3)));
    let almost_valid = key.sign(&claims_with("nbf", json!(at + 3)));
    assert_eq!(check(&just_expired, &keys, &clock).await, Ok(user()));
    assert_eq!(check(&almost_valid, &keys, &clock).await, Ok(user()));

    let strict = TokenSettings::new(APP)
        .with_leeway(Duration::from_secs(1))
        .unwrap();
    assert_eq!(
        verify(&just_expired, &keys, &strict, clock.now()).await,
        Err(TokenError::Expired)
    );
    assert_eq!(
        verify(&almost_valid, &keys, &strict, clock.now()).await,
        Err(TokenError::NotYetValid)
    );
}

#[tokio::test]
async fn rejects_the_wrong_issuer_audience_or_subject() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    for (field, value, expected) in [
        ("iss", json!("urn:whopcom:other"), TokenError::WrongIssuer),
        ("aud", json!("app_other"), TokenError::WrongAudience),
        ("aud", json!([APP]), TokenError::WrongAudience),
        ("aud", json!([APP, "app_other"]), TokenError::WrongAudience),
        ("sub", json!(""), TokenError::MissingSubject),
        ("sub", json!("biz_abc"), TokenError::InvalidSubject),
    ] {
        let token = key.sign(&claims_with(field, value.clone()));
        assert_eq!(
            check(&token, &keys, &clock).await,
            Err(expected),
            "{field}: {value}"
        );
    }
}

#[tokio::test]
async fn rejects_a_signature_by_another_key_or_over_other_claims() {
    let key = TestKey::generate("k1");
    let impostor = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    assert_eq!(
        check(&impostor.sign(&claims()), &keys, &clock).await,
        Err(TokenError::BadSignature)
    );

    let genuine = key.sign(&claims());
    let signature = genuine.rsplit('.').next().unwrap();
    let forged = format!(
        "{}.{}.{signature}",
        segment(&json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})),
        segment(&claims_with("sub", json!("user_someoneelse")))
    );
    assert_eq!(
        check(&forged, &keys, &clock).await,
        Err(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_and_finds_a_rotated_key() {
    let old = TestKey::generate("old");
    let new = TestKey::generate("new");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&old]))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&old, &new]))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    assert_eq!(check(&old.sign(&claims()), &keys, &clock).await, Ok(user()));
    clock.advance(Duration::from_secs(31));
    assert_eq!(check(&new.sign(&claims()), &keys, &clock).await, Ok(user()));
    assert_eq!(check(&old.sign(&claims()), &keys, &clock).await, Ok(user()));

    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_cooldown() {
    let key = TestKey::generate("k1");
    let stranger = TestKey::generate("stranger");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    // The first unknown kid right after the initial fetch: within the cooldown, no refetch.
    assert_eq!(check(&key.sign(&claims()), &keys, &clock).await, Ok(user()));
    assert_eq!(
        check(&stranger.sign(&claims()), &keys, &clock).await,
        Err(TokenError::UnknownKey)
    );
    assert_eq!(requests(&server).await, 1);

    clock.advance(Duration::from_secs(31));
    for _ in 0..2 {
        assert_eq!(
            check(&stranger.sign(&claims()), &keys, &clock).await,
            Err(TokenError::UnknownKey)
        );
        clock.advance(Duration::from_secs(10));
    }
    assert_eq!(requests(&server).await, 2, "one refetch for both tokens");

    clock.advance(Duration::from_secs(20));
    assert_eq!(
        check(&stranger.sign(&claims()), &keys, &clock).await,
        Err(TokenError::UnknownKey)
    );
    assert_eq!(requests(&server).await, 3, "the cooldown is over");
}

#[tokio::test]
async fn concurrent_lookups_share_one_fetch() {
    let key = TestKey::generate("k1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&key]).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let token = key.sign(&claims());

    let results =
        futures_util::future::join_all((0..8).map(|_| check(&token, &keys, &clock))).await;

    assert!(results.iter().all(|r| *r == Ok(user())), "{results:?}");
}

#[tokio::test]
async fn keys_are_refreshed_after_twelve_hours() {
    let retired = TestKey::generate("retired");
    let current = TestKey::generate("current");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&retired]))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&current]))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let at = |clock: &TestClock| {
        let now = clock.now().timestamp();
        json!({"iss": ISSUER, "aud": APP, "sub": USER, "exp": now + 300})
    };

    assert_eq!(
        check(&retired.sign(&at(&clock)), &keys, &clock).await,
        Ok(user())
    );
    clock.advance(Duration::from_secs(11 * 3600));
    assert_eq!(
        check(&retired.sign(&at(&clock)), &keys, &clock).await,
        Ok(user())
    );
    assert_eq!(requests(&server).await, 1);

    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        check(&retired.sign(&at(&clock)), &keys, &clock).await,
        Err(TokenError::UnknownKey),
        "a key Whop stopped publishing is dropped at the refresh"
    );
    assert_eq!(
        check(&current.sign(&at(&clock)), &keys, &clock).await,
        Ok(user())
    );
    assert_eq!(requests(&server).await, 2);
}

/// Warms the cache from a healthy server, lets the keys go stale, breaks the server with
/// `outage`, and checks that tokens under the cached key are still accepted.
async fn cached_key_survives(outage: ResponseTemplate) {
    let key = TestKey::generate("k1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&key]))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(outage)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    assert_eq!(check(&key.sign(&claims()), &keys, &clock).await, Ok(user()));

    clock.advance(Duration::from_secs(13 * 3600));
    let token = key.sign(&claims_with("exp", json!(clock.now().timestamp() + 300)));
    let started = Instant::now();
    assert_eq!(check(&token, &keys, &clock).await, Ok(user()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the fetch timeout"
    );
    assert_eq!(requests(&server).await, 2, "a refresh was attempted");

    // Within the cooldown the failed refresh is not retried.
    assert_eq!(check(&token, &keys, &clock).await, Ok(user()));
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_cached_key_survives_a_jwks_500() {
    cached_key_survives(ResponseTemplate::new(500)).await;
}

#[tokio::test]
async fn a_cached_key_survives_a_hanging_jwks() {
    cached_key_survives(jwks_response(&[]).set_delay(Duration::from_secs(5))).await;
}

#[tokio::test]
async fn a_cached_key_survives_a_malformed_jwks() {
    cached_key_survives(ResponseTemplate::new(200).set_body_string("{\"keys\": [")).await;
}

#[tokio::test]
async fn a_cached_key_survives_a_refused_connection() {
    let key = TestKey::generate("k1");
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&key]))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    assert_eq!(check(&key.sign(&claims()), &keys, &clock).await, Ok(user()));
    // A server built outside wiremock's pool really stops listening when dropped.
    let address = *server.address();
    drop(server);
    for _ in 0..50 {
        if std::net::TcpStream::connect(address).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "still listening"
    );

    clock.advance(Duration::from_secs(13 * 3600));
    let token = key.sign(&claims_with("exp", json!(clock.now().timestamp() + 300)));
    assert_eq!(check(&token, &keys, &clock).await, Ok(user()));
}

#[tokio::test]
async fn without_a_cached_key_an_outage_is_keys_unavailable() {
    let key = TestKey::generate("k1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let token = key.sign(&claims());

    for _ in 0..2 {
        let error = check(&token, &keys, &clock).await.unwrap_err();
        assert_eq!(error.reason_code(), "keys_unavailable", "{error}");
    }
    assert_eq!(
        requests(&server).await,
        1,
        "the failed fetch is not retried at once"
    );

    // Refused from the start.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap())
    };
    let keys = keys_at(closed.parse().unwrap(), &clock);
    let error = check(&token, &keys, &clock).await.unwrap_err();
    assert_eq!(error.reason_code(), "keys_unavailable", "{error}");
}

#[tokio::test]
async fn refuses_every_algorithm_but_es256_before_touching_keys() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    // `alg: none`, with and without a signature.
    let none = format!(
        "{}.{}.",
        segment(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        segment(&claims())
    );
    let mut tokens = vec![none.clone(), format!("{none}{}", "A".repeat(86))];
    // Algorithm confusion: HS256 keyed with the public key, as SPKI-less point and as the JWK.
    for secret in [key.point().to_vec(), key.jwk().to_string().into_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        tokens.push(
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret)).unwrap(),
        );
    }
    // A genuine ES256 signature under a header claiming anything else.
    for alg in [
        "ES384", "ES512", "RS256", "PS256", "EdDSA", "ES256K", "HS256",
    ] {
        tokens.push(key.sign_raw(&json!({"alg": alg, "kid": "k1"}), &claims()));
    }

    for token in &tokens {
        assert_eq!(
            check(token, &keys, &clock).await,
            Err(TokenError::UnsupportedAlgorithm),
            "{token:.60}"
        );
    }
    assert_eq!(requests(&server).await, 0, "no key was looked up");

    // The same hand-made path with the right algorithm does verify.
    let honest = key.sign_raw(&json!({"alg": "ES256", "kid": "k1"}), &claims());
    assert_eq!(check(&honest, &keys, &clock).await, Ok(user()));
}

#[tokio::test]
async fn rejects_garbage_before_touching_keys() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let valid = key.sign(&claims());
    let (head, rest) = valid.split_once('.').unwrap();

    for token in [
        String::new(),
        "not a token".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        format!("{valid}.{rest}"),
        format!("{head}.{}", "A".repeat(9 * 1024)),
        format!("{head}.%%%.{}", "A".repeat(86)),
        format!("{head} .{rest}"),
        format!("bm90IGpzb24.{rest}"),
        valid.replace('.', ".."),
        format!("{valid}="),
    ] {
        let error = check(&token, &keys, &clock).await.unwrap_err();
        assert_eq!(error.reason_code(), "malformed", "{token:.60}: {error}");
    }
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn a_token_without_kid_is_checked_against_the_legacy_key_only() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);

    // Signed by a key the JWKS publishes, but without naming it: only Whop's embedded legacy key
    // is tried, and it did not sign this.
    let kidless = key.sign_raw(&json!({"alg": "ES256", "typ": "JWT"}), &claims());
    assert_eq!(
        check(&kidless, &keys, &clock).await,
        Err(TokenError::BadSignature)
    );
    assert_eq!(requests(&server).await, 0, "the JWKS was not consulted");
}

#[tokio::test]
async fn a_token_without_kid_is_refused_unread_when_keyless_tokens_are_off() {
    let key = TestKey::generate("k1");
    let server = serve(&[&key]).await;
    let clock = TestClock::new();
    let keys = keys_at(jwks_url(&server), &clock);
    let kidless = key.sign_raw(&json!({"alg": "ES256", "typ": "JWT"}), &claims());
    let with_kid = key.sign(&claims());

    let refusing = TokenSettings::new(APP).accepting_keyless(false);
    let refused = verify(&kidless, &keys, &refusing, clock.now()).await;
    assert_eq!(refused, Err(TokenError::KeylessRefused));
    assert_eq!(TokenError::KeylessRefused.reason_code(), "missing_kid");
    // Without checking any signature: the legacy key is not tried, the JWKS not fetched.
    assert_eq!(requests(&server).await, 0);
    // A token that names its key is verified as ever.
    assert_eq!(
        verify(&with_kid, &keys, &refusing, clock.now()).await,
        Ok(user())
    );

    // The same token with keyless tokens on goes to the legacy key (which did not sign it).
    let accepting = TokenSettings::new(APP).accepting_keyless(true);
    assert_eq!(
        verify(&kidless, &keys, &accepting, clock.now()).await,
        Err(TokenError::BadSignature)
    );
}
