//! Whop's REST API v1 (`docs/providers.md` §3): memberships, users and payments, read through the
//! [`ResilientClient`] so every call gets the retries, breaker and rate limit of the `whop` service.
//!
//! The API key is a Secrets Manager secret (`{"api_key": "…"}`), cached; a 401 forces one re-read
//! and one more attempt, so a rotated key is picked up without a redeploy. Responses are typed
//! structs that ignore unknown fields; a response of the wrong shape is [`ClientError::Decode`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::time::{parse_time_str, unix_time, unix_time_f64};
pub use crate::providers::client::{API_KEY_TTL, ApiKeySource, SecretKey, StaticKey};
use crate::providers::client::{
    Admission, CallReport, ClientError, KeyUnavailable, ResilientClient, call_with_key,
};

/// The breaker, rate limit and metrics name of Whop's API.
pub const SERVICE: &str = "whop";
/// The API date the calls are written against (the SDK's `Api-Version-Date`).
pub const API_VERSION_DATE: &str = "2026-07-20";
/// Page size of listings. Whop publishes no maximum for v1; 100 keeps a page well under a second.
pub const PAGE_SIZE: u32 = 100;

/// Why a Whop API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhopApiError {
    #[error(transparent)]
    Call(#[from] ClientError),
    /// The key could not be read, or the secret holds none.
    #[error("the Whop API key is unavailable: {0}")]
    Key(String),
}

impl From<KeyUnavailable> for WhopApiError {
    fn from(error: KeyUnavailable) -> Self {
        Self::Key(error.0)
    }
}

impl WhopApiError {
    /// Stable code for logs, metrics and error bodies.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Call(error) => error.code(),
            Self::Key(_) => "api_key_unavailable",
        }
    }

    /// Whether trying again later could succeed.
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Call(error) => {
                error.is_retryable()
                    || matches!(
                        error,
                        ClientError::CircuitOpen { .. }
                            | ClientError::EmergencyMode { .. }
                            | ClientError::BudgetExhausted { .. }
                    )
            }
            Self::Key(_) => true,
        }
    }

    /// How long to wait before trying again, when the provider or breaker said.
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Call(ClientError::RateLimited { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

/// A page of a cursor listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub page_info: PageInfo,
}

impl<T> Page<T> {
    /// The cursor of the next page; `None` on the last one (the SDK stops when there is no
    /// `end_cursor`, and so do we when `has_next_page` says so).
    pub fn next_cursor(&self) -> Option<&str> {
        if self.page_info.has_next_page == Some(false) {
            return None;
        }
        self.page_info
            .end_cursor
            .as_deref()
            .filter(|cursor| !cursor.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PageInfo {
    #[serde(default)]
    pub end_cursor: Option<String>,
    #[serde(default)]
    pub has_next_page: Option<bool>,
}

/// `{ "id": … }` of a nested object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IdRef {
    pub id: String,
}

/// A Whop membership (`Shared.Membership`): the fields state needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Membership {
    pub id: String,
    /// `trialing | active | past_due | completed | canceled | expired | unresolved | drafted |
    /// canceling`; kept as text so a new status is not a decode error.
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
    #[serde(default, deserialize_with = "whop_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "whop_time")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "whop_time")]
    pub renewal_period_start: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "whop_time")]
    pub renewal_period_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub user: Option<IdRef>,
    #[serde(default)]
    pub company: Option<IdRef>,
    #[serde(default)]
    pub product: Option<IdRef>,
    #[serde(default)]
    pub plan: Option<IdRef>,
}

/// A Whop user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A Whop payment (`Shared.Payment`): the fields state needs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Payment {
    pub id: String,
    /// `draft | open | paid | pending | uncollectible | unresolved | void`.
    #[serde(default)]
    pub status: Option<String>,
    /// `succeeded | pending | failed | refunded | …`.
    #[serde(default)]
    pub substatus: Option<String>,
    /// In major units.
    #[serde(default)]
    pub total: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "whop_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "whop_time")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub membership: Option<IdRef>,
}

/// Which memberships to list (`GET /memberships`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipQuery {
    /// Required with a company API key.
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<DateTime<Utc>>,
}

/// Which payments to list (`GET /payments`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentQuery {
    pub company_id: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
}

/// Whop's v1 API over a resilient client.
pub struct WhopApi<A, K> {
    client: ResilientClient<A>,
    base_url: Url,
    key: K,
    app_id: Option<String>,
}

impl<A: Admission, K: ApiKeySource> WhopApi<A, K> {
    /// `base_url` is the v1 root, e.g. `https://api.whop.com/api/v1`.
    pub fn new(client: ResilientClient<A>, base_url: Url, key: K) -> Self {
        Self {
            client,
            base_url,
            key,
            app_id: None,
        }
    }

    /// Sends `X-Whop-App-Id` as the SDK does when an app id is configured.
    #[must_use]
    pub fn with_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    pub const fn client(&self) -> &ResilientClient<A> {
        &self.client
    }

