//! The provider API sync reads: a page of memberships of a scope, one membership by id. The
//! provider's adapter converts its own records and errors into these types.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::sales::SaleEvent;
use crate::domain::state::model::PaymentFacts;
use crate::domain::sync::Scope;

/// A membership as the provider's API lists it: what sync compares with stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMembership {
    pub id: String,
    /// The provider's status, as text (a new status is not an error).
    pub status: String,
    pub cancel_at_period_end: Option<bool>,
    /// Whether the membership grants access, when the provider's status says so plainly
    /// (Gumroad's ended subscribers: `false`); `None` leaves it to the status.
    pub valid: Option<bool>,
    /// The API's version of the membership; without it there is nothing to write at.
    pub updated_at: Option<DateTime<Utc>>,
    pub renewal_period_start: Option<DateTime<Utc>>,
    pub renewal_period_end: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub company_id: Option<String>,
    pub product_id: Option<String>,
    pub plan_id: Option<String>,
    /// The payment standing the API states (PayPal's `billing_info`: its last payment, or its
    /// failed payments), written with the membership when it differs from the stored one.
    pub payment: Option<PaymentFacts>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipPage {
    pub memberships: Vec<ListedMembership>,
    /// The cursor of the next page, when the provider says there is one.
    pub next_cursor: Option<String>,
    /// Sales the page listed (Gumroad's), written as sales events.
    pub sales: Vec<SaleEvent>,
    /// The listing moved on without listing a membership or a sale here (Gumroad: a page of
    /// products, a product without subscribers): not the end of the listing.
    pub progressed: bool,
}

impl MembershipPage {
    /// Whether the page neither listed anything nor moved on: the end of a listing.
    pub fn is_empty(&self) -> bool {
        self.memberships.is_empty() && self.sales.is_empty() && !self.progressed
    }
}

/// How a call to the provider failed, as far as deciding between pausing and failing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFailure {
    /// Rate limited, with the wait the provider asked for (if it said).
    RateLimited { retry_after: Option<Duration> },
    /// Not callable now (circuit open, budget spent, timeout, unreachable, a 5xx, no key yet):
    /// trying later can succeed.
    Unavailable,
    /// Switched off by an operator (emergency mode): trying later can succeed, and waiting for
    /// it does not count as the provider failing.
    Suspended,
    /// Refused for good (a 4xx such as 400, 401 or 404).
    Refused,
    /// Refused for good because the app may no longer read the company (Whop: 403): its access
    /// was revoked. The company stops being scheduled ([`ACCESS_REVOKED`]).
    AccessRevoked,
    /// An answer that could not be read.
    Decode,
}

/// The stable reason of a run whose company's access was revoked.
pub const ACCESS_REVOKED: &str = "company_access_revoked";

/// A failed provider call: its kind, its stable code (stored on runs and logged) and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MembershipSourceError {
    pub failure: SourceFailure,
    pub code: &'static str,
    pub message: String,
}

impl MembershipSourceError {
    pub fn new(failure: SourceFailure, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            failure,
            code,
            message: message.into(),
        }
    }

    /// Stable code for logs, metrics and error bodies.
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// Whether trying again later could succeed.
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self.failure,
            SourceFailure::RateLimited { .. }
                | SourceFailure::Unavailable
                | SourceFailure::Suspended
        )
    }

    /// How long to wait before trying again, when the provider said.
    pub const fn retry_after(&self) -> Option<Duration> {
        match self.failure {
            SourceFailure::RateLimited { retry_after } => retry_after,
            _ => None,
        }
    }
}

/// The provider's membership API. Users' own syncs of one membership are Whop's: another
/// provider's source lists pages only and keeps the defaults (no id is its, none is found).
pub trait MembershipSource: Send + Sync {
    /// Whether `id` has the shape of one of the provider's membership ids.
    fn is_membership_id(&self, _id: &str) -> bool {
        false
    }

    /// The page of `scope`'s memberships after `cursor` (the first page without one).
    fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<MembershipPage, MembershipSourceError>> + Send;

    /// One membership; `None` when the provider does not know it.
    fn get_membership(
        &self,
        _id: &str,
    ) -> impl Future<Output = Result<Option<ListedMembership>, MembershipSourceError>> + Send {
        async { Ok(None) }
    }
}
