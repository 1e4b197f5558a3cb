//! Secrets Manager's four-step rotation for an app-owned key (the session signing key), as the
//! rotation Lambda and `churnsaver keys rotate` run it. The `ClientRequestToken` is the id of the
//! new version; every step is idempotent on it, because Secrets Manager retries whole rotations.
//!
//! 1. `createSecret`: a fresh random key becomes version `token`, labelled `AWSPENDING`.
//! 2. `setSecret`: nothing outside Secrets Manager holds the key, so nothing to do.
//! 3. `testSecret`: the pending value parses as a [`SigningKey`] and a MAC round-trips.
//! 4. `finishSecret`: `AWSCURRENT` moves to `token` (Secrets Manager moves `AWSPREVIOUS` to the old
//!    version, which keeps verifying tokens it signed) and `AWSPENDING` is removed.
//!
//! Every step first checks, as AWS's rotation template does, that `token` is a version of the
//! secret, returns at once if it is already `AWSCURRENT`, and refuses it unless it is `AWSPENDING`
//! (`createSecret` also accepts a token that is not a version yet: the CLI rotates without
//! `RotateSecret`, which is what creates it on AWS).

use std::collections::BTreeMap;

use secrecy::ExposeSecret;

use super::keys::{KeyError, SigningKey, kid_of};
use crate::domain::ports::{DependencyError, RotationStore, VersionStage};

/// Length of a generated key: 64 letters and digits, as the template's `GenerateSecretString`.
pub const KEY_LENGTH: u32 = 64;

/// A rotation step, as Secrets Manager names it in the rotation event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    /// The order a rotation runs them in.
    pub const ALL: [Self; 4] = [Self::Create, Self::Set, Self::Test, Self::Finish];

    /// `createSecret`, …; the snake_case spelling of one passage of the AWS docs is accepted too.
    pub fn parse(step: &str) -> Option<Self> {
        match step {
            "createSecret" | "create_secret" => Some(Self::Create),
            "setSecret" | "set_secret" => Some(Self::Set),
            "testSecret" | "test_secret" => Some(Self::Test),
            "finishSecret" | "finish_secret" => Some(Self::Finish),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Set => "setSecret",
            Self::Test => "testSecret",
            Self::Finish => "finishSecret",
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// An earlier run (or rotation) already did it; nothing changed.
    AlreadyDone,
}

/// Why a step refused or failed. Never carries a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("version {token} is not a version of the secret")]
    UnknownVersion { token: String },
    #[error("version {token} is neither AWSCURRENT nor AWSPENDING")]
    NotPending { token: String },
    #[error("the secret has no AWSCURRENT version")]
    NoCurrent,
    #[error(
        "another rotation is in progress: version {version} is AWSPENDING; finish it or remove its label"
    )]
    InProgress { version: String },
    #[error("version {token} has no AWSPENDING value")]
    NoPendingValue { token: String },
    #[error("the new key is unusable: {0}")]
    BadKey(#[from] KeyError),
    #[error("the new key's MAC does not verify")]
    MacMismatch,
    #[error("Secrets Manager: {0}")]
    Dependency(#[from] DependencyError),
}

/// The kids of a finished rotation (never the keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub version_id: String,
    pub kid: String,
    /// `None` if the secret has no `AWSPREVIOUS` (cannot happen after a rotation on AWS or moto).
    pub previous_kid: Option<String>,
}

/// Runs one step for version `token` of `secret_id`.
pub async fn run_step<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
    step: Step,
) -> Result<Outcome, RotationError> {
    let outcome = match step {
        Step::Create => create_secret(store, secret_id, token).await,
        Step::Set => set_secret(store, secret_id, token).await,
        Step::Test => test_secret(store, secret_id, token).await,
        Step::Finish => finish_secret(store, secret_id, token).await,
    }?;
    tracing::info!(
        step = step.as_str(),
        secret_id,
        version_id = token,
        ?outcome,
        "rotation step"
    );
    Ok(outcome)
}

