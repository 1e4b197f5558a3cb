//! Gumroad connections as the state function serves them (`/connections/gumroad/…`): the
//! connector (Gumroad's API through the `gumroad` service's admission, the data keys, the
//! connections in the state table), built on first use, and the session keys and one-shot
//! records the connect flow's `state` is signed with and claimed in.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::connections::DynamoConnections;
use crate::aws::sign_in::DynamoSignIn;
use crate::domain::auth::keys::{DEFAULT_TTL, SessionKeys};
use crate::domain::connections::seal::DataKeys;
use crate::domain::ports::SystemClock;
use crate::edge::deps::sync::{AppAdmission, provider_admission, provider_client};
use crate::providers::client::{Admission, ResilientClient};
use crate::providers::google::exchange_policy;
use crate::providers::gumroad::GumroadSettings;
use crate::providers::gumroad::api::GumroadApi;
use crate::providers::gumroad::connect::Connector;

type Secrets = aws_sdk_secretsmanager::Client;

/// The connector as the functions run it.
pub type AppConnector = Connector<AppAdmission, Secrets, SystemClock, DynamoConnections>;

/// Built once per cold start; the connector on first use.
pub struct GumroadDeps {
    app: Arc<App>,
    connector: OnceLock<Result<Option<AppConnector>, String>>,
    pub session_keys: SessionKeys<Secrets, SystemClock>,
    pub states: DynamoSignIn,
}

impl GumroadDeps {
    pub fn build(app: Arc<App>) -> Self {
        Self {
            session_keys: super::auth::session_keys(&app),
            states: DynamoSignIn::of(&app),
            connector: OnceLock::new(),
            app,
        }
    }

    /// The connector; `Ok(None)` when `GUMROAD_CLIENT_ID` is not set.
    pub fn connector(&self) -> Result<Option<&AppConnector>, &str> {
        self.connector
            .get_or_init(|| {
                self.app
                    .config
                    .gumroad
                    .as_ref()
                    .map(|settings| connector(&self.app, settings.clone()))
                    .transpose()
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(String::as_str)
    }
}

/// Gumroad's connector over the stack. Its calls make one attempt each (a code is single-use and
/// a resource subscription is not idempotent), bounded well within the function's timeout.
pub fn connector(app: &App, settings: GumroadSettings) -> Result<AppConnector, String> {
    connector_with(app, settings, exchange_policy())
}

/// [`connector`] whose calls retry by `policy` (sync's listings, which are idempotent).
pub fn connector_with(
    app: &App,
    settings: GumroadSettings,
    policy: crate::providers::client::RetryPolicy,
) -> Result<AppConnector, String> {
    let client = provider_client(
        app,
        crate::edge::config::Provider::Gumroad,
        policy,
        provider_admission(app),
    )
    .map_err(|e| e.to_string())?;
    Ok(connector_over(app, settings, client))
}

/// Gumroad's connector over the stack calling through `client`.
pub fn connector_over<A: Admission>(
    app: &App,
    settings: GumroadSettings,
    client: ResilientClient<A>,
) -> Connector<A, Secrets, SystemClock, DynamoConnections> {
    Connector {
        api: GumroadApi::new(client, &settings, app.secrets_manager.clone(), SystemClock),
        keys: DataKeys::new(
            app.secrets_manager.clone(),
            SystemClock,
            settings.data_key_secret_id.clone(),
            DEFAULT_TTL,
        ),
        store: DynamoConnections::of(app),
        settings,
    }
}
