//! The processor: one batch from the `events` queue, each message applied to state on its own.
//!
//! Per message: decode the [`QueuedEvent`], observe it (its provider's reading,
//! [`WebhookProviders::observe`]), record the observation (one conditional write), then mark its `webhook-events` record PROCESSED (one update). A failure
//! is reported for that message only, so SQS redelivers just it; after `maxReceiveCount`
//! deliveries SQS moves it to the dead-letter queue. A message that can never succeed
//! (undecodable) is reported failed too, so it reaches the DLQ through redrive instead of being
//! deleted unprocessed; it is logged and counted as permanent on every attempt.
//!
//! An event that changes a membership is first confirmed with its provider when the processor has
//! a confirmer ([`Processor::with_confirmation`]; Gumroad's unsigned pings): one the provider
//! contradicts is recorded in the confirmer's log and not applied ([`Outcome::Contradicted`]); one
//! it cannot confirm now fails retryably ([`ProcessError::Confirm`]).
//!
//! The first event of a Whop membership (its item holds that event alone) also makes the company
//! it names known ([`crate::domain::companies::known`]: one conditional write, skipped for a
//! company this instance already wrote); a failed write fails the message, whose redelivery, a
//! duplicate whose item still holds that event alone, writes it.
//!
//! Retrying is always safe: a redelivered event is a [`Recorded::Duplicate`] no-op (but for the
//! index upkeep the item may still owe, see [`record_and_upkeep`]), and the mark
//! is idempotent.

use crate::domain::companies::known::{KnownSource, NoKnownCompanies};
use crate::domain::notify::{NoNotifications, NotificationJob};
use crate::domain::ports::{
    ConfirmError, Confirmation, Contradiction, ContradictionLog, EventConfirmer, InboundMessage,
    KnownCompanies, NoConfirmation, NotificationQueue, ProcessingLog, StateStore, WebhookProviders,
};
use futures_util::future::join_all;
use tracing::Instrument;

use super::model::SignalKind;
use super::observe::{ObserveError, Observed};
use super::store::{Recorded, StoredMembership, record_and_upkeep};
use crate::domain::metrics::Metrics;
use crate::domain::metrics::catalogue as names;
use crate::domain::ports::{Clock, DependencyError};
use crate::domain::webhooks::claims::{ClaimRecord, ProcessingMark};
use crate::domain::webhooks::event::QueuedEvent;

/// What one message did to state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded; the signals it opened and closed: the membership's open signals without this
    /// event against with it, so each change is reported by the event that makes it, whatever
    /// the arrival order (what a notification is sent from).
    Applied {
        membership_id: String,
        opened: Vec<SignalKind>,
        closed: Vec<SignalKind>,
    },
    /// Already recorded.
    Duplicate,
    /// Older than the membership's compacted history.
    Stale,
    /// Nothing to record (reason code).
    Ignored(&'static str),
    /// Its provider's API contradicts it: recorded as such, not applied (reason code).
    Contradicted(&'static str),
}

/// Why a message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The body is not a queued event. Permanent.
    #[error("undecodable message: {0}")]
    Undecodable(String),
    /// The event's body is not a JSON object. Permanent.
    #[error(transparent)]
    Body(#[from] ObserveError),
    /// The state table failed. A retry may succeed.
    #[error("state table: {0}")]
    State(DependencyError),
    /// The webhook log failed after state was recorded. A retry may succeed (and will find the
    /// event recorded).
    #[error("webhook log: {0}")]
    Log(DependencyError),
    /// The notification queue failed after state was recorded. A retry enqueues again from the
    /// item the duplicate write returns.
    #[error("notification queue: {0}")]
    Notify(DependencyError),
    /// The provider could not confirm the event now (or its contradiction could not be
    /// recorded). A retry may succeed; the event is not applied unconfirmed.
    #[error("confirmation: {0}")]
    Confirm(ConfirmError),
}

impl ProcessError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Undecodable(_) | Self::Body(_))
    }

    /// Stable code for logs, metrics and the FAILED mark.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Undecodable(_) => "undecodable_message",
            Self::Body(_) => "invalid_event_body",
            Self::State(_) => "state_unavailable",
            Self::Log(_) => "webhook_log_unavailable",
            Self::Notify(_) => "notification_queue_unavailable",
            Self::Confirm(ConfirmError::Unavailable(_)) => "confirmation_unavailable",
            Self::Confirm(ConfirmError::Dependency(_)) => "confirmation_store_unavailable",
        }
    }
}

