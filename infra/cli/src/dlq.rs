//! `churnsaver dlq peek | redrive`: look at dead-lettered messages without consuming them, and move
//! them back to the queue they came from.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, anyhow};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};
use shared::edge::config::Queues;

/// SQS's largest batch, for receives and every batch call.
const BATCH: usize = 10;
/// How long a peek hides what it received: longer than a peek takes, so it never meets its own
/// messages twice, and short enough that an interrupted peek hides them only briefly.
pub const PEEK_VISIBILITY_SECS: i32 = 30;
/// How long a redrive hides a batch between its receive and its delete (or release).
pub const REDRIVE_VISIBILITY_SECS: i32 = 60;

/// A queue with a dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkQueue {
    /// Verified webhook events awaiting the processor.
    Events,
    /// Pages of reconcile runs awaiting the sync function.
    SyncJobs,
}

impl WorkQueue {
    pub fn url(self, queues: &Queues) -> &str {
        match self {
            Self::Events => &queues.events,
            Self::SyncJobs => &queues.sync_jobs,
        }
    }

    pub fn dead_letter_url(self, queues: &Queues) -> &str {
        match self {
            Self::Events => &queues.events_dlq,
            Self::SyncJobs => &queues.sync_jobs_dlq,
        }
    }
}

/// What a peek shows of one dead-lettered message. Fields the message lacks read `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadMessage {
    pub message_id: String,
    pub provider: String,
    pub kind: String,
    pub event_id: String,
    /// `ApproximateReceiveCount`: receives from the source queue and from the DLQ, peeks included.
    pub receive_count: u32,
    /// `SentTimestamp`: when the message was first sent.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The fields of a queued body a peek shows. Anything else in the body is skipped unparsed, so a
/// body that would not parse as a whole (the reason it may be dead) still shows these.
#[derive(Debug, Default, serde::Deserialize)]
struct BodySummary {
    provider: Option<String>,
    kind: Option<String>,
    event_id: Option<String>,
}

impl DeadMessage {
    /// Reads the body's `provider`, `kind` and `event_id`, falling back to the message attributes
    /// of those names when the body is not a JSON object carrying them.
    pub fn of(message: &Message) -> Self {
        let body: BodySummary = message
            .body()
            .and_then(|body| serde_json::from_str(body).ok())
            .unwrap_or_default();
        let field = |from_body: Option<String>, name: &str| {
            from_body
                .or_else(|| {
                    message
                        .message_attributes()
                        .and_then(|attributes| attributes.get(name))
                        .and_then(|value| value.string_value())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "-".to_owned())
        };
        let attribute = |name: MessageSystemAttributeName| {
            message
                .attributes()
                .and_then(|attributes| attributes.get(&name))
        };
        Self {
            message_id: message.message_id().unwrap_or("-").to_owned(),
            provider: field(body.provider, "provider"),
            kind: field(body.kind, "kind"),
            event_id: field(body.event_id, "event_id"),
            receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|count| count.parse().ok())
                .unwrap_or(0),
            sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
                .and_then(|millis| millis.parse().ok())
                .and_then(DateTime::from_timestamp_millis),
        }
    }
}

/// Up to `n` distinct messages of `dlq_url`, left in place: everything received is made visible
/// again before returning, so a redrive can take it right away.
pub async fn peek(sqs: &Client, dlq_url: &str, n: usize) -> anyhow::Result<Vec<DeadMessage>> {
    let mut listed: Vec<DeadMessage> = Vec::new();
    // By message id: a message received twice keeps only its latest receipt handle.
    let mut handles = BTreeMap::new();
    let mut received_all = Ok(());
    while listed.len() < n {
        let received = match receive(sqs, dlq_url, n - listed.len(), PEEK_VISIBILITY_SECS).await {
            Ok(received) => received,
            Err(error) => {
                received_all = Err(error);
                break;
            }
        };
        if received.is_empty() {
            break;
        }
        for message in &received {
            let (Some(id), Some(handle)) = (message.message_id(), message.receipt_handle()) else {
                continue;
            };
            let seen = handles.insert(id.to_owned(), handle.to_owned()).is_some();
            if !seen && listed.len() < n {
                listed.push(DeadMessage::of(message));
            }
        }
    }
    let released = release(sqs, dlq_url, handles.into_values()).await;
    received_all?;
    released.with_context(|| {
        format!("the peeked messages reappear in {dlq_url} within {PEEK_VISIBILITY_SECS} s")
    })?;
    Ok(listed)
}

/// The outcome of a redrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Sent to the source queue and deleted from the DLQ.
    pub moved: usize,
    /// Distinct messages left in the DLQ because their send (or, after sending, their delete)
    /// failed.
    pub failed: usize,
    /// Why the first failed message failed.
    pub failure: Option<String>,
}

