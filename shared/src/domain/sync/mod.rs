//! Reconciling state with a provider's API (`docs/architecture.md`, "A sync page").
//!
//! A run lists the memberships of its [`Scope`] one page at a time. Each page is a [`PageJob`] on
//! the `sync-jobs` queue carrying the page's cursor, so a run is resumable, bounded per invocation
//! and spread over time. Progress, counts and drift live in the run's item ([`SyncRun`]).
//!
//! Each membership the API lists is compared with the stored state ([`verdict`]). Only drift,
//! a membership the API reports newer than anything stored and different from it, is written, as
//! an observation versioned by the API's `updated_at`. The write goes through the processor's
//! storage rule, so sync never overrides a newer webhook and a webhook never overrides an older
//! sync. A store in step costs one batch read per page and no writes.
//!
//! A page job may be delivered twice: the next page's job is sent before the page is counted, and
//! a page counts once (its number joins the run's set of done pages under a condition). The
//! writes themselves are idempotent (an observation's id is derived from the membership and its
//! `updated_at`).

pub mod by_provider;
pub mod worker;

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ports::ListedMembership;
use crate::domain::state::model::{
    MembershipFacts, MembershipState, Observation, PaymentFacts, PaymentStatus, Version,
};

/// The provider a user's own sync (`POST /sync`) reads.
pub const PROVIDER: &str = "whop";
/// The observation kind sync writes.
pub const SYNC_KIND: &str = "sync.membership";

/// Whose API a run lists: Whop's (the company's memberships through the app's key), or one
/// company's Gumroad connection (its seller's products, subscribers and sales, with the
/// connection's token). Stored in the run's scope; a scope without one is Whop's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum SyncProvider {
    #[default]
    Whop,
    Gumroad {
        seller_id: String,
    },
    /// The company's Stripe account (its key in `STRIPE_API_KEYS_SECRET_ID`).
    Stripe,
    /// The PayPal subscriptions stored for the company (`PAYPAL_COMPANY_ID`), each re-read.
    #[serde(rename = "paypal")]
    PayPal,
}

impl SyncProvider {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Whop => "whop",
            Self::Gumroad { .. } => "gumroad",
            Self::Stripe => "stripe",
            Self::PayPal => "paypal",
        }
    }

    pub fn is_whop(&self) -> bool {
        matches!(self, Self::Whop)
    }
}

/// Which memberships a run covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Whose API lists them.
    #[serde(default, skip_serializing_if = "SyncProvider::is_whop")]
    pub provider: SyncProvider,
    pub company_id: String,
    /// Only this user's memberships (a user's own `POST /sync`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Only memberships created after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

impl Scope {
    /// A run over all of `company_id`'s memberships at Whop.
    pub fn company(company_id: impl Into<String>) -> Self {
        Self {
            provider: SyncProvider::Whop,
            company_id: company_id.into(),
            user_id: None,
            since: None,
        }
    }

    /// A run over a company's Gumroad connection to `seller_id`.
    pub fn gumroad(company_id: impl Into<String>, seller_id: impl Into<String>) -> Self {
        Self {
            provider: SyncProvider::Gumroad {
                seller_id: seller_id.into(),
            },
            ..Self::company(company_id)
        }
    }

    /// A run over a company's Stripe account.
    pub fn stripe(company_id: impl Into<String>) -> Self {
        Self {
            provider: SyncProvider::Stripe,
            ..Self::company(company_id)
        }
    }

    /// A run over the PayPal subscriptions stored for a company.
    pub fn paypal(company_id: impl Into<String>) -> Self {
        Self {
            provider: SyncProvider::PayPal,
            ..Self::company(company_id)
        }
    }

    /// Runs with the same key exclude each other.
    pub fn lock_key(&self) -> String {
        match (&self.provider, &self.user_id) {
            (SyncProvider::Gumroad { .. }, _) => format!("gumroad:company:{}", self.company_id),
            (SyncProvider::Stripe, _) => format!("stripe:company:{}", self.company_id),
            (SyncProvider::PayPal, _) => format!("paypal:company:{}", self.company_id),
            (SyncProvider::Whop, Some(user_id)) => format!("user:{user_id}"),
            (SyncProvider::Whop, None) => format!("company:{}", self.company_id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Waiting for the provider (breaker open, rate limited, unreachable); resumes by itself.
    Paused,
    Completed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Paused, Self::Completed, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// What a run found, summed over its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    /// Memberships the API listed.
    pub seen: u64,
    /// Already as the API says.
    pub unchanged: u64,
    /// Newer in the API and different: written (includes memberships never stored).
    pub drifted: u64,
    /// Different, but the stored state is newer than the API's `updated_at` (a later webhook).
    pub newer_locally: u64,
    /// Listed without an `updated_at`, so there is no version to write them at.
    pub skipped: u64,
    /// Sales events written that were not stored yet (Gumroad's sales).
    #[serde(default)]
    pub sales_recorded: u64,
}

impl SyncCounts {
    pub fn add(&mut self, other: &Self) {
        self.seen += other.seen;
        self.unchanged += other.unchanged;
        self.drifted += other.drifted;
        self.newer_locally += other.newer_locally;
        self.skipped += other.skipped;
        self.sales_recorded += other.sales_recorded;
    }

    /// The counts as `(name, value)` pairs, for the run item, metrics and the CLI.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("seen", self.seen),
            ("unchanged", self.unchanged),
            ("drifted", self.drifted),
            ("newer_locally", self.newer_locally),
            ("skipped", self.skipped),
            ("sales_recorded", self.sales_recorded),
        ]
    }
}

/// A run as its item holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub run_id: String,
    pub scope: Scope,
    /// `schedule`, `cli`, or `user:<id>`.
    pub trigger: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Pages counted so far.
    pub pages: u64,
    /// The number of the last page, once a page said it was the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_page: Option<u64>,
    pub counts: SyncCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// The code of the last error that paused or failed the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The numbers of the pages counted.
    #[serde(skip)]
    pub done_pages: BTreeSet<u64>,
    /// The page after the last one counted, and its listing cursor: where maintenance resumes a
    /// run whose chain of page jobs was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<(u64, String)>,
    /// How many times maintenance resumed the run.
    #[serde(default)]
    pub resumes: u32,
}

