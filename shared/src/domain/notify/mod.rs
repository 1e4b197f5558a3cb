//! Notifications (`docs/architecture.md`, "Notifications"): when an event opens or closes a churn
//! signal the processor enqueues a [`NotificationJob`]; the notify function reads the company's
//! settings and the membership, [`plan`]s the messages (a creator alert to each recipient, a
//! member message where the creator turned them on), renders them ([`render`]) and sends each
//! once ([`notifier`]): its [`idempotency_key`] is claimed before the send and passed to the
//! provider, so duplicated webhooks, redelivered jobs and a crash between send and record still
//! give one message.
//!
//! Who may still be written to is the suppression list ([`suppression`]); every member message
//! carries a one-click unsubscribe ([`unsubscribe`]).

pub mod company;
pub mod digest;
pub mod notifier;
pub mod render;
pub mod suppression;
pub mod texts;
pub mod unsubscribe;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::companies::settings::CompanySettings;
use crate::domain::state::model::{MembershipState, SignalKind};
use crate::domain::state::store::StoredMembership;
use crate::domain::webhooks::Source;

/// Whether a signal opened or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Opened,
    Closed,
}

/// One signal an event opened or closed, with the time the signal started (what tells one
/// occurrence of a signal from the next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalChange {
    pub signal: SignalKind,
    pub change: Change,
    pub started_at: DateTime<Utc>,
}

/// What the processor enqueues when an event changes a membership's signals: ids and signals only
/// (no contact details), so the queue holds nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationJob {
    pub membership_id: String,
    pub provider: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    pub changes: Vec<SignalChange>,
}

impl NotificationJob {
    /// The job for the event `event_id` recorded in `stored`: the signals open without it against
    /// with it. `None` when it changed no signal.
    pub fn of_event(stored: &StoredMembership, event_id: &str) -> Option<Self> {
        let before = stored.state_without(event_id);
        let after = stored.state();
        let mut changes = Vec::new();
        for kind in after.open_signals() {
            if before.open_signal(kind).is_none()
                && let Some(signal) = after.open_signal(kind)
            {
                changes.push(SignalChange {
                    signal: kind,
                    change: Change::Opened,
                    started_at: signal.started_at,
                });
            }
        }
        for kind in before.open_signals() {
            if after.open_signal(kind).is_none()
                && let Some(signal) = before.open_signal(kind)
            {
                changes.push(SignalChange {
                    signal: kind,
                    change: Change::Closed,
                    started_at: signal.started_at,
                });
            }
        }
        (!changes.is_empty()).then(|| Self {
            membership_id: stored.membership_id.clone(),
            provider: stored.provider,
            company_id: after
                .company_id
                .clone()
                .or_else(|| stored.company_id.clone()),
            changes,
        })
    }
}

/// What the `notifications` queue carries, tagged by `kind` so each job names its work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// An event opened or closed signals of a membership (the processor's job).
    Signals(NotificationJob),
    /// A company's daily digest is due (the hourly run's job, [`digest`]).
    Digest(digest::DigestJob),
    /// A company's notification settings were saved (the state function's job).
    SettingsChanged(company::SettingsChange),
    /// A company's sync run ended (the sync function's job).
    SyncEnded(company::SyncEnd),
    /// A KDP report's ingestion ended (the ingest function's job, [`crate::domain::ingest`]).
    IngestionEnded(crate::domain::ingest::IngestionEnd),
}

impl Job {
    /// The job as a queue message: its JSON, no attributes, no delay.
    pub fn message(
        &self,
    ) -> Result<crate::domain::ports::OutboundMessage, crate::domain::ports::DependencyError> {
        let body = serde_json::to_string(self)
            .map_err(|e| crate::domain::ports::DependencyError::Other(e.to_string()))?;
        Ok(crate::domain::ports::OutboundMessage {
            body,
            attributes: Vec::new(),
            delay: None,
        })
    }
}

impl From<NotificationJob> for Job {
    fn from(job: NotificationJob) -> Self {
        Self::Signals(job)
    }
}

/// The queue the processor puts jobs on when no notification queue is configured: none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifications;