/// Runs the four steps in order, then reads which keys are current and previous.
pub async fn rotate<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
) -> Result<Rotated, RotationError> {
    for step in Step::ALL {
        run_step(store, secret_id, token, step).await?;
    }
    let current = store
        .secret_version(secret_id, VersionStage::Current)
        .await?
        .ok_or(RotationError::NoCurrent)?;
    let previous = store
        .secret_version(secret_id, VersionStage::Previous)
        .await?;
    Ok(Rotated {
        kid: kid_of(current.value.expose_secret()),
        version_id: current.version_id,
        previous_kid: previous.map(|version| kid_of(version.value.expose_secret())),
    })
}

/// Step 1: stores a new random key as version `token`, labelled `AWSPENDING`.
pub async fn create_secret<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
) -> Result<Outcome, RotationError> {
    let stages = store.version_stages(secret_id).await?;
    if plan_create(&stages, token)? == Precheck::AlreadyCurrent {
        return Ok(Outcome::AlreadyDone);
    }
    // As the AWS template: the secret must be readable before it is rotated.
    store
        .secret_version(secret_id, VersionStage::Current)
        .await?
        .ok_or(RotationError::NoCurrent)?;
    if carries(&stages, token, VersionStage::Pending)
        && store
            .secret_version_by_id(secret_id, token, VersionStage::Pending)
            .await?
            .is_some()
    {
        return Ok(Outcome::AlreadyDone);
    }
    let value = store.random_password(KEY_LENGTH).await?;
    let key = SigningKey::parse(value.expose_secret())?;
    store.put_pending(secret_id, token, &value).await?;
    tracing::info!(
        secret_id,
        version_id = token,
        kid = key.kid(),
        "new pending key"
    );
    Ok(Outcome::Done)
}

/// Step 2: nothing outside Secrets Manager holds the key.
pub async fn set_secret<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
) -> Result<Outcome, RotationError> {
    let stages = store.version_stages(secret_id).await?;
    if precheck(&stages, token)? == Precheck::AlreadyCurrent {
        return Ok(Outcome::AlreadyDone);
    }
    tracing::info!(
        secret_id,
        version_id = token,
        "setSecret: an app-owned key has no external system to update"
    );
    Ok(Outcome::Done)
}

/// Step 3: the pending value must be a usable key.
pub async fn test_secret<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
) -> Result<Outcome, RotationError> {
    let stages = store.version_stages(secret_id).await?;
    if precheck(&stages, token)? == Precheck::AlreadyCurrent {
        return Ok(Outcome::AlreadyDone);
    }
    let pending = store
        .secret_version_by_id(secret_id, token, VersionStage::Pending)
        .await?
        .ok_or_else(|| RotationError::NoPendingValue {
            token: token.to_owned(),
        })?;
    let key = SigningKey::parse(pending.value.expose_secret())?;
    let message = b"churnsaver rotation test";
    if !key.verify(message, &key.mac(message)) {
        return Err(RotationError::MacMismatch);
    }
    Ok(Outcome::Done)
}

/// Step 4: `AWSCURRENT` moves to `token`, then `AWSPENDING` leaves it.
pub async fn finish_secret<R: RotationStore>(
    store: &R,
    secret_id: &str,
    token: &str,
) -> Result<Outcome, RotationError> {
    let stages = store.version_stages(secret_id).await?;
    if precheck(&stages, token)? == Precheck::AlreadyCurrent {
        // A finish interrupted between its two calls leaves AWSPENDING on the current version;
        // harmless on AWS, but moto's RotateSecret then reports a rotation in progress.
        if carries(&stages, token, VersionStage::Pending) {
            store
                .update_stage(secret_id, VersionStage::Pending, None, Some(token))
                .await?;
        }
        return Ok(Outcome::AlreadyDone);
    }
    let current = holder(&stages, VersionStage::Current).ok_or(RotationError::NoCurrent)?;
    // RemoveFromVersionId is required while a version carries AWSCURRENT (AWS and moto).
    store
        .update_stage(secret_id, VersionStage::Current, Some(token), Some(current))
        .await?;
    store
        .update_stage(secret_id, VersionStage::Pending, None, Some(token))
        .await?;
    tracing::info!(
        secret_id,
        version_id = token,
        previous_version_id = current,
        "AWSCURRENT moved"
    );
    Ok(Outcome::Done)
}

