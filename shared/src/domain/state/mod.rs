//! Membership and payment state, churn signals, and the processor that builds them from the
//! event stream.
//!
//! - [`model`]: the pure state machine: observations, their fold, signals.
//! - [`observe`]: what a queued event says about a membership.
//! - [`store`]: the storage rule (one conditional write per event, no read) behind a port.
//! - [`process`]: the SQS batch handler's logic.
//! - [`memory`]: in-memory ports for unit tests and benchmarks.
//!
//! The read side ([`membership`], [`user_memberships`]) serves the state routes and the CLI.

pub mod memory;
pub mod model;
pub mod observe;
pub mod process;
pub mod store;

use serde::Serialize;

use crate::domain::ports::DependencyError;
use crate::domain::ports::StateStore;
use model::{MembershipState, SignalKind};
use store::StoredMembership;

/// Longest id the read routes take (provider ids are far shorter).
const MAX_ID_LEN: usize = 128;
/// Page size of a user's memberships when the caller does not say.
pub const DEFAULT_PAGE: usize = 50;
/// Largest page of a user's memberships.
pub const MAX_PAGE: usize = 100;

/// A membership as the API shows it: its state and the kinds of its open signals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipView {
    #[serde(flatten)]
    pub state: MembershipState,
    pub open_signals: Vec<SignalKind>,
}

impl From<&StoredMembership> for MembershipView {
    fn from(stored: &StoredMembership) -> Self {
        let state = stored.state();
        let open_signals = state.open_signals();
        Self {
            state,
            open_signals,
        }
    }
}

/// A page of a user's memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserMemberships {
    pub user_id: String,
    pub memberships: Vec<MembershipView>,
    /// The `after` of the next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Why a read of state was refused. The messages are the ones callers see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// An id (`what` names it) that cannot be a key.
    #[error("`{what}` must be 1–{MAX_ID_LEN} printable ASCII characters")]
    InvalidId { what: &'static str },
    /// A page size outside 1–[`MAX_PAGE`].
    #[error("`limit` must be 1–{MAX_PAGE}")]
    InvalidLimit,
    /// Not the viewer's to see (a list of another user's memberships: the answer is the same
    /// whether that user exists).
    #[error("not allowed")]
    Forbidden,
    #[error("membership not found")]
    NotFound,
    /// The state table failed (logged where it happened).
    #[error("state table is unavailable; retry later")]
    Unavailable,
}

/// Checks a path id: non-empty, at most 128 bytes, printable ASCII without `#` (the
/// key separator).
pub fn check_id(what: &'static str, id: &str) -> Result<(), ReadError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    if valid {
        Ok(())
    } else {
        Err(ReadError::InvalidId { what })
    }
}

fn unavailable(error: &DependencyError) -> ReadError {
    tracing::error!(%error, "the state table failed");
    ReadError::Unavailable
}

/// Who is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// A signed-in user (the authorizer's `user_id`): only their own memberships.
    User(&'a str),
    /// An operator with direct access to the table (the CLI).
    Operator,
}

impl Viewer<'_> {
    fn may_see(self, user_id: Option<&str>) -> bool {
        match self {
            Self::Operator => true,
            Self::User(viewer) => user_id == Some(viewer),
        }
    }
}

/// `GET /memberships/{id}`: [`ReadError::NotFound`] unless the viewer owns it, whether or not it
/// exists, so the answer says nothing about another user's memberships.
pub async fn membership(
    store: &impl StateStore,
    membership_id: &str,
    viewer: Viewer<'_>,
) -> Result<MembershipView, ReadError> {
    check_id("id", membership_id)?;
    match store.membership(membership_id).await {
        Ok(Some(stored)) if viewer.may_see(stored.user_id.as_deref()) => {
            Ok(MembershipView::from(&stored))
        }
        Ok(Some(_) | None) => Err(ReadError::NotFound),
        Err(error) => Err(unavailable(&error)),
    }
}

/// `GET /users/{id}/memberships?limit=&after=`: 403 unless the viewer is that user.
pub async fn user_memberships(
    store: &impl StateStore,
    user_id: &str,
    viewer: Viewer<'_>,
    limit: Option<usize>,
    after: Option<&str>,
) -> Result<UserMemberships, ReadError> {
    check_id("id", user_id)?;
    if !viewer.may_see(Some(user_id)) {
        return Err(ReadError::Forbidden);
    }
    if let Some(after) = after {
        check_id("after", after)?;
    }
    let limit = match limit {
        None => DEFAULT_PAGE,
        Some(limit @ 1..=MAX_PAGE) => limit,
        Some(_) => return Err(ReadError::InvalidLimit),
    };
    let page = store
        .memberships_of_user(user_id, limit, after)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(UserMemberships {
        user_id: user_id.to_owned(),
        memberships: page.items.iter().map(MembershipView::from).collect(),
        next: page.next,
    })
}