impl crate::domain::ports::NotificationQueue for NoNotifications {
    async fn enqueue(&self, _job: &Job) -> Result<(), crate::domain::ports::DependencyError> {
        Ok(())
    }
}

/// An optional queue: none configured enqueues nothing.
impl<Q: crate::domain::ports::NotificationQueue> crate::domain::ports::NotificationQueue
    for Option<Q>
{
    async fn enqueue(&self, job: &Job) -> Result<(), crate::domain::ports::DependencyError> {
        match self {
            Some(queue) => queue.enqueue(job).await,
            None => Ok(()),
        }
    }
}

/// A message's template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// To the company's recipients: a signal opened.
    CreatorAlert(SignalKind),
    /// To the member: the payment failed; fix the payment method at the provider's page.
    MemberPaymentFailed,
    /// To the member, after churning: come back.
    MemberWinBack,
    /// To the member: the membership ends at the period's end.
    MemberCancelScheduled,
    /// A text to a company's alert phone: an urgent signal opened.
    CreatorText(SignalKind),
    /// To the company's previous and new recipients: its notification settings changed.
    SettingsUpdated,
    /// To the company's recipients, the first time it saves any.
    Welcome,
    /// To the company's recipients: a sync run of the company completed (not the schedule's).
    SyncCompleted,
    /// To the company's recipients: a sync run of the company failed.
    SyncFailed,
    /// To the company's recipients: the daily digest of its open signals.
    CreatorDigest,
    /// To the company's recipients: an uploaded report was read ([`crate::domain::ingest`]).
    IngestionCompleted,
    /// To the company's recipients: an uploaded report could not be read.
    IngestionFailed,
}

impl Template {
    /// The stable name (part of the idempotency key, the claim and the metrics).
    pub fn name(self) -> &'static str {
        match self {
            Self::CreatorAlert(SignalKind::AtRisk) => "creator_alert_at_risk",
            Self::CreatorAlert(SignalKind::CancelScheduled) => "creator_alert_cancel_scheduled",
            Self::CreatorAlert(SignalKind::Churned) => "creator_alert_churned",
            Self::CreatorAlert(SignalKind::Recovered) => "creator_alert_recovered",
            Self::MemberPaymentFailed => "member_payment_failed",
            Self::MemberWinBack => "member_win_back",
            Self::MemberCancelScheduled => "member_cancel_scheduled",
            Self::CreatorText(SignalKind::AtRisk) => "creator_text_at_risk",
            Self::CreatorText(SignalKind::CancelScheduled) => "creator_text_cancel_scheduled",
            Self::CreatorText(SignalKind::Churned) => "creator_text_churned",
            Self::CreatorText(SignalKind::Recovered) => "creator_text_recovered",
            Self::SettingsUpdated => "settings_updated",
            Self::Welcome => "welcome",
            Self::SyncCompleted => "sync_completed",
            Self::SyncFailed => "sync_failed",
            Self::CreatorDigest => "creator_digest",
            Self::IngestionCompleted => "ingestion_completed",
            Self::IngestionFailed => "ingestion_failed",
        }
    }

    /// Whether it goes to the member (rather than the creator).
    pub fn to_member(self) -> bool {
        matches!(
            self,
            Self::MemberPaymentFailed | Self::MemberWinBack | Self::MemberCancelScheduled
        )
    }

    /// Whether it is a text message (to a phone number) rather than an e-mail.
    pub fn is_text(self) -> bool {
        matches!(self, Self::CreatorText(_))
    }

    /// Every text template.
    pub const TEXTS: [Self; 4] = [
        Self::CreatorText(SignalKind::AtRisk),
        Self::CreatorText(SignalKind::CancelScheduled),
        Self::CreatorText(SignalKind::Churned),
        Self::CreatorText(SignalKind::Recovered),
    ];

    /// The e-mails about a company rather than a membership ([`company`]).
    pub const COMPANY: [Self; 4] = [
        Self::SettingsUpdated,
        Self::Welcome,
        Self::SyncCompleted,
        Self::SyncFailed,
    ];

    /// The e-mails about an uploaded report's ingestion ([`crate::domain::ingest`]).
    pub const INGESTION: [Self; 2] = [Self::IngestionCompleted, Self::IngestionFailed];

    /// Every e-mail template about a membership, for tests and listings.
    pub const ALL: [Self; 7] = [
        Self::CreatorAlert(SignalKind::AtRisk),
        Self::CreatorAlert(SignalKind::CancelScheduled),
        Self::CreatorAlert(SignalKind::Churned),
        Self::CreatorAlert(SignalKind::Recovered),
        Self::MemberPaymentFailed,
        Self::MemberWinBack,
        Self::MemberCancelScheduled,
    ];
}

