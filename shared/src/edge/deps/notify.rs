//! The notify function's dependencies: the message claims, the state table (memberships and
//! company settings), Resend behind the provider admission (emergency switch, breaker, rate
//! limit), the suppression list, and the sender from the configuration.

use std::sync::Arc;

use crate::App;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::notify::DynamoNotificationClaims;
use crate::aws::state::DynamoState;
use crate::domain::notify::notifier::{Notifier, Sender};
use crate::domain::ports::{DependencyError, SuppressionList, SuppressionReason, SystemClock};
use crate::edge::deps::sync::{
    AppAdmission, HttpClientUnavailable, emergency_switch, provider_client, provider_guard,
};
use crate::providers::client::SecretKey;
use crate::providers::client::{EmergencyGate, RetryPolicy};
use crate::providers::resend::ResendMailer;

/// The suppression list until its store is wired: nobody is suppressed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSuppressions;

impl SuppressionList for NoSuppressions {
    async fn is_suppressed(&self, _address: &str) -> Result<bool, DependencyError> {
        Ok(false)
    }

    async fn suppress(
        &self,
        _address: &str,
        _reason: SuppressionReason,
    ) -> Result<(), DependencyError> {
        Err(DependencyError::Other(
            "no suppression store is configured".into(),
        ))
    }
}

/// Resend as the notify function calls it.
pub type AppMailer =
    ResendMailer<AppAdmission, SecretKey<aws_sdk_secretsmanager::Client, SystemClock>>;

/// The notifier as the notify function runs it.
pub type AppNotifier = Notifier<
    DynamoNotificationClaims,
    DynamoState,
    DynamoCompanyItems,
    AppMailer,
    NoSuppressions,
    SystemClock,
>;

/// Why the notifier cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyUnavailable {
    #[error(transparent)]
    Http(#[from] HttpClientUnavailable),
    #[error("{0} is not set: the notify function cannot send")]
    Unset(&'static str),
}

/// The notifier over the stack's tables and Resend.
pub fn notifier(app: &App) -> Result<AppNotifier, NotifyUnavailable> {
    let settings = &app.config.notify;
    let from_email = settings
        .from_email
        .clone()
        .ok_or(NotifyUnavailable::Unset("FROM_EMAIL"))?;
    let key_secret = settings
        .resend_api_key
        .clone()
        .ok_or(NotifyUnavailable::Unset("RESEND_API_KEY_SECRET_ID"))?;
    let admission = EmergencyGate::new(provider_guard(app), Arc::new(emergency_switch(app)));
    let client = provider_client(app, RetryPolicy::default(), admission)?;
    let key = SecretKey::new(app.secrets_manager.clone(), SystemClock, key_secret);
    Ok(Notifier {
        claims: DynamoNotificationClaims::of(app),
        state: DynamoState::of(app),
        settings: DynamoCompanyItems::of(app),
        mailer: ResendMailer::new(client, key, settings.resend_api_base_url.clone()),
        suppressions: NoSuppressions,
        clock: SystemClock,
        sender: Sender {
            from_email,
            default_name: settings.from_name.clone(),
        },
    })
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
