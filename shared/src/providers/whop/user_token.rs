//! Whop user tokens: the ES256 JWT that Whop's iframe proxy puts in `x-whop-user-token` on every
//! request an embedded app receives (`docs/providers.md` §2). [`verify`] checks one against Whop's published
//! keys ([`WhopKeys`]) and says which user it is.
//!
//! The rules are those of Whop's own SDKs, stricter where those are loose: ES256 only, issuer
//! [`ISSUER`], `aud` a single string equal to our app id, `sub` a user id, `exp` required, a small
//! clock leeway. Whatever can be rejected without crypto or a key fetch is rejected first, so
//! garbage costs next to nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::aws::http::request_error;
use crate::domain::ports::{Clock, DependencyError};
use crate::providers::whop::ids::is_whop_id;

/// The request header carrying the token.
pub const HEADER: &str = "x-whop-user-token";
/// The only issuer Whop's SDKs accept.
pub const ISSUER: &str = "urn:whopcom:exp-proxy";
/// Longer tokens are rejected unread; Whop's are a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// The most skew [`TokenSettings::with_leeway`] accepts: more would keep stolen tokens alive.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);
/// Where Whop publishes its user-token keys (`WHOP_USER_TOKEN_JWKS_URL` overrides it).
pub const DEFAULT_JWKS_URL: &str = "https://api.whop.com/.well-known/jwks.json";
/// How long a fetched key set is used before it is fetched again (Whop's SDK uses the same).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);
/// Minimum time between two fetches of the key set, so a flood of tokens naming unknown keys, or an
/// outage, cannot turn into a flood of requests to Whop.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Default bound on one key-set fetch, body included. The connect timeout is the client's
/// ([`crate::edge::app::HTTP_CONNECT_TIMEOUT`] for [`crate::App::http`]).
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// A larger key-set response is treated as an error rather than buffered.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The key Whop's SDKs embedded before the JWKS existed (`@whop/api` 0.0.51); tokens without a
/// `kid` are checked against it and nothing else.
const LEGACY_KEY_X: &str = "rz8a8vxvexHC0TLT91g7llOdDOsNuYiGEfic4Qhni-E";
const LEGACY_KEY_Y: &str = "zH0QblKYToexd5PEIMGXPVJS9AB5smKrW4S_TbiXrOs";

/// Length of an ES256 signature (64 bytes, r‖s) in unpadded base64url.
const ES256_SIGNATURE_CHARS: usize = 86;

/// The user a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhopUser {
    /// `sub`: the Whop user id (`user_…`).
    pub user_id: String,
    /// `aud`: our app id, as the token named it.
    pub app_id: String,
}

/// Why a token was rejected. Never holds any part of the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("the token is not signed with ES256")]
    UnsupportedAlgorithm,
    #[error("the token's key id is not among Whop's published keys")]
    UnknownKey,
    #[error("the token names no key (`kid`), and tokens without one are refused here")]
    KeylessRefused,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has no numeric `exp`")]
    MissingExpiry,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was not issued by Whop's proxy")]
    WrongIssuer,
    #[error("the token's audience is not this app's id")]
    WrongAudience,
    #[error("the token names no user")]
    MissingSubject,
    #[error("the token's subject is not a Whop user id")]
    InvalidSubject,
    #[error("Whop's signing keys could not be fetched: {0}")]
    KeysUnavailable(DependencyError),
}

impl TokenError {
    /// A stable code for logs and metrics. Existing codes never change meaning.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::KeylessRefused => "missing_kid",
            Self::BadSignature => "bad_signature",
            Self::MissingExpiry => "missing_expiry",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingSubject => "missing_subject",
            Self::InvalidSubject => "invalid_subject",
            Self::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

impl crate::domain::auth::attempts::Failure for TokenError {
    fn reason_code(&self) -> &'static str {
        Self::reason_code(self)
    }

    /// Everything but a token Whop signed that is out of its time (`exp`, `nbf`: an honest
    /// client's stale token, as the signature is checked before the claims) and an outage of
    /// Whop's keys.
    fn looks_like_guessing(&self) -> bool {
        !matches!(
            self,
            Self::Expired | Self::NotYetValid | Self::KeysUnavailable(_)
        )
    }
}

/// Why a key set could not give the key a token names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no key has this id")]
    Unknown,
    #[error("the key set could not be fetched: {0}")]
    Unavailable(DependencyError),
}

impl From<KeyError> for TokenError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Unknown => Self::UnknownKey,
            KeyError::Unavailable(error) => Self::KeysUnavailable(error),
        }
    }
}

