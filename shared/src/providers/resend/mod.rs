//! Resend's e-mail API (`docs/providers.md`, "Resend"): `POST /emails` through the
//! [`ResilientClient`] under the `resend` service (its breaker, rate limit, 429 `Retry-After`,
//! 5xx retried), the message's idempotency key as `Idempotency-Key` so a resend within Resend's
//! 24-hour window is not delivered twice.
//!
//! The API key is a Secrets Manager secret `{"api_key": "re_…"}` read through
//! [`crate::providers::client::SecretKey`]: cached, re-read once on a 401. Failures become the
//! port's [`SendError`] and the outcome is logged with fingerprints only, as for every message
//! provider ([`crate::providers::messaging`]).

use std::sync::Arc;

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::ports::{Email, Mailer, SendError, Sent};
use crate::providers::client::{Admission, ApiKeySource, ResilientClient};
use crate::providers::messaging;

/// The breaker, rate limit and metrics name of Resend's API.
pub const SERVICE: &str = "resend";
/// Resend's API when `RESEND_API_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.resend.com";
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
}

impl<A: Admission, K: ApiKeySource> Mailer for ResendMailer<A, K> {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        let url = &self.emails_url()?;
        messaging::send(
            SERVICE,
            &self.key,
            &email.idempotency_key,
            &email.to.join(","),
            |key: Arc<SecretString>| async move {
                let (result, report) = self
                    .client
                    .send_json(SERVICE, || self.request(url, email, &key))
                    .await;
                (result.map(|answer: SendEmailResponse| answer.id), report)
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests;
