//! Revocable sessions.
//!
//! A session token is `cs1.<kid>.<id>.<mac>`: a random 256-bit id (base64url), the kid of the
//! signing key, and an HMAC-SHA256 of `cs1.<kid>.<id>` under that key. A token is checked in
//! this order, so a forged or malformed one never reaches DynamoDB:
//! 1. shape (prefix, kid, lengths);
//! 2. the kid names AWSCURRENT or AWSPREVIOUS of the signing key, and the MAC verifies;
//! 3. the `sessions` item (keyed by SHA-256 of the id: the table never holds a usable token)
//!    exists, and its expiry is in the future. Expiry is checked in code: TTL deletion lags
//!    by days, and the emulator never deletes.
//!
//! Sessions slide: once past half their lifetime, validating one extends it to a full lifetime,
//! but never past its maximum age ([`SessionSettings::max_age`] from its `created_at`): a session
//! used every minute still ends then. The age is checked in code and again in the extend's
//! condition, so no race extends an old session.

use crate::domain::metrics::{Metrics, catalogue as names};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{SessionKeys, SigningKey};
use crate::domain::ports::SessionStore;
use crate::domain::ports::{Clock, DependencyError, SecretSource};

/// The token format's version prefix.
pub const TOKEN_PREFIX: &str = "cs1";
/// The cookie carrying the session token in browsers. The `__Host-` prefix makes browsers refuse
/// it unless it is `Secure`, has `Path=/` and no `Domain`: no subdomain or plain-HTTP page can set
/// or shadow it.
pub const COOKIE_NAME: &str = "__Host-cs_session";
/// The cookie's name before the prefix: still read, so sessions opened under it keep working
/// until they expire (at most `SESSION_MAX_AGE_DAYS`); never set again, and cleared on sign-out.
pub const LEGACY_COOKIE_NAME: &str = "cs_session";
/// The attributes of the session cookie. The app runs in an iframe on whop.com and calls this API
/// on another site, so its requests are cross-site: only a `SameSite=None` cookie goes with them
/// (which requires `Secure`), and browsers that block third-party cookies keep a `Partitioned`
/// one (CHIPS), stored apart for each top-level site that embeds the app. README "Sessions" has
/// the reasoning and what stands in for `SameSite` against cross-site requests.
const COOKIE_ATTRIBUTES: &str = "Path=/; HttpOnly; Secure; SameSite=None; Partitioned";
/// Longest token accepted (a real one is 97 characters); longer input is rejected unparsed.
const MAX_TOKEN_LEN: usize = 256;
/// Longest user agent stored.
const MAX_USER_AGENT: usize = 256;

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// How long a session lives without use (default 2 h).
    pub lifetime: Duration,
    /// Sessions one user may hold; creating one more revokes the oldest (default 10).
    pub max_per_user: usize,
    /// The most a session lives from its creation, however often it is used (default 30 days).
    pub max_age: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(2 * 3600),
            max_per_user: 10,
            max_age: Duration::from_secs(30 * 86_400),
        }
    }
}

/// A `sessions` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Hex SHA-256 of the session id.
    pub pk: String,
    pub user_id: String,
    /// Unix seconds (the `by_user` index's sort key).
    pub created_at: i64,
    pub last_seen: i64,
    /// Unix seconds; also the table's TTL attribute.
    pub expires_at: i64,
    /// The kid of the key that signed its token.
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The identity signed in with, when it is not `user_id` itself (`google:<sub>`); absent for
    /// a Whop login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// That identity's verified e-mail address (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// How a session was signed in to, beyond its user: a Whop login has neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// `google:<sub>`.
    pub identity: Option<String>,
    pub email: Option<String>,
}

/// Why a session token was refused: the presenter's fault ([`SessionError::reason_code`] says
/// which), except [`SessionError::Dependency`], ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("no session token")]
    Missing,
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token's key is not current")]
    UnknownKey,
    #[error("the session token's signature does not verify")]
    BadSignature,
    #[error("the session was revoked")]
    Revoked,
    #[error("the session expired")]
    Expired,
    #[error("{0}")]
    Dependency(DependencyError),
}

