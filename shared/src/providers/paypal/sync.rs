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

use chrono::{DateTime, SecondsFormat, Utc};

use super::observe::{self, PayPalResource};
use super::online::{PayPalApi, SERVICE, TokenError};
use crate::domain::json;
use crate::domain::ports::{
    Clock, CompanyMemberships, ListedMembership, MembershipPage, MembershipSource,
    MembershipSourceError, SecretSource, SourceFailure,
};
use crate::domain::state::model::{PaymentFacts, PaymentStatus};
use crate::domain::sync::{Scope, SyncProvider};
use crate::domain::webhooks::Source;
use crate::providers::client::{Admission, ClientError, RawBody, listing_error};

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
/// resets the count on a success) are a failed payment, at the last failure's time; otherwise
/// the last payment is a succeeded one. Ids are derived from the subscription and the time, so
/// the same answer read twice is the same payment.
fn payment_standing(id: &str, resource: &PayPalResource<'_>) -> Option<PaymentFacts> {
    let billing = &resource.billing_info;
    let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    if billing.failed_payments_count.integer().unwrap_or(0) > 0 {
        let failed = &billing.last_failed_payment;
        let at = failed.time.time().map(stamp).unwrap_or_default();
        return Some(observe::failed_payment(format!("{id}_failed_{at}"), failed));
    }
    let last = &billing.last_payment;
    let at = last.time.time()?;
    Some(PaymentFacts {
        id: format!("{id}_paid_{}", stamp(at)),
        status: PaymentStatus::Succeeded,
        amount: observe::money(&last.amount),
        currency: last
            .amount
            .currency_code
            .text()
            .map(str::to_ascii_lowercase),
        failure_reason: None,
    })
}

/// A subscription PayPal answered, as sync compares it: read as the webhooks read it, the
/// company the run is for, versioned at its `update_time` (without one it is skipped).
///
/// # Errors
/// Not an object, or without an `I-…` id or a status.
pub fn subscription(raw: &str, company_id: &str) -> Result<ListedMembership, String> {
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
    Ok(ListedMembership {
        payment: payment_standing(&id, &resource),
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
    })
}

impl<A: Admission, S: SecretSource, C: Clock + Clone, M> PayPalSource<A, S, C, M> {
    /// One subscription's body, or `None` when PayPal no longer knows it (404). A refused
    /// token is dropped and a new one asked once.
    async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, TokenError> {
        let url = self.api.url(&format!("/v1/billing/subscriptions/{id}"));
        let client = self.api.client();
        let mut retried = false;
        loop {
            let token = self.api.token().await?;
            let (body, _) = client
                .send_with(
                    SERVICE,
                    || {
                        client
                            .http()
                            .get(&url)
                            .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
                    },
                    &RawBody,
                )
                .await;
            match body {
                Ok(body) => return Ok(Some(body)),
                Err(ClientError::Provider { status: 404, .. }) => return Ok(None),
                Err(error @ ClientError::Provider { status: 401, .. }) if !retried => {
                    self.api.forget_refused(&error).await;
                    retried = true;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
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
            let Some(body) = self.read(id).await.map_err(source_error)? else {
                tracing::info!(company.id = %company, subscription.id = %id, "PayPal no longer knows a stored subscription; left as stored");
                continue;
            };
            let listed = std::str::from_utf8(&body)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|raw| subscription(raw, company))
                .map_err(|reason| {
                    tracing::warn!(company.id = %company, code = MALFORMED_SUBSCRIPTION, %reason, "PayPal answered a malformed subscription; the page is asked again later");
                    MembershipSourceError::new(
                        SourceFailure::Unavailable,
                        MALFORMED_SUBSCRIPTION,
                        reason,
                    )
                })?;
            memberships.push(listed);
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
