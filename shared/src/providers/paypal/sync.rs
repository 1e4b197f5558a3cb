//! PayPal's reconcile (`docs/architecture.md`, "PayPal reconcile"; `docs/providers.md`, PayPal):
//! the PayPal subscriptions already stored for a company, each re-read from PayPal, as the pages
//! of one run ([`MembershipSource`] for a [`SyncProvider::PayPal`] scope).
//!
//! PayPal has no listing of a merchant's subscriptions, so a page is a bounded batch of the ids
//! the state table holds for the company (its company index, in id order, [`BATCH`] at a time;
//! the cursor is the last id of the batch) and one `GET /v1/billing/subscriptions/{id}` each,
//! with the app's cached client-credentials token ([`PayPalApi`], the online verifier's), through
//! the resilient client (PayPal's rate limit, its breaker, retries of 5xx and timeouts, 429
//! handling). A refused token is dropped and asked again once.
//!
//! Each subscription is read as the webhooks read it (`observe::subscription_status`): its
//! status, `next_billing_time` as the renewal, and its payment standing from `billing_info`
//! (failed payments since the last success: a failed payment; else the last payment: a
//! succeeded one). It is versioned at its `update_time`, so a webhook newer than PayPal's answer
//! is left alone (`newer_locally`).
//!
//! A payment is stored under the id its webhook names, so a payment read here and its webhook,
//! in either order, are one payment, never counted twice:
//! - a failed one under `observe::failed_payment_id` (the subscription and the failure's time,
//!   which `BILLING.SUBSCRIPTION.PAYMENT.FAILED` states too);
//! - a succeeded one under its sale's id (`PAYMENT.SALE.COMPLETED`'s `resource.id`), which
//!   `billing_info.last_payment` does not state: the subscription's transactions around the
//!   payment's time name it (`GET /v1/billing/subscriptions/{id}/transactions`). That read is
//!   made only when the answer is to be written (newer than the stored state and different). A
//!   payment no transaction names is left out (the status is still written), unless it ends a
//!   stored failure: then it is recorded without an amount under the subscription and its time
//!   (`paypal_payment_unmatched`), so the recovery is kept and no money is counted twice.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;

use super::observe::{self, PayPalResource};
use super::online::{PayPalApi, TokenError};
use crate::domain::json;
use crate::domain::ports::{
    Clock, CompanyMemberships, ListedMembership, MembershipPage, MembershipSource,
    MembershipSourceError, SecretSource, SourceFailure,
};
use crate::domain::state::model::{MembershipState, PaymentFacts, PaymentStatus};
use crate::domain::sync::{Scope, SyncProvider, Verdict, observation_of, verdict};
use crate::domain::time::parse_time_str;
use crate::domain::webhooks::Source;
use crate::providers::client::{Admission, listing_error};

/// Subscriptions re-read per page: a bounded batch of calls per invocation.
pub const BATCH: usize = 25;
/// The stable code of a subscription PayPal answered with something that is not one: the page
/// is put off and asked again.
pub const MALFORMED_SUBSCRIPTION: &str = "paypal_malformed_subscription";

/// The PayPal subscriptions of a company, re-read for sync.
pub struct PayPalSource<A, S, C, M> {
    /// PayPal's API as the app (its token cached).
    pub api: PayPalApi<A, S, C>,
    /// The stored memberships of a company (the state table's company index).
    pub stored: M,
    /// `PAYPAL_COMPANY_ID`: the only company PayPal's subscriptions belong to.
    pub company_id: String,
}

/// Whether `id` has the shape of a PayPal subscription id (`I-` and letters or digits).
pub fn is_subscription_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("I-")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn refused(code: &'static str, message: impl Into<String>) -> MembershipSourceError {
    MembershipSourceError::new(SourceFailure::Refused, code, message)
}

/// An unreadable client secret is tried later; a failed call as [`listing_error`] reads it (a
/// refused token fails the run).
fn source_error(error: TokenError) -> MembershipSourceError {
    match error {
        TokenError::Secret(_) => MembershipSourceError::new(
            SourceFailure::Unavailable,
            "paypal_secret_unavailable",
            error.to_string(),
        ),
        TokenError::Grant(error) => {
            listing_error(error, "paypal_token_refused", MALFORMED_SUBSCRIPTION)
        }
    }
}

