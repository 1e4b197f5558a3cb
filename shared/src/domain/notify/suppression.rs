//! The suppression list: addresses never to write to again, checked before every send
//! ([`SuppressionList`]).
//!
//! A phone number texted for urgent alerts is on the same list, in E.164 ([`normalise_recipient`]);
//! Twilio's opt-out refusal (21610, the number answered STOP) adds it.
//!
//! An address is normalised ([`normalise_address`]: trimmed, lowercased) and stored only as its
//! keyed hash ([`AddressHasher`]: HMAC-SHA256 under a key from Secrets Manager), never in clear:
//! the list answers "is this address suppressed?", which the hash answers without the address, so
//! a read of the table (or a backup) reveals no address, and a plain hash would not do (addresses
//! are guessable: anyone could hash a list of them and compare). The key must never change (a new
//! key would make every suppression unfindable), so its secret has no rotation: see
//! `docs/architecture.md`, "Unsubscribe and suppression".
//!
//! [`record_feedback`] applies what a provider reported (a hard bounce, a complaint) to the list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::domain::auth::keys::{SessionKeys, SigningKey};
use crate::domain::companies::settings::normalise_phone;
use crate::domain::ports::{
    Clock, DependencyError, SecretSource, SuppressionList, SuppressionReason,
};

/// How long a read of the (never rotated) hash key is reused.
pub const HASH_KEY_TTL: Duration = Duration::from_secs(3600);

/// The form an address is compared in: trimmed and lowercased; `None` when what is left is not an
/// address (empty, no `@`, or whitespace inside).
pub fn normalise_address(address: &str) -> Option<String> {
    let address = address.trim();
    let (local, domain) = address.split_once('@')?;
    if local.is_empty() || domain.is_empty() || address.chars().any(char::is_whitespace) {
        return None;
    }
    Some(address.to_lowercase())
}

/// The form a recipient is compared in: an address as [`normalise_address`], a phone number in
/// E.164 ([`normalise_phone`]); `None` when it is neither.
pub fn normalise_recipient(recipient: &str) -> Option<String> {
    normalise_address(recipient).or_else(|| normalise_phone(recipient))
}

/// The list's id of an already normalised address under `key`: the hex HMAC-SHA256.
pub fn address_id(key: &SigningKey, normalised: &str) -> String {
    hex::encode(key.mac(normalised.as_bytes()))
}

/// What a suppression's logs may say of an address: the first 8 hex digits of its keyed id.
pub fn log_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Why a recipient cannot be on the list.
pub fn not_an_address() -> DependencyError {
    DependencyError::Other("neither an e-mail address nor a phone number".to_owned())
}

/// The keyed hash of addresses: the `AWSCURRENT` value of the suppression key secret, read through
/// the one versioned-secret cache ([`SessionKeys`], whose key format it shares).
pub struct AddressHasher<S, C> {
    keys: SessionKeys<S, C>,
}

impl<S: SecretSource, C: Clock> AddressHasher<S, C> {
    /// `secret_id` is `SUPPRESSION_KEY_SECRET_ID`.
    pub fn new(source: S, clock: C, secret_id: impl Into<String>) -> Self {
        Self {
            keys: SessionKeys::new(source, clock, secret_id, HASH_KEY_TTL),
        }
    }

    /// The list's id of `address` (or phone number); an error when it is neither or the key is
    /// unavailable.
    pub async fn id(&self, address: &str) -> Result<String, DependencyError> {
        let normalised = normalise_recipient(address).ok_or_else(not_an_address)?;
        Ok(address_id(&*self.keys.signing_key().await?, &normalised))
    }
}

/// One suppression as stored: why, and since when (epoch milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    pub reason: SuppressionReason,
    pub since_millis: i64,
}

/// An in-memory [`SuppressionList`] for unit tests, keyed by the normalised address; the first
/// reason and time are kept, as in the table.
#[derive(Debug, Clone, Default)]
pub struct MemorySuppressionList {
    entries: Arc<Mutex<HashMap<String, Suppression>>>,
    clock_millis: Arc<Mutex<i64>>,
}

impl MemorySuppressionList {
    /// The suppression of `address`, if any.
    pub fn get(&self, address: &str) -> Option<Suppression> {
        let normalised = normalise_recipient(address)?;
        self.lock().get(&normalised).copied()
    }

    /// How many addresses are suppressed.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Suppression>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SuppressionList for MemorySuppressionList {
    async fn is_suppressed(&self, address: &str) -> Result<bool, DependencyError> {
        Ok(self.get(address).is_some())
    }

