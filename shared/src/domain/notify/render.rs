//! The messages' text: `shared/templates/email/*.{html,txt}`, embedded at compile time and
//! rendered with `minijinja` (HTML autoescaped). One HTML and one text part per template; the
//! subject is set here, with no personal data in it.

use std::sync::LazyLock;

use minijinja::Environment;

use super::Template;
use super::digest::DigestListing;
use crate::domain::state::model::SignalKind;

/// The template files, by name.
const FILES: [(&str, &str); 22] = [
    (
        "ingestion_completed.html",
        include_str!("../../../templates/email/ingestion_completed.html"),
    ),
    (
        "ingestion_completed.txt",
        include_str!("../../../templates/email/ingestion_completed.txt"),
    ),
    (
        "ingestion_failed.html",
        include_str!("../../../templates/email/ingestion_failed.html"),
    ),
    (
        "ingestion_failed.txt",
        include_str!("../../../templates/email/ingestion_failed.txt"),
    ),
    (
        "sync_completed.html",
        include_str!("../../../templates/email/sync_completed.html"),
    ),
    (
        "sync_completed.txt",
        include_str!("../../../templates/email/sync_completed.txt"),
    ),
    (
        "sync_failed.html",
        include_str!("../../../templates/email/sync_failed.html"),
    ),
    (
        "sync_failed.txt",
        include_str!("../../../templates/email/sync_failed.txt"),
    ),
    (
        "settings_updated.html",
        include_str!("../../../templates/email/settings_updated.html"),
    ),
    (
        "settings_updated.txt",
        include_str!("../../../templates/email/settings_updated.txt"),
    ),
    (
        "welcome.html",
        include_str!("../../../templates/email/welcome.html"),
    ),
    (
        "welcome.txt",
        include_str!("../../../templates/email/welcome.txt"),
    ),
    (
        "layout.html",
        include_str!("../../../templates/email/layout.html"),
    ),
    (
        "text/creator_alert.txt",
        include_str!("../../../templates/text/creator_alert.txt"),
    ),
    (
        "creator_alert.html",
        include_str!("../../../templates/email/creator_alert.html"),
    ),
    (
        "creator_alert.txt",
        include_str!("../../../templates/email/creator_alert.txt"),
    ),
    (
        "member_payment_failed.html",
        include_str!("../../../templates/email/member_payment_failed.html"),
    ),
    (
        "member_payment_failed.txt",
        include_str!("../../../templates/email/member_payment_failed.txt"),
    ),
    (
        "member_win_back.html",
        include_str!("../../../templates/email/member_win_back.html"),
    ),
    (
        "member_win_back.txt",
        include_str!("../../../templates/email/member_win_back.txt"),
    ),
    (
        "member_cancel_scheduled.html",
        include_str!("../../../templates/email/member_cancel_scheduled.html"),
    ),
    (
        "member_cancel_scheduled.txt",
        include_str!("../../../templates/email/member_cancel_scheduled.txt"),
    ),
];

/// The daily digest's files.
const DIGEST_FILES: [(&str, &str); 2] = [
    (
        "creator_digest.html",
        include_str!("../../../templates/email/creator_digest.html"),
    ),
    (
        "creator_digest.txt",
        include_str!("../../../templates/email/creator_digest.txt"),
    ),
];

/// The environment with every file loaded; the first problem, if one does not parse (a unit test
/// renders every template, so a build that passes its tests has none).
static TEMPLATES: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in FILES.into_iter().chain(DIGEST_FILES) {
        env.add_template(name, source)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(env)
});

/// What a template may show (personal data: no `Debug`).
#[derive(Clone)]
pub struct MessageContext {
    pub membership_id: String,
    pub company_id: Option<String>,
    /// The member's name or username (personal data).
    pub member_name: Option<String>,
    pub signal: SignalKind,
    /// When the signal started, as `2026-03-01 12:00 UTC`.
    pub started_at: String,
    /// The provider's page where the member manages the membership.
    pub manage_url: Option<String>,
    /// Who the message is from (the company's sender name or the deployment's).
    pub sender_name: String,
}

/// A rendered message.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A template failed to render (a bug in a template, not in the data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template} does not render: {detail}")]
pub struct RenderError {
    pub template: &'static str,
    pub detail: String,
}

/// The file name (without extension) and the subject of `template`.
fn file_and_subject(template: Template) -> (&'static str, &'static str) {
    match template {
        Template::CreatorAlert(signal) => ("creator_alert", alert_subject(signal)),
        // A text has no subject; its body is `render_text`'s.
        Template::CreatorText(signal) => ("text/creator_alert", alert_subject(signal)),
        Template::MemberPaymentFailed => (
            "member_payment_failed",
            "Your payment failed: update your payment method",
        ),
        Template::MemberWinBack => ("member_win_back", "We miss you"),
        Template::MemberCancelScheduled => {
            ("member_cancel_scheduled", "Your membership is set to end")
        }
        Template::SettingsUpdated => (
            "settings_updated",
            "Your Churn Saver notification settings changed",
        ),
        Template::Welcome => ("welcome", "Churn Saver alerts are on"),
        Template::SyncCompleted => ("sync_completed", "Your memberships are synced"),
        Template::SyncFailed => ("sync_failed", "A sync of your memberships failed"),
        Template::CreatorDigest => ("creator_digest", "Your daily churn digest"),
        Template::IngestionCompleted => ("ingestion_completed", "Your KDP report is imported"),
        Template::IngestionFailed => ("ingestion_failed", "Your KDP report could not be imported"),
    }
}

/// What a creator alert says happened.
fn alert_subject(signal: SignalKind) -> &'static str {
    match signal {
        SignalKind::AtRisk => "A membership is at risk",
        SignalKind::CancelScheduled => "A membership is set to cancel",
        SignalKind::Churned => "A membership churned",
        SignalKind::Recovered => "A membership recovered",
    }
}

