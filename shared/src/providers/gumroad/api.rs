//! Gumroad's OAuth token endpoint and the v2 calls a connection makes, through the
//! [`ResilientClient`] (the `gumroad` service's breaker and limits, `Provider::Gumroad`).
//! Gumroad answers errors as HTTP 200 with `{"success": false, "message": …}` as often as with a
//! 4xx; both are [`GumroadError::Rejected`], a 401 is [`GumroadError::Unauthorized`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::SERVICE;
use crate::domain::ports::{Clock, SecretSource, VersionStage};
use crate::domain::secret::{SecretError, VersionedSecret};
use crate::providers::client::{Admission, ClientError, Reply, ResilientClient};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How long the client secret is cached.
pub const CLIENT_SECRET_TTL: Duration = Duration::from_secs(300);

/// Why a Gumroad call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GumroadError {
    /// 401: the token (or code) is not accepted.
    #[error("Gumroad refused the credentials")]
    Unauthorized,
    /// A 4xx or `success: false`; Gumroad's message.
    #[error("Gumroad refused the call: {0}")]
    Rejected(String),
    /// Gumroad (or our admission to it) is unavailable; the client's code.
    #[error("Gumroad is unavailable ({0})")]
    Unavailable(String),
    /// 429, or our share of the rate limit spent: again after the wait, when known.
    #[error("Gumroad's rate limit is reached")]
    RateLimited { retry_after: Option<Duration> },
    /// 400 "Query timed out. Try narrowing your date range": the sales listing's range is too
    /// wide.
    #[error("Gumroad's query timed out")]
    QueryTimedOut,
}

/// The stable code [`GumroadReply`] gives a timed out query.
const QUERY_TIMED_OUT: &str = "query_timed_out";

/// A v2 answer: JSON into `T`. Gumroad's error bodies have no stable code; the one error sync
/// must tell apart, a timed out query, gets [`QUERY_TIMED_OUT`].
struct GumroadReply<T>(std::marker::PhantomData<fn() -> T>);

impl<T: DeserializeOwned + Send> Reply for GumroadReply<T> {
    type Output = T;

    fn success(&self, _: StatusCode, _: &HeaderMap, body: &[u8]) -> Result<T, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    fn error_code(&self, body: &[u8]) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let text = value
            .get("message")
            .or_else(|| value.get("error"))?
            .as_str()?;
        text.to_ascii_lowercase()
            .contains("query timed out")
            .then(|| QUERY_TIMED_OUT.to_owned())
    }
}

/// A page of a v2 listing: its records under `key` and the next page's key.
#[derive(Debug, Deserialize)]
pub struct Listing {
    #[serde(default)]
    pub next_page_key: Option<String>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl Listing {
    /// The records under `key` (none when absent).
    pub fn records(&mut self, key: &str) -> Vec<serde_json::Value> {
        match self.rest.remove(key) {
            Some(serde_json::Value::Array(records)) => records,
            _ => Vec::new(),
        }
    }
}

/// What the token endpoint gives.
#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(…)")
    }
}

/// The `{"success": …, "message": …}` every v2 answer carries.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
struct UserBody {
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    user_id: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct SubscriptionBody {
    resource_subscription: Option<ResourceSubscription>,
}

#[derive(Deserialize)]
struct ResourceSubscription {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Nothing {}

/// Gumroad's API for one OAuth application.
pub struct GumroadApi<A, S, C> {
    client: ResilientClient<A>,
    base: Url,
    client_id: String,
    redirect_uri: Url,
    secret: VersionedSecret<S, C, SecretString, String>,
}

impl<A: Admission, S: SecretSource, C: Clock> GumroadApi<A, S, C> {
    pub fn new(
        client: ResilientClient<A>,
        settings: &super::GumroadSettings,
        source: S,
        clock: C,
    ) -> Self {
        Self {
            client,
            base: settings.api_base_url.clone(),
            client_id: settings.client_id.clone(),
            redirect_uri: settings.redirect_uri.clone(),
            secret: VersionedSecret::new(
                source,
                clock,
                settings.client_secret_id.clone(),
                CLIENT_SECRET_TTL,
                crate::providers::google::parse_client_secret,
            ),
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    async fn client_secret(&self) -> Result<SecretString, GumroadError> {
        match self.secret.get(VersionStage::Current).await {
            Ok(Some(secret)) => Ok(SecretString::clone(&secret)),
            Ok(None) => Err(GumroadError::Unavailable("client_secret_missing".into())),
            Err(SecretError::Unavailable(_)) => Err(GumroadError::Unavailable(
                "client_secret_unavailable".into(),
            )),
            Err(SecretError::Invalid { .. }) => {
                Err(GumroadError::Unavailable("client_secret_invalid".into()))
            }
        }
    }

    /// Exchanges an authorization code (one attempt: a code is single-use).
    pub async fn exchange(&self, code: &str) -> Result<Tokens, GumroadError> {
        let secret = self.client_secret().await?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", secret.expose_secret())
            .append_pair("redirect_uri", self.redirect_uri.as_str())
            .finish();
        self.token(body).await
    }

    /// A new access token for a refresh token.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Tokens, GumroadError> {
        let secret = self.client_secret().await?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token.expose_secret())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", secret.expose_secret())
            .finish();
        self.token(body).await
    }

