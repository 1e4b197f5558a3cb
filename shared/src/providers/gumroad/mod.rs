//! Gumroad (`docs/providers.md`, "Gumroad"; `docs/architecture.md`, "Gumroad"): the creator's
//! OAuth connection ([`connect`]) over its API client ([`api`]), its unsigned pings ([`form`],
//! [`ping`]) and what they say about subscriptions ([`observe`]), confirmed with its API before
//! they are applied ([`confirm`]); its sync of products,
//! subscribers and sales ([`sync`]).

pub mod api;
pub mod confirm;
pub mod connect;
pub mod form;
pub mod observe;
pub mod ping;
pub mod sync;

use url::Url;

/// The breaker, rate limit and metrics name of Gumroad's API.
pub const SERVICE: &str = "gumroad";
/// Gumroad's API (the token endpoint is `/oauth/token` on it, the API `/v2/…`).
pub const DEFAULT_API_BASE_URL: &str = "https://api.gumroad.com";
/// Gumroad's authorization page.
pub const DEFAULT_AUTHORIZATION_URL: &str = "https://gumroad.com/oauth/authorize";
/// The scopes asked for: the profile (the seller id) and sales ("also required in order to
/// subscribe to the user's sales").
pub const SCOPES: &str = "view_sales view_profile";
/// The resource subscriptions a connection makes.
pub const RESOURCES: [&str; 8] = [
    "sale",
    "cancellation",
    "subscription_ended",
    "subscription_restarted",
    "subscription_updated",
    "refund",
    "dispute",
    "dispute_won",
];

/// Gumroad's configuration (`GUMROAD_*`, validated in [`crate::edge::config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GumroadSettings {
    /// `GUMROAD_CLIENT_ID`: the OAuth application's id.
    pub client_id: String,
    /// `GUMROAD_REDIRECT_URI`: this API's `/connections/gumroad/callback`, as registered.
    pub redirect_uri: Url,
    /// `GUMROAD_CLIENT_SECRET_ID`: the secret holding `{"client_secret": "…"}`.
    pub client_secret_id: String,
    /// `GUMROAD_DATA_KEY_SECRET_ID`: the rotating secret whose value is the 32-byte data key.
    pub data_key_secret_id: String,
    /// `GUMROAD_AUTHORIZATION_URL` (default [`DEFAULT_AUTHORIZATION_URL`]).
    pub authorization_url: Url,
    /// `GUMROAD_API_BASE_URL` (default [`DEFAULT_API_BASE_URL`]).
    pub api_base_url: Url,
}

impl GumroadSettings {
    /// The ping URL of a connection: this API's `/webhooks/gumroad/<token>`, on the redirect
    /// URI's origin and stage prefix.
    pub fn post_url(&self, token: &str) -> Url {
        let mut url = self.redirect_uri.clone();
        let base = url
            .path()
            .strip_suffix("connections/gumroad/callback")
            .unwrap_or("/")
            .to_owned();
        url.set_path(&format!("{base}webhooks/gumroad/{token}"));
        url.set_query(None);
        url
    }
}