/// The body of a text template (`templates/text/`): plain text, the member named by the first
/// word of their name (or their username) at most, no address, number or link.
pub fn render_text(template: Template, context: &MessageContext) -> Result<String, RenderError> {
    let error = |detail: String| RenderError {
        template: template.name(),
        detail,
    };
    let env = TEMPLATES.as_ref().map_err(|e| error(e.clone()))?;
    let what = match context.signal {
        SignalKind::AtRisk => "is at risk (payment failed)",
        SignalKind::CancelScheduled => "is set to cancel",
        SignalKind::Churned => "churned",
        SignalKind::Recovered => "recovered",
    };
    let member = context
        .member_name
        .as_deref()
        .and_then(|name| name.split_whitespace().next())
        .unwrap_or("A member");
    let (file, _) = file_and_subject(template);
    let values = minijinja::context! {
        sender_name => &context.sender_name,
        member => member,
        what => what,
        membership_id => &context.membership_id,
    };
    env.get_template(&format!("{file}.txt"))
        .and_then(|t| t.render(&values))
        .map(|body| body.trim().to_owned())
        .map_err(|e| error(e.to_string()))
}

/// Renders `template` with `context`.
pub fn render(template: Template, context: &MessageContext) -> Result<Rendered, RenderError> {
    let (_, subject) = file_and_subject(template);
    let values = minijinja::context! {
        headline => subject,
        subject => subject,
        membership_id => &context.membership_id,
        company_id => &context.company_id,
        member_name => &context.member_name,
        signal => context.signal.as_str(),
        started_at => &context.started_at,
        manage_url => &context.manage_url,
        sender_name => &context.sender_name,
    };
    render_values(template, &values)
}

/// What a company mail ([`super::company`]) may show: the company and its settings as saved.
#[derive(Debug, Clone)]
pub struct CompanyContext {
    pub company_id: String,
    /// When the settings were saved or the run ended, as `2026-03-01 12:00 UTC`.
    pub at: String,
    pub sender_name: String,
    /// The settings now in force (`None` when the company has none).
    pub settings: Option<super::CompanySettings>,
    /// The run, for a sync mail.
    pub sync: Option<super::company::SyncEnd>,
    /// The ingestion, for an ingestion mail.
    pub ingestion: Option<crate::domain::ingest::IngestionEnd>,
}

/// Renders a company mail.
pub fn render_company(
    template: Template,
    context: &CompanyContext,
) -> Result<Rendered, RenderError> {
    let (_, subject) = file_and_subject(template);
    let settings = context.settings.as_ref().map(|settings| {
        minijinja::context! {
            recipients => settings.recipients.len(),
            immediate => settings.immediate,
            signals => settings.signals.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            digest => settings.digest.as_ref().map(|d| format!("{:02}:00 {}", d.hour, d.time_zone)),
            member_messages => settings.member_messages,
            alert_phones => settings.alert_phones.len(),
        }
    });
    let values = minijinja::context! {
        headline => subject,
        subject => subject,
        company_id => &context.company_id,
        at => &context.at,
        sender_name => &context.sender_name,
        settings => settings,
        run_id => context.sync.as_ref().map(|run| run.run_id.clone()),
        seen => context.sync.as_ref().map(|run| run.seen),
        drifted => context.sync.as_ref().map(|run| run.drifted),
        error => context.sync.as_ref().and_then(|run| run.error.clone()),
        ingestion => context.ingestion.as_ref().map(|job| minijinja::context! {
            job_id => &job.job_id,
            file_name => &job.file_name,
            rows_read => job.rows_read,
            sales_written => job.sales_written,
            duplicates_skipped => job.duplicates_skipped,
            rows_rejected => job.rows_rejected,
            reason => job.failure.as_ref().map(|f| f.reason.clone()),
        }),
    };
    render_values(template, &values)
}

/// What the daily digest shows (personal data: no `Debug`).
#[derive(Clone)]
pub struct DigestContext {
    pub company_id: String,
    /// The digest's local date, as `2026-03-01`.
    pub date: String,
    pub listing: DigestListing,
    pub sender_name: String,
}

/// Renders [`Template::CreatorDigest`].
pub fn render_digest(context: &DigestContext) -> Result<Rendered, RenderError> {
    let template = Template::CreatorDigest;
    let (_, subject) = file_and_subject(template);
    let values = minijinja::context! {
        headline => subject,
        subject => subject,
        company_id => &context.company_id,
        date => &context.date,
        rows => context.listing.rows.iter().map(|row| minijinja::context! {
            membership_id => &row.membership_id,
            member => &row.member,
            signal => row.signal.as_str(),
            since => &row.since,
            value => &row.value,
        }).collect::<Vec<_>>(),
        counts => context.listing.counts.iter().map(|count| minijinja::context! {
            signal => count.signal.as_str(),
            count => count.count,
            more => count.more,
        }).collect::<Vec<_>>(),
        sender_name => &context.sender_name,
    };
    render_values(template, &values)
}

/// The HTML and text parts of `template` with `values`.
fn render_values(template: Template, values: &minijinja::Value) -> Result<Rendered, RenderError> {
    let error = |detail: String| RenderError {
        template: template.name(),
        detail,
    };
    let env = TEMPLATES.as_ref().map_err(|e| error(e.clone()))?;
    let (file, subject) = file_and_subject(template);
    let part = |extension: &str| {
        env.get_template(&format!("{file}.{extension}"))
            .and_then(|t| t.render(values))
            .map_err(|e| error(e.to_string()))
    };
    Ok(Rendered {
        subject: subject.to_owned(),
        html: part("html")?,
        text: part("txt")?,
    })
}
