//! The processor function's dependencies: the state table, the processing log, the
//! `notifications` queue, and the confirmation of Gumroad's pings with its API.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::claims::DynamoClaims;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::notify::SqsNotifications;
use crate::aws::state::DynamoState;
use crate::domain::companies::known::RememberOnce;
use crate::domain::ports::SystemClock;
use crate::domain::state::process::Processor;
use crate::providers::Registry;

use crate::aws::contradictions::DynamoContradictions;
use crate::domain::ports::{
    ConfirmError, Confirmation, Contradiction, ContradictionLog, DependencyError, EventConfirmer,
};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::QueuedEvent;
use crate::providers::gumroad::confirm::GumroadConfirmer;

/// The processor over the stack's tables, as the processor function runs it.
pub type AppProcessor = Processor<
    DynamoState,
    DynamoClaims,
    SystemClock,
    Registry,
    RememberOnce<DynamoCompanyItems>,
    Option<SqsNotifications>,
    AppConfirmer,
>;

/// The processor over the stack's tables (the function, the CLI and tests build it alike): the
/// companies of memberships' first events are made known in the state table, once per instance,
/// and notifications are enqueued when `NOTIFICATIONS_QUEUE_URL` is set.
pub fn processor(app: &App) -> AppProcessor {
    Processor::new(
        DynamoState::of(app),
        DynamoClaims::of(app),
        SystemClock,
        Registry::default(),
    )
    .with_known_companies(RememberOnce::new(DynamoCompanyItems::of(app)))
    .with_notifications(notification_queue(app))
    .with_confirmation(AppConfirmer::of(app))
}

/// The `notifications` queue, when `NOTIFICATIONS_QUEUE_URL` is set (the processor's and the
/// state function's jobs go there).
pub fn notification_queue(app: &App) -> Option<SqsNotifications> {
    app.config
        .notify
        .queue
        .clone()
        .map(|queue_url| SqsNotifications {
            publisher: app.sqs.clone(),
            queue_url,
        })
}

/// Gumroad's ping confirmation as the processor runs it.
pub type AppGumroadConfirmer = GumroadConfirmer<
    crate::edge::deps::sync::AppAdmission,
    aws_sdk_secretsmanager::Client,
    SystemClock,
    crate::aws::connections::DynamoConnections,
>;

/// The processor's confirmation (`docs/architecture.md`, "Gumroad"): Gumroad's pings are read
/// back from its API ([`GumroadConfirmer`], built on the first Gumroad ping: its HTTP client loads
/// the trust store; one attempt a call, since SQS redelivers the message), other providers' events
/// need none; contradicted ones are recorded in the state table.
pub struct AppConfirmer {
    app: App,
    gumroad: OnceLock<Result<Option<AppGumroadConfirmer>, String>>,
    log: DynamoContradictions,
}

impl AppConfirmer {
    pub fn of(app: &App) -> Self {
        Self {
            app: app.clone(),
            gumroad: OnceLock::new(),
            log: DynamoContradictions::of(app),
        }
    }

    fn gumroad(&self) -> Result<&AppGumroadConfirmer, ConfirmError> {
        let built = self.gumroad.get_or_init(|| {
            self.app
                .config
                .gumroad
                .clone()
                .map(|settings| {
                    super::gumroad::connector(&self.app, settings)
                        .map(|connector| GumroadConfirmer { connector })
                })
                .transpose()
                .inspect_err(
                    |reason| tracing::error!(%reason, "Gumroad's confirmation cannot start"),
                )
        });
        match built {
            Ok(Some(confirmer)) => Ok(confirmer),
            Ok(None) => Err(ConfirmError::Unavailable("gumroad_unconfigured".into())),
            Err(_) => Err(ConfirmError::Unavailable("http_client_unavailable".into())),
        }
    }
}

impl EventConfirmer for AppConfirmer {
    async fn confirm(&self, event: &QueuedEvent) -> Result<Confirmation, ConfirmError> {
        match event.provider {
            Source::Gumroad => self.gumroad()?.confirm(event).await,
            _ => Ok(Confirmation::Unneeded),
        }
    }
}

impl ContradictionLog for AppConfirmer {
    async fn record(&self, contradiction: &Contradiction) -> Result<(), DependencyError> {
        self.log.record(contradiction).await
    }
}

/// Built once per cold start.
pub struct ProcessorDeps {
    pub processor: AppProcessor,
}

impl ProcessorDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            processor: processor(&app),
        }
    }
}

#[cfg(test)]
mod tests;
