//! A [`DigestJob`]: the company's settings and next digest instant (one read), the open signals
//! it chose (one listing each), one message per recipient through the same claim, suppression
//! check, send and record as the alerts, then the next digest instant, moved only if it is still
//! the job's.

use chrono::{DateTime, Utc};

use super::{Counts, Notifier, NotifyError, Opened};
use crate::domain::notify::Template;
use crate::domain::notify::digest::{
    DIGEST_READ, DigestJob, DigestListing, digest_key, local_date, next_digest_at,
};
use crate::domain::notify::render::{DigestContext, render_digest};
use crate::domain::ports::{
    Clock, CompanyMemberships, DigestSchedule, Email, Mailer, NotificationClaims, SecretSource,
    SettingsStore, StateStore, SuppressionList,
};

impl<C, St, Se, M, Su, K, S, T> Notifier<C, St, Se, M, Su, K, S, T>
where
    C: NotificationClaims,
    St: StateStore + CompanyMemberships,
    Se: SettingsStore + DigestSchedule,
    M: Mailer,
    Su: SuppressionList,
    K: Clock,
    S: SecretSource,
    T: Clock,
{
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
                let sent = match self.open_message(&key, template, recipient).await {
                    Ok(Opened::Send { resumed }) => {
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
                        self.send_claimed(template, &email, resumed).await
                    }
                    Ok(Opened::Done(done)) => Ok(done),
                    Err(error) => Err(error),
                };
                match sent {
                    Ok(done) => counts.add(done),
                    Err(error) => {
                        tracing::warn!(
                            template = template.name(),
                            key = %key,
                            code = error.code(),
                            "a digest was not sent: {error}"
                        );
                        first_error.get_or_insert(error);
                    }
                }
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
