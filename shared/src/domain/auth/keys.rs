//! The session signing key: the whole string value of the session-keys secret (at least
//! [`MIN_KEY_CHARS`] characters of high-entropy text, as `GenerateSecretString` and
//! `GetRandomPassword` produce), used as an HMAC-SHA256 key. Its `kid` is the first 8 hex digits of
//! the value's SHA-256 ([`crate::domain::fingerprint`]): no JSON wrapper, so the secret the
//! template generates is already a valid key.
//!
//! [`SessionKeys`] signs with `AWSCURRENT` and verifies with `AWSCURRENT` or `AWSPREVIOUS`, so
//! tokens signed before a rotation stay valid until the next one. Reads name their stage and are
//! cached for a TTL; a token with an unknown `kid` may force one early re-read, at most once per
//! [`MISS_REFRESH_INTERVAL`], so a warm instance picks up a rotation without waiting for the TTL
//! while forged `kid`s cannot turn into a flood of Secrets Manager calls.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::domain::ports::{Clock, DependencyError, SecretSource, VersionStage};
pub use crate::domain::secret::MISS_REFRESH_INTERVAL;
use crate::domain::secret::{SecretError, VersionedSecret};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key, in characters (≥ 128 bits even for hex text).
pub const MIN_KEY_CHARS: usize = 32;
/// Default time a read of the secret is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Why a secret value is not a usable signing key (never includes the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is {chars} characters long; at least {MIN_KEY_CHARS} are required")]
    TooShort { chars: usize },
    #[error("the key contains whitespace")]
    Whitespace,
}

/// The `kid` of a secret value: the first 8 hex digits of the SHA-256 of the trimmed value.
pub fn kid_of(value: &str) -> String {
    crate::domain::fingerprint(value.trim().as_bytes())
}

/// An HMAC-SHA256 session signing key. `Debug` shows only the `kid`.
pub struct SigningKey {
    kid: String,
    key: SecretSlice<u8>,
}

impl SigningKey {
    /// The key in a secret value: trimmed, at least [`MIN_KEY_CHARS`] characters, no whitespace
    /// inside (a stray space or newline would otherwise silently become part of the key).
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        let value = value.trim();
        if value.chars().any(char::is_whitespace) {
            return Err(KeyError::Whitespace);
        }
        let chars = value.chars().count();
        if chars < MIN_KEY_CHARS {
            return Err(KeyError::TooShort { chars });
        }
        Ok(Self {
            kid: kid_of(value),
            key: value.as_bytes().to_vec().into(),
        })
    }

    /// The key id tokens carry to name their key; safe to log.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The HMAC-SHA256 of `message`.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        self.keyed()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Whether `tag` is the MAC of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        self.keyed().chain_update(message).verify_slice(tag).is_ok()
    }

    #[expect(
        clippy::expect_used,
        reason = "HMAC takes keys of any length; hmac's own `KeyInit::new` makes the same assumption"
    )]
    fn keyed(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.key.expose_secret()).expect("HMAC accepts any key length")
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key kept in a rotated secret: parsed from the secret's value, named by a `kid` derived from
/// it. [`SigningKey`] (the session signing key) and the connections' data key
/// ([`crate::domain::connections::seal::DataKey`]) are the two.
pub trait VersionedKey: Sized + Send + Sync + 'static {
    /// What the key is, for errors and logs ("the session signing key").
    const WHAT: &'static str;
    /// Why a value is not a usable key (never includes the value).
    type Error: std::fmt::Display + Send + Sync;
    /// The key in a secret value.
    fn parse(value: &str) -> Result<Self, Self::Error>;
    /// The key id that names it; safe to log.
    fn kid(&self) -> &str;
}

impl VersionedKey for SigningKey {
    const WHAT: &'static str = "the session signing key";
    type Error = KeyError;

    fn parse(value: &str) -> Result<Self, KeyError> {
        Self::parse(value)
    }

    fn kid(&self) -> &str {
        &self.kid
    }
}

/// The keys of a rotated secret from Secrets Manager, cached and parsed once per version: new
/// material uses `AWSCURRENT`, material made before a rotation is still read with `AWSPREVIOUS`.
pub struct RotatingKeys<S, C, K: VersionedKey> {
    secret: VersionedSecret<S, C, K, K::Error>,
}

/// The session signing keys.
pub type SessionKeys<S, C> = RotatingKeys<S, C, SigningKey>;

impl<S: SecretSource, C: Clock> RotatingKeys<S, C, SigningKey> {
    /// The key new tokens are signed with (`AWSCURRENT`).
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, DependencyError> {
        self.current_key().await
    }

