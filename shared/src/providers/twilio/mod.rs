//! Twilio's Messages API (`docs/providers.md`, "Twilio"): `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic with the account
//! SID and auth token, behind the [`TextSender`] port through the [`ResilientClient`] (the
//! `twilio` breaker and rate limit).
//!
//! The credentials are a Secrets Manager secret `{"account_sid": "AC…", "auth_token": "…"}`,
//! cached and re-read once on a 401. A 201 is sent (the message `sid`); 429 and 5xx are retried;
//! another 4xx is refused with Twilio's numeric error `code` (21610: the recipient opted out;
//! 21211: an invalid number), never the number or the body.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domain::ports::{Clock, SecretSource, SendError, Sent, TextMessage, TextSender};
use crate::providers::client::{Admission, ApiKeySource, Reply, ResilientClient, SecretKey};
use crate::providers::messaging::{self, stable_code};

/// The breaker, rate limit and metrics name of Twilio's API.
pub const SERVICE: &str = "twilio";
/// Twilio's API when `TWILIO_API_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The account SID (in the path and the Basic user) and its auth token.
#[derive(Clone)]
pub struct TwilioCredentials {
    pub account_sid: String,
    pub auth_token: SecretString,
}

impl std::fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

/// `{"account_sid": "AC…", "auth_token": "…"}`; the error never quotes the value.
///
/// # Errors
/// Not that shape, or a part is empty.
pub fn parse_credentials(value: &str) -> Result<TwilioCredentials, String> {
    #[derive(Deserialize)]
    struct Stored {
        account_sid: Option<String>,
        auth_token: Option<SecretString>,
    }
    let stored: Stored = serde_json::from_str(value).map_err(|_| {
        "the secret is not `{\"account_sid\": \"AC…\", \"auth_token\": \"…\"}`".to_owned()
    })?;
    let account_sid = stored
        .account_sid
        .map(|sid| sid.trim().to_owned())
        .filter(|sid| sid.starts_with("AC") && sid.len() > 2)
        .ok_or_else(|| "the secret's `account_sid` is not an account SID (`AC…`)".to_owned())?;
    let auth_token = stored
        .auth_token
        .filter(|token| !token.expose_secret().trim().is_empty())
        .ok_or_else(|| "the secret's `auth_token` is empty".to_owned())?;
    Ok(TwilioCredentials {
        account_sid,
        auth_token,
    })
}

/// The credentials from a Secrets Manager secret, cached and re-read on a 401.
pub fn secret_credentials<S: SecretSource, C: Clock>(
    source: S,
    clock: C,
    secret_id: impl Into<String>,
) -> SecretKey<S, C, TwilioCredentials> {
    SecretKey::with_parser(source, clock, secret_id, parse_credentials)
}

/// Twilio's Messages API over a resilient client.
pub struct Twilio<A, K> {
    client: ResilientClient<A>,
    base_url: Url,
    credentials: K,
    /// `From`: an E.164 number, or a Messaging Service SID (`MG…`) sent as `MessagingServiceSid`.
    from: String,
}

impl<A: Admission, K: ApiKeySource<TwilioCredentials>> Twilio<A, K> {
    /// `base_url` is the API root, e.g. [`DEFAULT_BASE_URL`]; `from` as `TWILIO_FROM_NUMBER`.
    pub fn new(
        client: ResilientClient<A>,
        base_url: Url,
        credentials: K,
        from: impl Into<String>,
    ) -> Self {
        Self {
            client,
            base_url,
            credentials,
            from: from.into(),
        }
    }

    pub const fn client(&self) -> &ResilientClient<A> {
        &self.client
    }

    fn url(&self, account_sid: &str) -> Result<Url, url::ParseError> {
        let mut root = self.base_url.clone();
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        let sid: String = url::form_urlencoded::byte_serialize(account_sid.as_bytes()).collect();
        root.join(&format!("2010-04-01/Accounts/{sid}/Messages.json"))
    }
}

impl<A: Admission, K: ApiKeySource<TwilioCredentials>> TextSender for Twilio<A, K> {
    async fn send_text(&self, message: &TextMessage) -> Result<Sent, SendError> {
        let sender = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &message.to)
            .append_pair(sender, &self.from)
            .append_pair("Body", &message.body)
            .finish();
        messaging::send(
            SERVICE,
            &self.credentials,
            &message.idempotency_key,
            &message.to,
            |credentials: Arc<TwilioCredentials>| {
                let url = self.url(&credentials.account_sid);
                async move {
                    let url = match url {
                        Ok(url) => url,
                        Err(error) => {
                            let error = crate::providers::client::ClientError::Decode {
                                service: SERVICE,
                                detail: format!("bad account SID in the path: {error}"),
                            };
                            return (Err(error), crate::providers::client::CallReport::default());
                        }
                    };
                    let build = || {
                        self.client
                            .http()
                            .post(url.clone())
                            .basic_auth(
                                &credentials.account_sid,
                                Some(credentials.auth_token.expose_secret()),
                            )
                            .header(
                                reqwest::header::CONTENT_TYPE,
                                "application/x-www-form-urlencoded",
                            )
                            .body(form.clone())
                    };
                    self.client.send_with(SERVICE, build, &MessageReply).await
                }
            },
        )
        .await
    }
}

/// Twilio's answers: 201 with the message resource (`sid`), errors as
/// `{"code": 21211, "message", "more_info", "status"}` (or RFC 9457 with the same `code`).
struct MessageReply;

impl Reply for MessageReply {
    type Output = String;

    /// The message is queued whatever the body says; the `sid` is best effort.
    fn success(&self, _: StatusCode, _: &HeaderMap, body: &[u8]) -> Result<String, String> {
        let sid = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|value| value.get("sid")?.as_str().map(str::to_owned));
        Ok(sid.unwrap_or_default())
    }

    fn error_code(&self, body: &[u8]) -> Option<String> {
        let value: Value = serde_json::from_slice(body).ok()?;
        match value.get("code")? {
            Value::Number(code) => Some(code.to_string()),
            Value::String(code) => stable_code(code),
            _ => None,
        }
    }

    /// Twilio has no idempotency key for a message: a send that may have reached it is not
    /// repeated (the job fails and its claim decides), so one alert is never texted twice.
    fn repeatable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
