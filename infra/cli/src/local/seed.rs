//! Secrets the local stack fills in: dev webhook secrets and the stand-in Whop API's key, and
//! reading the webhook secrets back (to sign local deliveries).

use std::collections::BTreeMap;

use anyhow::anyhow;
use shared::App;

use crate::fake_whop;

/// The webhook secret lists (provider → active secrets) held in `secret_id`.
pub async fn webhook_secret_lists(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let value = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await?;
    Ok(serde_json::from_str(value.secret_string().unwrap_or("{}"))?)
}

/// Gives every verified provider a random dev secret when the template's lists are empty, so
/// signed webhooks work locally out of the box (`churnsaver webhook send` signs with them).
pub(super) async fn seed_webhook_secrets(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.secrets.webhook_secrets else {
        return Ok(());
    };
    let lists = webhook_secret_lists(&app.secrets_manager, id).await?;
    if lists.values().any(|secrets| !secrets.is_empty()) {
        return Ok(());
    }
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(crate::webhook::dev_secrets().to_string())
        .send()
        .await?;
    Ok(())
}

/// Memberships the local stand-in for Whop's API starts with.
pub const LOCAL_WHOP_MEMBERSHIPS: usize = 25;

/// Puts the stand-in's key in the stack's Whop API key secret.
pub(super) async fn seed_whop_api_key(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.secrets.whop_api_key else {
        return Ok(());
    };
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(serde_json::json!({ "api_key": fake_whop::LOCAL_API_KEY }).to_string())
        .send()
        .await?;
    Ok(())
}

/// Puts the stand-in Google's client secret in the stack's Google client secret while it holds
/// the template's empty one and Google sign-in is on.
pub(super) async fn seed_google_client_secret(app: &App) -> anyhow::Result<()> {
    match &app.config.google {
        Some(google) => {
            seed_client_secret(
                app,
                &google.client_secret_id,
                crate::fake_google::LOCAL_CLIENT_SECRET,
            )
            .await
        }
        None => Ok(()),
    }
}

/// Puts the stand-in Gumroad's client secret in the stack's Gumroad client secret while it holds
/// the template's empty one and Gumroad connections are on.
pub(super) async fn seed_gumroad_client_secret(app: &App) -> anyhow::Result<()> {
    match &app.config.gumroad {
        Some(gumroad) => {
            seed_client_secret(
                app,
                &gumroad.client_secret_id,
                crate::fake_gumroad::LOCAL_CLIENT_SECRET,
            )
            .await
        }
        None => Ok(()),
    }
}

/// Puts the stand-in PayPal's client secret in the stack's PayPal client secret while it holds
/// the template's empty one and PayPal's REST app is configured.
pub(super) async fn seed_paypal_client_secret(app: &App) -> anyhow::Result<()> {
    match app.config.paypal.as_ref().and_then(|p| p.api.as_ref()) {
        Some(api) => {
            seed_client_secret(
                app,
                &api.client_secret_id,
                crate::fake_paypal::LOCAL_CLIENT_SECRET,
            )
            .await
        }
        None => Ok(()),
    }
}

/// Puts `{"client_secret": value}` in `secret_id` while its `client_secret` is empty.
async fn seed_client_secret(app: &App, secret_id: &str, value: &str) -> anyhow::Result<()> {
    let current = app
        .secrets_manager
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await?;
    let stored: serde_json::Value =
        serde_json::from_str(current.secret_string().unwrap_or("{}")).unwrap_or_default();
    if stored["client_secret"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        return Ok(());
    }
    app.secrets_manager
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(serde_json::json!({ "client_secret": value }).to_string())
        .send()
        .await?;
    Ok(())
}

/// Puts the stand-in mail API's key in the stack's Resend API key secret.
pub(super) async fn seed_resend_api_key(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.messaging.resend_api_key else {
        return Ok(());
    };
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(
            serde_json::json!({ "api_key": crate::fake_mail::LOCAL_API_KEY }).to_string(),
        )
        .send()
        .await?;
    Ok(())
}

/// The number the local stack's texts come from (Twilio's test number).
pub const LOCAL_TWILIO_FROM: &str = "+15005550006";

/// Puts the stand-in Twilio's account and token in the stack's Twilio credentials secret.
pub(super) async fn seed_twilio_credentials(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.messaging.twilio_credentials else {
        return Ok(());
    };
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(
            serde_json::json!({
                "account_sid": crate::fake_messaging::TWILIO_ACCOUNT_SID,
                "auth_token": crate::fake_messaging::TWILIO_AUTH_TOKEN,
            })
            .to_string(),
        )
        .send()
        .await?;
    Ok(())
}

/// The first webhook secret of `provider` in `secret_id`.
pub async fn first_webhook_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    provider: &str,
) -> anyhow::Result<String> {
    webhook_secret_lists(secrets, secret_id)
        .await?
        .remove(provider)
        .and_then(|secrets| secrets.into_iter().next())
        .ok_or_else(|| anyhow!("the stack has no {provider} webhook secret"))
}

/// The first webhook secret of `provider` in the stack's webhook secrets.
pub async fn webhook_secret(app: &App, provider: &str) -> anyhow::Result<String> {
    let id = app
        .config
        .secrets
        .webhook_secrets
        .as_deref()
        .ok_or_else(|| anyhow!("no WEBHOOK_SECRETS_ID configured"))?;
    first_webhook_secret(&app.secrets_manager, id, provider).await
}
