//! A creator's profile (`docs/architecture.md`, "Creators"): who signs in to it, its connections
//! and its settings. It is keyed by the Whop user id (a Google identity linked to a Whop user
//! reaches the same profile); an unlinked Google identity has its own, keyed `google:<sub>`.
//!
//! The companies a creator administers are not stored here: they are the companies the access
//! check's cached answers say the creator administers, each proved again when listed
//! ([`super::my_companies`]), so no stored claim outlives the proof. The profile only keeps how
//! far the discovery of known companies has gone ([`DiscoveryMark`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A platform account connected to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionProvider {
    Gumroad,
    Stripe,
    Paypal,
}

/// One connection of a profile: the platform, the account there, when it was connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub provider: ConnectionProvider,
    pub account_id: String,
    pub connected_at: DateTime<Utc>,
}

/// The profile's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSettings {
    /// The name the creator is shown under; their provider's name when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A creator's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatorProfile {
    /// The Whop user id, or `google:<sub>` for a Google identity linked to no Whop user.
    pub user_id: String,
    /// The identities that have signed in to it: the Whop user id, `google:<sub>`.
    pub identities: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub connections: Vec<Connection>,
    pub settings: ProfileSettings,
    /// The last known company `GET /me/companies` has checked this creator against, in the
    /// order companies became known; later ones are still to be checked.
    #[serde(skip)]
    pub discovered_through: Option<DiscoveryMark>,
}

/// A place in the known companies, ordered by when each became known, then by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiscoveryMark {
    pub first_seen: DateTime<Utc>,
    pub company_id: String,
}

/// The identity a sign-in names: the login's own (`google:<sub>`) or else the user's.
pub fn sign_in_identity<'a>(user_id: &'a str, login_identity: Option<&'a str>) -> &'a str {
    login_identity.unwrap_or(user_id)
}