impl SessionError {
    /// Stable code for responses, logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Missing => "missing_session",
            Self::Malformed => "malformed_session",
            Self::UnknownKey => "unknown_session_key",
            Self::BadSignature => "bad_session_signature",
            Self::Revoked => "session_revoked",
            Self::Expired => "session_expired",
            Self::Dependency(_) => "sessions_unavailable",
        }
    }

    /// Whether the presenter looks like it is guessing, so the failure counts against its IP: a
    /// malformed token, an unknown key, a MAC that does not verify, or a well-signed token no
    /// session has (revoked, or never issued). Not an absent or expired session, which honest
    /// clients present all the time, nor an outage of ours.
    pub fn looks_like_guessing(&self) -> bool {
        matches!(
            self,
            Self::Malformed | Self::UnknownKey | Self::BadSignature | Self::Revoked
        )
    }
}

/// A parsed, not yet verified, token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedToken<'a> {
    kid: &'a str,
    /// `cs1.<kid>.<id>`: what the MAC covers.
    signed: &'a str,
    id: [u8; 32],
    mac: [u8; 32],
}

fn parse_token(token: &str) -> Result<ParsedToken<'_>, SessionError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(SessionError::Malformed);
    }
    let (signed, mac) = token.rsplit_once('.').ok_or(SessionError::Malformed)?;
    let mut parts = signed.split('.');
    let (Some(TOKEN_PREFIX), Some(kid), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SessionError::Malformed);
    };
    if kid.len() != 8 || !kid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SessionError::Malformed);
    }
    let decode = |text: &str| -> Result<[u8; 32], SessionError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| SessionError::Malformed)?;
        bytes.try_into().map_err(|_| SessionError::Malformed)
    };
    Ok(ParsedToken {
        kid,
        signed,
        id: decode(id)?,
        mac: decode(mac)?,
    })
}

/// The `sessions` key of `token` if it is well formed and its MAC verifies under `key`: all
/// that is checked before the table is touched.
pub fn verify_token(token: &str, key: &SigningKey) -> Result<String, SessionError> {
    verify_parsed(&parse_token(token)?, key)
}

fn verify_parsed(parsed: &ParsedToken<'_>, key: &SigningKey) -> Result<String, SessionError> {
    if parsed.kid != key.kid() {
        return Err(SessionError::UnknownKey);
    }
    if !key.verify(parsed.signed.as_bytes(), &parsed.mac) {
        return Err(SessionError::BadSignature);
    }
    Ok(id_hash(&parsed.id))
}

/// The `sessions` key of a session id.
fn id_hash(id: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(id))
}

/// A token for a new random id under `key`, and the id.
pub fn issue_token(key: &SigningKey) -> Result<(SecretString, [u8; 32]), DependencyError> {
    let mut id = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| DependencyError::Other(format!("no randomness: {e}")))?;
    let signed = format!(
        "{TOKEN_PREFIX}.{}.{}",
        key.kid(),
        URL_SAFE_NO_PAD.encode(id)
    );
    let mac = URL_SAFE_NO_PAD.encode(key.mac(signed.as_bytes()));
    Ok((SecretString::from(format!("{signed}.{mac}")), id))
}

/// A new session.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: SecretString,
    pub user_id: String,
    pub expires_at: i64,
    /// Whether another session of the user, listed for the cap, was opened with the same identity
    /// (the login's, else the user id): a returning sign-in, which the creator profile needs not
    /// hear of. `false` when the listing failed.
    pub returning: bool,
}

/// A valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub record: SessionRecord,
    /// Set when this validation extended it (the new expiry is `record.expires_at`).
    pub renewed: bool,
}

/// A session as its owner sees it in a listing (no key material, not even its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// An opaque handle: the first 16 hex digits of the stored hash.
    pub id: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Whether it is the session making the request.
    pub current: bool,
}

impl SessionSummary {
    fn of(record: &SessionRecord, current_pk: Option<&str>) -> Self {
        Self {
            id: record.pk.chars().take(16).collect(),
            created_at: record.created_at,
            last_seen: record.last_seen,
            expires_at: record.expires_at,
            ip: record.ip.clone(),
            user_agent: record.user_agent.clone(),
            current: current_pk == Some(record.pk.as_str()),
        }
    }
}

/// Who opened a session, for the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Sessions over a store and the signing keys.
pub struct Sessions<St, S, C> {
    pub store: St,
    pub keys: SessionKeys<S, C>,
    pub clock: C,
    pub settings: SessionSettings,
}

impl<St: SessionStore, S: SecretSource, C: Clock + Clone> Sessions<St, S, C> {
    fn lifetime_secs(&self) -> i64 {
        i64::try_from(self.settings.lifetime.as_secs()).unwrap_or(i64::MAX / 2)
    }

    fn max_age_secs(&self) -> i64 {
        i64::try_from(self.settings.max_age.as_secs()).unwrap_or(i64::MAX / 2)
    }

