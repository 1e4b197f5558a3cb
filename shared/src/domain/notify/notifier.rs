//! The notify function's work: one batch of [`Job`]s, each job on its own.
//!
//! Per job: read the company's settings (nothing to do without any), the membership, [`plan`] the
//! messages; per message: claim its key (one conditional write), check the suppression list,
//! render, add the one-click unsubscribe headers to a member message, send (an e-mail with the key
//! as the provider's idempotency key, a text through the text provider), record the outcome on the
//! claim; a number Twilio reports opted out (21610) is added to the suppression list.
//! A refusal is recorded and the job succeeds; an unavailable provider or store fails the job, so
//! SQS redelivers it (after `maxReceiveCount` deliveries, to the DLQ). Logs carry template names,
//! keys (hashes) and codes: never an address or a body.
//!
//! A digest job ([`Notifier::digest`]): the company's settings and next digest instant (one
//! read), the open signals it chose (one listing each), one message per recipient through the
//! same claim, suppression check, send and record, then the next digest instant, moved only if it
//! is still the job's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use url::Url;

use super::company::{CompanyMail, SettingsChange, SyncEnd, plan_settings_change, plan_sync_end};
use super::digest::{
    DIGEST_READ, DigestJob, DigestListing, digest_key, local_date, next_digest_at,
};
use super::render::{
    CompanyContext, DigestContext, MessageContext, RenderError, render, render_company,
    render_digest, render_text,
};
use super::texts::is_opt_out;
use super::unsubscribe::UnsubscribeTokens;
use super::{Delivery, Job, NotificationJob, Planned, Template, plan};
use crate::domain::analytics::{self, AnalyticsTarget};
use crate::domain::companies::settings::CompanySettings;
use crate::domain::creators::plan::PlanSettings;
use crate::domain::metrics::Metrics;
use crate::domain::metrics::catalogue as names;
use crate::domain::ports::{
    AnalyticsSink, Claim, Clock, CompanyMemberships, DependencyError, DigestSchedule, Email,
    InboundMessage, Mailer, NotificationClaims, SecretSource, SendError, Sent, SettingsStore,
    StateStore, SuppressionList, SuppressionReason, TextMessage, TextSender,
};
use crate::domain::state::model::MembershipState;

/// How long a claim found `sending` is left to its holder before another delivery takes it over
/// (and sends again under the same idempotency key, which the provider dedupes). Below the
/// queue's visibility timeout, so a redelivered job finds it expired.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// A time as messages show it: `2026-03-01 12:00 UTC`.
fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Who messages are from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// `FROM_EMAIL`.
    pub from_email: String,
    /// `FROM_NAME`: the name when the company set none.
    pub default_name: String,
}

impl Sender {
    /// `Name <address>`, with the company's name when it set one.
    fn from(&self, name: Option<&str>) -> String {
        let name = name.unwrap_or(&self.default_name);
        let name: String = name
            .chars()
            .filter(|c| !matches!(c, '<' | '>' | '"' | '\r' | '\n'))
            .collect();
        format!("{} <{}>", name.trim(), self.from_email)
    }
}

/// The messages of one job, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub refused: u64,
    pub suppressed: u64,
    /// Claims found finished: a redelivery or a duplicate job.
    pub already_done: u64,
    /// Member messages not sent because the plan of the creator who turned them on no longer
    /// allows them.
    pub plan_required: u64,
    /// Analytics batches GA4 took (`domain::analytics`).
    pub analytics_sent: u64,
}

impl Counts {
    fn add(&mut self, other: Self) {
        self.sent += other.sent;
        self.refused += other.refused;
        self.suppressed += other.suppressed;
        self.already_done += other.already_done;
        self.plan_required += other.plan_required;
        self.analytics_sent += other.analytics_sent;
    }