/// The ES256 public keys tokens may name by `kid`.
pub trait KeySet: Send + Sync {
    fn key(&self, kid: &str) -> impl Future<Output = Result<Arc<DecodingKey>, KeyError>> + Send;
}

/// The leeway asked for is more than [`MAX_LEEWAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a token leeway of {0:?} is more than the {MAX_LEEWAY:?} allowed")]
pub struct LeewayTooLarge(pub Duration);

/// What a token must say to be accepted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    app_id: String,
    leeway: Duration,
    accept_keyless: bool,
}

impl TokenSettings {
    /// Tokens for `app_id` (`WHOP_APP_ID`), with [`DEFAULT_LEEWAY`].
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            leeway: DEFAULT_LEEWAY,
            accept_keyless: true,
        }
    }

    /// Whether a token without a `kid` is checked against the legacy key embedded in Whop's old
    /// SDK (`true`, the default) or refused with [`TokenError::KeylessRefused`].
    #[must_use]
    pub fn accepting_keyless(self, accept: bool) -> Self {
        Self {
            accept_keyless: accept,
            ..self
        }
    }

    /// Tolerates `leeway` of clock skew on `exp` and `nbf` (at most [`MAX_LEEWAY`]).
    pub fn with_leeway(self, leeway: Duration) -> Result<Self, LeewayTooLarge> {
        if leeway > MAX_LEEWAY {
            return Err(LeewayTooLarge(leeway));
        }
        Ok(Self { leeway, ..self })
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn leeway(&self) -> Duration {
        self.leeway
    }
}

/// Verifies a Whop user token at `now` and returns its user.
///
/// A token with a `kid` is checked against that key of `keys` (which may fetch); one without is
/// checked against the embedded legacy key only, or refused when the settings refuse keyless
/// tokens.
pub async fn verify<K: KeySet>(
    token: &str,
    keys: &K,
    settings: &TokenSettings,
    now: DateTime<Utc>,
) -> Result<WhopUser, TokenError> {
    let header = precheck(token)?;
    let fetched;
    let key = match header.kid.as_deref() {
        Some(kid) => {
            fetched = keys.key(kid).await?;
            &*fetched
        }
        None if !settings.accept_keyless => return Err(TokenError::KeylessRefused),
        None => LEGACY_KEY.as_ref().ok_or(TokenError::UnknownKey)?,
    };
    let claims = jsonwebtoken::decode::<Claims>(token, key, &VALIDATION)
        .map_err(|e| library_error(e.kind()))?
        .claims;
    check_claims(&claims, settings, now)
}

static LEGACY_KEY: LazyLock<Option<DecodingKey>> =
    LazyLock::new(|| DecodingKey::from_ec_components(LEGACY_KEY_X, LEGACY_KEY_Y).ok());

/// Signature only: `jsonwebtoken` reads the system clock and accepts an array `aud`, so time,
/// issuer and audience are checked in [`check_claims`] instead.
static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
});

/// The shape and header checks that need neither a key nor crypto.
fn precheck(token: &str) -> Result<Header, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("longer than 8 KiB"));
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(TokenError::Malformed("not three dot-separated segments"));
    };
    if !is_base64url(header) || !is_base64url(payload) {
        return Err(TokenError::Malformed("a segment is not base64url"));
    }
    let parsed = match jsonwebtoken::decode_header(token) {
        Ok(parsed) => parsed,
        // An `alg` jsonwebtoken does not know (`none`, `ES256K`, …) fails to parse at all.
        Err(_) if raw_alg(header).is_some_and(|alg| alg != "ES256") => {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        Err(_) => return Err(TokenError::Malformed("the header is not a JWS header")),
    };
    if parsed.alg != Algorithm::ES256 {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    // No extension is understood here, and RFC 7515 says to reject what is marked critical.
    if parsed.crit.is_some() {
        return Err(TokenError::Malformed("the header has critical extensions"));
    }
    if parsed.kid.as_deref() == Some("") {
        return Err(TokenError::Malformed("the key id is empty"));
    }
    if signature.len() != ES256_SIGNATURE_CHARS || !is_base64url(signature) {
        return Err(TokenError::Malformed("the signature is not 64 bytes"));
    }
    Ok(parsed)
}

fn is_base64url(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The header's `alg` as written, for headers `jsonwebtoken` cannot parse.
fn raw_alg(header: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: String,
    }
    let json = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice::<AlgOnly>(&json)
        .ok()
        .map(|header| header.alg)
}

fn library_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => {
            TokenError::BadSignature
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => TokenError::UnsupportedAlgorithm,
        ErrorKind::Json(_) => TokenError::Malformed("the claims are not a JSON object"),
        _ => TokenError::Malformed("the token does not decode"),
    }
}

