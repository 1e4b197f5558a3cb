//! The membership state model: what one event says ([`Observation`]), the state a sequence of
//! them adds up to ([`MembershipState`]), and the churn [`Signal`]s derived from each transition.
//!
//! Everything here is pure. [`MembershipState::fold`] applies observations in version order, so
//! the state is a function of the *set* of observations: any arrival order, with any duplicates,
//! gives the same result (see the property test below).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::webhooks::Source;

/// How many payments a state keeps (the most recently changed).
pub const MAX_PAYMENTS: usize = 4;
/// How many closed signals a state keeps (open ones are always kept).
pub const MAX_CLOSED_SIGNALS: usize = 8;

/// The total order of one membership's events: the provider's time, then the event id.
///
/// Encoded as `2026-03-01T11:59:58.000000000Z#msg_…` (fixed-width time), whose byte order is the
/// same as this type's `Ord`, so DynamoDB can compare versions in a condition expression.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub at: DateTime<Utc>,
    pub event_id: String,
}

impl Version {
    pub fn new(at: DateTime<Utc>, event_id: impl Into<String>) -> Self {
        Self {
            at,
            event_id: event_id.into(),
        }
    }

    /// The order-preserving string form.
    pub fn encode(&self) -> String {
        format!(
            "{}#{}",
            self.at.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
            self.event_id
        )
    }

    /// Reads [`Version::encode`]'s form back.
    pub fn decode(text: &str) -> Option<Self> {
        let (at, event_id) = text.split_once('#')?;
        let at = DateTime::parse_from_rfc3339(at).ok()?.to_utc();
        Some(Self::new(at, event_id))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::decode(&text).ok_or_else(|| serde::de::Error::custom("not a version"))
    }
}

/// What a payment's latest event says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    Pending,
    Refunded,
    Disputed,
    Voided,
}

/// What one event says about a payment of the membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFacts {
    /// The provider's payment (or invoice) id.
    pub id: String,
    #[serde(rename = "s")]
    pub status: PaymentStatus,
    /// Decimal amount in major units (`"29.00"`), when the event states it.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Lower-case ISO currency code.
    #[serde(rename = "cu", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl PaymentFacts {
    /// A payment's new status alone (a refund, a dispute): the amount and currency it was stored
    /// with stay, since an event about the payment may state another (a refund, what it refunded).
    pub fn status_change(id: String, status: PaymentStatus) -> Self {
        Self {
            id,
            status,
            amount: None,
            currency: None,
            failure_reason: None,
        }
    }
}

/// What one event says about a membership. Every field is what the event states, `None` where it
/// is silent (a later state keeps the earlier value). Stored once per event in the membership's
/// item, so the field names are short: item size is what a write costs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MembershipFacts {
    #[serde(rename = "u", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "c", skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(rename = "pr", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(rename = "pl", skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// The provider's own status word (`active`, `past_due`, `canceled`, …).
    #[serde(rename = "s", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the member has access.
    #[serde(rename = "ok", skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(rename = "cx", skip_serializing_if = "Option::is_none")]
    pub cancel_at_period_end: Option<bool>,
    #[serde(rename = "rs", skip_serializing_if = "Option::is_none")]
    pub renewal_period_start: Option<DateTime<Utc>>,
    #[serde(rename = "re", skip_serializing_if = "Option::is_none")]
    pub renewal_period_end: Option<DateTime<Utc>>,
    /// The member's contact details, where the event carries them (personal data).
    #[serde(rename = "ct", skip_serializing_if = "MemberContact::is_empty")]
    pub contact: MemberContact,
}

/// How to reach a member, as the provider sent it: e-mail, name, username, and the provider's
/// page where the member manages the membership (Whop's `manage_url`). Personal data: its `Debug`
/// shows fingerprints only, and [`MembershipState`] does not serialise it (the member-facing
/// routes' JSON leaves it out); the company's admin views read `MembershipState::contact`.
/// Stored in every observation that carries it, so the names are short.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberContact {
    #[serde(rename = "e", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "n", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "un", skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(rename = "mu", skip_serializing_if = "Option::is_none")]
    pub manage_url: Option<String>,
}

impl MemberContact {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Takes every detail `newer` states.
    fn merge(&mut self, newer: &Self) {
        overwrite(&mut self.email, &newer.email);
        overwrite(&mut self.name, &newer.name);
        overwrite(&mut self.username, &newer.username);
        overwrite(&mut self.manage_url, &newer.manage_url);
    }
}

