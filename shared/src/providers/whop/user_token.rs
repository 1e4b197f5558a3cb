//! Whop user tokens: the ES256 JWT that Whop's iframe proxy puts in `x-whop-user-token` on every
//! request an embedded app receives (`docs/providers.md` §2). [`verify`] checks one against Whop's published
//! keys ([`WhopKeys`]) and says which user it is.
//!
//! The rules are those of Whop's own SDKs, stricter where those are loose: ES256 only, issuer
//! [`ISSUER`], `aud` a single string equal to our app id, `sub` a user id, `exp` required, a small
//! clock leeway. Whatever can be rejected without crypto or a key fetch is rejected first, so
//! garbage costs next to nothing.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domain::ports::{Clock, DependencyError};
use crate::providers::jwks::{JwksCache, JwksSpec, MaxAge};
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
pub use crate::providers::jwks::{
    JWKS_TIMEOUT, KeyError, KeySet, MAX_JWKS_BYTES, REFETCH_COOLDOWN,
};

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

impl From<KeyError> for TokenError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Unknown => Self::UnknownKey,
            KeyError::Unavailable(error) => Self::KeysUnavailable(error),
        }
    }
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

/// Whop's published key set (JWKS): the one key cache ([`JwksCache`]), kept [`KEYS_MAX_AGE`],
/// refetched early for an unknown `kid` at most once per [`REFETCH_COOLDOWN`], stale-if-error.
pub struct WhopKeys<C>(JwksCache<C>);

/// Whop's key set as [`JwksCache`] keeps it.
pub const WHOP_JWKS: JwksSpec = JwksSpec {
    name: "Whop's user-token keys",
    service: "whop",
    max_age: MaxAge::Fixed(KEYS_MAX_AGE),
    usable: es256_key,
    kind: "ES256",
};

impl<C: Clock> WhopKeys<C> {
    /// Keys from `jwks_url` (`Config::whop_user_token_jwks_url`) fetched with `http` (e.g. a clone
    /// of [`crate::App::http`], whose connect timeout applies).
    pub fn new(http: reqwest::Client, jwks_url: Url, clock: C) -> Self {
        Self(JwksCache::new(http, jwks_url, clock, WHOP_JWKS))
    }

    /// Bounds each fetch, body included, by `timeout` instead of [`JWKS_TIMEOUT`].
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self(self.0.with_timeout(timeout))
    }
}

impl<C: Clock> KeySet for WhopKeys<C> {
    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        self.0.lookup(kid).await
    }
}

/// The usable keys of a JWKS document by Whop's rule ([`es256_key`]).
#[cfg(test)]
fn parse_jwks(body: &[u8]) -> Result<crate::providers::jwks::Jwks, DependencyError> {
    crate::providers::jwks::parse_jwks(body, &WHOP_JWKS)
}

/// An ES256 signing key (EC P-256, `alg` absent or ES256, `use` absent or `sig`, with a `kid`);
/// any other key is skipped, so that Whop adding a key of another kind breaks nothing.
fn es256_key(value: &Value) -> Option<(String, DecodingKey)> {
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
    let jwk = Jwk::deserialize(value).ok()?;
    let usable = jwk.kty == "EC"
        && jwk.crv.as_deref() == Some("P-256")
        && jwk.alg.as_deref().is_none_or(|alg| alg == "ES256")
        && jwk.usage.as_deref().is_none_or(|usage| usage == "sig");
    let (true, Some(kid), Some(x), Some(y)) = (usable, jwk.kid, jwk.x, jwk.y) else {
        return None;
    };
    if !is_coordinate(&x) || !is_coordinate(&y) {
        return None;
    }
    let key = DecodingKey::from_ec_components(&x, &y).ok()?;
    Some((kid, key))
}

/// A P-256 coordinate: 32 bytes, unpadded base64url.
fn is_coordinate(value: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests;
