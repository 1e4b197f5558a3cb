//! The context every handler runs in, built once per cold start.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::SdkConfig;

use crate::edge::config::{Config, ConfigError};

mod tls;
pub use tls::sdk_defaults;

/// Connect timeout of every outbound HTTP call; a provider that cannot accept a TCP connection in
/// this time is treated as down rather than allowed to eat the function's timeout.
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bound of any outbound HTTP call; callers set tighter per-request timeouts.
pub const HTTP_TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Configuration plus the clients built from it. Cheap to share (`Arc<App>`); clients pool
/// their connections across invocations of a warm function.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    /// KDP report uploads (path-style addressing when the endpoint is overridden: the emulator).
    pub s3: aws_sdk_s3::Client,
    /// Built on first use: functions that never call a provider API need not build its TLS
    /// configuration at cold start.
    http: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl App {
    /// Validates the environment and builds the clients from the default AWS configuration chain
    /// (which honours `AWS_ENDPOINT_URL`, so the same binary runs against the local emulator), with
    /// the compiled-in TLS roots ([`sdk_defaults`]).
    pub async fn from_env() -> Result<Self, InitError> {
        let config = Config::from_env()?;
        let sdk = sdk_defaults().load().await;
        Self::new(config, &sdk)
    }

    /// Builds the clients from an explicit SDK configuration (the local stack and tests point it at
    /// the emulator).
    pub fn new(config: Config, sdk: &SdkConfig) -> Result<Self, InitError> {
        Ok(Self {
            config,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            secrets_manager: aws_sdk_secretsmanager::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(sdk.endpoint_url().is_some())
                    .build(),
            ),
            http: Arc::default(),
        })
    }

    /// The pooled HTTP client for provider APIs (rustls, trusting the compiled-in roots), built
    /// once on first use. The error is the TLS backend's, which cannot start on this host.
    pub fn http(&self) -> Result<&reqwest::Client, &str> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .tls_certs_only(tls::reqwest_roots().map_err(|e| e.to_string())?)
                    .connect_timeout(HTTP_CONNECT_TIMEOUT)
                    .timeout(HTTP_TOTAL_TIMEOUT)
                    .user_agent(concat!("churnsaver/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}