    /// When a session created at `created_at` ends however it is used.
    fn end_of_life(&self, created_at: i64) -> i64 {
        created_at.saturating_add(self.max_age_secs())
    }

    /// Opens a session for `user_id`, revoking the user's oldest beyond the cap.
    pub async fn create(&self, user_id: &str, client: &Client) -> Result<Issued, SessionError> {
        self.create_for(user_id, &Login::default(), client).await
    }

    /// Opens a session for `user_id` signed in to as `login` says (a Google identity).
    pub async fn create_for(
        &self,
        user_id: &str,
        login: &Login,
        client: &Client,
    ) -> Result<Issued, SessionError> {
        let key = self
            .keys
            .signing_key()
            .await
            .map_err(SessionError::Dependency)?;
        let (token, id) = issue_token(&key).map_err(SessionError::Dependency)?;
        let now = self.clock.now().timestamp();
        let record = SessionRecord {
            pk: id_hash(&id),
            user_id: user_id.to_owned(),
            created_at: now,
            last_seen: now,
            expires_at: (now + self.lifetime_secs()).min(self.end_of_life(now)),
            kid: key.kid().to_owned(),
            ip: client.ip.clone(),
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            identity: login.identity.clone(),
            email: login.email.clone(),
        };
        self.store
            .put(&record)
            .await
            .map_err(SessionError::Dependency)?;
        let returning = self.enforce_cap(&record).await;
        count_sessions(names::SESSIONS_CREATED, 1);
        Ok(Issued {
            token,
            user_id: record.user_id,
            expires_at: record.expires_at,
            returning,
        })
    }

    /// Revokes the oldest sessions of `kept`'s user beyond the cap, never `kept`. Best effort: a
    /// failure leaves one session too many until the next login. Returns whether another of the
    /// user's sessions carries `kept`'s identity (see [`Issued::returning`]).
    async fn enforce_cap(&self, kept: &SessionRecord) -> bool {
        let (user_id, keep) = (kept.user_id.as_str(), kept.pk.as_str());
        let now = self.clock.now().timestamp();
        let sessions = match self.store.of_user(user_id).await {
            Ok(sessions) => sessions,
            Err(error) => {
                tracing::warn!(%error, "listing the user's sessions for the cap failed");
                return false;
            }
        };
        let returning = sessions
            .iter()
            .any(|s| s.pk != keep && s.identity == kept.identity);
        let live: Vec<&SessionRecord> = sessions.iter().filter(|s| s.expires_at > now).collect();
        let excess = live.len().saturating_sub(self.settings.max_per_user);
        let expired = sessions.iter().filter(|s| s.expires_at <= now);
        let oldest = live.iter().copied().filter(|s| s.pk != keep).take(excess);
        for record in expired.chain(oldest) {
            if let Err(error) = self.store.delete(&record.pk).await {
                tracing::warn!(%error, "revoking a session over the cap failed");
            }
        }
        returning
    }

    /// Verifies `token` without touching the table: shape, key and MAC.
    async fn verify(&self, token: &str) -> Result<String, SessionError> {
        let parsed = parse_token(token)?;
        let key = self
            .keys
            .verifying_key(parsed.kid)
            .await
            .map_err(SessionError::Dependency)?
            .ok_or(SessionError::UnknownKey)?;
        verify_parsed(&parsed, &key)
    }

    /// Validates `token`, extending the session once past half its lifetime, up to its maximum
    /// age.
    pub async fn validate(&self, token: &str) -> Result<Validated, SessionError> {
        let pk = self.verify(token).await?;
        let mut record = self.live_record(&pk).await?;
        let now = self.clock.now().timestamp();
        let lifetime = self.lifetime_secs();
        let expires_at = (now + lifetime).min(self.end_of_life(record.created_at));
        if record.expires_at - now >= lifetime / 2 || expires_at <= record.expires_at {
            return Ok(Validated {
                record,
                renewed: false,
            });
        }
        let created_after = now - self.max_age_secs();
        let extended = self
            .store
            .extend(&pk, expires_at, now, created_after)
            .await
            .map_err(SessionError::Dependency)?;
        if !extended {
            return Err(SessionError::Revoked);
        }
        record.expires_at = expires_at;
        record.last_seen = now;
        Ok(Validated {
            record,
            renewed: true,
        })
    }

