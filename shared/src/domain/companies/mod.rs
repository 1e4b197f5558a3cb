//! The creator's view of a company (`docs/architecture.md`, "Creator view"): who is at risk,
//! churned or recovered, what it is worth, and who is told about it.
//!
//! - [`access`]: who may see a company: the provider's access check, cached briefly, failing
//!   closed.
//! - [`rows`]: a membership as a creator's listing shows it.
//! - [`summary`]: the company's figures for a period, a pure function of folded states.
//! - [`settings`]: who is told about what, validated with every problem reported at once.
//! - [`known`]: the companies the deployment knows (from webhooks and admins' access checks),
//!   which the schedule reconciles.
//!
//! The functions below serve the `/companies/{company_id}/…` routes and the `churnsaver company`
//! commands: inputs are checked first (every problem at once), then the viewer's access, then the
//! stores are read.

pub mod access;
pub mod known;
pub mod rows;
pub mod settings;
pub mod summary;

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::emergency::{EmergencySwitch, Marked};
use crate::domain::ports::{
    AccessCheckError, AccessLevel, Clock, CompanyAccess, CompanyMemberships, CreatorPlans,
    DependencyError, EmergencyStore, SettingsStore,
};
use crate::domain::state::model::SignalKind;
use crate::domain::state::{DEFAULT_PAGE, MAX_PAGE, ReadError, Viewer, check_id};
use rows::MembershipRow;
use settings::CompanySettings;
use summary::{KnownMembership, Period, Summary};

/// Page size of the summary's reads of a company's memberships.
pub const SUMMARY_PAGE: usize = 100;
/// The most memberships one summary reads (50 pages of [`SUMMARY_PAGE`]); past it the summary
/// says `truncated` and covers the first ones in membership-id order.
pub const SUMMARY_MAX_MEMBERSHIPS: usize = 5_000;
/// The summary's period when `since` is not given: this long before `until`.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;
/// The longest period a summary covers.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// One problem with a field of a request, reported together with every other one: the field,
/// what is wrong, how to fix it (the shape `churnsaver config check` reports configuration in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl FieldProblem {
    pub fn new(
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.field, self.problem, self.fix)
    }
}

/// `N <what> problem(s): a; b; …`.
fn describe(what: &str, problems: &[FieldProblem]) -> String {
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!(
        "{} {what} problem(s): {}",
        problems.len(),
        listed.join("; ")
    )
}

/// Why a creator-view request was refused. The messages are the ones callers see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompanyError {
    /// A path id that cannot be a key.
    #[error(transparent)]
    InvalidId(ReadError),
    /// Query parameters that do not parse, every problem listed.
    #[error("{}", describe("query", .0))]
    InvalidQuery(Vec<FieldProblem>),
    /// Settings that do not validate, every problem listed.
    #[error("{}", describe("settings", .0))]
    InvalidSettings(Vec<FieldProblem>),
    /// The provider says the user does not administer the company.
    #[error("not an admin of this company")]
    NotCompanyAdmin,
    /// The provider could not be asked and no fresh answer is cached: refused (fail closed).
    #[error("the company access check is unavailable; retry later")]
    AccessCheckUnavailable,
    /// The state table failed (logged where it happened).
    #[error("state table is unavailable; retry later")]
    Unavailable,
    /// An analytics body that does not validate, every problem listed (`domain::analytics`).
    #[error("{}", describe("analytics", .0))]
    InvalidAnalytics(Vec<FieldProblem>),
    /// The company has not turned analytics on.
    #[error("the company has no analytics property")]
    AnalyticsNotSet,
    /// The caller's plan does not allow what the request asks ([`crate::domain::creators::plan`]).
    #[error(transparent)]
    PlanRequired(#[from] crate::domain::creators::plan::PlanRequired),
}

pub(crate) fn unavailable(error: &DependencyError) -> CompanyError {
    tracing::error!(%error, "the state table failed");
    CompanyError::Unavailable
}

/// The `{company_id}` of a route.
pub fn check_company(company_id: &str) -> Result<(), CompanyError> {
    check_id("company_id", company_id).map_err(CompanyError::InvalidId)
}

/// Lets `viewer` at `company_id`: operators (the CLI, with direct access to the table) always; a
/// signed-in user when the provider says they administer it.
pub async fn authorize(
    access: &impl CompanyAccess,
    viewer: Viewer<'_>,
    company_id: &str,
) -> Result<(), CompanyError> {
    let Viewer::User(user_id) = viewer else {
        return Ok(());
    };
    match access.access_level(user_id, company_id).await {
        Ok(AccessLevel::Admin) => Ok(()),
        Ok(AccessLevel::Customer | AccessLevel::NoAccess) => Err(CompanyError::NotCompanyAdmin),
        Err(AccessCheckError::Unavailable(reason)) => {
            tracing::warn!(%reason, "the company access check is unavailable; refusing");
            Err(CompanyError::AccessCheckUnavailable)
        }
    }
}