    async fn token(&self, body: String) -> Result<Tokens, GumroadError> {
        let url = self.url("/oauth/token");
        let (result, _) = self
            .client
            .send_json::<Tokens, _>(SERVICE, || {
                self.client
                    .http()
                    .post(url.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.clone())
            })
            .await;
        result.map_err(|error| match error {
            // `invalid_grant`: a used, expired or foreign code or refresh token.
            ClientError::Provider { status, .. } if (400..500).contains(&status) => {
                GumroadError::Unauthorized
            }
            other => GumroadError::Unavailable(other.code().to_owned()),
        })
    }

    /// One v2 call with `access_token`.
    async fn call<T: DeserializeOwned + Send>(
        &self,
        method: reqwest::Method,
        path: &str,
        access_token: &SecretString,
        form: Option<String>,
    ) -> Result<T, GumroadError> {
        self.call_url(method, self.url(path), access_token, form)
            .await
    }

    /// [`Self::call`] at a URL with its query.
    async fn call_url<T: DeserializeOwned + Send>(
        &self,
        method: reqwest::Method,
        url: Url,
        access_token: &SecretString,
        form: Option<String>,
    ) -> Result<T, GumroadError> {
        let reply = GumroadReply::<Envelope<T>>(std::marker::PhantomData);
        let (result, _) = self
            .client
            .send_with(
                SERVICE,
                || {
                    let request = self
                        .client
                        .http()
                        .request(method.clone(), url.clone())
                        .bearer_auth(access_token.expose_secret())
                        .header(reqwest::header::ACCEPT, "application/json");
                    match &form {
                        Some(body) => request
                            .header(
                                reqwest::header::CONTENT_TYPE,
                                "application/x-www-form-urlencoded",
                            )
                            .body(body.clone()),
                        None => request,
                    }
                },
                &reply,
            )
            .await;
        match result {
            Ok(envelope) if envelope.success == Some(false) => Err(GumroadError::Rejected(
                envelope.message.unwrap_or_else(|| "success: false".into()),
            )),
            Ok(envelope) => Ok(envelope.body),
            Err(ClientError::Provider { status: 401, .. }) => Err(GumroadError::Unauthorized),
            Err(ClientError::Provider {
                status: 400,
                code: Some(code),
                ..
            }) if code == QUERY_TIMED_OUT => Err(GumroadError::QueryTimedOut),
            Err(ClientError::RateLimited { retry_after, .. }) => {
                Err(GumroadError::RateLimited { retry_after })
            }
            Err(ClientError::Provider { status, .. }) if (400..500).contains(&status) => {
                Err(GumroadError::Rejected(format!("HTTP {status}")))
            }
            Err(other) => Err(GumroadError::Unavailable(other.code().to_owned())),
        }
    }

    /// The seller id of the token's account (`GET /v2/user`).
    pub async fn seller_id(&self, access_token: &SecretString) -> Result<String, GumroadError> {
        let body: UserBody = self
            .call(reqwest::Method::GET, "/v2/user", access_token, None)
            .await?;
        body.user
            .and_then(|user| user.user_id.or(user.id))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| GumroadError::Rejected("the user has no user_id".into()))
    }

    /// A page of a listing (`GET <path>?<query>&page_key=…`) with `access_token`.
    pub async fn list(
        &self,
        access_token: &SecretString,
        path: &str,
        query: &[(&str, String)],
        page_key: Option<&str>,
    ) -> Result<Listing, GumroadError> {
        let mut url = self.url(path);
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
            if let Some(key) = page_key {
                pairs.append_pair("page_key", key);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.call_url(reqwest::Method::GET, url, access_token, None)
            .await
    }

    /// One record (`GET /v2/sales/{id}` → `sale`, `GET /v2/subscribers/{id}` → `subscriber`):
    /// `path` and the id, the record under `key`. A missing record is Gumroad's refusal
    /// ([`GumroadError::Rejected`]).
    pub async fn record(
        &self,
        access_token: &SecretString,
        path: &str,
        id: &str,
        key: &str,
    ) -> Result<serde_json::Value, GumroadError> {
        let path = format!(
            "{path}/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let mut body: serde_json::Map<String, serde_json::Value> = self
            .call(reqwest::Method::GET, &path, access_token, None)
            .await?;
        match body.remove(key) {
            Some(record @ serde_json::Value::Object(_)) => Ok(record),
            _ => Err(GumroadError::Rejected(format!("no {key} in the answer"))),
        }
    }

    /// Subscribes `post_url` to `resource` (`PUT /v2/resource_subscriptions`); the
    /// subscription's id.
    pub async fn subscribe(
        &self,
        access_token: &SecretString,
        resource: &str,
        post_url: &Url,
    ) -> Result<String, GumroadError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resource_name", resource)
            .append_pair("post_url", post_url.as_str())
            .finish();
        let body: SubscriptionBody = self
            .call(
                reqwest::Method::PUT,
                "/v2/resource_subscriptions",
                access_token,
                Some(form),
            )
            .await?;
        body.resource_subscription
            .and_then(|subscription| subscription.id)
            .ok_or_else(|| GumroadError::Rejected("no resource_subscription id".into()))
    }

    /// Removes a resource subscription (`DELETE /v2/resource_subscriptions/{id}`).
    pub async fn unsubscribe(
        &self,
        access_token: &SecretString,
        id: &str,
    ) -> Result<(), GumroadError> {
        let path = format!(
            "/v2/resource_subscriptions/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        self.call::<Nothing>(reqwest::Method::DELETE, &path, access_token, None)
            .await
            .map(|_| ())
    }
}