    async fn live_record(&self, pk: &str) -> Result<SessionRecord, SessionError> {
        let record = self
            .store
            .get(pk)
            .await
            .map_err(SessionError::Dependency)?
            .ok_or(SessionError::Revoked)?;
        let now = self.clock.now().timestamp();
        if record.expires_at <= now || self.end_of_life(record.created_at) <= now {
            return Err(SessionError::Expired);
        }
        Ok(record)
    }

    /// Revokes the session `token` names.
    pub async fn revoke(&self, token: &str) -> Result<(), SessionError> {
        let pk = self.verify(token).await?;
        self.live_record(&pk).await?;
        self.store
            .delete(&pk)
            .await
            .map_err(SessionError::Dependency)?;
        count_sessions(names::SESSIONS_REVOKED, 1);
        Ok(())
    }

    /// The sessions of the user `token` belongs to.
    pub async fn list(&self, token: &str) -> Result<(String, Vec<SessionSummary>), SessionError> {
        let pk = self.verify(token).await?;
        let record = self.live_record(&pk).await?;
        let summaries = self.summaries(&record.user_id, Some(&pk)).await?;
        Ok((record.user_id, summaries))
    }

    /// Revokes every session of the user `token` belongs to; returns how many.
    pub async fn revoke_all(&self, token: &str) -> Result<(String, usize), SessionError> {
        let pk = self.verify(token).await?;
        let record = self.live_record(&pk).await?;
        let revoked = self.revoke_user(&record.user_id).await?;
        Ok((record.user_id, revoked))
    }

    /// A user's live sessions (operator listing).
    pub async fn list_user(&self, user_id: &str) -> Result<Vec<SessionSummary>, SessionError> {
        self.summaries(user_id, None).await
    }

    /// A user's live sessions, `current_pk` marked as the one asking.
    async fn summaries(
        &self,
        user_id: &str,
        current_pk: Option<&str>,
    ) -> Result<Vec<SessionSummary>, SessionError> {
        let now = self.clock.now().timestamp();
        let sessions = self
            .store
            .of_user(user_id)
            .await
            .map_err(SessionError::Dependency)?;
        Ok(sessions
            .iter()
            .filter(|s| s.expires_at > now)
            .map(|s| SessionSummary::of(s, current_pk))
            .collect())
    }

    /// Revokes all of a user's sessions (operator action); returns how many were live.
    pub async fn revoke_user(&self, user_id: &str) -> Result<usize, SessionError> {
        let now = self.clock.now().timestamp();
        let sessions = self
            .store
            .of_user(user_id)
            .await
            .map_err(SessionError::Dependency)?;
        for record in &sessions {
            self.store
                .delete(&record.pk)
                .await
                .map_err(SessionError::Dependency)?;
        }
        let revoked = sessions.iter().filter(|s| s.expires_at > now).count();
        count_sessions(names::SESSIONS_REVOKED, revoked as u64);
        Ok(revoked)
    }
}

/// `sessions_created` or `sessions_revoked` (function `auth`).
fn count_sessions(name: crate::domain::metrics::MetricName, count: u64) {
    let mut metrics = Metrics::new("auth");
    metrics.count(name, count);
    metrics.emit();
}

/// The session token a request presents: `Authorization: Bearer <token>`, else the
/// [`COOKIE_NAME`] cookie, else the [`LEGACY_COOKIE_NAME`] one.
pub fn presented_token<'a>(
    authorization: Option<&'a str>,
    cookies: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if let Some(token) = authorization.and_then(bearer) {
        return Some(token);
    }
    let cookies: Vec<&str> = cookies.into_iter().collect();
    [COOKIE_NAME, LEGACY_COOKIE_NAME]
        .into_iter()
        .find_map(|name| cookie_value(cookies.iter().copied(), name))
}

/// The value of the cookie `name` among `Cookie` header values; `None` when absent or empty.
pub fn cookie_value<'a>(cookies: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    cookies
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `Set-Cookie` value carrying `token` for `max_age`.
pub fn session_cookie(token: &SecretString, max_age: Duration) -> String {
    format!(
        "{COOKIE_NAME}={}; Max-Age={}; {COOKIE_ATTRIBUTES}",
        token.expose_secret(),
        max_age.as_secs()
    )
}