/// `?signal=&limit=&after=` as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct MembershipsQuery<'a> {
    pub signal: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// A page of a company's memberships: its rows, or (the routes' answer) its rows marked by the
/// emergency switches ([`CompanyMembershipsPage::marked`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanyMembershipsPage<R = MembershipRow> {
    pub company_id: String,
    /// The open signal listed; absent when the page lists every membership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalKind>,
    pub memberships: Vec<R>,
    /// The `after` of the next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Whether a row is served stale (emergency mode); absent when none is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

impl CompanyMembershipsPage {
    /// The page with each row [`Marked`] by `switch` (stale while its provider's emergency mode
    /// is on), and `stale` when any row is.
    pub async fn marked<S: EmergencyStore, C: Clock>(
        self,
        switch: &EmergencySwitch<S, C>,
    ) -> CompanyMembershipsPage<Marked<MembershipRow>> {
        let (memberships, stale) = switch.mark_rows(self.memberships).await;
        CompanyMembershipsPage {
            company_id: self.company_id,
            signal: self.signal,
            memberships,
            next: self.next,
            stale,
        }
    }
}

/// The signal kind named `text`.
pub fn parse_signal(text: &str) -> Option<SignalKind> {
    SignalKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == text)
}

/// The query of the memberships listing, or every problem with it.
fn parse_memberships_query(
    query: MembershipsQuery<'_>,
) -> Result<(Option<SignalKind>, usize), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let signal = query.signal.and_then(|text| {
        let parsed = parse_signal(text);
        if parsed.is_none() {
            problems.push(FieldProblem::new(
                "signal",
                format!("`{text}` is not a signal"),
                "use one of at_risk, cancel_scheduled, churned, recovered, or leave it out for every membership",
            ));
        }
        parsed
    });
    let limit = match query.limit.map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(limit @ 1..=MAX_PAGE)) => limit,
        Some(_) => {
            problems.push(FieldProblem::new(
                "limit",
                "is not a whole number from 1 to 100",
                format!("give 1–{MAX_PAGE}, or leave it out for {DEFAULT_PAGE}"),
            ));
            DEFAULT_PAGE
        }
    };
    if let Some(after) = query.after
        && check_id("after", after).is_err()
    {
        problems.push(FieldProblem::new(
            "after",
            "is not a cursor",
            "pass the `next` of the previous page",
        ));
    }
    if problems.is_empty() {
        Ok((signal, limit))
    } else {
        Err(problems)
    }
}

/// `GET /companies/{company_id}/memberships?signal=&limit=&after=`: the company's memberships
/// with that open signal, most recent signal first; without `signal`, all of them in
/// membership-id order.
pub async fn company_memberships(
    access: &impl CompanyAccess,
    store: &impl CompanyMemberships,
    viewer: Viewer<'_>,
    company_id: &str,
    query: MembershipsQuery<'_>,
) -> Result<CompanyMembershipsPage, CompanyError> {
    check_company(company_id)?;
    let (signal, limit) = parse_memberships_query(query).map_err(CompanyError::InvalidQuery)?;
    authorize(access, viewer, company_id).await?;
    let page = match signal {
        Some(kind) => {
            store
                .with_open_signal(company_id, kind, limit, query.after)
                .await
        }
        None => store.of_company(company_id, limit, query.after).await,
    }
    .map_err(|error| unavailable(&error))?;
    Ok(CompanyMembershipsPage {
        company_id: company_id.to_owned(),
        signal,
        memberships: page
            .items
            .iter()
            .map(|stored| MembershipRow::new(&stored.state(), signal))
            .collect(),
        next: page.next,
        stale: false,
    })
}

/// `?since=&until=` as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryQuery<'a> {
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
}

/// The summary's period: `until` defaults to now, `since` to [`DEFAULT_PERIOD_DAYS`] before it.
pub fn parse_period(
    query: SummaryQuery<'_>,
    now: DateTime<Utc>,
) -> Result<Period, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut time = |field: &str, text: Option<&str>| {
        let text = text?;
        let parsed = DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc());
        if parsed.is_none() {
            problems.push(FieldProblem::new(
                field,
                format!("`{text}` is not an RFC 3339 time"),
                "write it like 2026-03-01T00:00:00Z",
            ));
        }
        parsed
    };
    let until = time("until", query.until);
    let since = time("since", query.since);
    if !problems.is_empty() {
        return Err(problems);
    }
    let until = until.unwrap_or(now);
    let since = since.unwrap_or(until - Duration::days(DEFAULT_PERIOD_DAYS));
    if since >= until {
        problems.push(FieldProblem::new(
            "since",
            "is not before `until`",
            "give a `since` earlier than `until`",
        ));
    } else if until - since > Duration::days(MAX_PERIOD_DAYS) {
        problems.push(FieldProblem::new(
            "since",
            format!("the period is longer than {MAX_PERIOD_DAYS} days"),
            "ask for a shorter period",
        ));
    }
    if problems.is_empty() {
        Ok(Period { since, until })
    } else {
        Err(problems)
    }
}

