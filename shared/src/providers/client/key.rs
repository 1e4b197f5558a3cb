//! A provider's API key: read from a Secrets Manager secret, cached, and re-read once when the
//! provider answers 401 (a rotated key is picked up without a redeploy). Every provider API
//! client (Whop, the message providers) reads its key this way.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ClientError;
use crate::domain::ports::{Clock, SecretSource, VersionStage};
use crate::domain::secret::{SecretError, VersionedSecret};

/// How long a key is cached.
pub const API_KEY_TTL: Duration = Duration::from_secs(300);

/// The key could not be read, or the secret holds none. Says why, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyUnavailable(pub String);

/// Where a provider's key comes from: a [`SecretString`] by default, or a parsed credential
/// (Twilio's account SID and auth token).
pub trait ApiKeySource<K = SecretString>: Send + Sync {
    /// The key; `fresh` bypasses any cache (after a 401).
    fn api_key(&self, fresh: bool) -> impl Future<Output = Result<Arc<K>, KeyUnavailable>> + Send;
}

/// A fixed key (the CLI's `--api-key`, tests).
#[derive(Clone)]
pub struct StaticKey<K = SecretString>(pub K);

impl<K: Clone + Send + Sync> ApiKeySource<K> for StaticKey<K> {
    async fn api_key(&self, _fresh: bool) -> Result<Arc<K>, KeyUnavailable> {
        Ok(Arc::new(self.0.clone()))
    }
}

/// The key from a Secrets Manager secret, cached for [`API_KEY_TTL`]: by default the `api_key`
/// of `{"api_key": "…"}`; [`with_parser`](Self::with_parser) reads another shape.
pub struct SecretKey<S, C, K = SecretString> {
    secret: VersionedSecret<S, C, K, String>,
}

impl<S: SecretSource, C: Clock> SecretKey<S, C> {
    pub fn new(source: S, clock: C, secret_id: impl Into<String>) -> Self {
        Self::with_parser(source, clock, secret_id, parse_api_key)
    }
}

impl<S: SecretSource, C: Clock, K> SecretKey<S, C, K> {
    /// `parse` reads the secret's value; its error says what is wrong without quoting it.
    pub fn with_parser(
        source: S,
        clock: C,
        secret_id: impl Into<String>,
        parse: fn(&str) -> Result<K, String>,
    ) -> Self {
        Self {
            secret: VersionedSecret::new(source, clock, secret_id, API_KEY_TTL, parse),
        }
    }
}

/// The `api_key` of the secret's JSON.
fn parse_api_key(value: &str) -> Result<SecretString, String> {
    #[derive(Deserialize)]
    struct Stored {
        api_key: Option<SecretString>,
    }
    let stored: Stored = serde_json::from_str(value)
        .map_err(|_| "the secret is not `{\"api_key\": \"…\"}`".to_owned())?;
    stored
        .api_key
        .filter(|key| !key.expose_secret().trim().is_empty())
        .ok_or_else(|| "the secret's `api_key` is empty".to_owned())
}

impl<S: SecretSource, C: Clock, K: Send + Sync> ApiKeySource<K> for SecretKey<S, C, K> {
    async fn api_key(&self, fresh: bool) -> Result<Arc<K>, KeyUnavailable> {
        if fresh {
            self.secret.invalidate();
        }
        match self.secret.get(VersionStage::Current).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(KeyUnavailable("the secret has no current value".into())),
            Err(SecretError::Unavailable(error)) => Err(KeyUnavailable(error.to_string())),
            Err(SecretError::Invalid { error, .. }) => Err(KeyUnavailable(error)),
        }
    }
}

/// Runs `call` with the key from `keys`; when the provider answers 401, re-reads the key once
/// (bypassing the cache) and calls once more.
pub async fn call_with_key<K, T, E, Fut>(
    keys: &impl ApiKeySource<K>,
    service: &'static str,
    call: impl Fn(Arc<K>) -> Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, ClientError>>,
    E: From<ClientError> + From<KeyUnavailable>,
{
    let key = keys.api_key(false).await?;
    match call(key).await {
        Err(ClientError::Provider { status: 401, .. }) => {
            tracing::info!(
                service,
                "the provider refused the API key: reading it again"
            );
            let fresh = keys.api_key(true).await?;
            Ok(call(fresh).await?)
        }
        other => Ok(other?),
    }
}