/// The batch has a record without a message id, so its failures could not be reported one by
/// one. Lambda always sets it; failing the whole batch keeps every message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a record of the batch has no message id")]
pub struct MissingMessageId;

/// Counts for one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub applied: u64,
    pub duplicate: u64,
    pub stale: u64,
    pub ignored: u64,
    /// Not applied: their provider's API contradicted them.
    pub contradicted: u64,
    pub failed_permanent: u64,
    pub failed_retryable: u64,
    /// Signals opened, by [`SignalKind::ALL`] index.
    pub opened: [u64; 4],
}

/// The outcome of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Message ids to report in `batchItemFailures`.
    pub failed: Vec<String>,
    pub counts: Counts,
    /// The batch's events by kind, in the order first seen.
    pub kinds: Vec<KindCounts>,
}

/// The events of one kind in a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// The known kind's name, `other` for a kind without a variant, `undecodable` for a message
    /// that is not an event: never a sender's free text, so the dimension stays small.
    pub kind: &'static str,
    pub processed: u64,
    pub failed: u64,
    /// From each processed event's receipt to its processing.
    pub latencies_ms: Vec<i64>,
}

impl BatchReport {
    /// One EMF line per kind: `events_processed`, `events_failed` and
    /// `event_processing_latency`, by function and by function and `kind`.
    pub fn kind_metrics(&self, function: &str) -> Vec<Metrics> {
        let by_kind = [
            names::EVENTS_PROCESSED,
            names::EVENTS_FAILED,
            names::EVENT_PROCESSING_LATENCY,
        ];
        self.kinds
            .iter()
            .map(|kind| {
                let mut metrics =
                    Metrics::new(function).breakdown([("kind", kind.kind.to_owned())], &by_kind);
                metrics
                    .count(names::EVENTS_PROCESSED, kind.processed)
                    .count(names::EVENTS_FAILED, kind.failed);
                for latency in &kind.latencies_ms {
                    metrics.record(
                        names::EVENT_PROCESSING_LATENCY,
                        crate::domain::metrics::Unit::Milliseconds,
                        *latency as f64,
                    );
                }
                metrics
            })
            .collect()
    }

    /// The counts as one EMF line.
    pub fn metrics(&self, function: &str) -> Metrics {
        let counts = &self.counts;
        let mut metrics = Metrics::new(function);
        metrics
            .count(names::EVENTS_APPLIED, counts.applied)
            .count(names::EVENTS_DUPLICATE, counts.duplicate)
            .count(names::EVENTS_STALE, counts.stale)
            .count(names::EVENTS_IGNORED, counts.ignored)
            .count(names::EVENTS_CONTRADICTED, counts.contradicted)
            .count(names::EVENTS_FAILED_PERMANENT, counts.failed_permanent)
            .count(names::EVENTS_FAILED_RETRYABLE, counts.failed_retryable);
        for (kind, opened) in SignalKind::ALL.iter().zip(counts.opened) {
            metrics.count(signal_metric(*kind), opened);
        }
        metrics
    }
}

/// A queued event's kind as a metric dimension: a known kind's name, else `other`.
fn kind_label(event: &QueuedEvent) -> &'static str {
    event.event_kind().static_name().unwrap_or("other")
}

