//! The webhooks function's dependencies: the webhook keyring (its cache lives as long as the warm
//! function), the claim store, the queue it publishes to and the verification options; and, for
//! the routes that write the suppression list (`POST /webhooks/resend`, `/unsubscribe`), the list
//! and the unsubscribe tokens.

use std::sync::Arc;

use crate::App;
use crate::aws::claims::DynamoClaims;
use crate::aws::connections::DynamoConnections;
use crate::aws::suppression::DynamoSuppressionList;
use crate::domain::notify::unsubscribe::UnsubscribeTokens;
use crate::domain::ports::SystemClock;
use crate::domain::webhooks::keys::Keyring;
use crate::domain::webhooks::verify::{DEFAULT_TOLERANCE_SECS, VerifyOptions};
use crate::providers::Registry;
use crate::providers::client::RetryPolicy;
use crate::providers::paypal::online::{OnlineCheck, OnlineVerifier};
use crate::providers::paypal::{PayPal, PayPalApiSettings, Verification};

/// Built once per cold start.
pub struct WebhooksDeps {
    pub app: Arc<App>,
    pub keyring: Keyring<aws_sdk_secretsmanager::Client, SystemClock>,
    pub claims: DynamoClaims,
    /// Gumroad's ping routes (one read per ping).
    pub connections: DynamoConnections,
    pub providers: Registry,
    pub verify_options: VerifyOptions,
    /// `None` without `SUPPRESSION_KEY_SECRET_ID` (the routes then answer 503).
    pub suppressions: Option<SuppressionListOf>,
    /// `None` without `UNSUBSCRIBE_KEY_SECRET_ID`.
    pub unsubscribe: Option<UnsubscribeTokensOf>,
}

/// The suppression list over the stack's table and secret.
pub type SuppressionListOf = DynamoSuppressionList<aws_sdk_secretsmanager::Client, SystemClock>;
/// The unsubscribe tokens over the stack's secret.
pub type UnsubscribeTokensOf = UnsubscribeTokens<aws_sdk_secretsmanager::Client, SystemClock>;

/// The stack's suppression list, when its key is configured.
pub fn suppression_list(app: &App) -> Option<SuppressionListOf> {
    let secret_id = app.config.unsubscribe.suppression_key_secret.as_deref()?;
    Some(DynamoSuppressionList::of(app, secret_id))
}

/// The stack's unsubscribe tokens, when their key is configured.
pub fn unsubscribe_tokens(app: &App) -> Option<UnsubscribeTokensOf> {
    let settings = &app.config.unsubscribe;
    Some(UnsubscribeTokens::new(
        app.secrets_manager.clone(),
        SystemClock,
        settings.key_secret.clone()?,
        crate::domain::auth::keys::DEFAULT_TTL,
        settings.token_lifetime,
    ))
}

/// The provider registry, with PayPal when `PAYPAL_WEBHOOK_ID` is set: its certificates fetched
/// with the app's HTTP client (which follows no host off the allow-list: see
/// `providers::paypal::certs`). Without an HTTP client (the TLS backend cannot start) PayPal
/// stays off and its deliveries are refused.
pub fn registry(app: &App) -> Registry {
    let Some(settings) = &app.config.paypal else {
        return Registry::default();
    };
    let paypal = app
        .http()
        .map_err(str::to_owned)
        .and_then(|http| {
            PayPal::new(settings, http.clone(), Arc::new(SystemClock)).map_err(|e| e.to_string())
        })
        .and_then(|paypal| match (settings.verification, &settings.api) {
            (Verification::Online, Some(api)) => Ok(paypal.with_online(paypal_online(app, api)?)),
            (Verification::Online, None) => {
                Err("online verification needs PAYPAL_CLIENT_ID".into())
            }
            (Verification::Offline, _) => Ok(paypal),
        });
    match paypal {
        Ok(paypal) => Registry::with_paypal(Arc::new(paypal)),
        Err(error) => {
            tracing::error!(%error, "PayPal webhooks are off: {error}");
            Registry::default()
        }
    }
}

/// PayPal's verify API as the webhooks function asks it: through the `paypal` service's admission
/// (emergency switch, breaker, limits), within a budget PayPal's own delivery timeout allows.
fn paypal_online(app: &App, api: &PayPalApiSettings) -> Result<Arc<dyn OnlineCheck>, String> {
    let policy = RetryPolicy {
        max_attempts: 2,
        budget: std::time::Duration::from_secs(6),
        attempt_timeout: std::time::Duration::from_secs(3),
        max_retry_after: std::time::Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    let client = crate::edge::deps::sync::provider_client(
        app,
        crate::edge::config::Provider::Paypal,
        policy,
        crate::edge::deps::sync::provider_admission(app),
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(OnlineVerifier::new(
        api.clone(),
        client,
        app.secrets_manager.clone(),
        SystemClock,
    )))
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
            providers: registry(&app),
            verify_options: VerifyOptions {
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
                accept_whop_bare: config.webhooks.accept_whop_bare_signatures,
            },
            suppressions: suppression_list(&app),
            unsubscribe: unsubscribe_tokens(&app),
            app,
        }
    }
}