impl fmt::Debug for MemberContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let print = |value: &Option<String>| {
            value
                .as_deref()
                .map(|value| crate::domain::fingerprint(value.as_bytes()))
        };
        f.debug_struct("MemberContact")
            .field("email", &print(&self.email))
            .field("name", &print(&self.name))
            .field("username", &print(&self.username))
            .field("manage_url", &print(&self.manage_url))
            .finish()
    }
}

/// What one event says about one membership: the unit the state is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The event's place in the membership's history.
    #[serde(rename = "v")]
    pub version: Version,
    /// The provider's event name.
    #[serde(rename = "k")]
    pub kind: String,
    #[serde(rename = "m", default, skip_serializing_if = "is_default")]
    pub membership: MembershipFacts,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentFacts>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A churn signal. Signals are state: each has the time it started and, once over, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A payment failed or the membership is past due, and it is not (yet) churned.
    AtRisk,
    /// The membership will end at the end of its period.
    CancelScheduled,
    /// The membership ended: deactivated, went invalid, expired or canceled.
    Churned,
    /// Back to healthy after being at risk or churned (a payment succeeded, or it was
    /// reactivated); open until the next risk or churn.
    Recovered,
}

impl SignalKind {
    pub const ALL: [Self; 4] = [
        Self::AtRisk,
        Self::CancelScheduled,
        Self::Churned,
        Self::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtRisk => "at_risk",
            Self::CancelScheduled => "cancel_scheduled",
            Self::Churned => "churned",
            Self::Recovered => "recovered",
        }
    }
}

/// One occurrence of a signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: SignalKind,
    /// Provider time of the event that started it.
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
}

impl Signal {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// A payment as its events so far describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Provider time of its latest event.
    pub updated_at: DateTime<Utc>,
}

/// The outcome of the membership's latest payment event that succeeded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOutcome {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub at: DateTime<Utc>,
}

/// A membership (a Whop membership or a Stripe subscription) as of its newest observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipState {
    pub id: String,
    pub provider: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// The provider's status word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_period_start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_period_end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment: Option<PaymentOutcome>,
    /// Most recently changed first, at most [`MAX_PAYMENTS`].
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// Open signals, then closed ones newest first (at most [`MAX_CLOSED_SIGNALS`] closed).
    #[serde(default)]
    pub signals: Vec<Signal>,
    /// The newest observation applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// How many observations it is made of.
    #[serde(default)]
    pub observations: u64,
    /// The member's contact details, each as the provider last stated it. Personal data, for
    /// the company's admins only: not in this type's JSON, so the member routes' answers do not
    /// carry it; the compacted base stores it through
    /// [`crate::domain::state::store::encode_base`].
    #[serde(skip)]
    pub contact: MemberContact,
}

/// The churn-relevant reading of a state at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Condition {
    churned: bool,
    at_risk: bool,
    cancel_scheduled: bool,
}

/// Statuses in which the membership has ended (Whop: canceled, expired; Stripe: canceled,
/// incomplete_expired). Whop's `completed` (a finished fixed term) is not churn by itself; its
/// `membership.deactivated` says so when access ends.
fn status_is_ended(status: &str) -> bool {
    matches!(status, "canceled" | "expired" | "incomplete_expired")
}

/// Statuses in which collecting payment is failing (Whop and Stripe `past_due`, Stripe `unpaid`,
/// PayPal `suspended`).
fn status_is_delinquent(status: &str) -> bool {
    matches!(status, "past_due" | "unpaid" | "suspended")
}

/// Whether a status implies access, for events that state a status but not validity.
pub fn status_grants_access(status: &str) -> Option<bool> {
    match status {
        "trialing" | "active" | "past_due" | "canceling" | "unpaid" => Some(true),
        "canceled" | "expired" | "incomplete_expired" | "completed" => Some(false),
        _ => None,
    }
}

impl MembershipState {
    /// The state before any observation.
    pub fn empty(id: impl Into<String>, provider: Source) -> Self {
        Self {
            id: id.into(),
            provider,
            user_id: None,
            company_id: None,
            product_id: None,
            plan_id: None,
            status: None,
            valid: None,
            cancel_at_period_end: false,
            renewal_period_start: None,
            renewal_period_end: None,
            last_payment: None,
            payments: Vec::new(),
            signals: Vec::new(),
            version: None,
            observations: 0,
            contact: MemberContact::default(),
        }
    }

