//! The processor function: applies batches from the `events` queue to membership state.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::edge::deps::processor::ProcessorDeps;
use shared::edge::error::EventError;

/// Processes one batch and reports the messages that failed, so SQS retries only those.
#[tracing::instrument(skip_all, fields(batch.size = event.payload.records.len()))]
pub async fn handle(
    deps: Arc<ProcessorDeps>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, EventError> {
    let report = deps
        .processor
        .process_batch(&shared::edge::runtime::inbound_batch(
            &event.payload.records,
        ))
        .await
        .map_err(|error| EventError::Malformed(error.to_string()))?;
    report.metrics("processor").emit();
    for metrics in report.kind_metrics("processor") {
        metrics.emit();
    }
    Ok(shared::edge::runtime::batch_failures(report.failed))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lambda_runtime::Context;
    use shared::{App, Config};

    use super::*;

    fn app() -> Arc<App> {
        let env = [
            ("STAGE", "dev"),
            ("WHOP_APP_ID", "app_abc123"),
            ("WEBHOOK_EVENTS_TABLE", "webhook-events"),
            ("SESSIONS_TABLE", "sessions"),
            ("STATE_TABLE", "state"),
            ("EVENTS_QUEUE_URL", "http://127.0.0.1:1/1/events"),
            ("EVENTS_DLQ_URL", "http://127.0.0.1:1/1/events-dlq"),
            ("SYNC_JOBS_QUEUE_URL", "http://127.0.0.1:1/1/sync-jobs"),
            ("SYNC_JOBS_DLQ_URL", "http://127.0.0.1:1/1/sync-jobs-dlq"),
        ];
        let lookup = |var: &str| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        };
        let config = Config::from_lookup(&lookup).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Arc::new(App::new(config, &sdk).unwrap())
    }

    #[tokio::test]
    async fn the_dependencies_are_built_once_for_every_invocation() {
        let builds = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let invoke = shared::edge::runtime::event_handler(
            app(),
            |app| {
                builds.fetch_add(1, Ordering::SeqCst);
                ProcessorDeps::build(app)
            },
            |deps: Arc<ProcessorDeps>, event| {
                seen.lock().unwrap().push(Arc::as_ptr(&deps) as usize);
                handle(deps, event)
            },
        );
        for _ in 0..3 {
            let event = LambdaEvent::new(SqsEvent::default(), Context::default());
            let response = invoke(event).await.unwrap();
            assert!(response.batch_item_failures.is_empty());
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|ptr| *ptr == seen[0]));
    }
}
