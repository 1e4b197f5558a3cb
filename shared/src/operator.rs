//! Placeholder authorization until sessions exist: protected routes admit only requests carrying
//! the operator token (`Authorization: Bearer <token>`), held in the secret named by
//! `OPERATOR_TOKEN_SECRET_ID`. No secret id, an empty or short token, or a failed read denies every
//! request: a protected route is never open by default.
//!
//! Only the authorizer uses this; the session work replaces it.

use std::time::Duration;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::adapters::secrets::CachedSecrets;
use crate::ports::{Clock, DependencyError, SecretSource, VersionStage};

/// The principal an admitted request carries in the authorizer context.
pub const PRINCIPAL: &str = "operator";
/// How long a read of the token is reused, so a replaced or emptied token takes effect within it.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// The shortest token honoured; the template generates 48 characters.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Why a request was not admitted. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no operator token is configured (OPERATOR_TOKEN_SECRET_ID is not set)")]
    NotConfigured,
    #[error("the request has no `Authorization: Bearer` token")]
    MissingToken,
    #[error(
        "the operator token secret is empty, shorter than {MIN_TOKEN_CHARS} characters or contains whitespace"
    )]
    UnusableToken,
    #[error("the operator token could not be read: {0}")]
    Unavailable(DependencyError),
    #[error("the bearer token is not the operator token")]
    WrongToken,
}

impl Denied {
    /// A stable snake_case code for logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::MissingToken => "missing_token",
            Self::UnusableToken => "unusable_token",
            Self::Unavailable(_) => "token_unavailable",
            Self::WrongToken => "wrong_token",
        }
    }
}

/// The token of an `Authorization` value `Bearer <token>` (scheme in any case, surrounding
/// whitespace ignored). Any other form, including an empty token, is no token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace))
    .then_some(token)
}

/// Whether the presented token is the expected one, in time independent of where they differ.
/// Both are hashed first so that their lengths do not show in the timing either.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented[..].ct_eq(&expected[..]).into()
}

/// The configured token if it is fit to admit anyone: trimmed (operators paste values with a
/// trailing newline), at least [`MIN_TOKEN_CHARS`] long, with no inner whitespace (a bearer
/// token could never match it).
pub fn usable_token(stored: &str) -> Option<&str> {
    let token = stored.trim();
    (token.chars().count() >= MIN_TOKEN_CHARS && !token.contains(char::is_whitespace))
        .then_some(token)
}

/// Admits requests carrying the operator token, read through a TTL cache.
pub struct OperatorGate<S, C> {
    secret_id: Option<String>,
    secrets: CachedSecrets<S, C>,
}

impl<S: SecretSource, C: Clock> OperatorGate<S, C> {
    /// `secret_id` is `OPERATOR_TOKEN_SECRET_ID`; without one every request is denied.
    pub fn new(source: S, clock: C, secret_id: Option<String>, ttl: Duration) -> Self {
        Self {
            secret_id,
            secrets: CachedSecrets::new(source, clock, ttl),
        }
    }

    /// `Ok` when `authorization` (the request's `Authorization` header) carries the configured
    /// operator token. A tokenless request is denied before the secret is read, so anonymous
    /// traffic costs no Secrets Manager calls.
    pub async fn admit(&self, authorization: Option<&str>) -> Result<(), Denied> {
        let secret_id = self.secret_id.as_deref().ok_or(Denied::NotConfigured)?;
        let presented = authorization
            .and_then(bearer_token)
            .ok_or(Denied::MissingToken)?;
        let version = self
            .secrets
            .get(secret_id, VersionStage::Current)
            .await
            .map_err(Denied::Unavailable)?
            .ok_or(Denied::UnusableToken)?;
        let expected = usable_token(version.value.expose_secret()).ok_or(Denied::UnusableToken)?;
        if tokens_match(presented, expected) {
            Ok(())
        } else {
            Err(Denied::WrongToken)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::ports::SecretVersion;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_bearer_tokens_in_any_case_of_the_scheme() {
        for header in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "  Bearer   abc  ",
            "Bearer\tabc",
        ] {
            assert_eq!(bearer_token(header), Some("abc"), "{header:?}");
        }
    }

    #[test]
    fn anything_but_one_bearer_token_is_no_token() {
        for header in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "abc",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Bearerabc",
            "Bearer a b",
            "Bearer a,Bearer b",
            "Token abc",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(tokens_match(TOKEN, TOKEN));
        assert!(!tokens_match(&TOKEN[1..], TOKEN));
        assert!(!tokens_match(&format!("{TOKEN}0"), TOKEN));
        assert!(!tokens_match(&TOKEN.to_uppercase(), TOKEN));
        assert!(!tokens_match("", TOKEN));
        assert!(!tokens_match("", "x"));
    }

    #[test]
    fn short_empty_or_spaced_tokens_are_unusable() {
        assert_eq!(usable_token(TOKEN), Some(TOKEN));
        assert_eq!(usable_token(&format!("{TOKEN}\n")), Some(TOKEN));
        assert_eq!(usable_token(&TOKEN[..32]), Some(&TOKEN[..32]));
        assert_eq!(usable_token(&TOKEN[..31]), None);
        assert_eq!(usable_token(""), None);
        assert_eq!(usable_token("   "), None);
        assert_eq!(
            usable_token(&format!("{} {}", &TOKEN[..24], &TOKEN[24..])),
            None
        );
    }

    /// A secret whose value the test sets; `None` makes reads fail.
    struct Stored {
        value: Mutex<Option<String>>,
        reads: AtomicUsize,
    }

    impl Stored {
        fn new(value: Option<&str>) -> Self {
            Self {
                value: Mutex::new(value.map(str::to_owned)),
                reads: AtomicUsize::new(0),
            }
        }
    }

    impl SecretSource for &Stored {
        async fn secret_version(
            &self,
            _secret_id: &str,
            _stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            match self.value.lock().unwrap().clone() {
                Some(value) => Ok(Some(SecretVersion {
                    version_id: "v".into(),
                    value: value.into(),
                })),
                None => Err(DependencyError::AccessDenied),
            }
        }
    }

    struct FixedClock(Mutex<DateTime<Utc>>);

    impl Clock for &FixedClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn gate<'a>(
        stored: &'a Stored,
        clock: &'a FixedClock,
        secret_id: Option<&str>,
    ) -> OperatorGate<&'a Stored, &'a FixedClock> {
        OperatorGate::new(stored, clock, secret_id.map(str::to_owned), TOKEN_TTL)
    }

