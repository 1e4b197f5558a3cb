//! SendGrid's v3 mail send (`docs/providers.md`, "SendGrid"): `POST /v3/mail/send` behind the
//! [`Mailer`] port, through the [`ResilientClient`] (the `sendgrid` breaker and rate limit).
//!
//! SendGrid takes no idempotency key: the notify claim (a conditional write before the send)
//! keeps a message from being sent twice across jobs, and the key travels as the custom argument
//! `idempotency_key` so SendGrid's events name it. A 202 is sent (the id from `X-Message-Id`); a
//! 429 waits for `Retry-After` or `X-RateLimit-Reset`; a 5xx is retried within the call's budget;
//! another 4xx is refused with the first error's `field` (never its message, which may quote the
//! address); a 401 re-reads the key once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::domain::ports::{Clock, Email, Mailer, SendError, Sent};
use crate::providers::client::{Admission, ApiKeySource, Reply, ResilientClient};
use crate::providers::messaging::{self, header_text, stable_code};

/// The breaker, rate limit and metrics name of SendGrid's API.
pub const SERVICE: &str = "sendgrid";
/// SendGrid's API when `SENDGRID_API_BASE_URL` is not set (EU accounts: `https://api.eu.sendgrid.com`).
pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";
/// The custom argument that carries the message's idempotency key.
pub const IDEMPOTENCY_ARG: &str = "idempotency_key";

/// SendGrid's mail send over a resilient client.
pub struct SendGrid<A, K> {
    client: ResilientClient<A>,
    url: Url,
    key: K,
}

impl<A: Admission, K: ApiKeySource> SendGrid<A, K> {
    /// `base_url` is the API root, e.g. [`DEFAULT_BASE_URL`].
    ///
    /// # Errors
    /// The base URL cannot take the path `/v3/mail/send`.
    pub fn new(
        client: ResilientClient<A>,
        base_url: &Url,
        key: K,
    ) -> Result<Self, url::ParseError> {
        let mut root = base_url.clone();
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(Self {
            url: root.join("v3/mail/send")?,
            client,
            key,
        })
    }

    pub const fn client(&self) -> &ResilientClient<A> {
        &self.client
    }
}

impl<A: Admission, K: ApiKeySource> Mailer for SendGrid<A, K> {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        let body = &MailSend::of(email);
        let recipient = email.to.join(",");
        messaging::send(
            SERVICE,
            &self.key,
            &email.idempotency_key,
            &recipient,
            |key: Arc<SecretString>| {
                let build = move || {
                    self.client
                        .http()
                        .post(self.url.clone())
                        .bearer_auth(key.expose_secret())
                        .json(body)
                };
                async move { self.client.send_with(SERVICE, build, &MailReply).await }
            },
        )
        .await
    }
}

/// The body of `POST /v3/mail/send`.
#[derive(Debug, Serialize)]
struct MailSend<'a> {
    personalizations: [Personalization<'a>; 1],
    from: Address<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<Address<'a>>,
    subject: &'a str,
    /// `text/plain` first, as SendGrid requires.
    content: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<&'a str, &'a str>,
}

#[derive(Debug, Serialize)]
struct Personalization<'a> {
    to: Vec<Address<'a>>,
    custom_args: BTreeMap<&'static str, &'a str>,
}

#[derive(Debug, Serialize)]
struct Address<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Content<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

impl<'a> MailSend<'a> {
    fn of(email: &'a Email) -> Self {
        let content = [("text/plain", &email.text), ("text/html", &email.html)]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(kind, value)| Content { kind, value })
            .collect();
        Self {
            personalizations: [Personalization {
                to: email.to.iter().map(|to| Address::parse(to)).collect(),
                custom_args: BTreeMap::from([(IDEMPOTENCY_ARG, email.idempotency_key.as_str())]),
            }],
            from: Address::parse(&email.from),
            reply_to: email.reply_to.as_deref().map(Address::parse),
            subject: &email.subject,
            content,
            headers: email
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect(),
        }
    }
}

impl<'a> Address<'a> {
    /// `Name <address>` or an address.
    fn parse(value: &'a str) -> Self {
        let value = value.trim();
        match value.strip_suffix('>').and_then(|v| v.rsplit_once('<')) {
            Some((name, email)) => {
                let name = name.trim().trim_matches('"').trim();
                Self {
                    email: email.trim(),
                    name: (!name.is_empty()).then_some(name),
                }
            }
            None => Self {
                email: value,
                name: None,
            },
        }
    }
}

/// SendGrid's answers: 202 with the id in `X-Message-Id`, errors as
/// `{"errors":[{"message","field","help"}]}`, 429 with `X-RateLimit-Reset` (Unix seconds).
struct MailReply;

impl Reply for MailReply {
    type Output = String;

    /// The message is sent whatever the body says; the id is best effort (SendGrid does not
    /// document `X-Message-Id` as always present).
    fn success(&self, _: StatusCode, headers: &HeaderMap, _: &[u8]) -> Result<String, String> {
        Ok(header_text(headers, "x-message-id")
            .unwrap_or_default()
            .to_owned())
    }

    fn error_code(&self, body: &[u8]) -> Option<String> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let first = value.get("errors")?.get(0)?;
        first
            .get("field")
            .and_then(Value::as_str)
            .and_then(stable_code)
    }

    fn retry_after(&self, headers: &HeaderMap, clock: &dyn Clock) -> Option<Duration> {
        crate::providers::client::retry_after(headers, clock).or_else(|| {
            let reset: i64 = header_text(headers, "x-ratelimit-reset")?.parse().ok()?;
            let wait = reset.saturating_sub(clock.now().timestamp()).max(0);
            Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)))
        })
    }

    /// SendGrid has no idempotency key for a mail: a send that may have reached it is not
    /// repeated (the job fails and its claim decides), so one message is never mailed twice.
    fn repeatable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