    /// Adds one message's outcome, or logs its failure and keeps the job's first.
    fn tally(
        &mut self,
        first_error: &mut Option<NotifyError>,
        template: &str,
        key: &str,
        done: Result<Self, NotifyError>,
    ) {
        match done {
            Ok(done) => self.add(done),
            Err(error) => {
                tracing::warn!(
                    template,
                    key,
                    code = error.code(),
                    "a message was not sent: {error}"
                );
                first_error.get_or_insert(error);
            }
        }
    }
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The body is not a job. Permanent.
    #[error("undecodable job: {0}")]
    Undecodable(String),
    /// A template does not render. Permanent.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The state table failed. A retry may succeed.
    #[error("state table: {0}")]
    Dependency(#[from] DependencyError),
    /// The provider did not take a message now. A retry may succeed.
    #[error(transparent)]
    Unavailable(SendError),
    /// Another delivery holds a message's claim within its lease. A retry finds it finished or
    /// expired.
    #[error("another delivery is sending a message of this job")]
    InFlight,
}

impl NotifyError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Undecodable(_) | Self::Render(_))
    }

    /// Stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Undecodable(_) => "undecodable_job",
            Self::Render(_) => "template_error",
            Self::Dependency(_) => "state_unavailable",
            Self::Unavailable(_) => "provider_unavailable",
            Self::InFlight => "claim_in_flight",
        }
    }
}

/// The batch has a record without a message id (see the processor's twin).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a record of the batch has no message id")]
pub struct MissingMessageId;

/// The outcome of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Message ids to report in `batchItemFailures`.
    pub failed: Vec<String>,
    pub counts: Counts,
    pub jobs_failed_permanent: u64,
    pub jobs_failed_retryable: u64,
}

impl BatchReport {
    /// The counts as one EMF line.
    pub fn metrics(&self, function: &str) -> Metrics {
        let mut metrics = Metrics::new(function);
        metrics
            .count(names::MESSAGES_SENT, self.counts.sent)
            .count(names::MESSAGES_REFUSED, self.counts.refused)
            .count(names::MESSAGES_SUPPRESSED, self.counts.suppressed)
            .count(names::MESSAGES_ALREADY_DONE, self.counts.already_done)
            .count(names::MESSAGES_PLAN_REQUIRED, self.counts.plan_required)
            .count(names::ANALYTICS_SENT, self.counts.analytics_sent)
            .count(names::JOBS_FAILED_PERMANENT, self.jobs_failed_permanent)
            .count(names::JOBS_FAILED_RETRYABLE, self.jobs_failed_retryable);
        metrics
    }
}

/// The name analytics batches go by in logs and claims' logs (`domain::analytics`).
const ANALYTICS: &str = "analytics";

/// How a send ended, as its claim records it; an unavailable provider fails the job (the claim
/// is left `sending`, so a redelivery sends again).
fn delivery_of(outcome: Result<Sent, SendError>) -> Result<Delivery, NotifyError> {
    match outcome {
        Ok(sent) => Ok(Delivery::Sent {
            provider: sent.provider,
            message_id: sent.message_id,
        }),
        Err(SendError::Refused { provider, code }) => Ok(Delivery::Refused { provider, code }),
        Err(error @ SendError::Unavailable { .. }) => Err(NotifyError::Unavailable(error)),
    }
}

/// One recorded delivery as counts.
fn outcome_counts(delivery: &Delivery) -> Counts {
    match delivery {
        Delivery::Sent { .. } => Counts {
            sent: 1,
            ..Counts::default()
        },
        _ => Counts {
            refused: 1,
            ..Counts::default()
        },
    }
}

/// The one-click unsubscribe every member message carries (RFC 8058): a signed link under
/// `base` (`PUBLIC_API_URL`) in `List-Unsubscribe`, and `List-Unsubscribe-Post`.
pub struct MemberUnsubscribe<S, T> {
    pub base: Url,
    pub tokens: UnsubscribeTokens<S, T>,
}

/// Sends the messages of notification jobs.
pub struct Notifier<C, St, Se, M, Su, K, S, T, X, G = crate::domain::ports::NoAnalytics> {
    pub claims: C,
    pub state: St,
    pub settings: Se,
    pub mailer: M,
    pub suppressions: Su,
    pub clock: K,
    pub sender: Sender,
    pub unsubscribe: MemberUnsubscribe<S, T>,
    /// The text provider (`Option`: none refuses texts, see [`super::texts`]).
    pub texts: X,
    /// Which plans allow member messages (asked before each job's member messages).
    pub plans: PlanSettings,
    /// The companies' GA4 properties (`domain::analytics`): a batch of events per signal job
    /// of a company that turned analytics on.
    pub analytics: G,
}

