//! A creator's connection to their account at a provider that calls back without signatures
//! (Gumroad; `docs/architecture.md`, "Gumroad"): who connected which seller to which company, the
//! OAuth tokens sealed with a rotating data key ([`seal`]), the high-entropy token in the ping URL
//! (only its hash is stored, [`PingToken`]), the resource subscriptions made for it, and the signed
//! one-shot `state` of the connect flow ([`state`]).

pub mod seal;
pub mod state;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ports::DependencyError;

/// The length of a ping token: 32 random bytes, base64url without padding.
pub const PING_TOKEN_CHARS: usize = 43;

/// Whether the provider still accepts the stored tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// The provider refused the access token and its refresh: the creator must connect again.
    NeedsReconnect,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReconnect => "needs_reconnect",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Active, Self::NeedsReconnect]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// A stored connection. The tokens are sealed ([`seal::DataKeys::seal`]); nothing in it is a
/// usable credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The company whose memberships the provider's subscribers become.
    pub company_id: String,
    /// The provider's account id (Gumroad's `user_id`, the pings' `seller_id`).
    pub seller_id: String,
    /// The user whose session connected it.
    pub connected_by: String,
    /// Unix seconds.
    pub connected_at: i64,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// [`PingToken::hash`] of the token in the ping URL.
    pub ping_token_hash: String,
    /// The provider's ids of the resource subscriptions made for it.
    pub subscriptions: Vec<String>,
    pub status: ConnectionStatus,
    /// The initial sync: `pending` until a sync run reads the listing to its end, then
    /// `completed`.
    pub initial_sync: String,
}

/// What a ping's token leads to: the connection's company and seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRoute {
    pub company_id: String,
    pub seller_id: String,
    pub token_hash: String,
}

/// The secret segment of a connection's ping URL.
pub struct PingToken(String);

impl PingToken {
    /// 32 random bytes, base64url.
    pub fn generate() -> Result<Self, DependencyError> {
        Ok(Self(random_token()?))
    }

    /// The token as it goes into the URL (a secret: never logged or stored).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hex SHA-256 stored in its place.
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl std::fmt::Debug for PingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PingToken(…)")
    }
}

/// The hex SHA-256 of a presented token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` could be a ping token at all (its length and alphabet), so that anything else
/// is refused before any lookup.
pub fn is_token_shaped(token: &str) -> bool {
    token.len() == PING_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a presented token's hash is the stored one, compared in constant time.
pub fn hash_matches(presented_hash: &str, stored_hash: &str) -> bool {
    presented_hash
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_token() -> Result<String, DependencyError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DependencyError::Other(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_token_is_43_url_safe_characters_and_stored_as_its_sha256() {
        let token = PingToken::generate().unwrap();
        assert!(is_token_shaped(token.expose()));
        assert_eq!(token.hash().len(), 64);
        assert_eq!(token.hash(), hash_token(token.expose()));
        assert_ne!(token.hash(), PingToken::generate().unwrap().hash());
        assert_eq!(format!("{token:?}"), "PingToken(…)");
    }

    #[test]
    fn only_the_same_hash_matches() {
        let hash = hash_token("a");
        assert!(hash_matches(&hash_token("a"), &hash));
        assert!(!hash_matches(&hash_token("b"), &hash));
        assert!(!hash_matches("", &hash));
    }

    #[test]
    fn tokens_of_another_shape_are_refused_before_any_lookup() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert!(!is_token_shaped(bad), "{bad}");
        }
        assert!(is_token_shaped(
            &"a-_".repeat(14).chars().chain(['z']).collect::<String>()
        ));
    }
}
