//! The webhooks function's dependencies: the webhook keyring (its cache lives as long as the warm
//! function), the claim store, the queue it publishes to and the verification options.

use std::sync::Arc;

use crate::App;
use crate::aws::claims::DynamoClaims;
use crate::aws::connections::DynamoConnections;
use crate::domain::ports::SystemClock;
use crate::domain::webhooks::keys::Keyring;
use crate::domain::webhooks::verify::{DEFAULT_TOLERANCE_SECS, VerifyOptions};
use crate::providers::Registry;

/// Built once per cold start.
pub struct WebhooksDeps {
    pub app: Arc<App>,
    pub keyring: Keyring<aws_sdk_secretsmanager::Client, SystemClock>,
    pub claims: DynamoClaims,
    /// Gumroad's ping routes (one read per ping).
    pub connections: DynamoConnections,
    pub providers: Registry,
    pub verify_options: VerifyOptions,
}

impl WebhooksDeps {
    pub fn build(app: Arc<App>) -> Self {
        let config = &app.config;
        Self {
            keyring: Keyring::new(
                app.secrets_manager.clone(),
                SystemClock,
                config.secrets.webhook_secrets.clone(),
                config.webhooks.secrets_ttl,
            ),
            claims: DynamoClaims::of(&app),
            connections: DynamoConnections::of(&app),
            providers: Registry,
            verify_options: VerifyOptions {
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
                accept_whop_bare: config.webhooks.accept_whop_bare_signatures,
            },
            app,
        }
    }
}