    /// One page of memberships, `after` the cursor of the previous page.
    pub async fn list_memberships(
        &self,
        query: &MembershipQuery,
        after: Option<&str>,
    ) -> Result<Page<Membership>, WhopApiError> {
        let mut params = base_params(query.company_id.as_deref(), after);
        params.extend(query.statuses.iter().map(|s| ("statuses[]", s.clone())));
        params.extend(query.user_ids.iter().map(|u| ("user_ids[]", u.clone())));
        if let Some(created_after) = query.created_after {
            params.push(("created_after", rfc3339(created_after)));
        }
        self.get("memberships", &params).await
    }

    /// One membership; `None` when Whop does not know it.
    pub async fn get_membership(&self, id: &str) -> Result<Option<Membership>, WhopApiError> {
        not_found_as_none(self.get(&format!("memberships/{}", segment(id)), &[]).await)
    }

    /// One user; `None` when Whop does not know it.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, WhopApiError> {
        not_found_as_none(self.get(&format!("users/{}", segment(id)), &[]).await)
    }

    /// One page of payments, `after` the cursor of the previous page.
    pub async fn list_payments(
        &self,
        query: &PaymentQuery,
        after: Option<&str>,
    ) -> Result<Page<Payment>, WhopApiError> {
        let mut params = base_params(query.company_id.as_deref(), after);
        if let Some(created_after) = query.created_after {
            params.push(("created_after", rfc3339(created_after)));
        }
        self.get("payments", &params).await
    }

    /// GET `path` under the base URL; a 401 re-reads the key once and tries again.
    async fn get<T: DeserializeOwned + Send>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, WhopApiError> {
        let url = self.url(path)?;
        call_with_key(&self.key, SERVICE, |key| self.call(&url, params, key)).await
    }

    async fn call<T: DeserializeOwned + Send>(
        &self,
        url: &Url,
        params: &[(&str, String)],
        key: Arc<SecretString>,
    ) -> Result<T, ClientError> {
        let build = || self.request(url, params, &key);
        let (result, report) = self.client.send_json(SERVICE, build).await;
        log_call(url.path(), &report);
        result
    }

    fn request(&self, url: &Url, params: &[(&str, String)], key: &SecretString) -> RequestBuilder {
        let mut url = url.clone();
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        let request = self
            .client
            .http()
            .get(url)
            .bearer_auth(key.expose_secret())
            .header("Api-Version-Date", API_VERSION_DATE)
            .header(reqwest::header::ACCEPT, "application/json");
        match &self.app_id {
            Some(app_id) => request.header("X-Whop-App-Id", app_id),
            None => request,
        }
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        // `join` on a base without a trailing slash would drop its last segment (`v1`).
        let mut base = self.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(path).map_err(|e| ClientError::Decode {
            service: SERVICE,
            detail: format!("bad request path: {e}"),
        })
    }
}

fn base_params(company_id: Option<&str>, after: Option<&str>) -> Vec<(&'static str, String)> {
    let mut params = vec![("first", PAGE_SIZE.to_string())];
    if let Some(company_id) = company_id {
        params.push(("company_id", company_id.to_owned()));
    }
    if let Some(after) = after {
        params.push(("after", after.to_owned()));
    }
    params
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An id as one path segment: Whop ids are `[a-zA-Z0-9_]`; anything else is percent-encoded so
/// it cannot change the path.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn not_found_as_none<T>(result: Result<T, WhopApiError>) -> Result<Option<T>, WhopApiError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(WhopApiError::Call(ClientError::Provider { status: 404, .. })) => Ok(None),
        Err(error) => Err(error),
    }
}

fn log_call(path: &str, report: &CallReport) {
    if report.retries > 0 || report.outcome != "ok" {
        tracing::info!(
            service = SERVICE,
            path,
            attempts = report.attempts,
            waited_ms = u64::try_from(report.waited.as_millis()).unwrap_or(u64::MAX),
            outcome = report.outcome,
            "Whop API call needed retries or failed"
        );
    }
}

/// A Whop timestamp: ISO 8601, or Unix seconds or milliseconds as a number or a numeric string
/// (`docs/providers.md` §1a: the SDK types them as strings and the docs disagree on the format). `null`
/// reads as absent; anything else is a decode error.
fn whop_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct TimeVisitor;

    impl<'de> Visitor<'de> for TimeVisitor {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an ISO 8601 time or Unix seconds")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            parse_time_str(value)
                .map(Some)
                .ok_or_else(|| E::custom(format!("`{value}` is not a time")))
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            unix_time(value)
                .map(Some)
                .ok_or_else(|| E::custom("time out of range"))
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            self.visit_i64(i64::try_from(value).map_err(|_| E::custom("time out of range"))?)
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            unix_time_f64(value)
                .map(Some)
                .ok_or_else(|| E::custom("time out of range"))
        }
    }

    deserializer.deserialize_any(TimeVisitor)
}

mod access;

pub use access::Access;

#[cfg(test)]
mod tests;
