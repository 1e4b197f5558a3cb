use std::sync::Mutex;

use chrono::Utc;

use super::*;
use crate::domain::secret::tests::{FixedClock, Staged};

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

fn keys<'a>(staged: &'a Staged, clock: &'a FixedClock) -> SessionKeys<&'a Staged, &'a FixedClock> {
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
