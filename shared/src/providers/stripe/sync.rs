//! Stripe's reconcile (`docs/architecture.md`, "Stripe reconcile"; `docs/providers.md` §4, its
//! subscriptions list): a company's Stripe subscriptions, as the pages of one run
//! ([`MembershipSource`] for a [`SyncProvider::Stripe`] scope).
//!
//! One call a page: `GET /v1/subscriptions?status=all&limit=100&starting_after=<last id>` with the
//! company's secret key from the keys secret ([`parse_keys`]), through the resilient client
//! (Stripe's rate limit, its breaker, retries of 5xx and timeouts, 429 handling). The cursor is the
//! last subscription id of the page before, while Stripe says `has_more`.
//!
//! Each subscription is read by the webhooks' own reading of a subscription object
//! (`observe::subscription_facts`), so drift is measured against the state the
//! `customer.subscription.*` events built. Stripe's subscriptions carry no `updated` time: a listed
//! subscription is versioned at the moment its page was asked for (what Stripe answers is its
//! state at least as of then), so a webhook whose event was created later is left alone
//! (`newer_locally`) and an earlier one is superseded when it differs.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::observe::{StripeObject, subscription_facts};
use crate::domain::json;
use crate::domain::ports::{
    Clock, ListedMembership, MembershipPage, MembershipSource, MembershipSourceError, SourceFailure,
};
use crate::domain::state::model::MembershipFacts;
use crate::domain::sync::{Scope, SyncProvider};
use crate::providers::client::{
    Admission, ApiKeySource, ClientError, KeyUnavailable, RawBody, ResilientClient, call_with_key,
    listing_error,
};

/// The client's service name: Stripe's breaker, rate limit and emergency switch.
pub const SERVICE: &str = "stripe";
/// Stripe's API.
pub const DEFAULT_API_BASE_URL: &str = "https://api.stripe.com";
/// The API version the listing is read in (`Stripe-Version`); both period shapes are read anyway.
pub const API_VERSION: &str = "2026-07-29.dahlia";
/// Subscriptions a page asks for: Stripe's largest page.
pub const PAGE_SIZE: u32 = 100;
/// The stable code of a page Stripe answered with something that is not a list of
/// subscriptions: the page is put off and asked again (the run pauses, it is not lost).
pub const MALFORMED_PAGE: &str = "stripe_malformed_page";

/// Stripe's subscription statuses, each kept as it is (`docs/providers.md` §4).
pub const STATUSES: [&str; 8] = [
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
];

/// The companies' Stripe secret keys, by company id: the keys secret's JSON.
pub type StripeKeys = HashMap<String, SecretString>;

/// The keys secret: `{"<company id>": "sk_…" or "rk_…", …}`, at least one. The error says what is
/// wrong without quoting a key.
///
/// # Errors
/// Not such an object, an empty one, or a value that is not a secret or restricted key.
pub fn parse_keys(value: &str) -> Result<StripeKeys, String> {
    let keys: HashMap<String, SecretString> = serde_json::from_str(value).map_err(|_| {
        "the secret is not `{\"<company id>\": \"sk_…\"}` (a JSON object of strings)".to_owned()
    })?;
    if keys.is_empty() {
        return Err("the secret names no company".to_owned());
    }
    if let Some(company) = keys.iter().find_map(|(company, key)| {
        let key = key.expose_secret();
        let shaped = (key.starts_with("sk_") || key.starts_with("rk_"))
            && key.len() > 3
            && key.bytes().all(|b| b.is_ascii_graphic());
        (!shaped).then_some(company)
    }) {
        return Err(format!(
            "the key of company `{company}` is not a Stripe secret (`sk_…`) or restricted (`rk_…`) key"
        ));
    }
    Ok(keys)
}

/// Stripe's subscriptions listing for sync.
pub struct StripeSource<A, K, C> {
    pub client: ResilientClient<A>,
    /// `STRIPE_API_BASE_URL`, or [`DEFAULT_API_BASE_URL`].
    pub base_url: Url,
    /// The keys secret ([`parse_keys`]), re-read once when Stripe refuses a key.
    pub keys: K,
    /// What a listed subscription is versioned at (the time its page was asked for).
    pub clock: C,
}

/// Why a Stripe page could not be listed.
#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error(transparent)]
    Call(#[from] ClientError),
    #[error("the Stripe keys secret: {0}")]
    Keys(#[from] KeyUnavailable),
}

impl From<ListError> for MembershipSourceError {
    /// 429 waits for Stripe; 5xx, timeouts, an open breaker or a spent budget are tried later; a
    /// refused key or request fails the run; a body that is not JSON is a malformed page.
    fn from(error: ListError) -> Self {
        let error = match error {
            ListError::Keys(_) => {
                return Self::new(
                    SourceFailure::Unavailable,
                    "stripe_keys_unavailable",
                    error.to_string(),
                );
            }
            ListError::Call(error) => error,
        };
        listing_error(error, "stripe_key_refused", MALFORMED_PAGE)
    }
}

/// Stripe's list envelope: `{"object": "list", "data": […], "has_more": …}`.
#[derive(Deserialize)]
struct ListEnvelope<'a> {
    object: &'a str,
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    has_more: bool,
}