fn signal_metric(kind: SignalKind) -> crate::domain::metrics::MetricName {
    match kind {
        SignalKind::AtRisk => names::SIGNAL_AT_RISK_OPENED,
        SignalKind::CancelScheduled => names::SIGNAL_CANCEL_SCHEDULED_OPENED,
        SignalKind::Churned => names::SIGNAL_CHURNED_OPENED,
        SignalKind::Recovered => names::SIGNAL_RECOVERED_OPENED,
    }
}

/// Applies queued events to state.
#[derive(Debug, Clone)]
pub struct Processor<S, L, K, P, N = NoKnownCompanies, Q = NoNotifications, C = NoConfirmation> {
    pub state: S,
    pub log: L,
    pub clock: K,
    /// Reads each event's observation.
    pub providers: P,
    /// Where a membership's first event makes its company known.
    pub known: N,
    /// Where a job goes when an event opens or closes a signal.
    pub notifications: Q,
    /// Who confirms an event with its provider before it is applied, and records the ones it
    /// contradicts.
    pub confirmer: C,
}

impl<S, L, K, P> Processor<S, L, K, P> {
    /// A processor that makes no company known and enqueues no notifications (see
    /// [`Self::with_known_companies`], [`Self::with_notifications`]).
    pub fn new(state: S, log: L, clock: K, providers: P) -> Self {
        Self {
            state,
            log,
            clock,
            providers,
            known: NoKnownCompanies,
            notifications: NoNotifications,
            confirmer: NoConfirmation,
        }
    }
}

impl<S, L, K, P, N, Q, C> Processor<S, L, K, P, N, Q, C> {
    /// The processor, making the company of each membership's first event known in `known`.
    pub fn with_known_companies<M>(self, known: M) -> Processor<S, L, K, P, M, Q, C> {
        self.with_parts(|_, notifications, confirmer| (known, notifications, confirmer))
    }

    /// The processor enqueueing a [`NotificationJob`] on `notifications` for each event that opens
    /// or closes a signal.
    pub fn with_notifications<M>(self, notifications: M) -> Processor<S, L, K, P, N, M, C> {
        self.with_parts(|known, _, confirmer| (known, notifications, confirmer))
    }

    /// The processor confirming each event that changes a membership with `confirmer` first: a
    /// contradicted event is recorded there and not applied.
    pub fn with_confirmation<M>(self, confirmer: M) -> Processor<S, L, K, P, N, Q, M> {
        self.with_parts(|known, notifications, _| (known, notifications, confirmer))
    }

    /// The processor with its optional parts replaced by `parts` of the current ones.
    fn with_parts<N2, Q2, C2>(
        self,
        parts: impl FnOnce(N, Q, C) -> (N2, Q2, C2),
    ) -> Processor<S, L, K, P, N2, Q2, C2> {
        let (known, notifications, confirmer) =
            parts(self.known, self.notifications, self.confirmer);
        Processor {
            state: self.state,
            log: self.log,
            clock: self.clock,
            providers: self.providers,
            known,
            notifications,
            confirmer,
        }
    }
}

impl<
    S: StateStore,
    L: ProcessingLog,
    K: Clock,
    P: WebhookProviders,
    N: KnownCompanies,
    Q: NotificationQueue,
    C: EventConfirmer + ContradictionLog,