/// Moves up to `max` messages (all when `None`) from `dlq_url` back to `source_url`, body and
/// message attributes intact.
///
/// A message is deleted from the DLQ only after its send succeeded. Interrupted between the two,
/// it stays in the DLQ and a later redrive sends it again: at most a duplicate delivery, which
/// processing absorbs as it must anyway (SQS delivers at least once).
///
/// A message whose send fails stays hidden until the run ends, so one run tries each message
/// once, and is then made visible again in the DLQ. A failed batch call (after the SDK's retries)
/// ends the run: the next batch would meet the same missing queue or permission. The run never
/// receives more than it may still move, so nothing past `max` is left hidden.
pub async fn redrive(
    sqs: &Client,
    dlq_url: &str,
    source_url: &str,
    max: Option<usize>,
) -> anyhow::Result<RedriveReport> {
    let mut report = RedriveReport::default();
    let mut failed_ids = BTreeSet::new();
    // By message id: a message received twice keeps only its latest receipt handle.
    let mut unmoved = BTreeMap::new();
    let moving = async {
        while max.is_none_or(|max| report.moved < max) {
            let wanted = max.map_or(BATCH, |max| max - report.moved);
            let received = receive(sqs, dlq_url, wanted, REDRIVE_VISIBILITY_SECS).await?;
            let (retried, fresh): (Vec<Message>, Vec<Message>) = received
                .into_iter()
                .filter(|m| m.message_id().is_some() && m.receipt_handle().is_some())
                .partition(|m| m.message_id().is_some_and(|id| failed_ids.contains(id)));
            // A message this run already failed on is back: the run has been round the queue.
            let went_round = !retried.is_empty();
            unmoved.extend(retried.iter().filter_map(id_and_handle));
            if fresh.is_empty() {
                break;
            }
            let outcome = move_batch(sqs, dlq_url, source_url, &fresh).await?;
            report.moved += outcome.moved.len();
            for (message, reason) in outcome.failed {
                failed_ids.extend(message.message_id.clone());
                unmoved.extend(id_and_handle(message));
                report.failure.get_or_insert(reason);
            }
            if went_round || outcome.call_failed {
                break;
            }
        }
        anyhow::Ok(())
    }
    .await;
    report.failed = failed_ids.len();
    let released = release(sqs, dlq_url, unmoved.into_values()).await;
    moving.with_context(|| format!("redrive stopped after moving {}", report.moved))?;
    released.with_context(|| {
        format!(
            "moved {}; the {} failed message(s) reappear in {dlq_url} within {REDRIVE_VISIBILITY_SECS} s",
            report.moved, report.failed
        )
    })?;
    Ok(report)
}

/// One batch's redrive.
struct BatchOutcome<'a> {
    moved: Vec<&'a Message>,
    /// Left in the DLQ, with the reason.
    failed: Vec<(&'a Message, String)>,
    /// A whole batch call failed rather than single entries.
    call_failed: bool,
}

/// Sends `messages` to `source_url`, then deletes from `dlq_url` only the ones that were sent.
async fn move_batch<'a>(
    sqs: &Client,
    dlq_url: &str,
    source_url: &str,
    messages: &'a [Message],
) -> anyhow::Result<BatchOutcome<'a>> {
    let entries = messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_message_body(message.body.clone())
                .set_message_attributes(message.message_attributes.clone())
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut outcome = BatchOutcome {
        moved: Vec::new(),
        failed: Vec::new(),
        call_failed: false,
    };
    let sent = sqs
        .send_message_batch()
        .queue_url(source_url)
        .set_entries(Some(entries))
        .send()
        .await;
    let mut to_delete = Vec::new();
    match sent {
        Ok(output) => {
            for (i, message) in messages.iter().enumerate() {
                let id = i.to_string();
                if output.successful().iter().any(|s| s.id() == id) {
                    to_delete.push(message);
                } else {
                    let reason = output.failed().iter().find(|f| f.id() == id).map_or_else(
                        || "not acknowledged by SendMessageBatch".to_owned(),
                        |f| format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                    );
                    outcome
                        .failed
                        .push((message, format!("sending to {source_url}: {reason}")));
                }
            }
        }
        Err(error) => {
            let reason = format!("sending to {source_url}: {}", describe(&error));
            outcome.call_failed = true;
            outcome
                .failed
                .extend(messages.iter().map(|m| (m, reason.clone())));
        }
    }
    if to_delete.is_empty() {
        return Ok(outcome);
    }

    let entries = to_delete
        .iter()
        .enumerate()
        .map(|(i, message)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(message.receipt_handle.clone())
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = sqs
        .delete_message_batch()
        .queue_url(dlq_url)
        .set_entries(Some(entries))
        .send()
        .await;
    let sent_not_deleted = |reason: &str| {
        format!(
            "sent to {source_url} but not deleted from the DLQ, so a later redrive sends it again: {reason}"
        )
    };
    match deleted {
        Ok(output) => {
            for (i, message) in to_delete.into_iter().enumerate() {
                let id = i.to_string();
                match output.failed().iter().find(|f| f.id() == id) {
                    None => outcome.moved.push(message),
                    Some(f) => outcome.failed.push((
                        message,
                        sent_not_deleted(&format!(
                            "{}: {}",
                            f.code(),
                            f.message().unwrap_or_default()
                        )),
                    )),
                }
            }
        }
        Err(error) => {
            let reason = sent_not_deleted(&describe(&error));
            outcome.call_failed = true;
            outcome
                .failed
                .extend(to_delete.into_iter().map(|m| (m, reason.clone())));
        }
    }
    Ok(outcome)
}