    #[tokio::test]
    async fn admits_only_the_configured_token() {
        let stored = Stored::new(Some(TOKEN));
        let clock = FixedClock(Mutex::new(Utc::now()));
        let gate = gate(&stored, &clock, Some("op"));

        assert_eq!(gate.admit(Some(&format!("Bearer {TOKEN}"))).await, Ok(()));
        assert_eq!(
            gate.admit(Some(&format!("Bearer {TOKEN}x"))).await,
            Err(Denied::WrongToken)
        );
        assert_eq!(gate.admit(Some(TOKEN)).await, Err(Denied::MissingToken));
        assert_eq!(gate.admit(None).await, Err(Denied::MissingToken));
    }

    #[tokio::test]
    async fn denies_everything_without_a_secret_id_or_a_usable_token() {
        let clock = FixedClock(Mutex::new(Utc::now()));
        let bearer = format!("Bearer {TOKEN}");

        let stored = Stored::new(Some(TOKEN));
        assert_eq!(
            gate(&stored, &clock, None).admit(Some(&bearer)).await,
            Err(Denied::NotConfigured)
        );
        assert_eq!(stored.reads.load(Ordering::SeqCst), 0);

        for value in ["", &TOKEN[..31]] {
            let stored = Stored::new(Some(value));
            assert_eq!(
                gate(&stored, &clock, Some("op")).admit(Some(&bearer)).await,
                Err(Denied::UnusableToken),
                "{value:?}"
            );
        }
        // An empty presented token must not match an empty stored one.
        let stored = Stored::new(Some(""));
        assert_eq!(
            gate(&stored, &clock, Some("op"))
                .admit(Some("Bearer "))
                .await,
            Err(Denied::MissingToken)
        );
    }

    #[tokio::test]
    async fn fails_closed_when_the_secret_cannot_be_read() {
        let stored = Stored::new(None);
        let clock = FixedClock(Mutex::new(Utc::now()));
        assert_eq!(
            gate(&stored, &clock, Some("op"))
                .admit(Some(&format!("Bearer {TOKEN}")))
                .await,
            Err(Denied::Unavailable(DependencyError::AccessDenied))
        );
    }

    #[tokio::test]
    async fn tokenless_requests_do_not_read_the_secret() {
        let stored = Stored::new(Some(TOKEN));
        let clock = FixedClock(Mutex::new(Utc::now()));
        let gate = gate(&stored, &clock, Some("op"));
        for header in [None, Some("Basic x"), Some("Bearer ")] {
            assert_eq!(gate.admit(header).await, Err(Denied::MissingToken));
        }
        assert_eq!(stored.reads.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_emptied_secret_denies_the_old_token_after_the_ttl() {
        let stored = Stored::new(Some(TOKEN));
        let clock = FixedClock(Mutex::new(Utc::now()));
        let gate = gate(&stored, &clock, Some("op"));
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(gate.admit(Some(&bearer)).await, Ok(()));

        *stored.value.lock().unwrap() = Some(String::new());
        // Within the TTL the cached token still admits, and the secret is not read again.
        assert_eq!(gate.admit(Some(&bearer)).await, Ok(()));
        assert_eq!(stored.reads.load(Ordering::SeqCst), 1);

        *clock.0.lock().unwrap() += chrono::Duration::seconds(61);
        assert_eq!(gate.admit(Some(&bearer)).await, Err(Denied::UnusableToken));
    }
}
