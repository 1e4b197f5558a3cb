//! Connecting a creator's Gumroad account (`docs/architecture.md`, "Gumroad"): the authorization
//! URL, the callback's code exchange, `GET /v2/user` for the seller id, the tokens sealed
//! ([`DataKeys`]), one resource subscription per [`RESOURCES`] to this connection's ping URL, and
//! the connection stored; disconnecting removes the subscriptions and the tokens.
//!
//! Every call with a stored token goes through [`Connector::with_token`]: a 401 tries the refresh
//! token once, and when that is refused too the connection is marked `needs_reconnect`.
//!
//! A new connection records its initial sync as `pending`; the first Gumroad sync run that
//! reads the listing to its end (the schedule's, or `churnsaver sync start --provider gumroad`)
//! records it as `completed` ([`super::sync`]).

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use super::api::{GumroadApi, GumroadError, Tokens};
use super::{GumroadSettings, RESOURCES, SCOPES};
use crate::domain::connections::seal::{DataKeys, SealError};
use crate::domain::connections::state::StateError;
use crate::domain::connections::{Connection, ConnectionStatus, PingToken};
use crate::domain::ports::{Clock, ConnectionStore, DependencyError, SecretSource};
use crate::providers::client::Admission;

/// The provider's name in `state`s and routes.
pub const PROVIDER: &str = "gumroad";
/// A new connection's initial sync: not read to its end yet.
pub const INITIAL_SYNC_PENDING: &str = "pending";
/// A connection whose products, subscribers and sales a sync run read to the end.
pub const INITIAL_SYNC_COMPLETED: &str = "completed";

/// Why connecting, or a call with a stored token, failed. [`ConnectError::reason_code`] is the
/// routes' stable error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the callback has no authorization code")]
    MissingCode,
    #[error("Gumroad refused the connection: {0}")]
    ProviderDenied(String),
    #[error("Gumroad did not accept the authorization code")]
    CodeRejected,
    #[error("this company has no Gumroad connection")]
    NotConnected,
    #[error("Gumroad no longer accepts this connection's tokens; connect again")]
    NeedsReconnect,
    #[error("Gumroad refused a call: {0}")]
    Refused(String),
    #[error("Gumroad is unavailable ({0})")]
    Unavailable(String),
    #[error("a stored token cannot be opened: {0}")]
    Seal(SealError),
    #[error("{0}")]
    Dependency(#[from] DependencyError),
}

impl ConnectError {
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::State(error) => error.reason_code(),
            Self::MissingCode => "missing_code",
            Self::ProviderDenied(_) => "provider_denied",
            Self::CodeRejected => "code_rejected",
            Self::NotConnected => "not_connected",
            Self::NeedsReconnect => "needs_reconnect",
            Self::Refused(_) => "provider_refused",
            Self::Unavailable(_) => "provider_unavailable",
            Self::Seal(_) | Self::Dependency(_) => "connections_unavailable",
        }
    }
}

impl From<SealError> for ConnectError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Dependency(error) => Self::Dependency(error),
            other => Self::Seal(other),
        }
    }
}

impl From<GumroadError> for ConnectError {
    fn from(error: GumroadError) -> Self {
        match error {
            GumroadError::Unauthorized => Self::NeedsReconnect,
            GumroadError::Rejected(message) => Self::Refused(message),
            GumroadError::Unavailable(code) => Self::Unavailable(code),
            GumroadError::RateLimited { .. } => Self::Unavailable("rate_limited".into()),
            GumroadError::QueryTimedOut => Self::Refused("query timed out".into()),
        }
    }
}

/// A connection as its creator sees it: no token, no hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    pub provider: &'static str,
    pub company_id: String,
    pub seller_id: String,
    pub status: &'static str,
    pub connected_at: i64,
    pub connected_by: String,
    pub resource_subscriptions: usize,
    pub initial_sync: String,
}

impl From<&Connection> for ConnectionView {
    fn from(connection: &Connection) -> Self {
        Self {
            provider: PROVIDER,
            company_id: connection.company_id.clone(),
            seller_id: connection.seller_id.clone(),
            status: connection.status.as_str(),
            connected_at: connection.connected_at,
            connected_by: connection.connected_by.clone(),
            resource_subscriptions: connection.subscriptions.len(),
            initial_sync: connection.initial_sync.clone(),
        }
    }
}

/// The associated data a company's token is sealed with.
fn context(company_id: &str, field: &str) -> String {
    format!("{PROVIDER}#{company_id}#{field}")
}

/// Gumroad connections: its API, the data keys and the store.
pub struct Connector<A, S, C, T> {
    pub settings: GumroadSettings,
    pub api: GumroadApi<A, S, C>,
    pub keys: DataKeys<S, C>,
    pub store: T,
}

impl<A: Admission, S: SecretSource, C: Clock, T: ConnectionStore> Connector<A, S, C, T> {
    /// Gumroad's authorization page for `state`.
    pub fn authorization_url(&self, state: &str) -> Url {
        let mut url = self.settings.authorization_url.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", self.settings.redirect_uri.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPES)
            .append_pair("state", state);
        url
    }

