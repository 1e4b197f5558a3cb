//! The message providers' settings: which e-mail provider sends, and the Twilio sender.

use super::{Reader, Stage};
use crate::domain::companies::settings::is_e164;

/// Which provider sends e-mail (`EMAIL_PROVIDER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmailProvider {
    #[default]
    Resend,
    Sendgrid,
}

/// The message providers' settings (`docs/providers.md`, "Messages").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagingSettings {
    /// `EMAIL_PROVIDER`: `resend` (default) or `sendgrid`.
    pub email_provider: EmailProvider,
    /// `RESEND_API_KEY_SECRET_ID`: `{"api_key": "re_…"}`; required in prod with Resend.
    pub resend_api_key: Option<String>,
    /// `SENDGRID_API_KEY_SECRET_ID`: `{"api_key": "SG.…"}`; required in prod with SendGrid.
    pub sendgrid_api_key: Option<String>,
    /// `TWILIO_FROM_NUMBER`: the E.164 number (or Messaging Service SID `MG…`) texts come from;
    /// texts are off without it.
    pub twilio_from: Option<String>,
    /// `TWILIO_CREDENTIALS_SECRET_ID`: `{"account_sid": "AC…", "auth_token": "…"}`; required
    /// with `TWILIO_FROM_NUMBER` in prod.
    pub twilio_credentials: Option<String>,
}

/// Reads the settings, adding every problem to `env`.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
) -> MessagingSettings {
    let email_provider = match env.optional("EMAIL_PROVIDER").as_deref() {
        None | Some("resend") => EmailProvider::Resend,
        Some("sendgrid") => EmailProvider::Sendgrid,
        Some(other) => {
            env.problem(
                "EMAIL_PROVIDER",
                format!("`{other}` is not an e-mail provider"),
                "set EMAIL_PROVIDER to resend or sendgrid, or unset it for resend",
            );
            EmailProvider::Resend
        }
    };
    let settings = MessagingSettings {
        email_provider,
        resend_api_key: env.optional("RESEND_API_KEY_SECRET_ID"),
        sendgrid_api_key: env.optional("SENDGRID_API_KEY_SECRET_ID"),
        twilio_from: env.optional("TWILIO_FROM_NUMBER"),
        twilio_credentials: env.optional("TWILIO_CREDENTIALS_SECRET_ID"),
    };
    if let Some(from) = &settings.twilio_from
        && !is_e164(from)
        && !is_service_sid(from)
    {
        env.problem(
            "TWILIO_FROM_NUMBER",
            format!("`{from}` is neither an E.164 number nor a Messaging Service SID"),
            "set it to the sending number as +<country><number> (e.g. +14155550123) or an `MG…` SID",
        );
    }
    if stage == Stage::Prod {
        let mut require = |var, needed: bool, value: &Option<String>, what: &str| {
            if needed && value.is_none() {
                env.problem(
                    var,
                    format!("is required in prod {what}"),
                    format!("set {var} to the Secrets Manager secret's ARN or name"),
                );
            }
        };
        // Exactly the chosen e-mail provider's key.
        require(
            "RESEND_API_KEY_SECRET_ID",
            email_provider == EmailProvider::Resend,
            &settings.resend_api_key,
            "with EMAIL_PROVIDER=resend (the default)",
        );
        require(
            "SENDGRID_API_KEY_SECRET_ID",
            email_provider == EmailProvider::Sendgrid,
            &settings.sendgrid_api_key,
            "with EMAIL_PROVIDER=sendgrid",
        );
        require(
            "TWILIO_CREDENTIALS_SECRET_ID",
            settings.twilio_from.is_some(),
            &settings.twilio_credentials,
            "with TWILIO_FROM_NUMBER",
        );
    }
    settings
}

/// `MG` and 32 hex digits.
fn is_service_sid(value: &str) -> bool {
    value
        .strip_prefix("MG")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}