> Processor<S, L, K, P, N, Q, C>
{
    /// Processes a batch: memberships concurrently, the events of one membership in batch order.
    /// (The storage rule would make concurrent writes to one membership safe on DynamoDB too; in
    /// order they also cost no conditional conflicts, and the emulator, which creates items without
    /// a lock, cannot lose one.)
    pub async fn process_batch(
        &self,
        records: &[InboundMessage],
    ) -> Result<BatchReport, MissingMessageId> {
        let ids = records
            .iter()
            .map(|record| record.message_id.clone().ok_or(MissingMessageId))
            .collect::<Result<Vec<_>, _>>()?;
        let decoded: Vec<Result<QueuedEvent, ProcessError>> = records
            .iter()
            .map(|record| {
                decode(
                    record.body.as_deref().unwrap_or_default(),
                    record.receive_count,
                )
            })
            .collect();
        // Messages grouped by membership (undecodable ones alone), in batch order.
        let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for (index, event) in decoded.iter().enumerate() {
            let key = event.as_ref().ok().and_then(membership_key);
            match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
                Some((_, members)) => members.push(index),
                None => groups.push((key, vec![index])),
            }
        }
        let decoded = &decoded;
        let results = join_all(groups.iter().map(|(_, members)| async move {
            let mut results = Vec::with_capacity(members.len());
            for &index in members {
                let outcome = match &decoded[index] {
                    Ok(event) => {
                        self.process_event(event, records[index].receive_count)
                            .await
                    }
                    Err(error) => Err(error.clone()),
                };
                results.push((index, outcome));
            }
            results
        }))
        .await;
        let mut outcomes: Vec<Option<Result<Outcome, ProcessError>>> =
            (0..records.len()).map(|_| None).collect();
        for (index, outcome) in results.into_iter().flatten() {
            outcomes[index] = Some(outcome);
        }
        let mut report = BatchReport::default();
        let now = self.clock.now();
        for ((id, outcome), event) in ids
            .into_iter()
            .zip(outcomes.into_iter().flatten())
            .zip(decoded)
        {
            let label = event.as_ref().map_or("undecodable", kind_label);
            let kind = match report.kinds.iter().position(|k| k.kind == label) {
                Some(index) => &mut report.kinds[index],
                None => {
                    report.kinds.push(KindCounts {
                        kind: label,
                        ..KindCounts::default()
                    });
                    let last = report.kinds.len() - 1;
                    &mut report.kinds[last]
                }
            };
            kind.processed += 1;
            match (&outcome, event) {
                (Ok(_), Ok(event)) => kind
                    .latencies_ms
                    .push((now - event.received_at).num_milliseconds()),
                _ => kind.failed += 1,
            }
            let counts = &mut report.counts;
            match outcome {
                Ok(Outcome::Applied { opened, .. }) => {
                    counts.applied += 1;
                    for kind in opened {
                        if let Some(index) = SignalKind::ALL.iter().position(|k| *k == kind) {
                            counts.opened[index] += 1;
                        }
                    }
                }
                Ok(Outcome::Duplicate) => counts.duplicate += 1,
                Ok(Outcome::Stale) => counts.stale += 1,
                Ok(Outcome::Ignored(_)) => counts.ignored += 1,
                Ok(Outcome::Contradicted(_)) => counts.contradicted += 1,
                Err(error) => {
                    if error.is_permanent() {
                        counts.failed_permanent += 1;
                    } else {
                        counts.failed_retryable += 1;
                    }
                    report.failed.push(id);
                }
            }
        }
        Ok(report)
    }

    /// Processes one message body on its `attempt`-th delivery.
    pub async fn process(&self, body: &str, attempt: u32) -> Result<Outcome, ProcessError> {
        let event = decode(body, attempt)?;
        self.process_event(&event, attempt).await
    }

    /// Applies a decoded event and marks its webhook-events record.
    async fn process_event(
        &self,
        event: &QueuedEvent,
        attempt: u32,
    ) -> Result<Outcome, ProcessError> {
        let span = tracing::info_span!(
            "event",
            webhook.provider = %event.provider,
            webhook.id = %event.event_id,
            webhook.kind = %event.kind,
            membership.id = tracing::field::Empty,
        );
        async {
            let pk = ClaimRecord::key(event.provider.as_str(), &event.event_id);
            match self.apply(event, attempt, &span).await {
                Ok(outcome) => {
                    let now = self.clock.now();
                    let mark = ProcessingMark::Processed {
                        at: now,
                        latency_ms: (now - event.received_at).num_milliseconds(),
                        attempt,
                    };
                    self.log
                        .mark(&pk, &mark)
                        .await
                        .map_err(ProcessError::Log)
                        .inspect_err(|error| {
                            tracing::warn!(
                                code = error.code(),
                                "marking the event processed failed: {error}"
                            );
                        })?;
                    Ok(outcome)
                }
                Err(error) => {
                    if error.is_permanent() {
                        tracing::error!(
                            attempt,
                            code = error.code(),
                            "the event cannot be processed: {error}"
                        );
                    } else {
                        tracing::warn!(
                            attempt,
                            code = error.code(),
                            "processing failed; SQS will retry: {error}"
                        );
                    }
                    let mark = ProcessingMark::Failed {
                        at: self.clock.now(),
                        attempt,
                        error: error.code().to_owned(),
                    };
                    // Best effort: the failure is already reported to SQS.
                    if let Err(mark_error) = self.log.mark(&pk, &mark).await {
                        tracing::warn!(error = %mark_error, "marking the event failed did not work either");
                    }
                    Err(error)
                }
            }
        }
        .instrument(span.clone())
        .await
    }

    async fn apply(
        &self,
        event: &QueuedEvent,
        attempt: u32,
        span: &tracing::Span,
    ) -> Result<Outcome, ProcessError> {
        let resolved = self
            .confirmer
            .resolve(event)
            .await
            .map_err(ProcessError::Confirm)?;
        let event = resolved.as_ref().unwrap_or(event);
        let (membership_id, provider, observation) = match self.providers.observe(event)? {
            Observed::Membership {
                membership_id,
                provider,
                observation,
            } => (membership_id, provider, observation),
            Observed::Ignored(reason) => {
                tracing::info!(reason, "no state to record for this event");
                return Ok(Outcome::Ignored(reason));
            }
        };
        span.record("membership.id", membership_id.as_str());
        if let Some(reason) = self.contradiction(event).await? {
            return Ok(Outcome::Contradicted(reason));
        }
        let recorded = record_and_upkeep(&self.state, &membership_id, provider, &observation)
            .await
            .map_err(ProcessError::State)?;
        if let Some(item) = recorded.item() {
            self.remember_company(event, item, &observation.version.event_id)
                .await?;
        }
        let stored = match recorded {
            Recorded::Applied(stored) => stored,
            Recorded::Duplicate(item) => {
                tracing::info!("already recorded: a duplicate delivery");
                // A redelivery may follow a failure after the record (the notification enqueue
                // among them): enqueue again from the item the write returned. A job enqueued
                // twice still sends each message once (its claims).
                if attempt > 1
                    && let Some(item) = item
                {
                    self.notify(&item, &observation.version.event_id).await?;
                }
                return Ok(Outcome::Duplicate);
            }
            Recorded::Stale(_) => {
                tracing::warn!(
                    occurred_at = %observation.version.at,
                    "older than the membership's compacted history: not recorded"
                );
                return Ok(Outcome::Stale);
            }
        };
        self.notify(&stored, &observation.version.event_id).await?;
        let before = stored.state_without(&observation.version.event_id);
        let after = stored.state();
        let was_open = before.open_signals();
        let is_open = after.open_signals();
        let opened: Vec<SignalKind> = is_open
            .iter()
            .filter(|kind| !was_open.contains(kind))
            .copied()
            .collect();
        let closed: Vec<SignalKind> = was_open
            .iter()
            .filter(|kind| !is_open.contains(kind))
            .copied()
            .collect();
        for kind in &opened {
            tracing::info!(signal = kind.as_str(), "signal opened");
        }
        for kind in &closed {
            tracing::info!(signal = kind.as_str(), "signal closed");
        }
        tracing::info!(
            status = after.status.as_deref().unwrap_or("unknown"),
            observations = stored.observations.len(),
            "event recorded"
        );
        Ok(Outcome::Applied {
            membership_id,
            opened,
            closed,
        })
    }
}