/// The registered claims Whop sets, untyped so that a wrong type gets its own rejection.
#[derive(Debug, Default, Deserialize)]
struct Claims {
    iss: Option<Value>,
    aud: Option<Value>,
    sub: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
}

/// The claim rules, applied after the signature verified.
fn check_claims(
    claims: &Claims,
    settings: &TokenSettings,
    now: DateTime<Utc>,
) -> Result<WhopUser, TokenError> {
    if claims.iss.as_ref().and_then(Value::as_str) != Some(ISSUER) {
        return Err(TokenError::WrongIssuer);
    }
    // A string only: Whop's SDKs refuse an array even when it holds the app id.
    let app_id = match &claims.aud {
        Some(Value::String(aud)) if *aud == settings.app_id => aud.clone(),
        _ => return Err(TokenError::WrongAudience),
    };

    // Seconds as f64: NumericDate may be fractional, and timestamps are exact in an f64.
    let now = now.timestamp_millis() as f64 / 1000.0;
    let leeway = settings.leeway.as_secs_f64();
    let exp = claims
        .exp
        .as_ref()
        .and_then(Value::as_f64)
        .ok_or(TokenError::MissingExpiry)?;
    if now >= exp + leeway {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = &claims.nbf {
        let nbf = nbf
            .as_f64()
            .ok_or(TokenError::Malformed("`nbf` is not a number"))?;
        if nbf > now + leeway {
            return Err(TokenError::NotYetValid);
        }
    }

    let user_id = match &claims.sub {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        _ => return Err(TokenError::MissingSubject),
    };
    if !is_whop_id(user_id, "user_") {
        return Err(TokenError::InvalidSubject);
    }
    Ok(WhopUser {
        user_id: user_id.clone(),
        app_id,
    })
}

/// Whop's published key set (JWKS), fetched on first use and cached.
///
/// Kept [`KEYS_MAX_AGE`], refetched early when a token names a key not in it, but never more than
/// once per [`REFETCH_COOLDOWN`]. When a fetch fails (timeout, refused, non-2xx, bad JSON) the
/// keys already held keep being served, however old: Whop being down must not log everyone out.
/// One fetch runs at a time; lookups never wait for it when the key is already held.
pub struct WhopKeys<C> {
    http: reqwest::Client,
    url: Url,
    clock: C,
    timeout: Duration,
    cache: RwLock<Arc<Cached>>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// Of the last successful fetch.
    fetched_at: Option<DateTime<Utc>>,
    /// Of the last fetch, successful or not.
    attempted_at: Option<DateTime<Utc>>,
    /// Why the last fetch failed; `None` when it succeeded.
    last_error: Option<DependencyError>,
}

impl Cached {
    fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.fetched_at
            .is_some_and(|at| age(now, at) < KEYS_MAX_AGE)
    }

    fn cooling_down(&self, now: DateTime<Utc>) -> bool {
        self.attempted_at
            .is_some_and(|at| age(now, at) < REFETCH_COOLDOWN)
    }

    fn lookup(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        match (self.keys.get(kid), &self.last_error) {
            (Some(key), _) => Ok(Arc::clone(key)),
            (None, Some(error)) => Err(KeyError::Unavailable(error.clone())),
            (None, None) => Err(KeyError::Unknown),
        }
    }
}

/// A clock that went backwards counts as no time passed.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

