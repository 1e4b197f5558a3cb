//! The webhook signing secrets: one Secrets Manager secret holding, per provider, the list of
//! active secrets (several during a rotation overlap), e.g.
//! `{"whop": ["ws_…"], "stripe": ["whsec_…"], "standard": ["whsec_…"]}`.
//!
//! Read with an explicit `AWSCURRENT`, cached for a TTL (so a newly added secret is honoured within
//! one TTL, without a restart), parsed once per version. A delivery that matches no secret may
//! force one early refresh, at most once per [`MISS_REFRESH_INTERVAL`], so a flood of forged
//! requests cannot turn into a flood of Secrets Manager calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::Source;
use super::verify::{SecretError as SigningSecretError, SigningSecret};
use crate::domain::ports::{Clock, DependencyError, SecretSource, VersionStage};
pub use crate::domain::secret::MISS_REFRESH_INTERVAL;
use crate::domain::secret::{SecretError, VersionedSecret};

/// Default time a read of the secret is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Why the secret's value is unusable (never includes a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("the webhook secrets are not a JSON object of provider to list of strings: {0}")]
    NotJson(String),
    #[error("{provider} secret #{index} is unusable: {error}")]
    BadSecret {
        provider: &'static str,
        index: usize,
        error: SigningSecretError,
    },
}

/// The active signing secrets of each source.
#[derive(Debug, Clone, Default)]
pub struct WebhookKeys {
    by_source: BTreeMap<Source, Vec<SigningSecret>>,
}

impl WebhookKeys {
    /// Parses the secret's JSON. Providers this backend does not verify are ignored.
    pub fn parse(json: &str) -> Result<Self, KeysError> {
        let lists: BTreeMap<String, Vec<String>> =
            serde_json::from_str(json).map_err(|e| KeysError::NotJson(e.to_string()))?;
        let mut by_source = BTreeMap::new();
        for (name, secrets) in lists {
            // PayPal signs with its certificate: nothing of it is kept here.
            let Some(source) = Source::parse(&name).filter(|source| *source != Source::PayPal)
            else {
                continue;
            };
            let parsed = secrets
                .iter()
                .enumerate()
                .map(|(index, secret)| {
                    SigningSecret::parse(source, secret).map_err(|error| KeysError::BadSecret {
                        provider: source.as_str(),
                        index,
                        error,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            by_source.insert(source, parsed);
        }
        Ok(Self { by_source })
    }

    /// The active secrets of `source` (empty when none is configured).
    pub fn for_source(&self, source: Source) -> &[SigningSecret] {
        self.by_source.get(&source).map_or(&[], Vec::as_slice)
    }
}

/// Webhook keys from Secrets Manager, cached and parsed once per secret version.
pub struct Keyring<S, C> {
    secret: Option<VersionedSecret<S, C, WebhookKeys, KeysError>>,
}

impl<S: SecretSource, C: Clock> Keyring<S, C> {
    /// `secret_id` is `WEBHOOK_SECRETS_ID`; without one every source has no keys.
    pub fn new(source: S, clock: C, secret_id: Option<String>, ttl: Duration) -> Self {
        Self {
            secret: secret_id
                .map(|id| VersionedSecret::new(source, clock, id, ttl, WebhookKeys::parse)),
        }
    }

    /// The current keys (cached for the TTL).
    pub async fn current(&self) -> Result<Arc<WebhookKeys>, KeyringError> {
        let Some(secret) = &self.secret else {
            return Ok(Arc::new(WebhookKeys::default()));
        };
        match secret.get(VersionStage::Current).await {
            Ok(Some(keys)) => Ok(keys),
            Ok(None) => Err(KeyringError::Unavailable(DependencyError::NotFound)),
            Err(SecretError::Unavailable(error)) => Err(KeyringError::Unavailable(error)),
            Err(SecretError::Invalid { error, .. }) => Err(KeyringError::Invalid(error)),
        }
    }

    /// After a delivery matched no key: re-reads the secret if the last forced re-read is older
    /// than [`MISS_REFRESH_INTERVAL`]; returns the keys when they changed.
    pub async fn refresh_after_miss(&self) -> Result<Option<Arc<WebhookKeys>>, KeyringError> {
        let Some(secret) = &self.secret else {
            return Ok(None);
        };
        let before = secret.parsed_version(VersionStage::Current);
        if !secret.refresh_after_miss() {
            return Ok(None);
        }
        let keys = self.current().await?;
        Ok((secret.parsed_version(VersionStage::Current) != before).then_some(keys))
    }
}

/// Why the keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the webhook secrets could not be read: {0}")]
    Unavailable(DependencyError),
    #[error(transparent)]
    Invalid(KeysError),
}
