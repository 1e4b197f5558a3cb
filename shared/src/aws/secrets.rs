//! Secrets Manager adapter (reads and the rotation calls) and the in-process TTL cache over any
//! [`SecretSource`].
//!
//! AWS's own caching crate pulls in the legacy hyper 0.14 / rustls 0.21 stack; a few lines here
//! do the job. Reads always name their `VersionStage` (moto serves stale values otherwise).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::dependency_error;
use crate::domain::ports::{
    Clock, DependencyError, RotationStore, SecretSource, SecretVersion, VersionStage,
};

impl SecretSource for Client {
    async fn secret_version(
        &self,
        secret_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        let result = self
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage.as_str())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.secret_string().map(|value| SecretVersion {
                version_id: output.version_id().unwrap_or_default().to_owned(),
                value: value.into(),
            })),
            // A stage no version carries (e.g. AWSPREVIOUS before the first rotation).
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                    && stage != VersionStage::Current =>
            {
                Ok(None)
            }
            Err(error) => Err(dependency_error(&error)),
        }
    }
}

impl RotationStore for Client {
    async fn version_stages(
        &self,
        secret_id: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, DependencyError> {
        let output = self
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(output
            .version_ids_to_stages()
            .map(|stages| {
                stages
                    .iter()
                    .map(|(id, labels)| (id.clone(), labels.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn secret_version_by_id(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        let result = self
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(version_id)
            .version_stage(stage.as_str())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.secret_string().map(|value| SecretVersion {
                version_id: version_id.to_owned(),
                value: value.into(),
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(dependency_error(&error)),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        value: &SecretString,
    ) -> Result<(), DependencyError> {
        self.put_secret_value()
            .secret_id(secret_id)
            .client_request_token(version_id)
            .secret_string(value.expose_secret())
            .version_stages(VersionStage::Pending.as_str())
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: VersionStage,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), DependencyError> {
        self.update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage.as_str())
            .set_move_to_version_id(move_to.map(str::to_owned))
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }

    async fn random_password(&self, length: u32) -> Result<SecretString, DependencyError> {
        let output = self
            .get_random_password()
            .password_length(i64::from(length))
            .exclude_punctuation(true)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output
            .random_password()
            .map(SecretString::from)
            .ok_or_else(|| DependencyError::Other("GetRandomPassword returned no password".into()))
    }
}

type CacheKey = (String, VersionStage);
type CacheEntry = (DateTime<Utc>, Option<SecretVersion>);

/// Caches secret versions for a TTL, so a warm function reads each secret once per TTL and a
/// rotated or newly added secret is picked up within one TTL without a restart.
pub struct CachedSecrets<S, C> {
    source: S,
    clock: C,
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, CacheEntry>>,
}

impl<S: SecretSource, C: Clock> CachedSecrets<S, C> {
    pub fn new(source: S, clock: C, ttl: Duration) -> Self {
        Self {
            source,
            clock,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached version if younger than the TTL, otherwise a fresh read.
    pub async fn get(
        &self,
        secret_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        let key = (secret_id.to_owned(), stage);
        let now = self.clock.now();
        if let Some((fetched_at, version)) = self.lock().get(&key) {
            let age = (now - *fetched_at).to_std().unwrap_or(Duration::ZERO);
            if age < self.ttl {
                return Ok(version.clone());
            }
        }
        let version = self.source.secret_version(secret_id, stage).await?;
        self.lock().insert(key, (now, version.clone()));
        Ok(version)
    }

    /// Forgets every cached stage of `secret_id`, so the next read goes to the source (used once
    /// when a credential is rejected, in case it was rotated).
    pub fn invalidate(&self, secret_id: &str) {
        self.lock().retain(|(id, _), _| id != secret_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, CacheEntry>> {
        // The map holds no invariant a panicking reader could break.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::ExposeSecret;

    use super::*;

    struct CountingSource {
        reads: AtomicUsize,
    }

    impl SecretSource for CountingSource {
        async fn secret_version(
            &self,
            _secret_id: &str,
            _stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Some(SecretVersion {
                version_id: format!("v{n}"),
                value: format!("secret-{n}").into(),
            }))
        }
    }

    struct FixedClock(Mutex<DateTime<Utc>>);

    impl Clock for &FixedClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    #[tokio::test]
    async fn serves_from_cache_within_the_ttl_and_refreshes_after() {
        let clock = FixedClock(Mutex::new(Utc::now()));
        let source = CountingSource {
            reads: AtomicUsize::new(0),
        };
        let cache = CachedSecrets::new(source, &clock, Duration::from_secs(60));

        let first = cache
            .get("s", VersionStage::Current)
            .await
            .unwrap()
            .unwrap();
        let again = cache
            .get("s", VersionStage::Current)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.version_id.as_str(), again.version_id.as_str()),
            ("v1", "v1")
        );

        *clock.0.lock().unwrap() += chrono::Duration::seconds(61);
        let refreshed = cache
            .get("s", VersionStage::Current)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refreshed.value.expose_secret(), "secret-2");
    }

    #[tokio::test]
    async fn invalidate_forces_the_next_read() {
        let clock = FixedClock(Mutex::new(Utc::now()));
        let source = CountingSource {
            reads: AtomicUsize::new(0),
        };
        let cache = CachedSecrets::new(source, &clock, Duration::from_secs(60));

        cache.get("s", VersionStage::Current).await.unwrap();
        cache.invalidate("s");
        let next = cache
            .get("s", VersionStage::Current)
            .await
            .unwrap()
            .unwrap();

        assert_eq!(next.version_id, "v2");
    }
}
