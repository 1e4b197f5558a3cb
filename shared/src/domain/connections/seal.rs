//! The connections' OAuth tokens at rest: AES-256-GCM (aws-lc-rs's AEAD) under a data key from a
//! rotating Secrets Manager secret. `AWSCURRENT` seals; a sealed value names its key's `kid`, so
//! values sealed before a rotation open with `AWSPREVIOUS` ([`RotatingKeys`]).
//!
//! The secret's value is the 32-byte key, base64 (standard) or 64 hex digits, or random text of
//! at least [`MIN_TEXT_CHARS`] characters (what the template generates), whose SHA-256 is the
//! key. A sealed value is
//! `ct1.<kid>.<nonce, base64url>.<ciphertext and tag, base64url>`; the nonce is 12 random bytes
//! per value, and the associated data names what the value is (its connection and field), so a
//! sealed value copied to another field or connection does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::domain::auth::keys::{RotatingKeys, VersionedKey};
use crate::domain::ports::{Clock, DependencyError, SecretSource};

/// Shortest text value taken as a key (≥ 256 bits of alphanumerics).
pub const MIN_TEXT_CHARS: usize = 43;
/// The sealed values' format prefix.
const PREFIX: &str = "ct1";

/// Why a secret value is not a data key (never includes the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the data key must be 32 bytes (base64 or 64 hex digits) or random text of at least 43 characters"
)]
pub struct DataKeyError;

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value's key ({0}) is neither the current nor the previous data key")]
    UnknownKey(String),
    #[error("the sealed value does not open under its key")]
    Tampered,
    #[error("{0}")]
    Dependency(#[from] DependencyError),
}

/// An AES-256-GCM key. `Debug` shows only the `kid`.
pub struct DataKey {
    kid: String,
    key: LessSafeKey,
}

impl VersionedKey for DataKey {
    const WHAT: &'static str = "the connections' data key";
    type Error = DataKeyError;

    fn parse(value: &str) -> Result<Self, DataKeyError> {
        let value = value.trim();
        let bytes = match (hex::decode(value), STANDARD.decode(value)) {
            (Ok(bytes), _) | (_, Ok(bytes)) if bytes.len() == 32 => bytes,
            // The template's generated value: 64 characters of random text, hashed to a key.
            _ if value.len() >= MIN_TEXT_CHARS
                && !value
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) =>
            {
                Sha256::digest(value.as_bytes()).to_vec()
            }
            _ => return Err(DataKeyError),
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| DataKeyError)?;
        Ok(Self {
            kid: crate::domain::fingerprint(value.as_bytes()),
            key: LessSafeKey::new(key),
        })
    }

    fn kid(&self) -> &str {
        &self.kid
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The data keys, cached like the session signing keys.
pub struct DataKeys<S, C> {
    keys: RotatingKeys<S, C, DataKey>,
}

impl<S: SecretSource, C: Clock> DataKeys<S, C> {
    pub fn new(
        source: S,
        clock: C,
        secret_id: impl Into<String>,
        ttl: std::time::Duration,
    ) -> Self {
        Self {
            keys: RotatingKeys::new(source, clock, secret_id, ttl),
        }
    }

    /// `plaintext` sealed under the current key, bound to `context`.
    pub async fn seal(&self, plaintext: &str, context: &str) -> Result<String, SealError> {
        let key = self.keys.current_key().await?;
        seal_with(&key, plaintext, context)
    }

    /// The plaintext of a value [`seal`](Self::seal) made with `context`, under the key it names.
    pub async fn open(&self, sealed: &str, context: &str) -> Result<SecretString, SealError> {
        let kid = sealed.split('.').nth(1).ok_or(SealError::Malformed)?;
        let key = self
            .keys
            .key_named(kid)
            .await?
            .ok_or_else(|| SealError::UnknownKey(kid.to_owned()))?;
        open_with(&key, sealed, context)
    }
}

/// Seals `plaintext` under `key` with a fresh random nonce.
pub fn seal_with(key: &DataKey, plaintext: &str, context: &str) -> Result<String, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|e| DependencyError::Other(format!("no randomness: {e}")))?;
    let mut in_out = plaintext.as_bytes().to_vec();
    key.key
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| SealError::Dependency(DependencyError::Other("AES-GCM failed".into())))?;
    Ok(format!(
        "{PREFIX}.{}.{}.{}",
        key.kid,
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(in_out)
    ))
}