impl SyncRun {
    /// A run starting now.
    pub fn new(scope: Scope, trigger: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            run_id: new_run_id(now),
            scope,
            trigger: trigger.into(),
            status: RunStatus::Running,
            started_at: now,
            updated_at: now,
            finished_at: None,
            pages: 0,
            last_page: None,
            counts: SyncCounts::default(),
            paused_until: None,
            last_error: None,
            done_pages: BTreeSet::new(),
            next_page: None,
            resumes: 0,
        }
    }

    /// Every page up to the last was counted.
    pub fn all_pages_done(&self) -> bool {
        self.last_page.is_some_and(|last| self.pages > last)
    }
}

/// Run ids sort by start time: `run_20261123T163000123Z_1a2b3c4d`.
fn new_run_id(now: DateTime<Utc>) -> String {
    format!(
        "run_{}_{:08x}",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        fastrand::u32(..)
    )
}

/// One page of a run: the `sync-jobs` message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageJob {
    pub run_id: String,
    /// 0 for the first page.
    pub page: u64,
    /// The listing cursor of this page; `None` for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// How many times this page was put off (breaker open, rate limited).
    #[serde(default)]
    pub deferrals: u32,
}

impl PageJob {
    /// The `sync-jobs` message of this job, held back `delay`.
    pub fn message(
        &self,
        delay: Option<std::time::Duration>,
    ) -> Result<crate::domain::ports::OutboundMessage, crate::domain::ports::DependencyError> {
        let body = serde_json::to_string(self).map_err(|e| {
            crate::domain::ports::DependencyError::Other(format!("cannot encode a page job: {e}"))
        })?;
        Ok(crate::domain::ports::OutboundMessage {
            body,
            attributes: vec![("run_id", self.run_id.clone())],
            delay,
        })
    }
}

/// How long a user waits between their own syncs: each costs Whop API calls that the company's
/// runs share, so a user cannot spend them in a loop.
pub const USER_SYNC_COOLDOWN: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Starting a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRun {
    Started,
    /// Run `run_id` holds the scope's lock until `until`: it is running, or it is a user's run
    /// that ended less than [`USER_SYNC_COOLDOWN`] ago.
    Held {
        run_id: String,
        until: DateTime<Utc>,
    },
}

/// What the API's view of a membership means for the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The stored state already says what the API says.
    Unchanged,
    /// The API is newer and says something else (or nothing is stored): write it. The fields
    /// that differ (empty for a membership never stored).
    Drift(Vec<&'static str>),
    /// The stored state differs but is newer than the API's `updated_at`: a webhook the API's
    /// answer predates. Left alone.
    NewerLocally(Vec<&'static str>),
    /// The API gave no `updated_at`, so there is no version to write at.
    Skipped,
}

/// The observation a listed membership makes: its facts at the API's `updated_at`. The event id
/// is derived from both, so the same answer read twice is the same observation.
pub fn observation_of(membership: &ListedMembership) -> Option<Observation> {
    let at = membership.updated_at?;
    let event_id = format!(
        "sync_{}_{}",
        membership.id,
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    Some(Observation {
        version: Version::new(at, event_id),
        kind: SYNC_KIND.to_owned(),
        membership: MembershipFacts {
            user_id: membership.user_id.clone(),
            company_id: membership.company_id.clone(),
            product_id: membership.product_id.clone(),
            plan_id: membership.plan_id.clone(),
            status: Some(membership.status.clone()),
            valid: membership.valid,
            cancel_at_period_end: membership.cancel_at_period_end,
            renewal_period_start: membership.renewal_period_start,
            renewal_period_end: membership.renewal_period_end,
            ..MembershipFacts::default()
        },
        payment: membership.payment.clone(),
    })
}

/// Whether the API's `payment` puts the membership in another standing than its stored last
/// payment: failing where the store has it paid (or knows no payment), or paid where the store
/// has it failing. The same standing is no drift, whichever payment ids say it, and neither is a
/// payment made where the store knows none (nothing was failing).
fn payment_standing_differs(stored: &MembershipState, payment: &PaymentFacts) -> bool {
    let failing = |status: PaymentStatus| status == PaymentStatus::Failed;
    let stored_failing = stored
        .last_payment
        .as_ref()
        .is_some_and(|last| failing(last.status));
    stored_failing != failing(payment.status)
}

/// Compares the API's `observation` of a membership with its stored state.
pub fn verdict(stored: Option<&MembershipState>, observation: Option<&Observation>) -> Verdict {
    let Some(observation) = observation else {
        return Verdict::Skipped;
    };
    let Some(stored) = stored else {
        return Verdict::Drift(Vec::new());
    };
    let mut differences = stored.differences(&observation.membership);
    if observation
        .payment
        .as_ref()
        .is_some_and(|payment| payment_standing_differs(stored, payment))
    {
        differences.push("last_payment");
    }
    if differences.is_empty() {
        Verdict::Unchanged
    } else if stored
        .updated_at()
        .is_some_and(|at| at >= observation.version.at)
    {
        // A tie goes to the stored state: a webhook at the same instant is first-hand.
        Verdict::NewerLocally(differences)
    } else {
        Verdict::Drift(differences)
    }
}

#[cfg(test)]
mod tests;