    /// Completes a connection of `company_id` by `user_id` with the callback's `code` (its
    /// `state` already checked and claimed). An earlier connection of the company is
    /// disconnected first.
    pub async fn connect(
        &self,
        code: &str,
        company_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Connection, ConnectError> {
        let tokens = match self.api.exchange(code).await {
            Ok(tokens) => tokens,
            Err(GumroadError::Unauthorized | GumroadError::Rejected(_)) => {
                return Err(ConnectError::CodeRejected);
            }
            Err(error) => return Err(error.into()),
        };
        let seller_id = self.api.seller_id(&tokens.access_token).await?;
        if let Some(previous) = self.store.get(company_id).await? {
            self.disconnect_stored(&previous).await?;
        }
        let ping_token = PingToken::generate()?;
        let post_url = self.settings.post_url(ping_token.expose());
        let mut subscriptions = Vec::with_capacity(RESOURCES.len());
        for resource in RESOURCES {
            match self
                .api
                .subscribe(&tokens.access_token, resource, &post_url)
                .await
            {
                Ok(id) => subscriptions.push(id),
                Err(error) => {
                    // Leave nothing half made behind.
                    for id in &subscriptions {
                        if let Err(undo) = self.api.unsubscribe(&tokens.access_token, id).await {
                            tracing::warn!(error = %undo, "could not remove a Gumroad resource subscription after a failed connect");
                        }
                    }
                    return Err(error.into());
                }
            }
        }
        let connection = Connection {
            company_id: company_id.to_owned(),
            seller_id,
            connected_by: user_id.to_owned(),
            connected_at: now.timestamp(),
            access_token: self
                .keys
                .seal(
                    tokens.access_token.expose_secret(),
                    &context(company_id, "access"),
                )
                .await?,
            refresh_token: match &tokens.refresh_token {
                Some(token) => Some(
                    self.keys
                        .seal(token.expose_secret(), &context(company_id, "refresh"))
                        .await?,
                ),
                None => None,
            },
            ping_token_hash: ping_token.hash(),
            subscriptions,
            status: ConnectionStatus::Active,
            initial_sync: INITIAL_SYNC_PENDING.to_owned(),
        };
        self.store.save(&connection).await?;
        Ok(connection)
    }

    /// The company's connection.
    pub async fn connection(&self, company_id: &str) -> Result<Connection, ConnectError> {
        self.store
            .get(company_id)
            .await?
            .ok_or(ConnectError::NotConnected)
    }

    /// Removes the company's resource subscriptions at Gumroad and its stored connection.
    pub async fn disconnect(&self, company_id: &str) -> Result<Connection, ConnectError> {
        let connection = self.connection(company_id).await?;
        self.disconnect_stored(&connection).await?;
        Ok(connection)
    }

    /// A connection Gumroad no longer accepts has no subscriptions left to remove there, so it is
    /// deleted here all the same.
    async fn disconnect_stored(&self, connection: &Connection) -> Result<(), ConnectError> {
        for id in &connection.subscriptions {
            match self
                .with_token(connection, |token| async move {
                    self.api.unsubscribe(&token, id).await
                })
                .await
            {
                Ok(()) | Err(ConnectError::NeedsReconnect) => {}
                // Already gone at Gumroad.
                Err(ConnectError::Refused(message)) => {
                    tracing::info!(%message, "a Gumroad resource subscription was already gone");
                }
                Err(error) => return Err(error),
            }
        }
        self.store.delete(connection).await?;
        Ok(())
    }

    /// Runs `call` with the connection's access token; on a 401, refreshes once (storing the new
    /// access token) and runs it again; when the refresh is refused too, marks the connection
    /// `needs_reconnect`.
    pub async fn with_token<R, F, Fut>(
        &self,
        connection: &Connection,
        call: F,
    ) -> Result<R, ConnectError>
    where
        F: Fn(SecretString) -> Fut + Send,
        Fut: Future<Output = Result<R, GumroadError>> + Send,
    {
        let company = &connection.company_id;
        let access = self
            .keys
            .open(&connection.access_token, &context(company, "access"))
            .await?;
        match call(access).await {
            Err(GumroadError::Unauthorized) => {}
            other => return Ok(other?),
        }
        let refreshed = match &connection.refresh_token {
            Some(sealed) => {
                let refresh = self.keys.open(sealed, &context(company, "refresh")).await?;
                self.api.refresh(&refresh).await
            }
            None => Err(GumroadError::Unauthorized),
        };
        let Tokens { access_token, .. } = match refreshed {
            Ok(tokens) => tokens,
            Err(GumroadError::Unauthorized | GumroadError::Rejected(_)) => {
                self.store
                    .set_status(company, ConnectionStatus::NeedsReconnect, None)
                    .await?;
                return Err(ConnectError::NeedsReconnect);
            }
            Err(error) => return Err(error.into()),
        };
        let sealed = self
            .keys
            .seal(access_token.expose_secret(), &context(company, "access"))
            .await?;
        self.store
            .set_status(company, ConnectionStatus::Active, Some(&sealed))
            .await?;
        match call(access_token).await {
            Err(GumroadError::Unauthorized) => {
                self.store
                    .set_status(company, ConnectionStatus::NeedsReconnect, None)
                    .await?;
                Err(ConnectError::NeedsReconnect)
            }
            other => Ok(other?),
        }
    }
}
