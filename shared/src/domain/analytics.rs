//! Churn and recovery events sent to a company's Google Analytics 4 property through the
//! Measurement Protocol, when the company turned it on (`docs/architecture.md`, "Analytics";
//! `docs/providers.md`, "GA4").
//!
//! - A creator sets the property with `PUT /companies/{company_id}/analytics` (`measurement_id`
//!   and the Measurement Protocol `api_secret`); the secret is sealed with the deployment's data
//!   key (bound to the company) before it is stored, and never shown again. `GET` shows the
//!   measurement id, `DELETE` turns analytics off.
//! - For each notification job (a signal opened or closed), the notifier sends one batch: one
//!   `churn_signal_opened` / `churn_signal_closed` event per change, with the signal, the
//!   provider and, where the membership's last payment states them, its amount as `value` and
//!   `currency`. The `client_id` is a digest of the company and the membership: nothing in an
//!   event names or reaches a person.
//! - GA4 has no idempotency key, so a batch is claimed like a message ([`claim_key`]) before it
//!   is sent and recorded after: a duplicated job sends it once.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::companies::{CompanyError, FieldProblem, authorize, check_company, unavailable};
use crate::domain::connections::seal::{DataKeys, SealError};
use crate::domain::notify::{Change, NotificationJob};
use crate::domain::ports::{AnalyticsStore, Clock, CompanyAccess, SecretSource};
use crate::domain::state::Viewer;
use crate::domain::state::model::MembershipState;

/// Largest body `PUT /companies/{company_id}/analytics` reads.
pub const MAX_ANALYTICS_BYTES: usize = 1024;

/// A company's GA4 property, as stored: the measurement id and the sealed API secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsTarget {
    /// `G-…`.
    pub measurement_id: String,
    /// The Measurement Protocol API secret, sealed ([`DataKeys::seal`] with [`seal_context`]).
    pub sealed_api_secret: String,
}

/// What the routes show of a company's analytics: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnalyticsView {
    pub measurement_id: String,
    pub enabled: bool,
}

/// What the data key binds a company's API secret to: one company's sealed secret does not open
/// as another's.
pub fn seal_context(company_id: &str) -> String {
    format!("ga4:{company_id}")
}

/// `G-` and 4 to 20 upper-case letters or digits, as GA4 shows web stream measurement ids.
pub fn valid_measurement_id(id: &str) -> bool {
    id.strip_prefix("G-").is_some_and(|rest| {
        (4..=20).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// An API secret as GA4 issues them: 8 to 64 letters, digits, `-` or `_`.
fn valid_api_secret(secret: &str) -> bool {
    (8..=64).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The body of `PUT /companies/{company_id}/analytics`: `{measurement_id, api_secret}`, every
/// problem listed.
fn parse(body: &[u8]) -> Result<(String, String), Vec<FieldProblem>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        measurement_id: String,
        api_secret: String,
    }
    let body: Body = serde_json::from_slice(body).map_err(|error| {
        // The category and position only: serde's message may quote the secret.
        vec![FieldProblem::new(
            "",
            format!(
                "the body is not `{{\"measurement_id\", \"api_secret\"}}` ({:?} error at column {})",
                error.classify(),
                error.column()
            ),
            "send a JSON object with exactly `measurement_id` and `api_secret`",
        )]
    })?;
    let mut problems = Vec::new();
    if !valid_measurement_id(&body.measurement_id) {
        problems.push(FieldProblem::new(
            "measurement_id",
            "is not a GA4 measurement id",
            "use the web stream's id, `G-` and 4 to 20 upper-case letters or digits",
        ));
    }
    if !valid_api_secret(&body.api_secret) {
        problems.push(FieldProblem::new(
            "api_secret",
            "is not a Measurement Protocol API secret",
            "use a secret from the stream's Measurement Protocol API secrets (8 to 64 letters, digits, `-` or `_`)",
        ));
    }
    if problems.is_empty() {
        Ok((body.measurement_id, body.api_secret))
    } else {
        Err(problems)
    }
}

fn sealing_failed(error: &SealError) -> CompanyError {
    tracing::error!(%error, "the data key is unavailable: the API secret cannot be sealed");
    CompanyError::Unavailable
}

/// `PUT /companies/{company_id}/analytics`: validates, authorizes, seals the secret, stores.
///
/// # Errors
/// Invalid id or body (400), not an admin (403), the access check, the data key or the table
/// unavailable (503).
pub async fn replace<S: SecretSource, C: Clock>(
    access: &impl CompanyAccess,
    store: &impl AnalyticsStore,
    keys: &DataKeys<S, C>,
    viewer: Viewer<'_>,
    company_id: &str,
    body: &[u8],
) -> Result<AnalyticsView, CompanyError> {
    check_company(company_id)?;
    let (measurement_id, api_secret) = parse(body).map_err(CompanyError::InvalidAnalytics)?;
    authorize(access, viewer, company_id).await?;
    let sealed_api_secret = keys
        .seal(&api_secret, &seal_context(company_id))
        .await
        .map_err(|error| sealing_failed(&error))?;
    let target = AnalyticsTarget {
        measurement_id,
        sealed_api_secret,
    };
    store
        .put_company_analytics(company_id, &target)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(AnalyticsView {
        measurement_id: target.measurement_id,
        enabled: true,
    })
}

/// `GET /companies/{company_id}/analytics`.
///
/// # Errors
/// As [`replace`]; `AnalyticsNotSet` (404) when the company has none.
pub async fn show(
    access: &impl CompanyAccess,
    store: &impl AnalyticsStore,
    viewer: Viewer<'_>,
    company_id: &str,
) -> Result<AnalyticsView, CompanyError> {
    check_company(company_id)?;
    authorize(access, viewer, company_id).await?;
    let target = store
        .company_analytics(company_id)
        .await
        .map_err(|error| unavailable(&error))?
        .ok_or(CompanyError::AnalyticsNotSet)?;
    Ok(AnalyticsView {
        measurement_id: target.measurement_id,
        enabled: true,
    })
}

/// `DELETE /companies/{company_id}/analytics`: turns analytics off (done when already off).
///
/// # Errors
/// As [`show`], without `AnalyticsNotSet`.
pub async fn remove(
    access: &impl CompanyAccess,
    store: &impl AnalyticsStore,
    viewer: Viewer<'_>,
    company_id: &str,
) -> Result<(), CompanyError> {
    check_company(company_id)?;
    authorize(access, viewer, company_id).await?;
    store
        .delete_company_analytics(company_id)
        .await
        .map_err(|error| unavailable(&error))
}

/// One Measurement Protocol event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticsEvent {
    pub name: &'static str,
    pub params: AnalyticsParams,
}

/// An event's parameters: the signal, the provider and, when known, what the membership is
/// worth a period (GA4's `value` and `currency`). Nothing personal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticsParams {
    pub signal: &'static str,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// A Measurement Protocol request body: `{client_id, events}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticsBatch {
    pub client_id: String,
    pub events: Vec<AnalyticsEvent>,
}

