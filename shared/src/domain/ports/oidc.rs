//! The ports of [`crate::domain::auth::oidc`]: the identity provider and the sign-in store.

use std::future::Future;

use super::DependencyError;
use crate::domain::auth::oidc::{IdClaims, SignInError};

/// An OpenID Connect provider (Google: `providers::google`).
pub trait OidcProvider: Send + Sync {
    /// Where to send the browser to sign in: the authorization endpoint with `state`, `nonce`
    /// and the PKCE S256 `challenge`.
    fn authorization_url(&self, state: &str, nonce: &str, challenge: &str) -> String;
    /// Exchanges `code` (with the PKCE `verifier`) at the token endpoint and returns the claims of
    /// the ID token it answers with, its signature verified (the claims are the caller's check).
    fn exchange(
        &self,
        code: &str,
        verifier: &str,
    ) -> impl Future<Output = Result<IdClaims, SignInError>> + Send;
}

/// What linking an identity to a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// It was linked to this user already.
    AlreadyLinked,
    /// It is linked to another user; nothing changed.
    LinkedElsewhere,
}

/// One-shot states and identity links (the `state` table).
pub trait SignInStore: Send + Sync {
    /// Records `state_hash` as used until `expires_at` (Unix seconds); `Ok(false)` when it was
    /// used before.
    fn claim_state(
        &self,
        state_hash: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;
    /// The user `identity` (`google:<sub>`) is linked to.
    fn linked_user(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<Option<String>, DependencyError>> + Send;
    /// Links `identity` to `user_id` unless it is linked already (one conditional write).
    fn link(
        &self,
        identity: &str,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<LinkOutcome, DependencyError>> + Send;
}
