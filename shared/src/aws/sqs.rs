//! SQS adapters.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};

use super::dependency_error;
use crate::domain::ports::{DependencyError, OutboundMessage, Publisher, QueueDepth, QueueProbe};

/// SQS's longest `DelaySeconds`.
const MAX_DELAY_SECS: u64 = 900;

impl QueueProbe for Client {
    async fn queue_depth(&self, queue_url: &str) -> Result<QueueDepth, DependencyError> {
        let output = self
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        let count = |name: QueueAttributeName| {
            output
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

impl Publisher for Client {
    async fn publish(
        &self,
        queue_url: &str,
        message: &OutboundMessage,
    ) -> Result<String, DependencyError> {
        let mut request = self
            .send_message()
            .queue_url(queue_url)
            .message_body(&message.body);
        if let Some(delay) = message.delay {
            let seconds = i32::try_from(delay.as_secs().min(MAX_DELAY_SECS)).unwrap_or(0);
            request = request.delay_seconds(seconds);
        }
        for (name, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| DependencyError::Other(e.to_string()))?;
            request = request.message_attributes(*name, attribute);
        }
        let output = request.send().await.map_err(|e| dependency_error(&e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