type Stages = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precheck {
    AlreadyCurrent,
    Proceed,
}

fn carries(stages: &Stages, version: &str, stage: VersionStage) -> bool {
    stages
        .get(version)
        .is_some_and(|labels| labels.iter().any(|label| label == stage.as_str()))
}

fn holder(stages: &Stages, stage: VersionStage) -> Option<&str> {
    stages
        .iter()
        .find(|(_, labels)| labels.iter().any(|label| label == stage.as_str()))
        .map(|(version, _)| version.as_str())
}

/// The template's checks for steps 2–4: `token` is a version, and current or pending.
fn precheck(stages: &Stages, token: &str) -> Result<Precheck, RotationError> {
    if !stages.contains_key(token) {
        return Err(RotationError::UnknownVersion {
            token: token.to_owned(),
        });
    }
    if carries(stages, token, VersionStage::Current) {
        return Ok(Precheck::AlreadyCurrent);
    }
    if !carries(stages, token, VersionStage::Pending) {
        return Err(RotationError::NotPending {
            token: token.to_owned(),
        });
    }
    Ok(Precheck::Proceed)
}

/// `createSecret`'s checks: as [`precheck`], except that `token` may not be a version yet, and a
/// pending version of another rotation is never overwritten.
fn plan_create(stages: &Stages, token: &str) -> Result<Precheck, RotationError> {
    let current = holder(stages, VersionStage::Current).ok_or(RotationError::NoCurrent)?;
    if stages.contains_key(token) && precheck(stages, token)? == Precheck::AlreadyCurrent {
        return Ok(Precheck::AlreadyCurrent);
    }
    match holder(stages, VersionStage::Pending) {
        Some(pending) if pending != token && pending != current => Err(RotationError::InProgress {
            version: pending.to_owned(),
        }),
        _ => Ok(Precheck::Proceed),
    }
}

/// An in-memory Secrets Manager secret with AWS's labelling rules, for tests.
#[cfg(test)]
mod memory {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    use secrecy::{ExposeSecret, SecretString};

    use crate::domain::ports::{
        DependencyError, RotationStore, SecretSource, SecretVersion, VersionStage,
    };

    #[derive(Debug, Default)]
    struct Version {
        value: Option<String>,
        labels: BTreeSet<&'static str>,
    }

    /// One secret; `writes` counts PutSecretValue and UpdateSecretVersionStage calls.
    #[derive(Debug, Default)]
    pub(crate) struct MemorySecret {
        versions: Mutex<BTreeMap<String, Version>>,
        writes: AtomicUsize,
        passwords: AtomicU8,
    }

    impl MemorySecret {
        pub(crate) fn with_current(version_id: &str, value: &str) -> Self {
            let secret = Self::default();
            secret.versions.lock().unwrap().insert(
                version_id.to_owned(),
                Version {
                    value: Some(value.to_owned()),
                    labels: BTreeSet::from(["AWSCURRENT"]),
                },
            );
            secret
        }

        /// What AWS's `RotateSecret` does before `createSecret`: `token` labelled `AWSPENDING`,
        /// without a value.
        pub(crate) fn start_rotation(&self, token: &str) {
            let mut versions = self.versions.lock().unwrap();
            for version in versions.values_mut() {
                version.labels.remove("AWSPENDING");
            }
            versions
                .entry(token.to_owned())
                .or_default()
                .labels
                .insert("AWSPENDING");
        }

        pub(crate) fn value(&self, version_id: &str) -> Option<String> {
            self.versions
                .lock()
                .unwrap()
                .get(version_id)
                .and_then(|v| v.value.clone())
        }

