//! The notify function's dependencies: the message claims, the state table (memberships and
//! company settings), the e-mail provider `EMAIL_PROVIDER` picks (Resend or SendGrid) behind the
//! provider admission (emergency switch, breaker, rate limit), the suppression list and the
//! unsubscribe tokens (the webhooks function's own builders), the sender from the configuration,
//! and Twilio for urgent texts when `TWILIO_FROM_NUMBER` and `TWILIO_CREDENTIALS_SECRET_ID` are
//! both set (without them texts are refused as `texts_not_configured`).

use std::sync::Arc;

use url::Url;

use crate::App;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::notify::DynamoNotificationClaims;
use crate::aws::state::DynamoState;
use crate::domain::connections::seal::DataKeys;
use crate::domain::notify::notifier::{MemberUnsubscribe, Notifier, Sender};
use crate::domain::ports::{Email, Mailer, SendError, Sent, SystemClock};
use crate::edge::config::{EmailProvider, Provider};
use crate::edge::deps::sync::{
    AppAdmission, HttpClientUnavailable, emergency_switch, provider_client, provider_guard,
};
use crate::edge::deps::webhooks::{SuppressionListOf, suppression_list, unsubscribe_tokens};
use crate::providers::client::{EmergencyGate, RetryPolicy, SecretKey};
use crate::providers::ga4::{self, Ga4};
use crate::providers::resend::{self, ResendMailer};
use crate::providers::sendgrid::{self, SendGrid};
use crate::providers::twilio::{self, Twilio, TwilioCredentials};

/// A provider's key as the notify function reads it.
type AppKey = SecretKey<aws_sdk_secretsmanager::Client, SystemClock>;

/// The e-mail provider `EMAIL_PROVIDER` picks, behind the [`Mailer`] port.
pub enum AppMailer {
    Resend(ResendMailer<AppAdmission, AppKey>),
    Sendgrid(SendGrid<AppAdmission, AppKey>),
}

impl Mailer for AppMailer {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        match self {
            Self::Resend(mailer) => mailer.send_email(email).await,
            Self::Sendgrid(mailer) => mailer.send_email(email).await,
        }
    }
}

/// The notifier as the notify function runs it.
pub type AppNotifier = Notifier<
    DynamoNotificationClaims,
    DynamoState,
    DynamoCompanyItems,
    AppMailer,
    SuppressionListOf,
    SystemClock,
    aws_sdk_secretsmanager::Client,
    SystemClock,
    Option<AppTexts>,
    Option<AppAnalytics>,
>;

/// Twilio as the notify function sends texts through it.
pub type AppTexts =
    Twilio<AppAdmission, SecretKey<aws_sdk_secretsmanager::Client, SystemClock, TwilioCredentials>>;

/// Twilio, when the deployment configures texts (a sender and the credentials).
fn texts(app: &App) -> Result<Option<AppTexts>, NotifyUnavailable> {
    let messaging = &app.config.messaging;
    let (Some(from), Some(secret_id)) = (&messaging.twilio_from, &messaging.twilio_credentials)
    else {
        return Ok(None);
    };
    let admission = EmergencyGate::new(provider_guard(app), Arc::new(emergency_switch(app)));
    let client = provider_client(app, Provider::Twilio, RetryPolicy::default(), admission)?;
    Ok(Some(Twilio::new(
        client,
        base_url(app, Provider::Twilio, twilio::DEFAULT_BASE_URL)?,
        twilio::secret_credentials(app.secrets_manager.clone(), SystemClock, secret_id.clone()),
        from.clone(),
    )))
}

