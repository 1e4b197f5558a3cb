//! Sign-in with an OpenID Connect provider (Google): the authorization-code flow with PKCE, its
//! one-shot `state`, the ID token's claim rules and identity links (`docs/architecture.md`,
//! "Google sign-in"; Google's facts in `docs/providers.md` §8).
//!
//! [`SignIn::start`] makes a [`Flow`] (random `state`, `nonce` and PKCE verifier, a 10-minute
//! expiry, and the Whop user to link to when asked) and seals it into a cookie MACed with the
//! session signing key; [`SignIn::finish`] opens that cookie, checks the returned `state` against
//! it, claims the state once (a conditional write: a replayed `state` is refused), has the
//! provider exchange the code (the [`OidcProvider`] port, which verifies the ID token's
//! signature), applies [`check_claims`] and resolves the identity to the user a session is opened
//! for: the Whop user it is linked to, else `google:<sub>` itself.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys::{SessionKeys, SigningKey};
use crate::domain::ports::{
    Clock, DependencyError, LinkOutcome, OidcProvider, SecretSource, SignInStore,
};

/// The issuers Google's ID tokens carry.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// How long a started flow may take to come back.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Clock skew tolerated on `iat` and `exp`.
pub const ID_TOKEN_LEEWAY: Duration = Duration::from_secs(60);
/// An ID token living longer than this is refused (Google's own library's bound).
pub const MAX_ID_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The flow cookie's format prefix.
const FLOW_PREFIX: &str = "gf1";
/// Longest flow cookie read; a real one is about 330 characters.
const MAX_FLOW_COOKIE: usize = 2048;
/// Longest `sub` accepted (Google: up to 255 ASCII characters).
const MAX_SUBJECT: usize = 255;

/// Why a sign-in was refused or could not be completed. [`SignInError::reason_code`] is the
/// stable error code of the routes' answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("no sign-in is in progress in this browser (the flow cookie is missing)")]
    FlowMissing,
    #[error("the sign-in flow cookie is malformed or its signature does not verify")]
    FlowInvalid,
    #[error("the sign-in took longer than 10 minutes; start again")]
    FlowExpired,
    #[error("the returned `state` is not this browser's sign-in")]
    StateMismatch,
    #[error("this sign-in was already completed; start again")]
    StateReplayed,
    #[error("the callback has no authorization code")]
    MissingCode,
    #[error("the provider refused the sign-in: {0}")]
    ProviderDenied(String),
    #[error("the provider did not accept the authorization code")]
    CodeRejected,
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the ID token is not signed with RS256")]
    UnsupportedAlgorithm,
    #[error("the ID token's key id is not among the provider's published keys")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    BadSignature,
    #[error("the ID token was not issued by Google")]
    WrongIssuer,
    #[error("the ID token's audience is not this app's client id")]
    WrongAudience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token was issued in the future")]
    IssuedInFuture,
    #[error("the ID token's nonce is not this sign-in's")]
    NonceMismatch,
    #[error("the account's e-mail address is not verified")]
    EmailUnverified,
    #[error("the account is not in the allowed hosted domain")]
    WrongHostedDomain,
    #[error("linking needs the Whop session that asked for it")]
    LinkSessionMissing,
    #[error("this Google account is already linked to another user")]
    LinkedElsewhere,
    #[error("the provider's signing keys could not be fetched: {0}")]
    KeysUnavailable(DependencyError),
    #[error("the provider could not be reached: {0}")]
    ProviderUnavailable(String),
    #[error("{0}")]
    Dependency(DependencyError),
}