        pub(crate) fn stages(&self) -> BTreeMap<String, Vec<String>> {
            self.versions
                .lock()
                .unwrap()
                .iter()
                .map(|(id, v)| (id.clone(), v.labels.iter().map(|&l| l.to_owned()).collect()))
                .collect()
        }

        pub(crate) fn writes(&self) -> usize {
            self.writes.load(Ordering::SeqCst)
        }
    }

    fn other(code: &str) -> DependencyError {
        DependencyError::Other(code.to_owned())
    }

    impl SecretSource for MemorySecret {
        async fn secret_version(
            &self,
            _secret_id: &str,
            stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            Ok(self
                .versions
                .lock()
                .unwrap()
                .iter()
                .find(|(_, v)| v.labels.contains(stage.as_str()))
                .and_then(|(id, v)| {
                    v.value.as_deref().map(|value| SecretVersion {
                        version_id: id.clone(),
                        value: value.into(),
                    })
                }))
        }
    }

    impl RotationStore for MemorySecret {
        async fn version_stages(
            &self,
            _secret_id: &str,
        ) -> Result<BTreeMap<String, Vec<String>>, DependencyError> {
            Ok(self.stages())
        }

        async fn secret_version_by_id(
            &self,
            _secret_id: &str,
            version_id: &str,
            stage: VersionStage,
        ) -> Result<Option<SecretVersion>, DependencyError> {
            let versions = self.versions.lock().unwrap();
            let Some(version) = versions.get(version_id) else {
                return Ok(None);
            };
            if !version.labels.contains(stage.as_str()) {
                return Err(other("InvalidRequestException"));
            }
            Ok(version.value.as_deref().map(|value| SecretVersion {
                version_id: version_id.to_owned(),
                value: value.into(),
            }))
        }

        async fn put_pending(
            &self,
            _secret_id: &str,
            version_id: &str,
            value: &SecretString,
        ) -> Result<(), DependencyError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut versions = self.versions.lock().unwrap();
            let value = value.expose_secret().to_owned();
            match versions.get(version_id).and_then(|v| v.value.as_ref()) {
                Some(existing) if *existing != value => {
                    return Err(other("ResourceExistsException"));
                }
                _ => {}
            }
            for version in versions.values_mut() {
                version.labels.remove("AWSPENDING");
            }
            let version = versions.entry(version_id.to_owned()).or_default();
            version.value = Some(value);
            version.labels.insert("AWSPENDING");
            Ok(())
        }

        async fn update_stage(
            &self,
            _secret_id: &str,
            stage: VersionStage,
            move_to: Option<&str>,
            remove_from: Option<&str>,
        ) -> Result<(), DependencyError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let label = stage.as_str();
            let mut versions = self.versions.lock().unwrap();
            let holder = versions
                .iter()
                .find(|(_, v)| v.labels.contains(label))
                .map(|(id, _)| id.clone());
            if holder.is_some() && holder.as_deref() != remove_from {
                return Err(other("InvalidParameterException"));
            }
            if let Some(from) = remove_from {
                versions
                    .get_mut(from)
                    .ok_or_else(|| other("ResourceNotFoundException"))?
                    .labels
                    .remove(label);
            }
            if let Some(to) = move_to {
                versions
                    .get_mut(to)
                    .ok_or_else(|| other("ResourceNotFoundException"))?
                    .labels
                    .insert(label);
                if let (VersionStage::Current, Some(from)) = (stage, remove_from) {
                    for version in versions.values_mut() {
                        version.labels.remove("AWSPREVIOUS");
                    }
                    if let Some(old) = versions.get_mut(from) {
                        old.labels.insert("AWSPREVIOUS");
                    }
                }
            }
            Ok(())
        }

        async fn random_password(&self, length: u32) -> Result<SecretString, DependencyError> {
            let n = self.passwords.fetch_add(1, Ordering::SeqCst);
            let c = char::from(b'k' + n % 16);
            Ok(c.to_string()
                .repeat(usize::try_from(length).unwrap())
                .into())
        }
    }
}

#[cfg(test)]
mod tests;
