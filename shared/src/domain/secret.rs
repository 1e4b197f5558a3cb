//! A secret read through a [`SecretSource`], parsed into `T` and cached: the one cache behind the
//! webhook keyring, the session keys and Whop's API key.
//!
//! Every read names its stage (`AWSCURRENT`, or `AWSPREVIOUS` where the user verifies with it). A
//! read is reused for a TTL, so a warm function reads the secret once per TTL and picks up a
//! rotation within one TTL without a restart; each version is parsed once. A caller that met a
//! credential it does not know may force one early re-read with
//! [`VersionedSecret::refresh_after_miss`], at most once per [`MISS_REFRESH_INTERVAL`], so a flood
//! of forged requests cannot turn into a flood of reads; a credential the other side rejected
//! (a 401) forgets the cache unconditionally with [`VersionedSecret::invalidate`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::domain::cache::TtlCache;
use crate::domain::ports::{Clock, DependencyError, SecretSource, SecretVersion, VersionStage};

/// Minimum time between re-reads forced by [`VersionedSecret::refresh_after_miss`].
pub const MISS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a stage of the secret could not be had (never includes a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError<E> {
    /// The source failed.
    #[error("the secret could not be read: {0}")]
    Unavailable(DependencyError),
    /// The stage's value does not parse.
    #[error("version {version_id} is unusable: {error}")]
    Invalid { version_id: String, error: E },
}

/// A secret, parsed into `T` by `parse`, cached per stage for a TTL and parsed once per version.
pub struct VersionedSecret<S, C, T, E> {
    source: S,
    clock: C,
    secret_id: String,
    parse: fn(&str) -> Result<T, E>,
    /// The read of each stage (`None` when no version carries the stage).
    reads: TtlCache<VersionStage, Option<SecretVersion>>,
    /// Parsed values by stage, with the version they were parsed from.
    parsed: Mutex<HashMap<VersionStage, (String, Arc<T>)>>,
    last_forced: Mutex<Option<DateTime<Utc>>>,
}

impl<S: SecretSource, C: Clock, T, E> VersionedSecret<S, C, T, E> {
    pub fn new(
        source: S,
        clock: C,
        secret_id: impl Into<String>,
        ttl: Duration,
        parse: fn(&str) -> Result<T, E>,
    ) -> Self {
        Self {
            source,
            clock,
            secret_id: secret_id.into(),
            parse,
            reads: TtlCache::new(ttl),
            parsed: Mutex::new(HashMap::new()),
            last_forced: Mutex::new(None),
        }
    }

    /// The parsed value of `stage`: the cached read if younger than the TTL, otherwise a fresh
    /// one; `None` when no version carries the stage.
    pub async fn get(&self, stage: VersionStage) -> Result<Option<Arc<T>>, SecretError<E>> {
        let Some(version) = self.read(stage).await.map_err(SecretError::Unavailable)? else {
            return Ok(None);
        };
        let mut parsed = lock(&self.parsed);
        if let Some((version_id, value)) = parsed.get(&stage)
            && *version_id == version.version_id
        {
            return Ok(Some(Arc::clone(value)));
        }
        match (self.parse)(version.value.expose_secret()) {
            Ok(value) => {
                let value = Arc::new(value);
                parsed.insert(stage, (version.version_id, Arc::clone(&value)));
                Ok(Some(value))
            }
            Err(error) => Err(SecretError::Invalid {
                version_id: version.version_id,
                error,
            }),
        }
    }

    /// The version `stage` was last parsed from.
    pub fn parsed_version(&self, stage: VersionStage) -> Option<String> {
        lock(&self.parsed)
            .get(&stage)
            .map(|(version_id, _)| version_id.clone())
    }

    /// Forgets every read and parse, so the next [`get`](Self::get) goes to the source and
    /// parses what it finds.
    pub fn invalidate(&self) {
        self.reads.clear();
        lock(&self.parsed).clear();
    }

    /// After a credential matched none of the secret's: forgets every read and parse, so the next
    /// [`get`](Self::get) goes to the source, unless a forced re-read happened within
    /// [`MISS_REFRESH_INTERVAL`]. Whether it forgot.
    pub fn refresh_after_miss(&self) -> bool {
        let now = self.clock.now();
        {
            let mut last = lock(&self.last_forced);
            let interval = chrono::Duration::from_std(MISS_REFRESH_INTERVAL).unwrap_or_default();
            if last.is_some_and(|at| now - at < interval) {
                return false;
            }
            *last = Some(now);
        }
        self.invalidate();
        true
    }

    async fn read(&self, stage: VersionStage) -> Result<Option<SecretVersion>, DependencyError> {
        let now = self.clock.now();
        if let Some(version) = self.reads.fresh(&stage, now) {
            return Ok(version);
        }
        let version = self.source.secret_version(&self.secret_id, stage).await?;
        self.reads.insert(stage, version.clone(), now);
        Ok(version)
    }
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    // The maps hold no invariant a panicking reader could break.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
pub(crate) mod tests;