impl SignInError {
    /// Stable code for responses, logs and metrics. Existing codes never change meaning.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::FlowMissing => "flow_missing",
            Self::FlowInvalid => "flow_invalid",
            Self::FlowExpired => "flow_expired",
            Self::StateMismatch => "state_mismatch",
            Self::StateReplayed => "state_replayed",
            Self::MissingCode => "missing_code",
            Self::ProviderDenied(_) => "provider_denied",
            Self::CodeRejected => "code_rejected",
            Self::Malformed(_) => "malformed_id_token",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::NonceMismatch => "nonce_mismatch",
            Self::EmailUnverified => "email_unverified",
            Self::WrongHostedDomain => "wrong_hosted_domain",
            Self::LinkSessionMissing => "link_session_missing",
            Self::LinkedElsewhere => "identity_linked_elsewhere",
            Self::KeysUnavailable(_) => "keys_unavailable",
            Self::ProviderUnavailable(_) => "provider_unavailable",
            Self::Dependency(_) => "sign_in_unavailable",
        }
    }

    /// Ours or the provider's fault (503), rather than the presenter's.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::KeysUnavailable(_) | Self::ProviderUnavailable(_) | Self::Dependency(_)
        )
    }
}

/// A started sign-in, as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n")]
    pub nonce: String,
    /// The PKCE `code_verifier` (RFC 7636).
    #[serde(rename = "v")]
    pub verifier: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The Whop user whose session asked to link the identity, if any.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link_to: Option<String>,
}

/// The cookie carrying a sealed [`Flow`] from `/auth/google/start` to its callback.
pub const FLOW_COOKIE: &str = "cs_google_flow";

/// The `Set-Cookie` value carrying a sealed flow for [`FLOW_LIFETIME`], sent only to
/// `/auth/google/…`. `SameSite=Lax`: the callback is a top-level GET navigation from Google.
pub fn flow_cookie(sealed: &str) -> String {
    format!(
        "{FLOW_COOKIE}={sealed}; Path=/auth/google; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
        FLOW_LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes the flow cookie.
pub fn cleared_flow_cookie() -> String {
    format!("{FLOW_COOKIE}=; Path=/auth/google; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

/// 32 random bytes, base64url (43 characters: a valid PKCE verifier too).
fn random_token() -> Result<String, DependencyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DependencyError::Other(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Flow {
    /// A new flow started at `now`.
    pub fn new(now: DateTime<Utc>, link_to: Option<String>) -> Result<Self, DependencyError> {
        Ok(Self {
            state: random_token()?,
            nonce: random_token()?,
            verifier: random_token()?,
            expires_at: now.timestamp() + secs(FLOW_LIFETIME),
            link_to,
        })
    }

    /// The PKCE `code_challenge` (S256): base64url(SHA-256(verifier)).
    pub fn challenge(&self) -> String {
        pkce_challenge(&self.verifier)
    }

    /// The cookie value: `gf1.<kid>.<payload>.<mac>`, the MAC an HMAC-SHA256 under `key` of
    /// everything before it.
    pub fn seal(&self, key: &SigningKey) -> Result<String, DependencyError> {
        super::keys::seal_signed(FLOW_PREFIX, self, key)
    }
}

/// The kid a sealed flow names, and the flow if its MAC verifies under `key` (the key of that
/// kid). Expiry is the caller's check.
fn open_with(value: &str, key: &SigningKey) -> Result<Flow, SignInError> {
    super::keys::open_signed(value, key).ok_or(SignInError::FlowInvalid)
}

/// The kid of a sealed flow, if it is shaped like one.
fn sealed_kid(value: &str) -> Option<&str> {
    super::keys::signed_kid(value, FLOW_PREFIX, MAX_FLOW_COOKIE)
}

/// base64url(SHA-256(verifier)), the S256 `code_challenge`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What the one-shot record of a `state` is keyed by: its SHA-256, hex (the table never holds a
/// usable state).
pub fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 2)
}

/// What an ID token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// `GOOGLE_CLIENT_ID`: the only `aud` accepted.
    pub client_id: String,
    /// `GOOGLE_HOSTED_DOMAIN`: when set, the `hd` claim must equal it.
    pub hosted_domain: Option<String>,
}

/// The claims of an ID token whose signature verified, untyped so that a wrong type gets its own
/// rejection.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdClaims {
    pub iss: Option<Value>,
    pub aud: Option<Value>,
    pub sub: Option<Value>,
    pub exp: Option<Value>,
    pub iat: Option<Value>,
    pub nonce: Option<Value>,
    pub email: Option<Value>,
    pub email_verified: Option<Value>,
    pub hd: Option<Value>,
}

/// A verified Google account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleIdentity {
    /// `sub`: Google's stable account id.
    pub sub: String,
    /// The verified e-mail address (personal data: never logged).
    pub email: String,
}

