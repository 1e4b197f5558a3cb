//! Mails about a company rather than a membership (`docs/architecture.md`, "Notifications"): the
//! confirmation that its notification settings changed, and the welcome the first time it saves
//! recipients.
//!
//! The state function's `PUT /companies/{company_id}/settings` enqueues a [`SettingsChange`]
//! ([`settings_saved`]); the notifier [`plan_settings_change`]s it:
//! - the first save with recipients (none before): a **welcome** to each recipient, keyed by the
//!   company and the recipient only, so a recipient is welcomed once whenever and however often
//!   the settings are saved;
//! - any later save: a **settings updated** confirmation to the previous and the new recipients
//!   (a change nobody meant is seen by those it removed), keyed by the change's time too.
//!
//! The sync function enqueues a [`SyncEnd`] when a company's run ends (not a user's own run):
//! **sync failed** to the company's recipients for every failed run, **sync completed** for a
//! completed run someone started (`cli`), not for the periodic schedule's (four a day would
//! bury the alerts). Keyed by the run.

use super::{Job, Template, key_of};
use crate::domain::companies::settings::CompanySettings;
use crate::domain::ports::NotificationQueue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A company's settings were saved: who was told before and who is told now. The one job that
/// carries addresses (the creator's recipients, which the settings no longer hold once replaced);
/// the queue is encrypted at rest like the table.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsChange {
    pub company_id: String,
    pub changed_at: DateTime<Utc>,
    pub previous_recipients: Vec<String>,
    pub recipients: Vec<String>,
}

impl std::fmt::Debug for SettingsChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsChange")
            .field("company_id", &self.company_id)
            .field("changed_at", &self.changed_at)
            .finish_non_exhaustive()
    }
}

/// A company's sync run ended: ids, the outcome and its figures (nothing personal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncEnd {
    pub company_id: String,
    pub run_id: String,
    /// `schedule`, `cli`, …
    pub trigger: String,
    pub completed: bool,
    /// The failure's stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ended_at: DateTime<Utc>,
    pub seen: u64,
    pub drifted: u64,
}

/// The mails a run's end calls for, to `recipients` (see the module's documentation).
pub fn plan_sync_end(end: &SyncEnd, recipients: &[String]) -> Vec<CompanyMail> {
    let template = if end.completed {
        if end.trigger == "schedule" {
            return Vec::new();
        }
        Template::SyncCompleted
    } else {
        Template::SyncFailed
    };
    recipients
        .iter()
        .map(|recipient| CompanyMail {
            template,
            recipient: recipient.clone(),
            key: company_key(&end.company_id, template, &end.run_id, recipient),
        })
        .collect()
}

/// One company mail to send.
#[derive(Clone, PartialEq, Eq)]
pub struct CompanyMail {
    pub template: Template,
    /// An e-mail address (personal data: not in `Debug`).
    pub recipient: String,
    pub key: String,
}

impl std::fmt::Debug for CompanyMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanyMail")
            .field("template", &self.template.name())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The key of a company mail: a hash of the company, the template, the parts that tell one
/// occurrence from the next (none for the welcome), and the recipient.
pub fn company_key(
    company_id: &str,
    template: Template,
    occurrence: &str,
    recipient: &str,
) -> String {
    key_of(&[
        company_id,
        template.name(),
        occurrence,
        &recipient.to_ascii_lowercase(),
    ])
}

/// The mails a settings change calls for (see the module's documentation).
pub fn plan_settings_change(change: &SettingsChange) -> Vec<CompanyMail> {
    let mail = |template: Template, occurrence: &str, recipient: &String| CompanyMail {
        template,
        recipient: recipient.clone(),
        key: company_key(&change.company_id, template, occurrence, recipient),
    };
    if change.previous_recipients.is_empty() {
        return change
            .recipients
            .iter()
            .map(|recipient| mail(Template::Welcome, "", recipient))
            .collect();
    }
    let occurrence = change.changed_at.to_rfc3339();
    let mut told: Vec<&String> = Vec::new();
    for recipient in change.previous_recipients.iter().chain(&change.recipients) {
        if !told.iter().any(|r| r.eq_ignore_ascii_case(recipient)) {
            told.push(recipient);
        }
    }
    told.into_iter()
        .map(|recipient| mail(Template::SettingsUpdated, &occurrence, recipient))
        .collect()
}

/// Enqueues the confirmation of a save of `saved` over `previous` (nothing when neither has a
/// recipient). The settings are saved whatever happens here: a failed enqueue is logged (with
/// its stable code) and the save still answers 200.
pub async fn settings_saved(
    queue: &impl NotificationQueue,
    company_id: &str,
    previous: Option<&CompanySettings>,
    saved: &CompanySettings,
    now: DateTime<Utc>,
) {
    let previous_recipients = previous.map(|p| p.recipients.clone()).unwrap_or_default();
    if previous_recipients.is_empty() && saved.recipients.is_empty() {
        return;
    }
    let job = Job::SettingsChanged(SettingsChange {
        company_id: company_id.to_owned(),
        changed_at: now,
        previous_recipients,
        recipients: saved.recipients.clone(),
    });
    if let Err(error) = queue.enqueue(&job).await {
        tracing::warn!(code = "confirmation_not_enqueued", %error, "the settings are saved; their confirmation was not enqueued");
    }
}