    /// Applies `observations` (any order, duplicates allowed) on top of `self`, in version order.
    /// Observations at or below `self.version` are already part of it and are skipped.
    pub fn fold<'a>(mut self, observations: impl IntoIterator<Item = &'a Observation>) -> Self {
        let mut sorted: BTreeMap<&Version, &Observation> = BTreeMap::new();
        for observation in observations {
            if self
                .version
                .as_ref()
                .is_none_or(|version| observation.version > *version)
            {
                sorted.insert(&observation.version, observation);
            }
        }
        for observation in sorted.into_values() {
            self.apply(observation);
        }
        self
    }

    /// Applies one observation newer than every one applied so far.
    fn apply(&mut self, observation: &Observation) {
        let before = self.condition();
        let facts = &observation.membership;
        let at = observation.version.at;
        overwrite(&mut self.user_id, &facts.user_id);
        overwrite(&mut self.company_id, &facts.company_id);
        overwrite(&mut self.product_id, &facts.product_id);
        overwrite(&mut self.plan_id, &facts.plan_id);
        overwrite(&mut self.status, &facts.status);
        overwrite(&mut self.renewal_period_start, &facts.renewal_period_start);
        overwrite(&mut self.renewal_period_end, &facts.renewal_period_end);
        self.contact.merge(&facts.contact);
        if let Some(cancel) = facts.cancel_at_period_end {
            self.cancel_at_period_end = cancel;
        }
        let valid = facts
            .valid
            .or_else(|| facts.status.as_deref().and_then(status_grants_access));
        if valid.is_some() {
            self.valid = valid;
        }
        // A healthy status reported after a failed payment means the provider collected it.
        if let (Some(status), Some(last)) = (facts.status.as_deref(), self.last_payment.as_mut())
            && matches!(status, "active" | "trialing")
            && last.status == PaymentStatus::Failed
            && observation.payment.is_none()
        {
            last.status = PaymentStatus::Succeeded;
            last.at = at;
        }
        if let Some(payment) = &observation.payment {
            self.record_payment(payment, at);
        }
        self.version = Some(observation.version.clone());
        self.observations += 1;
        let after = self.condition();
        self.transition(before, after, observation);
    }

    fn record_payment(&mut self, facts: &PaymentFacts, at: DateTime<Utc>) {
        if matches!(
            facts.status,
            PaymentStatus::Succeeded | PaymentStatus::Failed
        ) {
            self.last_payment = Some(PaymentOutcome {
                payment_id: facts.id.clone(),
                status: facts.status,
                at,
            });
        }
        let index = self.payments.iter().position(|p| p.id == facts.id);
        let mut payment = match index {
            Some(index) => self.payments.remove(index),
            None => Payment {
                id: facts.id.clone(),
                status: facts.status,
                amount: None,
                currency: None,
                failure_reason: None,
                updated_at: at,
            },
        };
        payment.status = facts.status;
        payment.updated_at = at;
        overwrite(&mut payment.amount, &facts.amount);
        overwrite(&mut payment.currency, &facts.currency);
        if facts.status == PaymentStatus::Failed {
            overwrite(&mut payment.failure_reason, &facts.failure_reason);
        }
        self.payments.insert(0, payment);
        self.payments.truncate(MAX_PAYMENTS);
    }

    fn condition(&self) -> Condition {
        let churned =
            self.valid == Some(false) || self.status.as_deref().is_some_and(status_is_ended);
        let payment_failing = self
            .last_payment
            .as_ref()
            .is_some_and(|last| last.status == PaymentStatus::Failed);
        let delinquent = self.status.as_deref().is_some_and(status_is_delinquent);
        Condition {
            churned,
            at_risk: !churned && (delinquent || payment_failing),
            cancel_scheduled: !churned
                && (self.cancel_at_period_end || self.status.as_deref() == Some("canceling")),
        }
    }

    /// Opens and closes signals for the change from `before` to `after`.
    fn transition(&mut self, before: Condition, after: Condition, by: &Observation) {
        let was_troubled = before.at_risk || before.churned;
        let is_troubled = after.at_risk || after.churned;
        for (kind, was, is) in [
            (SignalKind::AtRisk, before.at_risk, after.at_risk),
            (
                SignalKind::CancelScheduled,
                before.cancel_scheduled,
                after.cancel_scheduled,
            ),
            (SignalKind::Churned, before.churned, after.churned),
        ] {
            match (was, is) {
                (false, true) => self.open(kind, by),
                (true, false) => self.close(kind, by),
                _ => {}
            }
        }
        if is_troubled && (after.at_risk && !before.at_risk || after.churned && !before.churned) {
            self.close(SignalKind::Recovered, by);
        }
        if was_troubled && !is_troubled {
            self.open(SignalKind::Recovered, by);
        }
        self.trim_signals();
    }

    fn open(&mut self, kind: SignalKind, by: &Observation) {
        if self.open_signal(kind).is_none() {
            self.signals.insert(
                0,
                Signal {
                    kind,
                    started_at: by.version.at,
                    started_by: by.version.event_id.clone(),
                    ended_at: None,
                    ended_by: None,
                },
            );
        }
    }

    fn close(&mut self, kind: SignalKind, by: &Observation) {
        if let Some(signal) = self
            .signals
            .iter_mut()
            .find(|s| s.kind == kind && s.is_open())
        {
            signal.ended_at = Some(by.version.at);
            signal.ended_by = Some(by.version.event_id.clone());
        }
    }

    /// Open signals first (by kind), then closed ones newest first, capped.
    fn trim_signals(&mut self) {
        self.signals.sort_by(|a, b| {
            b.is_open()
                .cmp(&a.is_open())
                .then_with(|| match (a.is_open(), b.is_open()) {
                    (true, true) => a.kind.cmp(&b.kind),
                    // A total order, like the events' (time, then event id): closed signals
                    // that ended and started at the same instants still sort one way.
                    _ => (&b.ended_at, &b.ended_by, &b.started_at, &b.started_by)
                        .cmp(&(&a.ended_at, &a.ended_by, &a.started_at, &a.started_by))
                        .then_with(|| a.kind.cmp(&b.kind)),
                })
        });
        let open = self.signals.iter().filter(|s| s.is_open()).count();
        self.signals.truncate(open + MAX_CLOSED_SIGNALS);
    }

    /// The open signal of `kind`, if any.
    pub fn open_signal(&self, kind: SignalKind) -> Option<&Signal> {
        self.signals.iter().find(|s| s.kind == kind && s.is_open())
    }

    /// The kinds of the open signals.
    pub fn open_signals(&self) -> Vec<SignalKind> {
        self.signals
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.kind)
            .collect()
    }

    /// When the latest observation was, by the provider's clock.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.version.as_ref().map(|v| v.at)
    }

    /// The fields where `facts` say something other than this state (fields `facts` is silent on
    /// do not count). Validity implied by the status counts as stated.
    pub fn differences(&self, facts: &MembershipFacts) -> Vec<&'static str> {
        fn differs<T: PartialEq>(stated: Option<&T>, held: Option<&T>) -> bool {
            stated.is_some_and(|stated| Some(stated) != held)
        }
        let valid = facts
            .valid
            .or_else(|| facts.status.as_deref().and_then(status_grants_access));
        [
            (
                "status",
                differs(facts.status.as_ref(), self.status.as_ref()),
            ),
            ("valid", differs(valid.as_ref(), self.valid.as_ref())),
            (
                "cancel_at_period_end",
                differs(
                    facts.cancel_at_period_end.as_ref(),
                    Some(&self.cancel_at_period_end),
                ),
            ),
            (
                "renewal_period_start",
                differs(
                    facts.renewal_period_start.as_ref(),
                    self.renewal_period_start.as_ref(),
                ),
            ),
            (
                "renewal_period_end",
                differs(
                    facts.renewal_period_end.as_ref(),
                    self.renewal_period_end.as_ref(),
                ),
            ),
            (
                "user_id",
                differs(facts.user_id.as_ref(), self.user_id.as_ref()),
            ),
            (
                "company_id",
                differs(facts.company_id.as_ref(), self.company_id.as_ref()),
            ),
            (
                "product_id",
                differs(facts.product_id.as_ref(), self.product_id.as_ref()),
            ),
            (
                "plan_id",
                differs(facts.plan_id.as_ref(), self.plan_id.as_ref()),
            ),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect()
    }

    /// The provider time, RFC 3339 with milliseconds (for logs).
    pub fn updated_at_text(&self) -> String {
        self.updated_at()
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default()
    }
}

fn overwrite<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
    if let Some(value) = value {
        *slot = Some(value.clone());
    }
}

#[cfg(test)]
mod tests;