/// Opens a value sealed under `key` with `context`.
pub fn open_with(key: &DataKey, sealed: &str, context: &str) -> Result<SecretString, SealError> {
    let mut parts = sealed.split('.');
    let (Some(PREFIX), Some(kid), Some(nonce), Some(body), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SealError::Malformed);
    };
    if kid != key.kid {
        return Err(SealError::UnknownKey(kid.to_owned()));
    }
    let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(SealError::Malformed)?;
    let mut in_out = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SealError::Malformed)?;
    let plain = key
        .key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| SealError::Tampered)?;
    let text = std::str::from_utf8(plain).map_err(|_| SealError::Tampered)?;
    Ok(SecretString::from(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::domain::ports::{SecretVersion, SystemClock, VersionStage};

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    /// A secret whose stages can be moved, as a rotation does.
    #[derive(Default)]
    struct Stages(Mutex<HashMap<VersionStage, SecretVersion>>);

    impl Stages {
        fn set(&self, stage: VersionStage, value: &str) {
            self.0.lock().unwrap().insert(
                stage,
                SecretVersion {
                    version_id: value[..8].to_owned(),
                    value: SecretString::from(value.to_owned()),
                },
            );
        }
    }

    impl SecretSource for &Stages {
        async fn secret_version(
            &self,
            _secret_id: &str,
            stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            Ok(self.0.lock().unwrap().get(&stage).cloned())
        }
    }

    #[test]
    fn a_sealed_value_opens_to_its_plaintext_and_holds_none_of_it() {
        let key = DataKey::parse(KEY_A).unwrap();
        let sealed = seal_with(&key, "gumroad-access-token", "c#access").unwrap();
        assert!(!sealed.contains("gumroad-access-token"));
        assert!(sealed.starts_with(&format!("ct1.{}.", key.kid())));
        let opened = open_with(&key, &sealed, "c#access").unwrap();
        assert_eq!(opened.expose_secret(), "gumroad-access-token");
        // A fresh nonce per value.
        assert_ne!(
            sealed,
            seal_with(&key, "gumroad-access-token", "c#access").unwrap()
        );
    }

    #[test]
    fn another_context_a_flipped_byte_or_another_shape_does_not_open() {
        let key = DataKey::parse(KEY_A).unwrap();
        let sealed = seal_with(&key, "token", "c1#access").unwrap();
        assert_eq!(
            open_with(&key, &sealed, "c2#access").unwrap_err(),
            SealError::Tampered
        );
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            open_with(&key, std::str::from_utf8(&flipped).unwrap(), "c1#access").unwrap_err(),
            SealError::Tampered
        );
        for bad in ["", "ct1", "ct1.x.y", "ct2.a.b.c", &format!("{sealed}.x")] {
            assert!(open_with(&key, bad, "c1#access").is_err(), "{bad}");
        }
    }

    #[test]
    fn data_keys_are_32_bytes_in_base64_or_hex() {
        assert!(DataKey::parse(KEY_A).is_ok());
        assert!(DataKey::parse(KEY_B).is_ok());
        // The template's generated form: random text, hashed.
        assert!(DataKey::parse(&"aB3".repeat(22)).is_ok());
        for bad in ["", "c2hvcnQ=", &"z z".repeat(22), "not base64 at all"] {
            assert_eq!(DataKey::parse(bad).unwrap_err(), DataKeyError, "{bad}");
        }
        assert_eq!(
            format!("{:?}", DataKey::parse(KEY_A).unwrap()),
            format!(
                "DataKey {{ kid: {:?}, .. }}",
                DataKey::parse(KEY_A).unwrap().kid()
            )
        );
    }

    #[tokio::test]
    async fn after_a_rotation_the_current_key_seals_and_the_previous_still_opens() {
        let stages = Stages::default();
        stages.set(VersionStage::Current, KEY_A);
        let keys = DataKeys::new(&stages, SystemClock, "data-key", std::time::Duration::ZERO);
        let before = keys.seal("refresh-1", "c#refresh").await.unwrap();

        stages.set(VersionStage::Previous, KEY_A);
        stages.set(VersionStage::Current, KEY_B);
        let after = keys.seal("refresh-2", "c#refresh").await.unwrap();
        let kid = |sealed: &str| sealed.split('.').nth(1).unwrap().to_owned();
        assert_ne!(kid(&before), kid(&after));
        assert_eq!(
            keys.open(&before, "c#refresh")
                .await
                .unwrap()
                .expose_secret(),
            "refresh-1"
        );
        assert_eq!(
            keys.open(&after, "c#refresh")
                .await
                .unwrap()
                .expose_secret(),
            "refresh-2"
        );

        // Two rotations later the first key is gone.
        stages.set(VersionStage::Previous, KEY_B);
        stages.set(
            VersionStage::Current,
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
        );
        assert!(matches!(
            keys.open(&before, "c#refresh").await.unwrap_err(),
            SealError::UnknownKey(_)
        ));
    }
}
