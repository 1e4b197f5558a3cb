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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::aws::secrets::CachedSecrets;
use crate::domain::ports::{Clock, DependencyError, SecretSource, SecretVersion, VersionStage};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key, in characters (≥ 128 bits even for hex text).
pub const MIN_KEY_CHARS: usize = 32;
/// Default time a read of the secret is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Minimum time between re-reads forced by tokens with an unknown `kid`.
pub const MISS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

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

/// The session signing keys from Secrets Manager, cached and parsed once per version.
pub struct SessionKeys<S, C> {
    secret_id: String,
    secrets: CachedSecrets<S, C>,
    clock: C,
    /// Parsed keys by stage, with the version they were parsed from.
    parsed: Mutex<HashMap<VersionStage, (String, Arc<SigningKey>)>>,
    last_forced: Mutex<Option<DateTime<Utc>>>,
}

impl<S: SecretSource, C: Clock + Clone> SessionKeys<S, C> {
    /// `secret_id` is `SESSION_KEYS_SECRET_ID`; `ttl` bounds how long a rotation can go unseen by
    /// signers ([`DEFAULT_TTL`] unless a test needs otherwise).
    pub fn new(source: S, clock: C, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secret_id: secret_id.into(),
            secrets: CachedSecrets::new(source, clock.clone(), ttl),
            clock,
            parsed: Mutex::new(HashMap::new()),
            last_forced: Mutex::new(None),
        }
    }

    /// The key new tokens are signed with (`AWSCURRENT`).
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, DependencyError> {
        self.key(VersionStage::Current)
            .await?
            .ok_or(DependencyError::NotFound)
    }

    /// The key named `kid`, if it is `AWSCURRENT` or `AWSPREVIOUS`. An unknown `kid` re-reads the
    /// secret first (at most once per [`MISS_REFRESH_INTERVAL`]), in case it was just rotated.
    pub async fn verifying_key(
        &self,
        kid: &str,
    ) -> Result<Option<Arc<SigningKey>>, DependencyError> {
        if let Some(key) = self.find(kid).await? {
            return Ok(Some(key));
        }
        if !self.may_force_refresh() {
            return Ok(None);
        }
        self.secrets.invalidate(&self.secret_id);
        self.find(kid).await
    }

    async fn find(&self, kid: &str) -> Result<Option<Arc<SigningKey>>, DependencyError> {
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
    /// from before this key format) is only logged, since it must not stop current tokens.
    async fn key(&self, stage: VersionStage) -> Result<Option<Arc<SigningKey>>, DependencyError> {
        let Some(version) = self.secrets.get(&self.secret_id, stage).await? else {
            return Ok(None);
        };
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((version_id, key)) = parsed.get(&stage)
            && *version_id == version.version_id
        {
            return Ok(Some(Arc::clone(key)));
        }
        match parse_version(&version) {
            Ok(key) => {
                let key = Arc::new(key);
                parsed.insert(stage, (version.version_id, Arc::clone(&key)));
                Ok(Some(key))
            }
            Err(error) if stage == VersionStage::Current => Err(DependencyError::Other(format!(
                "the session signing key (version {}) is unusable: {error}",
                version.version_id
            ))),
            Err(error) => {
                tracing::warn!(
                    stage = stage.as_str(),
                    version_id = %version.version_id,
                    %error,
                    "ignoring an unusable session signing key"
                );
                Ok(None)
            }
        }
    }

    /// Records a forced re-read now unless one happened within [`MISS_REFRESH_INTERVAL`].
    fn may_force_refresh(&self) -> bool {
        let now = self.clock.now();
        let mut last = self
            .last_forced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let interval = chrono::Duration::from_std(MISS_REFRESH_INTERVAL).unwrap_or_default();
        if last.is_some_and(|at| now - at < interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

fn parse_version(version: &SecretVersion) -> Result<SigningKey, KeyError> {
    SigningKey::parse(version.value.expose_secret())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const KEY_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    #[test]
    fn parse_trims_and_rejects_short_or_spaced_values() {
        let key = SigningKey::parse(&format!("  {KEY_A}\n")).unwrap();
        assert_eq!(key.kid(), kid_of(KEY_A));
        assert_eq!(
            SigningKey::parse(&KEY_A[..31]).unwrap_err(),
            KeyError::TooShort { chars: 31 }
        );
        assert!(SigningKey::parse(&KEY_A[..32]).is_ok());
        assert_eq!(
            SigningKey::parse(&format!("{} {}", &KEY_A[..20], &KEY_A[..20])).unwrap_err(),
            KeyError::Whitespace
        );
        assert_eq!(
            SigningKey::parse("").unwrap_err(),
            KeyError::TooShort { chars: 0 }
        );
    }

    #[test]
    fn kid_is_the_fingerprint_of_the_value() {
        // sha256("abc") = ba7816bf…; the kid hashes the value exactly, so it matches other tools.
        assert_eq!(kid_of(" abc "), "ba7816bf");
        assert_eq!(
            SigningKey::parse(KEY_A).unwrap().kid(),
            crate::domain::fingerprint(KEY_A.as_bytes())
        );
    }

    #[test]
    fn mac_is_hmac_sha256_and_verifies_in_constant_time() {
        // RFC 4231 test case 2 uses a 4-byte key, below our minimum; check against a direct HMAC.
        let key = SigningKey::parse(KEY_A).unwrap();
        let expected: [u8; 32] = HmacSha256::new_from_slice(KEY_A.as_bytes())
            .unwrap()
            .chain_update(b"payload")
            .finalize()
            .into_bytes()
            .into();
        let tag = key.mac(b"payload");

        assert_eq!(tag, expected);
        assert!(key.verify(b"payload", &tag));
        assert!(!key.verify(b"payloaD", &tag));
        assert!(!key.verify(b"payload", &tag[..31]));
        assert!(!SigningKey::parse(KEY_B).unwrap().verify(b"payload", &tag));
    }

    #[test]
    fn debug_shows_the_kid_only() {
        let shown = format!("{:?}", SigningKey::parse(KEY_A).unwrap());
        assert!(shown.contains(&kid_of(KEY_A)), "{shown}");
        assert!(!shown.contains("aaaa"), "{shown}");
    }

    /// A secret whose staged values the test sets, counting reads.
    #[derive(Default)]
    struct Staged {
        versions: Mutex<HashMap<VersionStage, (String, String)>>,
        reads: AtomicUsize,
    }

    impl Staged {
        fn set(&self, stage: VersionStage, version_id: &str, value: &str) {
            self.versions
                .lock()
                .unwrap()
                .insert(stage, (version_id.to_owned(), value.to_owned()));
        }

        /// Moves `AWSCURRENT` to a new version as `finishSecret` does.
        fn rotate_to(&self, version_id: &str, value: &str) {
            let mut versions = self.versions.lock().unwrap();
            if let Some(current) = versions.remove(&VersionStage::Current) {
                versions.insert(VersionStage::Previous, current);
            }
            versions.insert(
                VersionStage::Current,
                (version_id.to_owned(), value.to_owned()),
            );
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl SecretSource for &Staged {
        async fn secret_version(
            &self,
            _secret_id: &str,
            stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .versions
                .lock()
                .unwrap()
                .get(&stage)
                .map(|(version_id, value)| SecretVersion {
                    version_id: version_id.clone(),
                    value: value.as_str().into(),
                }))
        }
    }

    struct FixedClock(Mutex<DateTime<Utc>>);

    impl FixedClock {
        fn advance(&self, seconds: i64) {
            *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
        }
    }

    impl Clock for &FixedClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn keys<'a>(
        staged: &'a Staged,
        clock: &'a FixedClock,
    ) -> SessionKeys<&'a Staged, &'a FixedClock> {
        SessionKeys::new(staged, clock, "session-keys", DEFAULT_TTL)
    }

    #[tokio::test]
    async fn signs_with_current_and_verifies_current_and_previous() {
        let staged = Staged::default();
        staged.set(VersionStage::Current, "v2", KEY_B);
        staged.set(VersionStage::Previous, "v1", KEY_A);
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);

        assert_eq!(keys.signing_key().await.unwrap().kid(), kid_of(KEY_B));
        for value in [KEY_A, KEY_B] {
            let found = keys.verifying_key(&kid_of(value)).await.unwrap().unwrap();
            assert_eq!(found.kid(), kid_of(value));
        }
        assert!(keys.verifying_key(&kid_of(KEY_C)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_secret_never_rotated_has_no_previous_and_that_is_fine() {
        let staged = Staged::default();
        staged.set(VersionStage::Current, "v1", KEY_A);
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);

        assert_eq!(keys.signing_key().await.unwrap().kid(), kid_of(KEY_A));
        assert!(keys.verifying_key(&kid_of(KEY_A)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_missing_or_unusable_current_is_an_error_and_an_unusable_previous_is_ignored() {
        let staged = Staged::default();
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);
        assert_eq!(
            keys.signing_key().await.unwrap_err(),
            DependencyError::NotFound
        );

        let staged = Staged::default();
        staged.set(VersionStage::Current, "v1", "short");
        let keys = SessionKeys::new(&staged, &clock, "s", DEFAULT_TTL);
        let error = keys.signing_key().await.unwrap_err().to_string();
        assert!(
            error.contains("unusable") && !error.contains("short"),
            "{error}"
        );

        let staged = Staged::default();
        staged.set(VersionStage::Current, "v2", KEY_B);
        staged.set(VersionStage::Previous, "v1", "{\"legacy\": true}");
        let keys = SessionKeys::new(&staged, &clock, "s", DEFAULT_TTL);
        assert!(keys.verifying_key(&kid_of(KEY_B)).await.unwrap().is_some());
        assert!(keys.verifying_key("00000000").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_unknown_kid_picks_up_a_rotation_before_the_ttl() {
        let staged = Staged::default();
        staged.set(VersionStage::Current, "v1", KEY_A);
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);
        keys.signing_key().await.unwrap();

        staged.rotate_to("v2", KEY_B);
        clock.advance(1);
        let new = keys.verifying_key(&kid_of(KEY_B)).await.unwrap();
        let old = keys.verifying_key(&kid_of(KEY_A)).await.unwrap();

        assert_eq!(new.unwrap().kid(), kid_of(KEY_B));
        assert_eq!(old.unwrap().kid(), kid_of(KEY_A));
        assert_eq!(keys.signing_key().await.unwrap().kid(), kid_of(KEY_B));
    }

    #[tokio::test]
    async fn unknown_kids_force_at_most_one_read_per_interval() {
        let staged = Staged::default();
        staged.set(VersionStage::Current, "v1", KEY_A);
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);
        keys.signing_key().await.unwrap();
        assert!(keys.verifying_key("deadbeef").await.unwrap().is_none());
        let after_first_miss = staged.reads();

        for _ in 0..5 {
            assert!(keys.verifying_key("deadbeef").await.unwrap().is_none());
        }
        assert_eq!(
            staged.reads(),
            after_first_miss,
            "misses within 30 s read nothing"
        );

        staged.rotate_to("v2", KEY_B);
        clock.advance(29);
        assert!(keys.verifying_key(&kid_of(KEY_B)).await.unwrap().is_none());
        clock.advance(1);
        assert!(keys.verifying_key(&kid_of(KEY_B)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn keys_are_parsed_once_per_version() {
        let staged = Staged::default();
        staged.set(VersionStage::Current, "v1", KEY_A);
        let clock = FixedClock(Mutex::new(Utc::now()));
        let keys = keys(&staged, &clock);

        let first = keys.signing_key().await.unwrap();
        clock.advance(61);
        let again = keys.signing_key().await.unwrap();

        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            staged.reads(),
            2,
            "the TTL expired, so the secret was re-read"
        );
    }
}
