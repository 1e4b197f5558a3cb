//! The processor function's dependencies: the state table, the processing log, the
//! `notifications` queue, the confirmation of Gumroad's pings with its API, and the subscription
//! of a PayPal refund from PayPal's API.

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
use crate::edge::deps::sync::AppAdmission;
use crate::providers::client::Admission;
use crate::providers::gumroad::confirm::GumroadConfirmer;
use crate::providers::paypal::{self, online::PayPalApi};

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

/// Gumroad's ping confirmation as the processor runs it (its calls admitted by `A`).
pub type AppGumroadConfirmer<A = AppAdmission> = GumroadConfirmer<
    A,
    aws_sdk_secretsmanager::Client,
    SystemClock,
    crate::aws::connections::DynamoConnections,
>;

/// The processor's confirmation (`docs/architecture.md`, "Gumroad"): Gumroad's pings are read
/// back from its API ([`GumroadConfirmer`], built on the first Gumroad ping: its HTTP client loads
/// the trust store; one attempt a call, since SQS redelivers the message), other providers' events
/// need none; contradicted ones are recorded in the state table.
pub struct AppConfirmer<A = AppAdmission> {
    app: App,
    gumroad: OnceLock<Result<Option<AppGumroadConfirmer<A>>, String>>,
    build: GumroadBuilder<A>,
    /// PayPal's API as the app, for the subscription of a refund (built on the first refund
    /// that names none, when `PAYPAL_CLIENT_ID` is set).
    paypal: OnceLock<Result<Option<AppPayPalApi>, String>>,
    log: DynamoContradictions,
}

/// PayPal's API as the processor calls it.
pub type AppPayPalApi = PayPalApi<AppAdmission, aws_sdk_secretsmanager::Client, SystemClock>;

/// PayPal's API when its REST app is configured: one attempt a call (SQS redelivers the message).
fn paypal_api(app: &App) -> Result<Option<AppPayPalApi>, String> {
    let Some(api) = app.config.paypal.as_ref().and_then(|p| p.api.clone()) else {
        return Ok(None);
    };
    let client = super::sync::provider_client(
        app,
        crate::edge::config::Provider::Paypal,
        crate::providers::google::exchange_policy(),
        super::sync::provider_admission(app),
    )
    .map_err(|e| e.to_string())?;
    Ok(Some(PayPalApi::new(
        api,
        client,
        app.secrets_manager.clone(),
        SystemClock,
    )))
}

/// Builds Gumroad's confirmation when `GUMROAD_*` is configured.
type GumroadBuilder<A> = fn(&App) -> Result<Option<AppGumroadConfirmer<A>>, String>;

impl AppConfirmer {
    /// Gumroad's confirmation built on first use, its calls admitted as the functions' are.
    pub fn of(app: &App) -> Self {
        Self {
            app: app.clone(),
            gumroad: OnceLock::new(),
            paypal: OnceLock::new(),
            build: |app| {
                app.config
                    .gumroad
                    .clone()
                    .map(|settings| {
                        super::gumroad::connector(app, settings)
                            .map(|connector| GumroadConfirmer { connector })
                    })
                    .transpose()
            },
            log: DynamoContradictions::of(app),
        }
    }
}

impl<A: Admission> AppConfirmer<A> {
    /// With Gumroad's confirmation `gumroad` (tests admit its calls under their own limits).
    pub fn with_gumroad(app: &App, gumroad: AppGumroadConfirmer<A>) -> Self {
        Self {
            app: app.clone(),
            gumroad: OnceLock::from(Ok(Some(gumroad))),
            build: |_| Ok(None),
            paypal: OnceLock::new(),
            log: DynamoContradictions::of(app),
        }
    }

    fn gumroad(&self) -> Result<&AppGumroadConfirmer<A>, ConfirmError> {
        let built = self.gumroad.get_or_init(|| {
            (self.build)(&self.app).inspect_err(
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

impl<A: Admission> EventConfirmer for AppConfirmer<A> {
    /// A PayPal refund's subscription, from the refunded sale ([`paypal::refund`]).
    async fn resolve(&self, event: &QueuedEvent) -> Result<Option<QueuedEvent>, ConfirmError> {
        if event.provider != Source::PayPal || event.subject.subscription_id.is_some() {
            return Ok(None);
        }
        let built = self.paypal.get_or_init(|| {
            paypal_api(&self.app)
                .inspect_err(|reason| tracing::error!(%reason, "PayPal's API cannot start"))
        });
        match built {
            Ok(Some(api)) => Box::pin(paypal::refund::resolve(api, event)).await,
            Ok(None) => Ok(None),
            Err(_) => Err(ConfirmError::Unavailable("http_client_unavailable".into())),
        }
    }

    async fn confirm(&self, event: &QueuedEvent) -> Result<Confirmation, ConfirmError> {
        match event.provider {
            // Boxed: the confirmation's future is deep (the resilient client under the connector)
            // and every processor's batch future would otherwise hold it inline.
            Source::Gumroad => Box::pin(self.gumroad()?.confirm(event)).await,
            _ => Ok(Confirmation::Unneeded),
        }
    }
}

impl<A: Admission> ContradictionLog for AppConfirmer<A> {
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