impl<C, St, Se, M, Su, K, S, T, X, G> Notifier<C, St, Se, M, Su, K, S, T, X, G>
where
    C: NotificationClaims,
    St: StateStore + CompanyMemberships,
    Se: SettingsStore + DigestSchedule,
    M: Mailer,
    Su: SuppressionList,
    K: Clock,
    S: SecretSource,
    T: Clock,
    X: TextSender,
    G: AnalyticsSink,
{
    /// Processes a batch, job by job; a failed job is reported alone.
    pub async fn process_batch(
        &self,
        records: &[InboundMessage],
    ) -> Result<BatchReport, MissingMessageId> {
        let mut report = BatchReport::default();
        for record in records {
            let id = record.message_id.clone().ok_or(MissingMessageId)?;
            match self
                .process(record.body.as_deref().unwrap_or_default())
                .await
            {
                Ok(counts) => report.counts.add(counts),
                Err(error) => {
                    if error.is_permanent() {
                        report.jobs_failed_permanent += 1;
                        tracing::error!(
                            attempt = record.receive_count,
                            code = error.code(),
                            "the job cannot be done: {error}"
                        );
                    } else {
                        report.jobs_failed_retryable += 1;
                        tracing::warn!(
                            attempt = record.receive_count,
                            code = error.code(),
                            "the job failed; SQS will retry: {error}"
                        );
                    }
                    report.failed.push(id);
                }
            }
        }
        Ok(report)
    }

    /// Processes one message body.
    pub async fn process(&self, body: &str) -> Result<Counts, NotifyError> {
        let job: Job = serde_json::from_str(body).map_err(|error| {
            // The category and position only: serde's message may quote the body.
            NotifyError::Undecodable(format!(
                "{:?} error at line {} column {}",
                error.classify(),
                error.line(),
                error.column()
            ))
        })?;
        match job {
            Job::Signals(job) => self.handle(&job).await,
            Job::SettingsChanged(change) => self.handle_settings_change(&change).await,
            Job::SyncEnded(end) => self.handle_sync_end(&end).await,
            Job::Digest(job) => self.digest(&job).await,
            Job::IngestionEnded(end) => self.handle_ingestion_end(&end).await,
        }
    }

    /// Sends the messages `job` calls for; every message is tried, the first failure returned.
    pub async fn handle(&self, job: &NotificationJob) -> Result<Counts, NotifyError> {
        let mut counts = Counts::default();
        let Some(company_id) = job.company_id.as_deref() else {
            tracing::info!("no company: nobody to tell");
            return Ok(counts);
        };
        let settings = self
            .settings
            .company_settings(company_id)
            .await?
            .filter(|s| s.immediate || s.member_messages || !s.alert_phones.is_empty());
        let analytics = self.analytics.target(company_id).await?;
        if settings.is_none() && analytics.is_none() {
            tracing::info!("the company has no settings that tell anyone: nothing to do");
            return Ok(counts);
        }
        let Some(stored) = self.state.membership(&job.membership_id).await? else {
            tracing::warn!("the membership is not stored: nothing to tell");
            return Ok(counts);
        };
        let state = stored.state();
        let mut first_error = None;
        if let Some(target) = analytics {
            let done = self.report(job, company_id, &target, &state).await;
            counts.tally(
                &mut first_error,
                ANALYTICS,
                &analytics::claim_key(job),
                done,
            );
        }
        let Some(settings) = settings else {
            return first_error.map_or(Ok(counts), Err);
        };
        let mut planned = plan(job, &settings, &state);
        if planned.iter().any(|p| p.template.to_member())
            && !self.member_messages_allowed(&settings).await?
        {
            let before = planned.len();
            planned.retain(|p| !p.template.to_member());
            let dropped = u64::try_from(before - planned.len()).unwrap_or(u64::MAX);
            tracing::info!(
                code = "plan_required",
                dropped,
                "member messages need a plan that allows them: not sent"
            );
            counts.plan_required += dropped;
        }
        for planned in planned {
            let from = self.sender.from(settings.sender_name.as_deref());
            let reply_to = settings
                .reply_to
                .clone()
                .filter(|_| planned.template.to_member());
            let done = self
                .deliver(
                    job,
                    &planned,
                    &state,
                    from,
                    reply_to,
                    settings.sender_name.as_deref(),
                )
                .await;
            counts.tally(
                &mut first_error,
                planned.template.name(),
                &planned.key,
                done,
            );
        }
        first_error.map_or(Ok(counts), Err)
    }

    /// Sends `job`'s analytics batch to the company's property once: claimed before it is sent
    /// (GA4 takes no idempotency key) and recorded after, like a message.
    async fn report(
        &self,
        job: &NotificationJob,
        company_id: &str,
        target: &AnalyticsTarget,
        state: &MembershipState,
    ) -> Result<Counts, NotifyError> {
        let Some(batch) = analytics::batch_of(job, company_id, state) else {
            return Ok(Counts::default());
        };
        let key = analytics::claim_key(job);
        let resumed = match self
            .claims
            .claim(&key, self.clock.now(), CLAIM_LEASE)
            .await?
        {
            Claim::Won { resumed } => resumed,
            Claim::Finished => {
                return Ok(Counts {
                    already_done: 1,
                    ..Counts::default()
                });
            }
            Claim::InFlight => return Err(NotifyError::InFlight),
        };
        let outcome = self.analytics.send(company_id, target, &batch).await;
        let delivery = delivery_of(outcome)?;
        self.claims
            .record(&key, &delivery, self.clock.now())
            .await?;
        tracing::info!(
            template = ANALYTICS,
            key,
            resumed,
            events = batch.events.len(),
            outcome = delivery.status(),
            "analytics done"
        );
        let mut counts = outcome_counts(&delivery);
        counts.analytics_sent = std::mem::take(&mut counts.sent);
        Ok(counts)
    }

    /// Whether the plan of the creator who turned member messages on still allows them
    /// ([`crate::domain::creators::plan::require`]); turned on by an operator, they are allowed
    /// as at the settings route.
    async fn member_messages_allowed(
        &self,
        settings: &CompanySettings,
    ) -> Result<bool, NotifyError> {
        use crate::domain::creators::plan::{Feature, plan_of_user, require};
        let Some(user_id) = settings.member_messages_by.as_deref() else {
            return Ok(true);
        };
        let plan = plan_of_user(&self.state, &self.plans, user_id).await?;
        Ok(require(plan.tier, Feature::MemberMessages).is_ok())
    }

    /// Claims, checks, sends and records one message.
    async fn deliver(
        &self,
        job: &NotificationJob,
        planned: &Planned,
        state: &MembershipState,
        from: String,
        reply_to: Option<String>,
        sender_name: Option<&str>,
    ) -> Result<Counts, NotifyError> {
        let resumed = match self
            .open(&planned.key, planned.template, &planned.recipient)
            .await?
        {
            Ok(resumed) => resumed,
            Err(done) => return Ok(done),
        };
        let context = MessageContext {
            membership_id: job.membership_id.clone(),
            company_id: job.company_id.clone(),
            member_name: state
                .contact
                .name
                .clone()
                .or_else(|| state.contact.username.clone()),
            signal: planned.signal.signal,
            started_at: format_time(planned.signal.started_at),
            manage_url: state.contact.manage_url.clone(),
            sender_name: sender_name.unwrap_or(&self.sender.default_name).to_owned(),
        };
        let outcome = if planned.template.is_text() {
            let text = TextMessage {
                idempotency_key: planned.key.clone(),
                to: planned.recipient.clone(),
                body: render_text(planned.template, &context)?,
            };
            self.texts.send_text(&text).await
        } else {
            self.send_email(job, planned, &context, from, reply_to)
                .await?
        };
        self.close(
            &planned.key,
            planned.template,
            &planned.recipient,
            resumed,
            outcome,
        )
        .await
    }

    /// Claims `key` and checks `recipient` against the suppression list: `Ok(resumed)` to send,
    /// `Err(counts)` when there is nothing to send (already done, or suppressed and recorded).
    async fn open(
        &self,
        key: &str,
        template: Template,
        recipient: &str,
    ) -> Result<Result<bool, Counts>, NotifyError> {
        let template = template.name();
        let resumed = match self
            .claims
            .claim(key, self.clock.now(), CLAIM_LEASE)
            .await?
        {
            Claim::Won { resumed } => resumed,
            Claim::Finished => {
                tracing::info!(template, key, "already sent: nothing to do");
                return Ok(Err(Counts {
                    already_done: 1,
                    ..Counts::default()
                }));
            }
            Claim::InFlight => return Err(NotifyError::InFlight),
        };
        if self.suppressions.is_suppressed(recipient).await? {
            self.claims
                .record(key, &Delivery::Suppressed, self.clock.now())
                .await?;
            tracing::info!(template, key, "the recipient is suppressed: not sent");
            return Ok(Err(Counts {
                suppressed: 1,
                ..Counts::default()
            }));
        }
        Ok(Ok(resumed))
    }

    /// Records how a send ended on the claim of `key` (a number that opted out is suppressed
    /// first); an unavailable provider fails the job with the claim left `sending`.
    async fn close(
        &self,
        key: &str,
        template: Template,
        recipient: &str,
        resumed: bool,
        outcome: Result<Sent, SendError>,
    ) -> Result<Counts, NotifyError> {
        let delivery = delivery_of(outcome)?;
        if let Delivery::Refused { code, .. } = &delivery
            && template.is_text()
            && is_opt_out(code)
        {
            self.suppressions
                .suppress(recipient, SuppressionReason::OptedOut)
                .await?;
        }
        self.claims.record(key, &delivery, self.clock.now()).await?;
        tracing::info!(
            template = template.name(),
            key,
            resumed,
            outcome = delivery.status(),
            "message done"
        );
        Ok(outcome_counts(&delivery))
    }

    /// Sends the mails a company's settings change calls for ([`super::company`]).
    pub async fn handle_settings_change(
        &self,
        change: &SettingsChange,
    ) -> Result<Counts, NotifyError> {
        let settings = self.settings.company_settings(&change.company_id).await?;
        let context = CompanyContext {
            company_id: change.company_id.clone(),
            at: format_time(change.changed_at),
            sender_name: String::new(),
            settings,
            sync: None,
            ingestion: None,
        };
        self.send_company_mails(plan_settings_change(change), context)
            .await
    }

    /// Tells the company's recipients how its sync run ended ([`super::company`]).
    pub async fn handle_sync_end(&self, end: &SyncEnd) -> Result<Counts, NotifyError> {
        let Some(settings) = self.settings.company_settings(&end.company_id).await? else {
            tracing::info!("the company has no settings: nobody to tell");
            return Ok(Counts::default());
        };
        let mails = plan_sync_end(end, &settings.recipients);
        let context = CompanyContext {
            company_id: end.company_id.clone(),
            at: format_time(end.ended_at),
            sender_name: String::new(),
            settings: Some(settings),
            sync: Some(end.clone()),
            ingestion: None,
        };
        self.send_company_mails(mails, context).await
    }

    /// Tells the company's recipients how an uploaded report's ingestion ended
    /// ([`crate::domain::ingest::notify`]).
    pub async fn handle_ingestion_end(
        &self,
        end: &crate::domain::ingest::IngestionEnd,
    ) -> Result<Counts, NotifyError> {
        let Some(settings) = self.settings.company_settings(&end.company_id).await? else {
            tracing::info!("the company has no settings: nobody to tell");
            return Ok(Counts::default());
        };
        let mails = crate::domain::ingest::notify::plan_ingestion_end(end, &settings.recipients);
        let context = CompanyContext {
            company_id: end.company_id.clone(),
            at: format_time(end.ended_at),
            sender_name: String::new(),
            settings: Some(settings),
            sync: None,
            ingestion: Some(end.clone()),
        };
        self.send_company_mails(mails, context).await
    }

    /// Claims, checks, renders, sends and records each company mail, under the company's sender
    /// name; every mail is tried, the first failure returned.
    async fn send_company_mails(
        &self,
        mails: Vec<CompanyMail>,
        mut context: CompanyContext,
    ) -> Result<Counts, NotifyError> {
        let sender_name = context
            .settings
            .as_ref()
            .and_then(|s| s.sender_name.clone());
        context.sender_name = sender_name
            .clone()
            .unwrap_or_else(|| self.sender.default_name.clone());
        let mut counts = Counts::default();
        let mut first_error = None;
        for mail in mails {
            let done: Result<Counts, NotifyError> = async {
                let resumed = match self.open(&mail.key, mail.template, &mail.recipient).await? {
                    Ok(resumed) => resumed,
                    Err(done) => return Ok(done),
                };
                let rendered = render_company(mail.template, &context)?;
                let email = Email {
                    idempotency_key: mail.key.clone(),
                    from: self.sender.from(sender_name.as_deref()),
                    to: vec![mail.recipient.clone()],
                    reply_to: None,
                    subject: rendered.subject,
                    html: rendered.html,
                    text: rendered.text,
                    headers: Vec::new(),
                };
                let outcome = self.mailer.send_email(&email).await;
                self.close(&mail.key, mail.template, &mail.recipient, resumed, outcome)
                    .await
            }
            .await;
            counts.tally(&mut first_error, mail.template.name(), &mail.key, done);
        }
        first_error.map_or(Ok(counts), Err)
    }

    /// Renders and sends one e-mail: a member message carries the one-click unsubscribe headers.
    async fn send_email(
        &self,
        job: &NotificationJob,
        planned: &Planned,
        context: &MessageContext,
        from: String,
        reply_to: Option<String>,
    ) -> Result<Result<Sent, SendError>, NotifyError> {
        let rendered = render(planned.template, context)?;
        let headers = match (planned.template.to_member(), job.company_id.as_deref()) {
            (true, Some(company_id)) => {
                self.unsubscribe
                    .tokens
                    .headers(
                        &self.unsubscribe.base,
                        &planned.recipient,
                        company_id,
                        self.clock.now(),
                    )
                    .await?
            }
            _ => Vec::new(),
        };
        let email = Email {
            idempotency_key: planned.key.clone(),
            from,
            to: vec![planned.recipient.clone()],
            reply_to,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            headers,
        };
        Ok(self.mailer.send_email(&email).await)
    }

    /// Sends `job`'s digest once per recipient, then advances the company's next digest. Nothing
    /// is sent when the digest was turned off or already done (the next instant moved past the
    /// job's), nor when no chosen signal is open (the digest still advances).
    pub async fn digest(&self, job: &DigestJob) -> Result<Counts, NotifyError> {
        let mut counts = Counts::default();
        let company_id = job.company_id.as_str();
        let Some((settings, next_at)) = self.settings.digest_settings(company_id).await? else {
            tracing::info!("the company has no settings: no digest");
            return Ok(counts);
        };
        let Some(digest) = settings.digest.as_ref() else {
            tracing::info!("the digest was turned off: nothing to send");
            return Ok(counts);
        };
        if next_at != Some(job.due_at) {
            tracing::info!("this digest is done or was moved: nothing to send");
            return Ok(counts);
        }
        let mut pages = Vec::new();
        for &signal in &settings.signals {
            let page = self
                .state
                .with_open_signal(company_id, signal, DIGEST_READ, None)
                .await?;
            pages.push((signal, page));
        }
        let listing = DigestListing::of(pages);
        let date = local_date(digest, job.due_at).unwrap_or_else(|| job.due_at.date_naive());
        if listing.is_empty() {
            tracing::info!("no open signal: no digest today");
        } else {
            let sender_name = settings
                .sender_name
                .clone()
                .unwrap_or_else(|| self.sender.default_name.clone());
            let rendered = render_digest(&DigestContext {
                company_id: company_id.to_owned(),
                date: date.to_string(),
                listing,
                sender_name,
            })?;
            let from = self.sender.from(settings.sender_name.as_deref());
            let template = Template::CreatorDigest;
            let mut first_error = None;
            for recipient in &settings.recipients {
                let key = digest_key(company_id, date, recipient, template);
                let sent = match self.open(&key, template, recipient).await {
                    Ok(Ok(resumed)) => {
                        let email = Email {
                            idempotency_key: key.clone(),
                            from: from.clone(),
                            to: vec![recipient.clone()],
                            reply_to: None,
                            subject: rendered.subject.clone(),
                            html: rendered.html.clone(),
                            text: rendered.text.clone(),
                            headers: Vec::new(),
                        };
                        let outcome = self.mailer.send_email(&email).await;
                        self.close(&key, template, recipient, resumed, outcome)
                            .await
                    }
                    Ok(Err(done)) => Ok(done),
                    Err(error) => Err(error),
                };
                counts.tally(&mut first_error, template.name(), &key, sent);
            }
            if let Some(error) = first_error {
                return Err(error);
            }
        }
        self.advance(
            job,
            next_digest_at(digest, self.clock.now().max(job.due_at)),
        )
        .await?;
        Ok(counts)
    }

    /// Moves the company's next digest from the job's instant to `next_at`.
    async fn advance(
        &self,
        job: &DigestJob,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), NotifyError> {
        let Some(next_at) = next_at else {
            tracing::error!("the digest's time zone is unknown: not advanced");
            return Ok(());
        };
        let moved = self
            .settings
            .advance_digest(&job.company_id, job.due_at, next_at)
            .await?;
        tracing::info!(moved, next_at = %next_at, "digest done");
        Ok(())
    }
}