/// The payment standing `billing_info` states: failed payments since the last success (PayPal
/// resets the count on a success) are a failed payment, at the last failure's time, under the id
/// its webhook gives it; otherwise the last payment is a succeeded one, its id (its sale's)
/// still to be found ([`Answer::paid_at`]).
fn payment_standing(id: &str, resource: &PayPalResource<'_>) -> Option<(PaymentFacts, bool)> {
    let billing = &resource.billing_info;
    if billing.failed_payments_count.integer().unwrap_or(0) > 0 {
        let failed = &billing.last_failed_payment;
        let payment_id = observe::failed_payment_id(id, failed)?;
        return Some((observe::failed_payment(payment_id, failed), false));
    }
    let last = &billing.last_payment;
    last.time.time()?;
    let facts = PaymentFacts {
        id: String::new(),
        status: PaymentStatus::Succeeded,
        amount: observe::money(&last.amount),
        currency: last
            .amount
            .currency_code
            .text()
            .map(str::to_ascii_lowercase),
        failure_reason: None,
    };
    Some((facts, true))
}

/// A subscription as PayPal answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// As sync compares it.
    pub listed: ListedMembership,
    /// When `listed.payment` is the last payment, a succeeded one: its time. Its id is its
    /// sale's, found in the subscription's transactions before it is written
    /// ([`MembershipSource::list_memberships`]); until then it is empty.
    pub paid_at: Option<DateTime<Utc>>,
}

/// A subscription PayPal answered, as sync compares it: read as the webhooks read it, the
/// company the run is for, versioned at its `update_time` (without one it is skipped).
///
/// # Errors
/// Not an object, or without an `I-…` id or a status.
pub fn subscription(raw: &str, company_id: &str) -> Result<Answer, String> {
    let resource: PayPalResource<'_> =
        json::parse(raw, true).map_err(|e| format!("not an object: {e}"))?;
    let id = resource
        .id
        .text()
        .filter(|id| is_subscription_id(id))
        .ok_or_else(|| "no subscription id (`I-…`)".to_owned())?
        .to_owned();
    let (status, valid) = resource
        .status
        .text()
        .map(observe::subscription_status)
        .ok_or_else(|| format!("`{id}` has no status"))?;
    let standing = payment_standing(&id, &resource);
    let paid_at = standing
        .as_ref()
        .filter(|(_, paid)| *paid)
        .and_then(|_| resource.billing_info.last_payment.time.time());
    let listed = ListedMembership {
        payment: standing.map(|(facts, _)| facts),
        status,
        cancel_at_period_end: None,
        valid,
        updated_at: resource.update_time.time(),
        renewal_period_start: None,
        renewal_period_end: resource.billing_info.next_billing_time.time(),
        user_id: resource.subscriber.payer_id.text().map(str::to_owned),
        company_id: Some(company_id.to_owned()),
        product_id: None,
        plan_id: resource.plan_id.text().map(str::to_owned),
        id,
    };
    Ok(Answer { listed, paid_at })
}

/// How far around a last payment's time its sale is looked for: PayPal states both times of
/// the same capture, so a day either side only tolerates clocks and rounding.
const SALE_WINDOW: TimeDelta = TimeDelta::days(1);

/// `GET /v1/billing/subscriptions/{id}/transactions`: `{"transactions": [{id, status, time,
/// amount_with_breakdown}, …]}`.
#[derive(Debug, Deserialize)]
struct Transactions {
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    /// The sale's id: what `PAYMENT.SALE.*` webhooks name as their `resource.id`.
    id: String,
    /// `COMPLETED`, `DECLINED`, `PARTIALLY_REFUNDED`, `PENDING` or `REFUNDED`.
    status: String,
    time: String,
}

/// The sale of a payment made at `paid_at`: among the transactions PayPal answered, the
/// collected one (completed, or refunded since) nearest that time, and its status as a payment.
///
/// # Errors
/// The answer is not a transaction list.
pub fn sale_of(
    raw: &str,
    paid_at: DateTime<Utc>,
) -> Result<Option<(String, PaymentStatus)>, String> {
    let list: Transactions =
        serde_json::from_str(raw).map_err(|e| format!("not a transaction list: {e}"))?;
    Ok(list
        .transactions
        .into_iter()
        .filter_map(|transaction| {
            let status = match transaction.status.as_str() {
                "COMPLETED" | "PARTIALLY_REFUNDED" => PaymentStatus::Succeeded,
                "REFUNDED" => PaymentStatus::Refunded,
                _ => return None,
            };
            let at = parse_time_str(&transaction.time)?;
            let distance = (at - paid_at).abs();
            (distance <= SALE_WINDOW).then_some((distance, transaction.id, status))
        })
        .min_by_key(|(distance, _, _)| *distance)
        .map(|(_, id, status)| (id, status)))
}

impl<A: Admission, S: SecretSource, C: Clock + Clone, M> PayPalSource<A, S, C, M> {
    /// [`PayPalApi::get`], its failures as sync's.
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, MembershipSourceError> {
        self.api.get(path).await.map_err(source_error)
    }

