//! Resend's e-mail API (`docs/providers.md`, "Resend"): `POST /emails` through the
//! [`ResilientClient`] under the `resend` service (its breaker, rate limit, 429 `Retry-After`,
//! 5xx retried), the message's idempotency key as `Idempotency-Key` so a resend within Resend's
//! 24-hour window is not delivered twice.
//!
//! The API key is a Secrets Manager secret `{"api_key": "re_…"}` read like Whop's
//! ([`crate::providers::whop::api::SecretKey`]): cached, re-read once on a 401. A 4xx other than
//! 401, 408, 409 and 429 is [`SendError::Refused`] (recorded, not retried); everything else that
//! fails is [`SendError::Unavailable`] (the job is retried).

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::ports::{Email, Mailer, SendError, Sent};
use crate::providers::client::{Admission, ClientError, ResilientClient};
use crate::providers::whop::api::{ApiKeySource, WhopApiError};

/// The breaker, rate limit and metrics name of Resend's API.
pub const SERVICE: &str = "resend";
/// Resend refuses requests without a `User-Agent` (403 "error 1010").
pub const USER_AGENT: &str = concat!("churn-saver/", env!("CARGO_PKG_VERSION"));

/// `POST /emails`'s body (the fields we send).
#[derive(Serialize)]
struct SendEmailRequest<'a> {
    from: &'a str,
    to: &'a [String],
    subject: &'a str,
    html: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    headers: std::collections::BTreeMap<&'a str, &'a str>,
}

/// `POST /emails`'s answer.
#[derive(Deserialize)]
struct SendEmailResponse {
    id: String,
}

/// Resend behind the [`Mailer`] port.
pub struct ResendMailer<A, K> {
    client: ResilientClient<A>,
    key: K,
    base_url: Url,
}

impl<A: Admission, K: ApiKeySource> ResendMailer<A, K> {
    pub fn new(client: ResilientClient<A>, key: K, base_url: Url) -> Self {
        Self {
            client,
            key,
            base_url,
        }
    }

    fn emails_url(&self) -> Result<Url, SendError> {
        let mut base = self.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join("emails").map_err(|_| SendError::Unavailable {
            provider: SERVICE,
            reason: "bad_base_url".into(),
            retry_after: None,
        })
    }

    fn request(&self, url: &Url, email: &Email, key: &SecretString) -> RequestBuilder {
        let body = SendEmailRequest {
            from: &email.from,
            to: &email.to,
            subject: &email.subject,
            html: &email.html,
            text: &email.text,
            reply_to: email.reply_to.as_deref(),
            headers: email
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect(),
        };
        self.client
            .http()
            .post(url.clone())
            .bearer_auth(key.expose_secret())
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header("Idempotency-Key", &email.idempotency_key)
            .json(&body)
    }

    async fn call(
        &self,
        url: &Url,
        email: &Email,
        key: &SecretString,
    ) -> Result<SendEmailResponse, ClientError> {
        let (result, report) = self
            .client
            .send_json(SERVICE, || self.request(url, email, key))
            .await;
        if report.retries > 0 || report.outcome != "ok" {
            tracing::info!(
                service = SERVICE,
                attempts = report.attempts,
                waited_ms = u64::try_from(report.waited.as_millis()).unwrap_or(u64::MAX),
                outcome = report.outcome,
                "Resend call needed retries or failed"
            );
        }
        result
    }
}

impl<A: Admission, K: ApiKeySource> Mailer for ResendMailer<A, K> {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        let url = self.emails_url()?;
        let key = self
            .key
            .api_key(false)
            .await
            .map_err(|e| key_unavailable(&e))?;
        let result = match self.call(&url, email, &key).await {
            Err(ClientError::Provider { status: 401, .. }) => {
                let fresh = self
                    .key
                    .api_key(true)
                    .await
                    .map_err(|e| key_unavailable(&e))?;
                if fresh.expose_secret() == key.expose_secret() {
                    tracing::warn!("Resend refused the API key and the secret holds no other");
                }
                self.call(&url, email, &fresh).await
            }
            other => other,
        };
        result
            .map(|response| Sent {
                provider: SERVICE,
                message_id: response.id,
            })
            .map_err(send_error)
    }
}

fn key_unavailable(error: &WhopApiError) -> SendError {
    SendError::Unavailable {
        provider: SERVICE,
        reason: format!("api_key_unavailable: {error}"),
        retry_after: None,
    }
}

/// A client error as the port's: a 4xx other than 401, 408, 409 and 429 is a refusal (with
/// Resend's error `name`), the rest is worth another delivery.
pub fn send_error(error: ClientError) -> SendError {
    match error {
        ClientError::Provider { status, code, .. }
            if (400..500).contains(&status) && !matches!(status, 401 | 408 | 409 | 429) =>
        {
            SendError::Refused {
                provider: SERVICE,
                code: code.unwrap_or_else(|| format!("http_{status}")),
            }
        }
        ClientError::RateLimited { retry_after, .. } => SendError::Unavailable {
            provider: SERVICE,
            reason: "rate_limited".into(),
            retry_after,
        },
        other => SendError::Unavailable {
            provider: SERVICE,
            reason: other.to_string(),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests;