impl<S, L, K: Clock, P, N, Q, C: EventConfirmer + ContradictionLog> Processor<S, L, K, P, N, Q, C> {
    /// Confirms `event` with its provider: the reason when the provider contradicts it (recorded
    /// in the contradiction log), `None` when it may be applied.
    async fn contradiction(
        &self,
        event: &QueuedEvent,
    ) -> Result<Option<&'static str>, ProcessError> {
        let reason = match self.confirmer.confirm(event).await {
            Ok(Confirmation::Contradicted(reason)) => reason,
            Ok(Confirmation::Confirmed | Confirmation::Unneeded) => return Ok(None),
            Err(error) => return Err(ProcessError::Confirm(error)),
        };
        tracing::warn!(
            reason,
            "the provider contradicts the event: recorded, not applied"
        );
        let contradiction = Contradiction::of(event, reason, self.clock.now());
        self.confirmer
            .record(&contradiction)
            .await
            .map_err(|error| ProcessError::Confirm(error.into()))?;
        Ok(Some(reason))
    }
}

impl<S: StateStore, L: ProcessingLog, K: Clock, P: WebhookProviders, N: KnownCompanies, Q, C>
    Processor<S, L, K, P, N, Q, C>
{
    /// Makes the company of a Whop membership's first event known: when `item` holds the event
    /// `event_id` alone (its first delivery, or a redelivery after a failed write).
    async fn remember_company(
        &self,
        event: &QueuedEvent,
        item: &StoredMembership,
        event_id: &str,
    ) -> Result<(), ProcessError> {
        let first_event = item.base.is_none()
            && matches!(item.observations.as_slice(), [only] if only.version.event_id == event_id);
        let company = event
            .subject
            .company_id
            .as_deref()
            .or(item.company_id.as_deref());
        let (true, Some(company), crate::domain::webhooks::Source::Whop) =
            (first_event, company, item.provider)
        else {
            return Ok(());
        };
        let now = self.clock.now();
        if self
            .known
            .remember(company, KnownSource::Webhook, now)
            .await
            .map_err(ProcessError::State)?
        {
            tracing::info!(company.id = %company, "a company made known by its webhook");
        }
        Ok(())
    }
}