impl GoogleIdentity {
    /// `google:<sub>`: the identity's name in sessions and links.
    pub fn identity(&self) -> String {
        format!("google:{}", self.sub)
    }
}

/// The claim rules, applied after the signature verified: `iss` one of [`GOOGLE_ISSUERS`], `aud`
/// the client id (a string), `exp` and `iat` present with [`ID_TOKEN_LEEWAY`] and a lifetime of at
/// most [`MAX_ID_TOKEN_LIFETIME`], `nonce` the flow's, `email_verified` true with an `email`, `hd`
/// the hosted domain when one is required, `sub` present.
pub fn check_claims(
    claims: &IdClaims,
    rules: &ClaimRules,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<GoogleIdentity, SignInError> {
    let text = |value: &Option<Value>| value.as_ref().and_then(Value::as_str).map(str::to_owned);
    if !text(&claims.iss).is_some_and(|iss| GOOGLE_ISSUERS.contains(&iss.as_str())) {
        return Err(SignInError::WrongIssuer);
    }
    if text(&claims.aud).as_deref() != Some(rules.client_id.as_str()) {
        return Err(SignInError::WrongAudience);
    }
    let now = now.timestamp_millis() as f64 / 1000.0;
    let leeway = ID_TOKEN_LEEWAY.as_secs_f64();
    let number =
        |value: &Option<Value>, missing| value.as_ref().and_then(Value::as_f64).ok_or(missing);
    let exp = number(&claims.exp, SignInError::Malformed("no numeric `exp`"))?;
    let iat = number(&claims.iat, SignInError::Malformed("no numeric `iat`"))?;
    if now >= exp + leeway {
        return Err(SignInError::Expired);
    }
    if iat > now + leeway {
        return Err(SignInError::IssuedInFuture);
    }
    if exp - iat > MAX_ID_TOKEN_LIFETIME.as_secs_f64() {
        return Err(SignInError::Malformed("the token lives longer than a day"));
    }
    let matches_nonce = text(&claims.nonce)
        .is_some_and(|claimed| bool::from(claimed.as_bytes().ct_eq(nonce.as_bytes())));
    if !matches_nonce {
        return Err(SignInError::NonceMismatch);
    }
    let sub = text(&claims.sub)
        .filter(|sub| !sub.is_empty() && sub.len() <= MAX_SUBJECT && sub.is_ascii())
        .ok_or(SignInError::Malformed("no usable `sub`"))?;
    // Google sends a boolean; older tokens carried the string "true".
    let verified = matches!(&claims.email_verified, Some(Value::Bool(true)))
        || matches!(&claims.email_verified, Some(Value::String(s)) if s == "true");
    let email = text(&claims.email).filter(|email| !email.is_empty());
    let (true, Some(email)) = (verified, email) else {
        return Err(SignInError::EmailUnverified);
    };
    if let Some(domain) = &rules.hosted_domain
        && text(&claims.hd).as_deref() != Some(domain.as_str())
    {
        return Err(SignInError::WrongHostedDomain);
    }
    Ok(GoogleIdentity { sub, email })
}

/// A sign-in started: the cookie to set and where to send the browser.
#[derive(Debug, Clone)]
pub struct Started {
    pub cookie: String,
    pub location: String,
}

/// A completed sign-in: whom to open a session for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The Whop user the identity is linked to, else the identity itself.
    pub user_id: String,
    /// `google:<sub>`.
    pub identity: String,
    pub email: String,
    /// Set when this sign-in linked the identity.
    pub linked: bool,
}