/// The pseudonymous client id of a membership: 32 hex digits of SHA-256 over the company and
/// the membership, stable across events so GA4 counts one client per membership.
pub fn client_id(company_id: &str, membership_id: &str) -> String {
    let digest = Sha256::digest(format!("{company_id}\n{membership_id}").as_bytes());
    hex::encode(&digest[..16])
}

/// The events of `job` for `company_id`, with the value of `state`'s last payment: `None` when
/// the job changed no signal.
pub fn batch_of(
    job: &NotificationJob,
    company_id: &str,
    state: &MembershipState,
) -> Option<AnalyticsBatch> {
    let paid = state.payments.iter().find(|p| p.amount.is_some());
    let value = paid
        .and_then(|p| p.amount.as_deref())
        .and_then(|amount| amount.parse::<f64>().ok());
    let currency = paid
        .and_then(|p| p.currency.as_deref())
        .map(str::to_ascii_uppercase);
    let events: Vec<AnalyticsEvent> = job
        .changes
        .iter()
        .map(|change| AnalyticsEvent {
            name: match change.change {
                Change::Opened => "churn_signal_opened",
                Change::Closed => "churn_signal_closed",
            },
            params: AnalyticsParams {
                signal: change.signal.as_str(),
                provider: job.provider.to_string(),
                value: value.filter(|_| currency.is_some()),
                currency: currency.clone().filter(|_| value.is_some()),
            },
        })
        .collect();
    (!events.is_empty()).then(|| AnalyticsBatch {
        client_id: client_id(company_id, &job.membership_id),
        events,
    })
}

/// The claim of `job`'s batch: the membership and each change (signal, kind, start), hashed,
/// so a duplicated job finds the batch already sent.
pub fn claim_key(job: &NotificationJob) -> String {
    let mut hasher = Sha256::new();
    hasher.update(job.membership_id.as_bytes());
    for change in &job.changes {
        let kind = match change.change {
            Change::Opened => "opened",
            Change::Closed => "closed",
        };
        hasher.update(
            format!(
                "\n{}:{kind}:{}",
                change.signal.as_str(),
                change.started_at.timestamp_millis()
            )
            .as_bytes(),
        );
    }
    format!("ga4:{}", hex::encode(&hasher.finalize()[..16]))
}

#[cfg(test)]
mod tests;