/// `GET /companies/{company_id}/summary?since=&until=`: [`summary::summarize`] over the folded
/// states of the company's memberships (at most [`SUMMARY_MAX_MEMBERSHIPS`]).
pub async fn company_summary(
    access: &impl CompanyAccess,
    store: &impl CompanyMemberships,
    clock: &impl Clock,
    viewer: Viewer<'_>,
    company_id: &str,
    query: SummaryQuery<'_>,
) -> Result<Summary, CompanyError> {
    check_company(company_id)?;
    let period = parse_period(query, clock.now()).map_err(CompanyError::InvalidQuery)?;
    authorize(access, viewer, company_id).await?;
    let (memberships, truncated) = company_states(store, company_id).await?;
    let mut summary = summary::summarize(company_id, &memberships, period);
    summary.truncated = truncated;
    Ok(summary)
}

/// The company's memberships, folded, at most [`SUMMARY_MAX_MEMBERSHIPS`]; whether there were
/// more.
async fn company_states(
    store: &impl CompanyMemberships,
    company_id: &str,
) -> Result<(Vec<KnownMembership>, bool), CompanyError> {
    let mut states = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .of_company(company_id, SUMMARY_PAGE, after.as_deref())
            .await
            .map_err(|error| unavailable(&error))?;
        states.extend(page.items.iter().map(KnownMembership::from));
        match page.next {
            Some(next) if states.len() < SUMMARY_MAX_MEMBERSHIPS => after = Some(next),
            Some(_) => {
                states.truncate(SUMMARY_MAX_MEMBERSHIPS);
                return Ok((states, true));
            }
            None => return Ok((states, false)),
        }
    }
}

/// `GET /companies/{company_id}/settings`: the stored settings, or the defaults.
pub async fn company_settings(
    access: &impl CompanyAccess,
    store: &impl SettingsStore,
    viewer: Viewer<'_>,
    company_id: &str,
) -> Result<CompanySettings, CompanyError> {
    check_company(company_id)?;
    authorize(access, viewer, company_id).await?;
    store
        .company_settings(company_id)
        .await
        .map(Option::unwrap_or_default)
        .map_err(|error| unavailable(&error))
}

/// `PUT /companies/{company_id}/settings`: `body` validated (every problem at once), then stored
/// in place of the previous settings. Turning member messages on needs a plan that allows them
/// (the caller's, [`crate::domain::creators::plan::require`]); operators are not asked.
pub async fn put_company_settings(
    access: &impl CompanyAccess,
    plans: &impl CreatorPlans,
    store: &impl SettingsStore,
    viewer: Viewer<'_>,
    company_id: &str,
    body: &[u8],
) -> Result<CompanySettings, CompanyError> {
    replace_company_settings(access, plans, store, viewer, company_id, body)
        .await
        .map(|(_, saved)| saved)
}

/// [`put_company_settings`], also returning the settings it replaced (one GetItem more), which
/// the settings-change confirmation is sent to (`domain::notify::company`).
pub async fn replace_company_settings(
    access: &impl CompanyAccess,
    plans: &impl CreatorPlans,
    store: &impl SettingsStore,
    viewer: Viewer<'_>,
    company_id: &str,
    body: &[u8],
) -> Result<(Option<CompanySettings>, CompanySettings), CompanyError> {
    check_company(company_id)?;
    let mut settings = settings::parse(body).map_err(CompanyError::InvalidSettings)?;
    authorize(access, viewer, company_id).await?;
    if let (Viewer::User(user_id), true) = (viewer, settings.member_messages) {
        use crate::domain::creators::plan::{Feature, require};
        let plan = plans.plan(user_id).await.map_err(|e| unavailable(&e))?;
        require(plan.tier, Feature::MemberMessages)?;
        settings.member_messages_by = Some(user_id.to_owned());
    }
    let previous = store
        .company_settings(company_id)
        .await
        .map_err(|error| unavailable(&error))?;
    store
        .put_company_settings(company_id, &settings)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok((previous, settings))
}

#[cfg(test)]
mod tests;