/// Why the notifier cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyUnavailable {
    #[error(transparent)]
    Http(#[from] HttpClientUnavailable),
    #[error("{0} is not set: the notify function cannot send")]
    Unset(&'static str),
    #[error("SENDGRID_API_BASE_URL cannot take SendGrid's mail send path")]
    SendgridBaseUrl,
    #[error("the default base URL of {0} does not parse")]
    DefaultBaseUrl(&'static str),
}

/// `provider`'s API: its `<PROVIDER>_API_BASE_URL`, else `default` (the provider's own).
fn base_url(app: &App, provider: Provider, default: &str) -> Result<Url, NotifyUnavailable> {
    match app.config.provider_apis.base_url(provider) {
        Some(url) => Ok(url.clone()),
        None => {
            Url::parse(default).map_err(|_| NotifyUnavailable::DefaultBaseUrl(provider.as_str()))
        }
    }
}

/// The notifier over the stack's tables, the suppression list, the unsubscribe key and the
/// e-mail provider `EMAIL_PROVIDER` names.
pub fn notifier(app: &App) -> Result<AppNotifier, NotifyUnavailable> {
    let settings = &app.config.notify;
    let from_email = settings
        .from_email
        .clone()
        .ok_or(NotifyUnavailable::Unset("FROM_EMAIL"))?;
    let base = app
        .config
        .unsubscribe
        .public_api_url
        .clone()
        .ok_or(NotifyUnavailable::Unset("PUBLIC_API_URL"))?;
    let tokens =
        unsubscribe_tokens(app).ok_or(NotifyUnavailable::Unset("UNSUBSCRIBE_KEY_SECRET_ID"))?;
    let suppressions =
        suppression_list(app).ok_or(NotifyUnavailable::Unset("SUPPRESSION_KEY_SECRET_ID"))?;
    let admission = EmergencyGate::new(provider_guard(app), Arc::new(emergency_switch(app)));
    let email_provider = match app.config.messaging.email_provider {
        EmailProvider::Resend => Provider::Resend,
        EmailProvider::Sendgrid => Provider::Sendgrid,
    };
    let client = provider_client(app, email_provider, RetryPolicy::default(), admission)?;
    let key =
        |secret_id: String| SecretKey::new(app.secrets_manager.clone(), SystemClock, secret_id);
    let mailer = match app.config.messaging.email_provider {
        EmailProvider::Resend => {
            let secret_id = app
                .config
                .messaging
                .resend_api_key
                .clone()
                .ok_or(NotifyUnavailable::Unset("RESEND_API_KEY_SECRET_ID"))?;
            AppMailer::Resend(ResendMailer::new(
                client,
                key(secret_id),
                base_url(app, Provider::Resend, resend::DEFAULT_BASE_URL)?,
            ))
        }
        EmailProvider::Sendgrid => {
            let secret_id = app
                .config
                .messaging
                .sendgrid_api_key
                .clone()
                .ok_or(NotifyUnavailable::Unset("SENDGRID_API_KEY_SECRET_ID"))?;
            let base_url = base_url(app, Provider::Sendgrid, sendgrid::DEFAULT_BASE_URL)?;
            AppMailer::Sendgrid(
                SendGrid::new(client, &base_url, key(secret_id))
                    .map_err(|_| NotifyUnavailable::SendgridBaseUrl)?,
            )
        }
    };
    Ok(Notifier {
        claims: DynamoNotificationClaims::of(app),
        state: DynamoState::of(app),
        settings: DynamoCompanyItems::of(app),
        mailer,
        suppressions,
        clock: SystemClock,
        sender: Sender {
            from_email,
            default_name: settings.from_name.clone(),
        },
        unsubscribe: MemberUnsubscribe { base, tokens },
        texts: texts(app)?,
        plans: app.config.creator_plan.clone(),
        analytics: analytics(app)?,
    })
}

/// GA4's Measurement Protocol as the notify function sends through it.
pub type AppAnalytics =
    Ga4<AppAdmission, aws_sdk_secretsmanager::Client, SystemClock, DynamoCompanyItems>;

/// GA4, when the deployment has a data key to open the companies' API secrets with
/// (`DATA_KEY_SECRET_ID`); without one no company has analytics.
fn analytics(app: &App) -> Result<Option<AppAnalytics>, NotifyUnavailable> {
    let Some(keys) = data_keys(app) else {
        return Ok(None);
    };
    let admission = EmergencyGate::new(provider_guard(app), Arc::new(emergency_switch(app)));
    let client = provider_client(app, Provider::Ga4, RetryPolicy::default(), admission)?;
    Ok(Some(Ga4::new(
        client,
        base_url(app, Provider::Ga4, ga4::DEFAULT_BASE_URL)?,
        Arc::new(keys),
        DynamoCompanyItems::of(app),
    )))
}

/// The data key as the functions read it.
pub type AppDataKeys = DataKeys<aws_sdk_secretsmanager::Client, SystemClock>;

/// The data key (`DATA_KEY_SECRET_ID`) the companies' GA4 API secrets are sealed with.
pub fn data_keys(app: &App) -> Option<AppDataKeys> {
    let secret_id = app.config.secrets.data_key.clone()?;
    Some(DataKeys::new(
        app.secrets_manager.clone(),
        SystemClock,
        secret_id,
        crate::domain::auth::keys::DEFAULT_TTL,
    ))
}

/// Built once per cold start. A notifier that cannot be built fails every batch (SQS keeps the
/// jobs, then dead-letters them), with the reason in the log.
pub struct NotifyDeps {
    pub notifier: Result<AppNotifier, NotifyUnavailable>,
}

impl NotifyDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        let notifier = notifier(&app);
        if let Err(error) = &notifier {
            tracing::error!(%error, "the notifier cannot be built: every job fails until this is fixed");
        }
        Self { notifier }
    }
}
