use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A secret whose staged values the test sets, counting reads.
#[derive(Default)]
pub(crate) struct Staged {
    versions: Mutex<HashMap<VersionStage, (String, String)>>,
    reads: AtomicUsize,
}

impl Staged {
    pub(crate) fn set(&self, stage: VersionStage, version_id: &str, value: &str) {
        self.versions
            .lock()
            .unwrap()
            .insert(stage, (version_id.to_owned(), value.to_owned()));
    }

    /// Moves `AWSCURRENT` to a new version as a rotation's last step does.
    pub(crate) fn rotate_to(&self, version_id: &str, value: &str) {
        let mut versions = self.versions.lock().unwrap();
        if let Some(current) = versions.remove(&VersionStage::Current) {
            versions.insert(VersionStage::Previous, current);
        }
        versions.insert(
            VersionStage::Current,
            (version_id.to_owned(), value.to_owned()),
        );
    }

    pub(crate) fn reads(&self) -> usize {
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

/// A clock the test moves.
pub(crate) struct FixedClock(pub(crate) Mutex<DateTime<Utc>>);

impl FixedClock {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(Utc::now()))
    }

    pub(crate) fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
}

impl Clock for &FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn number(value: &str) -> Result<u32, String> {
    value.parse().map_err(|_| "not a number".to_owned())
}

type Numbers<'a> = VersionedSecret<&'a Staged, &'a FixedClock, u32, String>;

fn secret<'a>(staged: &'a Staged, clock: &'a FixedClock) -> Numbers<'a> {
    VersionedSecret::new(staged, clock, "s", Duration::from_secs(60), number)
}

async fn current(secret: &Numbers<'_>) -> Option<u32> {
    secret.get(VersionStage::Current).await.unwrap().map(|v| *v)
}

#[tokio::test]
async fn a_read_is_reused_for_the_ttl_and_parsed_once_per_version() {
    let staged = Staged::default();
    staged.set(VersionStage::Current, "v1", "1");
    let clock = FixedClock::new();
    let secret = secret(&staged, &clock);

    let first = secret.get(VersionStage::Current).await.unwrap().unwrap();
    clock.advance(59);
    staged.set(VersionStage::Current, "v2", "2");
    assert_eq!(current(&secret).await, Some(1), "within the TTL: cached");
    assert_eq!(staged.reads(), 1);

    clock.advance(1);
    assert_eq!(
        current(&secret).await,
        Some(2),
        "the TTL expired: read again"
    );
    assert_eq!(staged.reads(), 2);
    assert_eq!(
        secret.parsed_version(VersionStage::Current).as_deref(),
        Some("v2")
    );

    staged.set(VersionStage::Current, "v2", "2");
    clock.advance(60);
    let again = secret.get(VersionStage::Current).await.unwrap().unwrap();
    let before = secret.get(VersionStage::Current).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&again, &before), "one version, one parse");
    assert!(!Arc::ptr_eq(&first, &again));
    assert_eq!(staged.reads(), 3);
}

#[tokio::test]
async fn previous_is_kept_beside_current_after_a_rotation() {
    let staged = Staged::default();
    staged.set(VersionStage::Current, "v1", "1");
    let clock = FixedClock::new();
    let secret = secret(&staged, &clock);
    assert_eq!(secret.get(VersionStage::Previous).await.unwrap(), None);
    assert_eq!(current(&secret).await, Some(1));

    staged.rotate_to("v2", "2");
    clock.advance(60);
    assert_eq!(current(&secret).await, Some(2));
    assert_eq!(
        secret
            .get(VersionStage::Previous)
            .await
            .unwrap()
            .map(|v| *v),
        Some(1)
    );
    assert_eq!(staged.reads(), 4, "each stage read once per TTL");
    assert_eq!(
        secret
            .get(VersionStage::Previous)
            .await
            .unwrap()
            .map(|v| *v),
        Some(1)
    );
    assert_eq!(staged.reads(), 4);
}

#[tokio::test]
async fn refresh_after_miss_rereads_at_most_once_per_interval() {
    let staged = Staged::default();
    staged.set(VersionStage::Current, "v1", "1");
    let clock = FixedClock::new();
    let secret = secret(&staged, &clock);
    assert_eq!(current(&secret).await, Some(1));
    assert_eq!(staged.reads(), 1);

    // The first forced re-read goes to the source.
    staged.rotate_to("v2", "2");
    assert!(secret.refresh_after_miss());
    assert_eq!(current(&secret).await, Some(2));
    assert_eq!(staged.reads(), 2);

    // Within the interval: no read, the cache stands.
    staged.rotate_to("v3", "3");
    clock.advance(29);
    for _ in 0..5 {
        assert!(!secret.refresh_after_miss());
        assert_eq!(current(&secret).await, Some(2));
    }
    assert_eq!(
        staged.reads(),
        2,
        "forced re-reads within 30 s read nothing"
    );

    // After it: one more.
    clock.advance(1);
    assert!(secret.refresh_after_miss());
    assert_eq!(current(&secret).await, Some(3));
    assert_eq!(staged.reads(), 3);
    assert!(!secret.refresh_after_miss());
    assert_eq!(current(&secret).await, Some(3));
    assert_eq!(staged.reads(), 3);
}

#[tokio::test]
async fn invalidate_always_rereads() {
    let staged = Staged::default();
    staged.set(VersionStage::Current, "v1", "1");
    let clock = FixedClock::new();
    let secret = secret(&staged, &clock);
    for reads in 1..=3 {
        secret.invalidate();
        assert_eq!(current(&secret).await, Some(1));
        assert_eq!(staged.reads(), reads);
    }
}

#[tokio::test]
async fn an_unparsable_value_is_invalid_and_a_missing_stage_is_none() {
    let staged = Staged::default();
    let clock = FixedClock::new();
    let secret = secret(&staged, &clock);
    assert_eq!(secret.get(VersionStage::Current).await.unwrap(), None);

    staged.set(VersionStage::Current, "v1", "one");
    secret.invalidate();
    assert_eq!(
        secret.get(VersionStage::Current).await.unwrap_err(),
        SecretError::Invalid {
            version_id: "v1".to_owned(),
            error: "not a number".to_owned()
        }
    );
}