impl<C: Clock> WhopKeys<C> {
    /// Keys from `jwks_url` (`Config::whop_user_token_jwks_url`) fetched with `http` (e.g. a clone
    /// of [`crate::App::http`], whose connect timeout applies).
    pub fn new(http: reqwest::Client, jwks_url: Url, clock: C) -> Self {
        Self {
            http,
            url: jwks_url,
            clock,
            timeout: JWKS_TIMEOUT,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Bounds each fetch, body included, by `timeout` instead of [`JWKS_TIMEOUT`].
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    fn cached(&self) -> Arc<Cached> {
        // The lock only guards a pointer swap; a panicking writer cannot leave it half-written.
        Arc::clone(&self.cache.read().unwrap_or_else(PoisonError::into_inner))
    }

    async fn lookup(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        let cached = self.cached();
        if let Some(key) = cached.keys.get(kid) {
            let now = self.clock.now();
            if cached.is_fresh(now) || cached.cooling_down(now) {
                return Ok(Arc::clone(key));
            }
            // Stale: one caller refreshes, the others go on with the key they have.
            let Ok(_fetching) = self.fetching.try_lock() else {
                return Ok(Arc::clone(key));
            };
            let cached = self.cached();
            let now = self.clock.now();
            if cached.is_fresh(now) || cached.cooling_down(now) {
                return cached.lookup(kid);
            }
            // On failure the refreshed cache still holds this key (stale-if-error); on success
            // a key Whop no longer publishes is gone.
            return self.refresh().await.lookup(kid);
        }

        let _fetching = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let cached = self.cached();
        if cached.keys.contains_key(kid) || cached.cooling_down(self.clock.now()) {
            return cached.lookup(kid);
        }
        self.refresh().await.lookup(kid)
    }

    /// Fetches the key set and stores the outcome. Call with `fetching` held.
    async fn refresh(&self) -> Arc<Cached> {
        let previous = self.cached();
        let result = self.fetch().await;
        let now = self.clock.now();
        let next = match result {
            Ok(jwks) => {
                tracing::info!(
                    jwks.url = %self.url,
                    jwks.keys = jwks.keys.len(),
                    jwks.skipped = jwks.skipped,
                    "fetched Whop's user-token keys: {} usable, {} skipped",
                    jwks.keys.len(),
                    jwks.skipped
                );
                Cached {
                    keys: jwks.keys,
                    fetched_at: Some(now),
                    attempted_at: Some(now),
                    last_error: None,
                }
            }
            Err(error) => {
                tracing::warn!(
                    jwks.url = %self.url,
                    jwks.cached_keys = previous.keys.len(),
                    %error,
                    "could not fetch Whop's user-token keys ({error}); keeping the {} cached",
                    previous.keys.len()
                );
                Cached {
                    keys: previous.keys.clone(),
                    fetched_at: previous.fetched_at,
                    attempted_at: Some(now),
                    last_error: Some(error),
                }
            }
        };
        let next = Arc::new(next);
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&next);
        next
    }

    async fn fetch(&self) -> Result<Jwks, DependencyError> {
        let response = self
            .http
            .get(self.url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(DependencyError::NotFound);
        }
        if !status.is_success() {
            return Err(DependencyError::Other(format!("HTTP {}", status.as_u16())));
        }
        let body = crate::providers::client::read_capped(response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| request_error(&e))?
            .ok_or_else(|| DependencyError::Other("the key set is over 64 KiB".to_owned()))?;
        parse_jwks(&body)
    }
}

impl<C: Clock> KeySet for WhopKeys<C> {
    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        self.lookup(kid).await
    }
}

/// The usable keys of a JWKS document, by `kid`.
struct Jwks {
    keys: HashMap<String, Arc<DecodingKey>>,
    skipped: usize,
}

/// Takes the ES256 signing keys (EC P-256, `alg` absent or ES256, `use` absent or `sig`, with a
/// `kid`) and skips any other key, so that Whop adding a key of another kind breaks nothing. A set
/// with no usable key is an error: replacing good keys with none would reject every token.
fn parse_jwks(body: &[u8]) -> Result<Jwks, DependencyError> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    #[derive(Deserialize)]
    struct Jwk {
        kty: String,
        crv: Option<String>,
        kid: Option<String>,
        alg: Option<String>,
        #[serde(rename = "use")]
        usage: Option<String>,
        x: Option<String>,
        y: Option<String>,
    }

    let document: Document = serde_json::from_slice(body)
        .map_err(|_| DependencyError::Other("the key set is not a JWKS document".to_owned()))?;
    let total = document.keys.len();
    let mut keys = HashMap::new();
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let usable = jwk.kty == "EC"
            && jwk.crv.as_deref() == Some("P-256")
            && jwk.alg.as_deref().is_none_or(|alg| alg == "ES256")
            && jwk.usage.as_deref().is_none_or(|usage| usage == "sig");
        let (true, Some(kid), Some(x), Some(y)) = (usable, jwk.kid, jwk.x, jwk.y) else {
            continue;
        };
        if kid.is_empty() || !is_coordinate(&x) || !is_coordinate(&y) {
            continue;
        }
        if let Ok(key) = DecodingKey::from_ec_components(&x, &y) {
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    if keys.is_empty() {
        return Err(DependencyError::Other(
            "the key set has no usable ES256 key".to_owned(),
        ));
    }
    Ok(Jwks {
        skipped: total - keys.len(),
        keys,
    })
}

/// A P-256 coordinate: 32 bytes, unpadded base64url.
fn is_coordinate(value: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests;