    async fn suppress(
        &self,
        address: &str,
        reason: SuppressionReason,
    ) -> Result<(), DependencyError> {
        let normalised = normalise_recipient(address).ok_or_else(not_an_address)?;
        let since_millis = {
            let mut clock = self
                .clock_millis
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *clock += 1;
            *clock
        };
        self.lock().entry(normalised).or_insert(Suppression {
            reason,
            since_millis,
        });
        Ok(())
    }
}

/// What a provider's delivery report says about recipients.
#[derive(Clone, PartialEq, Eq)]
pub struct Feedback {
    /// `Some` for a report that suppresses (a hard bounce, a complaint); `None` for any other kind.
    pub reason: Option<SuppressionReason>,
    pub recipients: Vec<String>,
}

impl std::fmt::Debug for Feedback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feedback")
            .field("reason", &self.reason)
            .field("recipients", &self.recipients.len())
            .finish()
    }
}

/// Suppresses every recipient of a report that calls for it; how many addresses it wrote.
/// Idempotent (the list keeps the first suppression), so a replayed report changes nothing.
/// Recipients that are not addresses are skipped.
pub async fn record_feedback<L: SuppressionList>(
    list: &L,
    feedback: &Feedback,
) -> Result<usize, DependencyError> {
    let Some(reason) = feedback.reason else {
        return Ok(0);
    };
    let mut written = 0;
    for recipient in &feedback.recipients {
        if normalise_address(recipient).is_none() {
            continue;
        }
        list.suppress(recipient, reason).await?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(
            normalise_address("  Ann.Lee@Example.COM \n").as_deref(),
            Some("ann.lee@example.com")
        );
    }

    #[test]
    fn what_is_not_an_address_does_not_normalise() {
        for text in [
            "",
            "   ",
            "ann",
            "@example.com",
            "ann@",
            "ann lee@example.com",
        ] {
            assert_eq!(normalise_address(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_id_is_the_keyed_hash_of_the_normalised_address() {
        let key = SigningKey::parse(&"k".repeat(40)).unwrap();
        let other = SigningKey::parse(&"j".repeat(40)).unwrap();
        let id = address_id(&key, "ann@example.com");
        assert_eq!(id.len(), 64);
        assert!(!id.contains("ann"));
        assert_ne!(id, address_id(&other, "ann@example.com"));
        assert_ne!(
            id,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"ann@example.com"))
        );
    }

    #[tokio::test]
    async fn a_number_is_suppressed_in_e164_whatever_its_spacing() {
        let list = MemorySuppressionList::default();
        list.suppress("+1 415-555 0123", SuppressionReason::OptedOut)
            .await
            .unwrap();
        assert!(list.is_suppressed("+14155550123").await.unwrap());
        assert!(!list.is_suppressed("+14155550124").await.unwrap());
        assert_eq!(
            normalise_recipient(" +1 (415) 555.0123 ").as_deref(),
            Some("+14155550123")
        );
        assert_eq!(normalise_recipient("0415 555 0123"), None);
    }

    #[tokio::test]
    async fn a_second_suppression_keeps_the_first_reason_and_time() {
        let list = MemorySuppressionList::default();
        list.suppress("Ann@Example.com", SuppressionReason::Unsubscribed)
            .await
            .unwrap();
        let first = list.get("ann@example.com").unwrap();
        list.suppress(" ann@example.com", SuppressionReason::Complained)
            .await
            .unwrap();
        assert_eq!(list.get("ANN@example.com"), Some(first));
        assert_eq!(first.reason, SuppressionReason::Unsubscribed);
        assert_eq!(list.len(), 1);
        assert!(list.is_suppressed("ann@EXAMPLE.com").await.unwrap());
        assert!(!list.is_suppressed("bob@example.com").await.unwrap());
    }

    #[tokio::test]
    async fn only_reports_that_call_for_it_suppress() {
        let list = MemorySuppressionList::default();
        let ignored = Feedback {
            reason: None,
            recipients: vec!["ann@example.com".to_owned()],
        };
        assert_eq!(record_feedback(&list, &ignored).await.unwrap(), 0);
        assert!(list.is_empty());
        let complaint = Feedback {
            reason: Some(SuppressionReason::Complained),
            recipients: vec!["ann@example.com".to_owned(), "not an address".to_owned()],
        };
        assert_eq!(record_feedback(&list, &complaint).await.unwrap(), 1);
        assert_eq!(
            list.get("ann@example.com").map(|s| s.reason),
            Some(SuppressionReason::Complained)
        );
    }
}