/// One message to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Planned {
    pub template: Template,
    pub signal: SignalChange,
    /// An e-mail address, or an E.164 number for a text (personal data: not in `Debug`).
    pub recipient: String,
    /// [`idempotency_key`] of the message.
    pub key: String,
}

impl std::fmt::Debug for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planned")
            .field("template", &self.template.name())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The key of one message: a hash of the membership, the signal, the signal's start, the
/// recipient and the template. The same for every delivery of every job that leads to it.
pub fn idempotency_key(
    membership_id: &str,
    signal: &SignalChange,
    recipient: &str,
    template: Template,
) -> String {
    key_of(&[
        membership_id,
        signal.signal.as_str(),
        &signal.started_at.to_rfc3339(),
        &recipient.to_ascii_lowercase(),
        template.name(),
    ])
}

/// The hex SHA-256 of `parts`, each ended by a zero byte (so no two lists hash alike).
pub(crate) fn key_of(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

/// The message a member gets when `signal` opens, if any: payment failed (only with the
/// provider's page to fix it), win-back after churning, cancel scheduled.
fn member_template(signal: SignalKind, state: &MembershipState) -> Option<Template> {
    match signal {
        SignalKind::AtRisk if state.contact.manage_url.is_some() => {
            Some(Template::MemberPaymentFailed)
        }
        SignalKind::Churned => Some(Template::MemberWinBack),
        SignalKind::CancelScheduled => Some(Template::MemberCancelScheduled),
        SignalKind::AtRisk | SignalKind::Recovered => None,
    }
}

/// The messages a job calls for: for each signal it opened, an alert to each recipient when the
/// company wants immediate alerts of that signal, a text to each alert phone when the signal is
/// urgent, and the member's message when member messages are on and the member has an address.
/// A closed signal sends nothing itself (the recovery that
/// closes `at_risk` opens `recovered`, which is alerted).
pub fn plan(
    job: &NotificationJob,
    settings: &CompanySettings,
    state: &MembershipState,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut push = |template: Template, change: &SignalChange, recipient: &str| {
        planned.push(Planned {
            template,
            signal: change.clone(),
            recipient: recipient.to_owned(),
            key: idempotency_key(&job.membership_id, change, recipient, template),
        });
    };
    for change in job.changes.iter().filter(|c| c.change == Change::Opened) {
        if settings.immediate && settings.signals.contains(&change.signal) {
            for recipient in &settings.recipients {
                push(Template::CreatorAlert(change.signal), change, recipient);
            }
        }
        if settings.urgent_signals.contains(&change.signal) {
            for phone in &settings.alert_phones {
                push(Template::CreatorText(change.signal), change, phone);
            }
        }
        if settings.member_messages
            && let Some(email) = state.contact.email.as_deref()
            && let Some(template) = member_template(change.signal, state)
        {
            push(template, change, email);
        }
    }
    planned
}

/// How a claimed message ended (recorded on its claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The provider took it.
    Sent {
        provider: &'static str,
        message_id: String,
    },
    /// The provider refused it for good (its stable code).
    Refused {
        provider: &'static str,
        code: String,
    },
    /// The recipient is on the suppression list.
    Suppressed,
}

impl Delivery {
    /// The claim's status word.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Refused { .. } => "refused",
            Self::Suppressed => "suppressed",
        }
    }
}

#[cfg(test)]
mod tests;