/// Whether `cursor` has the shape of a Stripe subscription id (what `starting_after` takes).
fn is_subscription_id(cursor: &str) -> bool {
    cursor.len() <= 255
        && cursor
            .strip_prefix("sub_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// One page's body as the memberships of `company_id`, each versioned at `read_at`, and the
/// next page's cursor (the last id, while `has_more`).
///
/// # Errors
/// What makes the page malformed: not the list envelope, or a subscription without an id or a
/// status.
pub fn read_page(
    body: &[u8],
    company_id: &str,
    read_at: DateTime<Utc>,
) -> Result<MembershipPage, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the page is not UTF-8".to_owned())?;
    let envelope: ListEnvelope<'_> = serde_json::from_str(text)
        .map_err(|e| format!("the page is not Stripe's list envelope: {e}"))?;
    if envelope.object != "list" {
        return Err(format!(
            "the page's object is `{}`, not `list`",
            envelope.object.chars().take(32).collect::<String>()
        ));
    }
    let memberships = envelope
        .data
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            subscription(raw.get(), company_id, read_at)
                .map_err(|reason| format!("subscription {index} of the page: {reason}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if envelope.has_more {
        let last = memberships
            .last()
            .ok_or_else(|| "`has_more` on a page without subscriptions".to_owned())?;
        Some(last.id.clone())
    } else {
        None
    };
    Ok(MembershipPage {
        memberships,
        next_cursor,
        ..MembershipPage::default()
    })
}

/// A listed subscription as sync compares it: the webhooks' facts of a subscription object, the
/// company the run is for, versioned at `read_at`.
///
/// # Errors
/// Not an object, or without a `sub_…` id or a status.
pub fn subscription(
    raw: &str,
    company_id: &str,
    read_at: DateTime<Utc>,
) -> Result<ListedMembership, String> {
    let object: StripeObject<'_> =
        json::parse(raw, true).map_err(|e| format!("not an object: {e}"))?;
    let id = object
        .id
        .text()
        .filter(|id| is_subscription_id(id))
        .ok_or_else(|| "no subscription id (`sub_…`)".to_owned())?
        .to_owned();
    let mut facts = MembershipFacts::default();
    subscription_facts(&object, &mut facts);
    let status = facts
        .status
        .ok_or_else(|| format!("`{id}` has no status"))?;
    Ok(ListedMembership {
        id,
        status,
        cancel_at_period_end: facts.cancel_at_period_end,
        valid: None,
        updated_at: Some(read_at),
        renewal_period_start: facts.renewal_period_start,
        renewal_period_end: facts.renewal_period_end,
        user_id: object.customer.text().map(str::to_owned),
        company_id: Some(company_id.to_owned()),
        product_id: facts.product_id,
        plan_id: facts.plan_id,
        payment: None,
    })
}

impl<A: Admission, K: ApiKeySource<StripeKeys>, C: Clock> StripeSource<A, K, C> {
    /// The page's URL: every status (the default leaves out canceled ones), Stripe's largest page.
    fn page_url(&self, cursor: Option<&str>) -> Result<Url, MembershipSourceError> {
        let mut url = self.base_url.join("/v1/subscriptions").map_err(|e| {
            MembershipSourceError::new(SourceFailure::Refused, "stripe_base_url", e.to_string())
        })?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("status", "all");
            query.append_pair("limit", &PAGE_SIZE.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("starting_after", cursor);
            }
        }
        Ok(url)
    }
}

impl<A: Admission, K: ApiKeySource<StripeKeys>, C: Clock> MembershipSource
    for StripeSource<A, K, C>
{
    /// One page of the company's subscriptions: every status, Stripe's largest page, after the
    /// cursor's subscription.
    async fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        if scope.provider != SyncProvider::Stripe {
            return Err(MembershipSourceError::new(
                SourceFailure::Refused,
                "not_stripe",
                "not a Stripe scope",
            ));
        }
        if let Some(cursor) = cursor
            && !is_subscription_id(cursor)
        {
            return Err(MembershipSourceError::new(
                SourceFailure::Decode,
                "bad_cursor",
                "not a Stripe subscription id",
            ));
        }
        let company = scope.company_id.as_str();
        let keys = self.keys.api_key(false).await.map_err(ListError::from)?;
        if !keys.contains_key(company) {
            return Err(MembershipSourceError::new(
                SourceFailure::Refused,
                "stripe_key_missing",
                format!("the Stripe keys secret has no key for company `{company}`"),
            ));
        }
        let url = self.page_url(cursor)?;
        let read_at = self.clock.now();
        let body = call_with_key(&self.keys, SERVICE, |keys: Arc<StripeKeys>| {
            let key = keys.get(company).cloned();
            let url = url.clone();
            async move {
                // A re-read secret that lost the company's key: Stripe would refuse no key too.
                let Some(key) = key else {
                    return Err(ClientError::Provider {
                        service: SERVICE,
                        status: 401,
                        code: Some("key_missing".to_owned()),
                    });
                };
                let http = self.client.http();
                self.client
                    .send_with(
                        SERVICE,
                        || {
                            http.get(url.clone())
                                .bearer_auth(key.expose_secret())
                                .header("Stripe-Version", API_VERSION)
                        },
                        &RawBody,
                    )
                    .await
                    .0
            }
        })
        .await
        .map_err(|error: ListError| MembershipSourceError::from(error))?;
        read_page(&body, company, read_at).map_err(|reason| {
            tracing::warn!(company.id = %company, code = MALFORMED_PAGE, %reason, "Stripe answered a malformed page; it is asked again later");
            MembershipSourceError::new(SourceFailure::Unavailable, MALFORMED_PAGE, reason)
        })
    }
}

#[cfg(test)]
mod tests;