/// Receives up to `up_to` (at most [`BATCH`]) messages, hiding them for `visibility_secs`.
async fn receive(
    sqs: &Client,
    queue_url: &str,
    up_to: usize,
    visibility_secs: i32,
) -> anyhow::Result<Vec<Message>> {
    let output = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(i32::try_from(up_to.clamp(1, BATCH)).unwrap_or(1))
        .visibility_timeout(visibility_secs)
        // A long poll, however short: a short poll samples only some SQS servers and can come
        // back empty while messages remain, which would end the loop early.
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| anyhow!("receiving from {queue_url}: {}", describe(&e)))?;
    Ok(output.messages.unwrap_or_default())
}

fn id_and_handle(message: &Message) -> Option<(String, String)> {
    Some((message.message_id.clone()?, message.receipt_handle.clone()?))
}

/// Makes received messages visible again at once.
async fn release(
    sqs: &Client,
    queue_url: &str,
    handles: impl IntoIterator<Item = String>,
) -> anyhow::Result<()> {
    let handles: Vec<String> = handles.into_iter().collect();
    let mut unreleased = 0;
    let mut first_error = None;
    for chunk in handles.chunks(BATCH) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        match sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                unreleased += output.failed().len();
                if let Some(f) = output.failed().first() {
                    first_error.get_or_insert_with(|| {
                        format!("{}: {}", f.code(), f.message().unwrap_or_default())
                    });
                }
            }
            Err(error) => {
                unreleased += chunk.len();
                first_error.get_or_insert_with(|| describe(&error));
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(error) => Err(anyhow!(
            "{unreleased} of {} message(s) could not be made visible again: {error}",
            handles.len()
        )),
    }
}

/// An SDK error as an operator reads it: the service's code and message, else the chain of
/// causes (`DisplayErrorContext` would append the whole raw response).
fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let Some(service) = error.as_service_error() {
        return format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or_default()
        );
    }
    let causes: Vec<String> =
        std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect();
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;

    fn string(value: &str) -> MessageAttributeValue {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .unwrap()
    }

    #[test]
    fn reads_the_body_of_a_queued_event() {
        let message = Message::builder()
            .message_id("m1")
            .body(r#"{"provider":"whop","event_id":"msg_1","kind":"membership.activated","subject":{},"raw":{}}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "6")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1735689600123")
            .build();

        let dead = DeadMessage::of(&message);

        assert_eq!(
            dead,
            DeadMessage {
                message_id: "m1".into(),
                provider: "whop".into(),
                kind: "membership.activated".into(),
                event_id: "msg_1".into(),
                receive_count: 6,
                sent_at: DateTime::from_timestamp_millis(1_735_689_600_123),
            }
        );
    }

    #[test]
    fn a_body_that_does_not_parse_as_a_value_still_shows_its_fields() {
        let message = Message::builder()
            .body(r#"{"provider":"whop","event_id":"msg_2","kind":"payment.failed","raw":{"amount":1e400}}"#)
            .build();

        let dead = DeadMessage::of(&message);

        assert_eq!(
            (dead.provider.as_str(), dead.event_id.as_str()),
            ("whop", "msg_2")
        );
    }

    #[test]
    fn a_body_that_is_not_json_falls_back_to_attributes_then_dashes() {
        let message = Message::builder()
            .message_id("m3")
            .body("poison")
            .message_attributes("provider", string("stripe"))
            .message_attributes("kind", string("invoice.paid"))
            .build();

        let dead = DeadMessage::of(&message);

        assert_eq!(
            (
                dead.provider.as_str(),
                dead.kind.as_str(),
                dead.event_id.as_str(),
                dead.receive_count,
                dead.sent_at
            ),
            ("stripe", "invoice.paid", "-", 0, None)
        );
    }
}