/// The sign-in flow over its provider, its store and the session keys.
pub struct SignIn<P, St, S, C> {
    pub provider: P,
    pub store: St,
    pub keys: SessionKeys<S, C>,
    pub clock: C,
    pub rules: ClaimRules,
}

impl<P: OidcProvider, St: SignInStore, S: SecretSource, C: Clock> SignIn<P, St, S, C> {
    /// Starts a sign-in; `link_to` is the Whop user whose session asks to link the identity.
    pub async fn start(&self, link_to: Option<String>) -> Result<Started, SignInError> {
        let flow = Flow::new(self.clock.now(), link_to).map_err(SignInError::Dependency)?;
        let key = self
            .keys
            .signing_key()
            .await
            .map_err(SignInError::Dependency)?;
        let cookie = flow.seal(&key).map_err(SignInError::Dependency)?;
        let location = self
            .provider
            .authorization_url(&flow.state, &flow.nonce, &flow.challenge());
        Ok(Started { cookie, location })
    }

    /// Opens a sealed flow: shape, key, MAC and expiry.
    async fn open(&self, sealed: Option<&str>) -> Result<Flow, SignInError> {
        let sealed = sealed.ok_or(SignInError::FlowMissing)?;
        let kid = sealed_kid(sealed).ok_or(SignInError::FlowInvalid)?;
        let key = self
            .keys
            .verifying_key(kid)
            .await
            .map_err(SignInError::Dependency)?
            .ok_or(SignInError::FlowInvalid)?;
        let flow = open_with(sealed, &key)?;
        if flow.expires_at <= self.clock.now().timestamp() {
            return Err(SignInError::FlowExpired);
        }
        Ok(flow)
    }

    /// Completes a sign-in from the callback's `state` and `code` and the flow cookie;
    /// `session_user` is the user of a valid session the request also presents.
    pub async fn finish(
        &self,
        sealed: Option<&str>,
        state: Option<&str>,
        code: Option<&str>,
        session_user: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        let flow = self.open(sealed).await?;
        let state = state.ok_or(SignInError::StateMismatch)?;
        if !bool::from(state.as_bytes().ct_eq(flow.state.as_bytes())) {
            return Err(SignInError::StateMismatch);
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(SignInError::MissingCode)?;
        // Before the exchange: a replayed state costs no provider call.
        let first = self
            .store
            .claim_state(&state_hash(state), flow.expires_at)
            .await
            .map_err(SignInError::Dependency)?;
        if !first {
            return Err(SignInError::StateReplayed);
        }
        let claims = self.provider.exchange(code, &flow.verifier).await?;
        let account = check_claims(&claims, &self.rules, &flow.nonce, self.clock.now())?;
        let identity = account.identity();
        let (user_id, linked) = match &flow.link_to {
            Some(whop_user) => {
                if session_user != Some(whop_user.as_str()) {
                    return Err(SignInError::LinkSessionMissing);
                }
                let now = self.clock.now().timestamp();
                match self
                    .store
                    .link(&identity, whop_user, now)
                    .await
                    .map_err(SignInError::Dependency)?
                {
                    LinkOutcome::Linked | LinkOutcome::AlreadyLinked => (whop_user.clone(), true),
                    LinkOutcome::LinkedElsewhere => return Err(SignInError::LinkedElsewhere),
                }
            }
            None => {
                let user = self
                    .store
                    .linked_user(&identity)
                    .await
                    .map_err(SignInError::Dependency)?;
                (user.unwrap_or_else(|| identity.clone()), false)
            }
        };
        Ok(SignedIn {
            user_id,
            identity,
            email: account.email,
            linked,
        })
    }
}

#[cfg(test)]
mod tests;