/// Reads a message body as a queued event.
fn decode(body: &str, attempt: u32) -> Result<QueuedEvent, ProcessError> {
    serde_json::from_str::<QueuedEvent>(body).map_err(|error| {
        // The category and position only: serde's message may quote the body.
        let error = ProcessError::Undecodable(format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ));
        tracing::error!(
            attempt,
            bytes = body.len(),
            code = error.code(),
            "an undecodable message: reported failed, so SQS dead-letters it: {error}"
        );
        error
    })
}

/// The membership an event is about, as far as its subject tells (the observation decides).
fn membership_key(event: &QueuedEvent) -> Option<String> {
    let subject = &event.subject;
    let id = subject
        .membership_id
        .as_deref()
        .or(subject.subscription_id.as_deref())?;
    Some(format!("{}#{id}", event.provider))
}

impl<S, L, K, P, N, Q: NotificationQueue, C> Processor<S, L, K, P, N, Q, C> {
    /// Enqueues the notification job of `event_id` when it opened or closed a signal of
    /// `stored`; no request otherwise.
    async fn notify(&self, stored: &StoredMembership, event_id: &str) -> Result<(), ProcessError> {
        let Some(job) = NotificationJob::of_event(stored, event_id) else {
            return Ok(());
        };
        self.notifications
            .enqueue(&job.into())
            .await
            .map_err(ProcessError::Notify)
            .inspect_err(|error| {
                tracing::warn!(
                    code = error.code(),
                    "enqueueing the notification failed: {error}"
                );
            })
    }
}
