//! The processor function's dependencies: the state table, the processing log and the
//! `notifications` queue.

use std::sync::Arc;

use crate::App;
use crate::aws::claims::DynamoClaims;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::notify::SqsNotifications;
use crate::aws::state::DynamoState;
use crate::domain::companies::known::RememberOnce;
use crate::domain::ports::SystemClock;
use crate::domain::state::process::Processor;
use crate::providers::Registry;

/// The processor over the stack's tables, as the processor function runs it.
pub type AppProcessor = Processor<
    DynamoState,
    DynamoClaims,
    SystemClock,
    Registry,
    RememberOnce<DynamoCompanyItems>,
    Option<SqsNotifications>,
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