    /// The key named `kid`, if it is `AWSCURRENT` or `AWSPREVIOUS`; see [`RotatingKeys::key_named`].
    pub async fn verifying_key(
        &self,
        kid: &str,
    ) -> Result<Option<Arc<SigningKey>>, DependencyError> {
        self.key_named(kid).await
    }
}

impl<S: SecretSource, C: Clock, K: VersionedKey> RotatingKeys<S, C, K> {
    /// `secret_id` names the secret; `ttl` bounds how long a rotation can go unseen by users of
    /// the current key ([`DEFAULT_TTL`] unless a test needs otherwise).
    pub fn new(source: S, clock: C, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secret: VersionedSecret::new(source, clock, secret_id, ttl, K::parse),
        }
    }

    /// The key new material is made with (`AWSCURRENT`).
    pub async fn current_key(&self) -> Result<Arc<K>, DependencyError> {
        self.key(VersionStage::Current)
            .await?
            .ok_or(DependencyError::NotFound)
    }

    /// The key named `kid`, if it is `AWSCURRENT` or `AWSPREVIOUS`. An unknown `kid` re-reads the
    /// secret first (at most once per [`MISS_REFRESH_INTERVAL`]), in case it was just rotated.
    pub async fn key_named(&self, kid: &str) -> Result<Option<Arc<K>>, DependencyError> {
        if let Some(key) = self.find(kid).await? {
            return Ok(Some(key));
        }
        if !self.secret.refresh_after_miss() {
            return Ok(None);
        }
        self.find(kid).await
    }

    async fn find(&self, kid: &str) -> Result<Option<Arc<K>>, DependencyError> {
        for stage in [VersionStage::Current, VersionStage::Previous] {
            if let Some(key) = self.key(stage).await?
                && key.kid() == kid
            {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// The parsed key of `stage`; `None` when no version carries it (`AWSPREVIOUS` before the
    /// first rotation). An unusable `AWSCURRENT` is an error; an unusable `AWSPREVIOUS` (a value
    /// from before this key format) is only logged, since it must not stop current material.
    async fn key(&self, stage: VersionStage) -> Result<Option<Arc<K>>, DependencyError> {
        match self.secret.get(stage).await {
            Ok(key) => Ok(key),
            Err(SecretError::Unavailable(error)) => Err(error),
            Err(SecretError::Invalid { version_id, error }) if stage == VersionStage::Current => {
                Err(DependencyError::Other(format!(
                    "{} (version {version_id}) is unusable: {error}",
                    K::WHAT
                )))
            }
            Err(SecretError::Invalid { version_id, error }) => {
                tracing::warn!(
                    stage = stage.as_str(),
                    version_id = %version_id,
                    %error,
                    "ignoring an unusable {}",
                    K::WHAT
                );
                Ok(None)
            }
        }
    }
}

/// `value`, serialised and MACed with `key`: `<prefix>.<kid>.<payload>.<mac>`, the MAC an
/// HMAC-SHA256 of everything before it (the Google sign-in's flow cookie and a connection's
/// `state`).
pub fn seal_signed<T: serde::Serialize>(
    prefix: &str,
    value: &T,
    key: &SigningKey,
) -> Result<String, DependencyError> {
    use base64::Engine;
    let payload = serde_json::to_vec(value)
        .map_err(|e| DependencyError::Other(format!("the value does not serialise: {e}")))?;
    let signed = format!(
        "{prefix}.{}.{}",
        key.kid(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    );
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.mac(signed.as_bytes()));
    Ok(format!("{signed}.{mac}"))
}

/// The kid a [`seal_signed`] value of `prefix` names, if it is shaped like one and at most `max`
/// bytes long.
pub fn signed_kid<'v>(value: &'v str, prefix: &str, max: usize) -> Option<&'v str> {
    if value.len() > max {
        return None;
    }
    let mut parts = value.split('.');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(p), Some(kid), Some(_), Some(_), None) if p == prefix => Some(kid),
        _ => None,
    }
}

/// The value a [`seal_signed`] string carries, if its MAC verifies under `key` (the key of the
/// kid it names). Expiry and the like are the caller's checks.
pub fn open_signed<T: serde::de::DeserializeOwned>(value: &str, key: &SigningKey) -> Option<T> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, mac) = value.rsplit_once('.')?;
    let mac = engine.decode(mac).ok()?;
    if !key.verify(signed.as_bytes(), &mac) {
        return None;
    }
    let payload = engine.decode(signed.rsplit('.').next()?).ok()?;
    serde_json::from_slice(&payload).ok()
}

#[cfg(test)]
mod tests;
