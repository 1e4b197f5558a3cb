//! SQS triggers: each queue is polled into its function with the template's batch size, as
//! Lambda's event source mapping does, deleting only what the function did not report as failed.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use tokio::sync::watch;

use super::provision::{ACCOUNT_ID, Provisioned, REGION};
use crate::functions::Invoker;
use crate::template::EventDef;

/// A queue poller: which queue feeds which function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWorker {
    pub function: String,
    pub queue: String,
    pub queue_url: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// The SQS triggers of the template, resolved to queue URLs.
pub fn queue_workers(provisioned: &Provisioned) -> anyhow::Result<Vec<QueueWorker>> {
    provisioned
        .events()
        .filter_map(|(function, event)| {
            let EventDef::Sqs {
                queue,
                batch_size,
                report_batch_item_failures,
                ..
            } = event
            else {
                return None;
            };
            Some(provisioned.physical(queue).map(|physical| QueueWorker {
                function: function.handler.clone(),
                queue: queue.clone(),
                queue_url: physical.reference.clone(),
                batch_size: *batch_size,
                report_batch_item_failures: *report_batch_item_failures,
            }))
        })
        .collect()
}

/// Polls `worker.queue_url` into its function until shutdown, as Lambda's event source mapping does.
pub async fn poll_queue(
    sqs: aws_sdk_sqs::Client,
    worker: QueueWorker,
    invoke: Invoker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let received = tokio::select! {
            received = sqs
                .receive_message()
                .queue_url(&worker.queue_url)
                .max_number_of_messages(worker.batch_size.clamp(1, 10))
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send() => received,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(queue = %worker.queue, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "receiving from {} failed", worker.queue);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        if let Err(error) = deliver(&sqs, &worker, &invoke, messages).await {
            tracing::warn!(queue = %worker.queue, %error, "delivering a batch from {} failed: {error}", worker.queue);
        }
    }
}

/// Invokes the function with one batch and deletes the messages that succeeded.
pub async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    worker: &QueueWorker,
    invoke: &Invoker,
    messages: Vec<aws_sdk_sqs::types::Message>,
) -> anyhow::Result<()> {
    let queue_arn = format!(
        "arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{}",
        worker.queue_url.rsplit('/').next().unwrap_or_default()
    );
    let mut event = SqsEvent::default();
    let mut handles = BTreeMap::new();
    for message in messages {
        let (Some(id), Some(handle)) = (message.message_id.clone(), message.receipt_handle.clone())
        else {
            continue;
        };
        handles.insert(id, handle);
        event.records.push(to_record(message, &queue_arn));
    }
    let outcome = invoke(serde_json::to_value(&event)?).await;
    let failed: Vec<String> = match outcome {
        // Without ReportBatchItemFailures Lambda treats any response as full success.
        Ok(_) if !worker.report_batch_item_failures => Vec::new(),
        Ok(response) => {
            let response: SqsBatchResponse = serde_json::from_value(response)
                .context("the function's response is not an SQS batch response")?;
            let ids: Vec<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            // An identifier that is not in the batch fails the whole batch, as on Lambda.
            if ids.iter().any(|id| !handles.contains_key(id)) {
                handles.keys().cloned().collect()
            } else {
                ids
            }
        }
        Err(error) => {
            tracing::warn!(function = %worker.function, %error, "{} failed the whole batch: {error}", worker.function);
            handles.keys().cloned().collect()
        }
    };
    let entries: Vec<DeleteMessageBatchRequestEntry> = handles
        .iter()
        .filter(|(id, _)| !failed.contains(id))
        .enumerate()
        .map(|(i, (_, handle))| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
        })
        .collect::<Result<_, _>>()?;
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(&worker.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(())
}

fn to_record(message: aws_sdk_sqs::types::Message, queue_arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect();
    record.message_attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = value.string_value;
            attribute.data_type = Some(value.data_type);
            (name, attribute)
        })
        .collect();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.md5_of_message_attributes = message.md5_of_message_attributes;
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(REGION.to_owned());
    record
}
