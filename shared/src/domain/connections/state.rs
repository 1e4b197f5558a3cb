//! The connect flow's `state` parameter: signed with the session signing key
//! ([`seal_signed`]), bound to the session and company that started it, valid for
//! [`STATE_LIFETIME`], and single-use: the callback claims its hash once (the Google sign-in's
//! one-shot record, `SIGNIN#<hash>` with a TTL, through the [`SignInStore`] port), so a replayed
//! `state` is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::random_token;
use crate::domain::auth::keys::{SessionKeys, open_signed, seal_signed, signed_kid};
use crate::domain::auth::oidc::state_hash;
use crate::domain::ports::{Clock, DependencyError, SecretSource, SignInStore};

/// How long a started connection may take to come back.
pub const STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The `state`'s format prefix.
const PREFIX: &str = "cs1";
/// Longest `state` read.
const MAX_STATE: usize = 1024;

/// Why a callback's `state` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the `state` is missing, malformed or its signature does not verify")]
    Invalid,
    #[error("the connection took longer than 10 minutes; start again")]
    Expired,
    #[error("the `state` was started by another session or for another company")]
    Mismatch,
    #[error("this connection was already completed; start again")]
    Replayed,
    #[error("{0}")]
    Dependency(#[from] DependencyError),
}

impl StateError {
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Invalid => "state_invalid",
            Self::Expired => "state_expired",
            Self::Mismatch => "state_mismatch",
            Self::Replayed => "state_replayed",
            Self::Dependency(_) => "connections_unavailable",
        }
    }
}

/// What a `state` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectState {
    /// Random, so every `state` is distinct.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The provider (`gumroad`).
    #[serde(rename = "p")]
    pub provider: String,
    /// The session that started it (the session record's key, itself a hash).
    #[serde(rename = "s")]
    pub session: String,
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "c")]
    pub company_id: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// The signed `state` for a connection of `company_id` to `provider`, started by `user_id` in
/// `session` at `now`.
pub async fn start<S: SecretSource, C: Clock>(
    keys: &SessionKeys<S, C>,
    provider: &str,
    session: &str,
    user_id: &str,
    company_id: &str,
    now: DateTime<Utc>,
) -> Result<String, DependencyError> {
    let state = ConnectState {
        nonce: random_token()?,
        provider: provider.to_owned(),
        session: session.to_owned(),
        user_id: user_id.to_owned(),
        company_id: company_id.to_owned(),
        expires_at: now.timestamp() + i64::try_from(STATE_LIFETIME.as_secs()).unwrap_or(600),
    };
    seal_signed(PREFIX, &state, &*keys.signing_key().await?)
}

/// The state of a callback, checked: its signature, expiry, provider, session and user; then
/// claimed once.
pub async fn finish<S: SecretSource, C: Clock, T: SignInStore>(
    keys: &SessionKeys<S, C>,
    store: &T,
    value: &str,
    provider: &str,
    session: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<ConnectState, StateError> {
    let kid = signed_kid(value, PREFIX, MAX_STATE).ok_or(StateError::Invalid)?;
    let key = keys.verifying_key(kid).await?.ok_or(StateError::Invalid)?;
    let state: ConnectState = open_signed(value, &key).ok_or(StateError::Invalid)?;
    if now.timestamp() >= state.expires_at {
        return Err(StateError::Expired);
    }
    if state.provider != provider || state.session != session || state.user_id != user_id {
        return Err(StateError::Mismatch);
    }
    if !store
        .claim_state(&state_hash(value), state.expires_at)
        .await?
    {
        return Err(StateError::Replayed);
    }
    Ok(state)
}
