//! The messages' text: `shared/templates/email/*.{html,txt}`, embedded at compile time and
//! rendered with `minijinja` (HTML autoescaped). One HTML and one text part per template; the
//! subject is set here, with no personal data in it.

use std::sync::LazyLock;

use minijinja::Environment;

use super::Template;
use super::digest::DigestListing;
use crate::domain::state::model::SignalKind;

/// The template files, by name.
const FILES: [(&str, &str); 9] = [
    (
        "layout.html",
        include_str!("../../../templates/email/layout.html"),
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
        Template::CreatorAlert(SignalKind::AtRisk) => ("creator_alert", "A membership is at risk"),
        Template::CreatorAlert(SignalKind::CancelScheduled) => {
            ("creator_alert", "A membership is set to cancel")
        }
        Template::CreatorAlert(SignalKind::Churned) => ("creator_alert", "A membership churned"),
        Template::CreatorAlert(SignalKind::Recovered) => {
            ("creator_alert", "A membership recovered")
        }
        Template::MemberPaymentFailed => (
            "member_payment_failed",
            "Your payment failed: update your payment method",
        ),
        Template::MemberWinBack => ("member_win_back", "We miss you"),
        Template::MemberCancelScheduled => {
            ("member_cancel_scheduled", "Your membership is set to end")
        }
        Template::CreatorDigest => ("creator_digest", "Your daily churn digest"),
    }
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

/// Renders `template`'s parts with `values`.
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
