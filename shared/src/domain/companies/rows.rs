//! A membership as a creator's listing shows it: who, what, which signal since when, and the last
//! payment's outcome.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::emergency::{Provenance, StoredRead};
use crate::domain::state::model::{MembershipState, Payment, PaymentStatus, SignalKind};
use crate::domain::webhooks::Source;

/// The member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Member {
    pub id: Option<String>,
    /// As the provider gave it; `null` when it gave none.
    pub name: Option<String>,
    /// As the provider gave it; `null` when it gave none.
    pub email: Option<String>,
}

/// The member's contact details the provider sent (`MembershipState::contact`), read from the
/// state in this one place: the name, or the username when the provider gave no name.
fn member(state: &MembershipState) -> Member {
    let contact = &state.contact;
    Member {
        id: state.user_id.clone(),
        name: contact.name.clone().or_else(|| contact.username.clone()),
        email: contact.email.clone(),
    }
}

/// Where the member manages the membership (Whop's `manage_url`), when the provider gave one.
fn manage_url(state: &MembershipState) -> Option<String> {
    state.contact.manage_url.clone()
}

/// An open signal and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OpenSignal {
    pub kind: SignalKind,
    pub started_at: DateTime<Utc>,
}

/// The latest payment that succeeded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastPayment {
    pub id: String,
    pub outcome: PaymentStatus,
    pub at: DateTime<Utc>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub failure_reason: Option<String>,
}

/// One row of `GET /companies/{company_id}/memberships`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipRow {
    pub id: String,
    pub provider: Source,
    pub user: Member,
    pub product_id: Option<String>,
    pub plan_id: Option<String>,
    pub status: Option<String>,
    pub valid: Option<bool>,
    /// The listed signal; in a listing of every membership, the most recently started open one.
    pub signal: Option<OpenSignal>,
    pub open_signals: Vec<SignalKind>,
    pub last_payment: Option<LastPayment>,
    pub manage_url: Option<String>,
    /// Its provider and newest fact, for the emergency marking (not shown).
    #[serde(skip)]
    pub provenance: Provenance,
}

impl StoredRead for MembershipRow {
    fn provenance(&self) -> Provenance {
        self.provenance.clone()
    }
}

/// The state's record of payment `id`.
pub(crate) fn payment<'a>(state: &'a MembershipState, id: &str) -> Option<&'a Payment> {
    state.payments.iter().find(|p| p.id == id)
}

impl MembershipRow {
    /// The row of `state`, showing its open `signal` (or, for `None`, its newest open one).
    pub fn new(state: &MembershipState, signal: Option<SignalKind>) -> Self {
        let shown = match signal {
            Some(kind) => state.open_signal(kind),
            None => state
                .signals
                .iter()
                .filter(|s| s.is_open())
                .max_by_key(|s| s.started_at),
        };
        let last_payment = state.last_payment.as_ref().map(|last| {
            let record = payment(state, &last.payment_id);
            LastPayment {
                id: last.payment_id.clone(),
                outcome: last.status,
                at: last.at,
                amount: record.and_then(|p| p.amount.clone()),
                currency: record.and_then(|p| p.currency.clone()),
                failure_reason: record.and_then(|p| p.failure_reason.clone()),
            }
        });
        Self {
            id: state.id.clone(),
            provider: state.provider,
            user: member(state),
            product_id: state.product_id.clone(),
            plan_id: state.plan_id.clone(),
            status: state.status.clone(),
            valid: state.valid,
            signal: shown.map(|s| OpenSignal {
                kind: s.kind,
                started_at: s.started_at,
            }),
            open_signals: state.open_signals(),
            last_payment,
            manage_url: manage_url(state),
            provenance: Provenance::of(state),
        }
    }
}