    /// Names the succeeded payment of `answer` by its sale, when the answer is to be written
    /// (drift: it is newer than `stored` and differs, or nothing is stored). Otherwise the
    /// payment is left out, and so is one no transaction names unless it ends a stored failure
    /// (module docs). (The stored state only moves forward, so an answer that is not drift now
    /// is not drift when the run compares it again.)
    async fn name_payment(
        &self,
        answer: Answer,
        stored: Option<&MembershipState>,
    ) -> Result<ListedMembership, MembershipSourceError> {
        let Answer {
            mut listed,
            paid_at,
        } = answer;
        let Some(paid_at) = paid_at else {
            return Ok(listed);
        };
        let written = matches!(
            verdict(stored, observation_of(&listed).as_ref()),
            Verdict::Drift(_)
        );
        let sale = if written {
            let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
            let path = format!(
                "/v1/billing/subscriptions/{}/transactions?start_time={}&end_time={}",
                listed.id,
                stamp(paid_at - SALE_WINDOW),
                stamp(paid_at + SALE_WINDOW),
            );
            match self.read(&path).await? {
                Some(body) => std::str::from_utf8(&body)
                    .map_err(|_| "not UTF-8".to_owned())
                    .and_then(|raw| sale_of(raw, paid_at))
                    .map_err(malformed)?,
                None => None,
            }
        } else {
            None
        };
        let stored_failing = stored
            .and_then(|state| state.last_payment.as_ref())
            .is_some_and(|last| last.status == PaymentStatus::Failed);
        match (sale, listed.payment.as_mut()) {
            (Some((sale_id, status)), Some(payment)) => {
                payment.id = sale_id;
                payment.status = status;
            }
            (None, Some(payment)) if written && stored_failing => {
                // The recovery must not be lost: the payment is recorded under the
                // subscription and its time, without an amount, so a sale webhook that names
                // it later adds the money once.
                tracing::info!(subscription.id = %listed.id, code = "paypal_payment_unmatched", "no transaction names the payment that ended a failure; recorded without an amount");
                payment.id = format!(
                    "{}_paid_{}",
                    listed.id,
                    paid_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                );
                payment.amount = None;
                payment.currency = None;
            }
            _ => listed.payment = None,
        }
        Ok(listed)
    }
}

/// A malformed answer puts the page off: it is asked again later.
fn malformed(reason: String) -> MembershipSourceError {
    tracing::warn!(code = MALFORMED_SUBSCRIPTION, %reason, "PayPal answered something malformed; the page is asked again later");
    MembershipSourceError::new(SourceFailure::Unavailable, MALFORMED_SUBSCRIPTION, reason)
}

impl<A, S, C, M> MembershipSource for PayPalSource<A, S, C, M>
where
    A: Admission,
    S: SecretSource,
    C: Clock + Clone,
    M: CompanyMemberships,
{
    /// The next batch of the company's stored PayPal subscriptions, each as PayPal says now.
    async fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        if scope.provider != SyncProvider::PayPal {
            return Err(refused("not_paypal", "not a PayPal scope"));
        }
        let company = scope.company_id.as_str();
        if company != self.company_id {
            return Err(refused(
                "not_paypal_company",
                format!("PayPal's subscriptions belong to PAYPAL_COMPANY_ID, not `{company}`"),
            ));
        }
        let stored = self
            .stored
            .of_company(company, BATCH, cursor)
            .await
            .map_err(|error| {
                MembershipSourceError::new(
                    SourceFailure::Unavailable,
                    "state_unavailable",
                    error.to_string(),
                )
            })?;
        let mut memberships = Vec::new();
        for item in &stored.items {
            let id = item.membership_id.as_str();
            if item.provider != Source::PayPal || !is_subscription_id(id) {
                continue;
            }
            let path = format!("/v1/billing/subscriptions/{id}");
            let Some(body) = self.read(&path).await? else {
                tracing::info!(company.id = %company, subscription.id = %id, "PayPal no longer knows a stored subscription; left as stored");
                continue;
            };
            let answer = std::str::from_utf8(&body)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|raw| subscription(raw, company))
                .map_err(malformed)?;
            let stored = item.state();
            memberships.push(self.name_payment(answer, Some(&stored)).await?);
        }
        let next_cursor = stored.next;
        Ok(MembershipPage {
            progressed: memberships.is_empty() && next_cursor.is_some(),
            memberships,
            next_cursor,
            ..MembershipPage::default()
        })
    }
}

#[cfg(test)]
mod tests;