/// The `Set-Cookie` values that remove the session cookie, under its name and its legacy one
/// (which was set with `SameSite=Lax` and no partition).
pub fn cleared_cookies() -> [String; 2] {
    [
        format!("{COOKIE_NAME}=; Max-Age=0; {COOKIE_ATTRIBUTES}"),
        format!("{LEGACY_COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str) -> SigningKey {
        SigningKey::parse(value).unwrap()
    }

    #[test]
    fn an_issued_token_parses_and_its_mac_verifies_under_its_key_only() {
        let signer = key("k1-0123456789abcdef0123456789abcdef");
        let (token, id) = issue_token(&signer).unwrap();
        let token = token.expose_secret();
        assert!(token.starts_with("cs1."));
        assert_eq!(token.len(), 4 + 8 + 1 + 43 + 1 + 43);
        let parsed = parse_token(token).unwrap();
        assert_eq!(parsed.kid, signer.kid());
        assert_eq!(parsed.id, id);
        assert!(signer.verify(parsed.signed.as_bytes(), &parsed.mac));
        let other = key("k2-0123456789abcdef0123456789abcdef");
        assert!(!other.verify(parsed.signed.as_bytes(), &parsed.mac));
        assert_eq!(id_hash(&id).len(), 64);
        assert_ne!(
            id_hash(&id),
            URL_SAFE_NO_PAD.encode(id),
            "only a hash is stored"
        );
    }

    #[test]
    fn any_changed_character_breaks_the_mac() {
        let signer = key("k1-0123456789abcdef0123456789abcdef");
        let (token, _) = issue_token(&signer).unwrap();
        let token = token.expose_secret().to_owned();
        for index in [13, 30, 60, 90] {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if let Ok(parsed) = parse_token(&tampered) {
                assert!(
                    !signer.verify(parsed.signed.as_bytes(), &parsed.mac),
                    "{index}"
                );
            }
        }
    }

    #[test]
    fn malformed_tokens_are_refused_unparsed() {
        let good = issue_token(&key("k1-0123456789abcdef0123456789abcdef"))
            .unwrap()
            .0
            .expose_secret()
            .to_owned();
        let too_long = format!("{good}{}", "A".repeat(300));
        for token in [
            "",
            "cs1",
            "cs1.a.b.c",
            "cs2.0123abcd.AAAA.AAAA",
            "cs1.0123abcg.AAAA.AAAA",
            &good.replacen("cs1.", "cs1.x.", 1),
            &good[..good.len() - 2],
            &format!("{good}.extra"),
            &too_long,
            "cs1.0123abcd.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!.AAAA",
        ] {
            assert_eq!(parse_token(token), Err(SessionError::Malformed), "{token}");
        }
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_else_the_cookie_else_the_legacy_cookie() {
        assert_eq!(presented_token(Some("Bearer abc"), []), Some("abc"));
        assert_eq!(presented_token(Some("bearer  abc "), []), Some("abc"));
        assert_eq!(
            presented_token(Some("Basic x"), ["a=1; __Host-cs_session=tok; b=2"]),
            Some("tok")
        );
        assert_eq!(presented_token(None, ["__Host-cs_session="]), None);
        assert_eq!(
            presented_token(None, ["other=1", "__Host-cs_session=t2"]),
            Some("t2")
        );
        // The legacy name, read while sessions opened under it live; the new one wins.
        assert_eq!(presented_token(None, ["cs_session=old"]), Some("old"));
        assert_eq!(
            presented_token(None, ["cs_session=old", "__Host-cs_session=new"]),
            Some("new")
        );
        assert_eq!(
            presented_token(None, ["cs_session=old; __Host-cs_session="]),
            Some("old")
        );
        assert_eq!(presented_token(None, []), None);
    }

    #[test]
    fn the_cookie_is_host_prefixed_http_only_secure_cross_site_and_partitioned() {
        let cookie = session_cookie(&SecretString::from("tok"), Duration::from_secs(7200));
        assert_eq!(
            cookie,
            "__Host-cs_session=tok; Max-Age=7200; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
        );
        assert!(!cookie.contains("Domain"), "__Host- forbids a Domain");
        let [current, legacy] = cleared_cookies();
        assert!(current.starts_with("__Host-cs_session=; Max-Age=0; Path=/; HttpOnly; Secure"));
        assert!(legacy.starts_with("cs_session=; Path=/; Max-Age=0;"));
    }

    #[test]
    fn only_failures_that_look_like_guessing_count() {
        for error in [
            SessionError::Malformed,
            SessionError::UnknownKey,
            SessionError::BadSignature,
            SessionError::Revoked,
        ] {
            assert!(error.looks_like_guessing(), "{error:?}");
        }
        for error in [
            SessionError::Missing,
            SessionError::Expired,
            SessionError::Dependency(DependencyError::Timeout),
        ] {
            assert!(!error.looks_like_guessing(), "{error:?}");
        }
    }
}
