//! PayPal's online verification (`PAYPAL_VERIFICATION=online`): the delivery's transmission
//! headers and its raw event posted to `/v1/notifications/verify-webhook-signature`, which answers
//! `SUCCESS` or `FAILURE`, with an OAuth client-credentials token (`/v1/oauth2/token`) cached
//! until shortly before it expires; both calls through the [`ResilientClient`] (the `paypal`
//! service's breaker and limits). See `docs/providers.md` (PayPal).

use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::PayPalApiSettings;
use super::verify::{SHA256_WITH_RSA, Transmission};
use crate::domain::ports::{Clock, SecretSource, VersionStage};
use crate::domain::secret::{SecretError, VersionedSecret};
use crate::providers::client::{Admission, ClientError, RawBody, ResilientClient};

/// The breaker, rate limit and metrics name of PayPal's API.
pub const SERVICE: &str = "paypal";
/// A token is renewed this long before PayPal says it expires.
pub const TOKEN_MARGIN_SECS: i64 = 60;
/// How long the client secret is cached.
pub const CLIENT_SECRET_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// What PayPal's online check said, or why it could not be asked (the delivery is then answered
/// 503 and PayPal retries it).
pub type CheckResult = Result<bool, String>;

/// The online check as [`super::PayPal`] holds it (whatever its client and secret source).
pub trait OnlineCheck: Send + Sync {
    /// Whether PayPal verifies `transmission` of `body` for `webhook_id`.
    fn check<'a>(
        &'a self,
        transmission: &'a Transmission<'_>,
        webhook_id: &'a str,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;
}

/// A bearer token and when it stops being used (Unix seconds).
struct Token {
    value: SecretString,
    renew_at: i64,
}

/// Why PayPal's API could not be called with a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The client secret could not be read or is unusable.
    #[error("the PayPal client secret: {0}")]
    Secret(String),
    /// The token grant failed (its status, breaker, limits: see [`ClientError`]).
    #[error(transparent)]
    Grant(#[from] ClientError),
}

/// PayPal's REST API as the app: its base URL, the resilient client and the OAuth
/// client-credentials token, cached until [`TOKEN_MARGIN_SECS`] before it expires (one grant at
/// a time). The online verifier and the subscriptions reconcile ([`super::sync`]) call through it.
pub struct PayPalApi<A, S, C> {
    api: PayPalApiSettings,
    client: ResilientClient<A>,
    secret: VersionedSecret<S, C, SecretString, String>,
    clock: C,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl<A: Admission, S: SecretSource, C: Clock + Clone> PayPalApi<A, S, C> {
    pub fn new(api: PayPalApiSettings, client: ResilientClient<A>, source: S, clock: C) -> Self {
        let secret = VersionedSecret::new(
            source,
            clock.clone(),
            api.client_secret_id.clone(),
            CLIENT_SECRET_TTL,
            crate::providers::google::parse_client_secret,
        );
        Self {
            api,
            client,
            secret,
            clock,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// The resilient client the calls go through.
    pub fn client(&self) -> &ResilientClient<A> {
        &self.client
    }

    /// `path` under the API's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base_url.as_str().trim_end_matches('/'))
    }

    /// The cached token, or a fresh one (one grant at a time).
    ///
    /// # Errors
    /// The client secret unreadable, or the grant refused or not answered.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now().timestamp();
        if let Some(token) = cached.as_ref().filter(|token| now < token.renew_at) {
            return Ok(token.value.clone());
        }
        let secret = match self.secret.get(VersionStage::Current).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return Err(TokenError::Secret(
                    "the PayPal client secret has no current value".to_owned(),
                ));
            }
            Err(SecretError::Unavailable(error)) => {
                return Err(TokenError::Secret(error.to_string()));
            }
            Err(SecretError::Invalid { error, .. }) => return Err(TokenError::Secret(error)),
        };
        #[derive(Deserialize)]
        struct Granted {
            access_token: SecretString,
            expires_in: i64,
        }
        let url = self.url("/v1/oauth2/token");
        let (granted, _) = self
            .client
            .send_json::<Granted, _>(SERVICE, || {
                self.client
                    .http()
                    .post(&url)
                    .basic_auth(&self.api.client_id, Some(secret.expose_secret()))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
            })
            .await;
        let granted = granted?;
        let value = granted.access_token.clone();
        *cached = Some(Token {
            value: granted.access_token,
            renew_at: now + granted.expires_in.saturating_sub(TOKEN_MARGIN_SECS),
        });
        Ok(value)
    }

    /// The body PayPal answers to `GET path` with the app's token, or `None` when it does not
    /// know the resource (404). A refused token is dropped and a new one asked once.
    ///
    /// # Errors
    /// The token cannot be had, or the call failed.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, TokenError> {
        let url = self.url(path);
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let (body, _) = self
                .client
                .send_with(
                    SERVICE,
                    || {
                        self.client
                            .http()
                            .get(&url)
                            .bearer_auth(token.expose_secret())
                    },
                    &RawBody,
                )
                .await;
            match body {
                Ok(body) => return Ok(Some(body)),
                Err(ClientError::Provider { status: 404, .. }) => return Ok(None),
                Err(error @ ClientError::Provider { status: 401, .. }) if !retried => {
                    self.forget_refused(&error).await;
                    retried = true;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Drops the cached token when PayPal refused it (`error` a 401): revoked or expired early,
    /// the next call gets a new one.
    pub async fn forget_refused(&self, error: &ClientError) {
        if matches!(error, ClientError::Provider { status: 401, .. }) {
            *self.token.lock().await = None;
        }
    }
}

/// The online verifier over a client, a secret source and a clock.
pub struct OnlineVerifier<A, S, C> {
    api: PayPalApi<A, S, C>,
}

impl<A: Admission, S: SecretSource, C: Clock + Clone> OnlineVerifier<A, S, C> {
    pub fn new(api: PayPalApiSettings, client: ResilientClient<A>, source: S, clock: C) -> Self {
        Self {
            api: PayPalApi::new(api, client, source, clock),
        }
    }

    /// See [`OnlineCheck::check`].
    async fn ask(
        &self,
        transmission: &Transmission<'_>,
        webhook_id: &str,
        body: &[u8],
    ) -> CheckResult {
        // PayPal checks the CRC-32 of the event as sent: it goes in verbatim. A body that is not
        // JSON cannot be PayPal's.
        let Some(event) = std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text.to_owned()).ok())
        else {
            return Ok(false);
        };
        let request = serde_json::json!({
            "auth_algo": SHA256_WITH_RSA,
            "cert_url": transmission.cert_url,
            "transmission_id": transmission.id,
            "transmission_sig": STANDARD.encode(&transmission.signature),
            "transmission_time": transmission.time,
            "webhook_id": webhook_id,
            "webhook_event": event,
        });
        let token = self.api.token().await.map_err(|error| error.to_string())?;
        #[derive(Deserialize)]
        struct Answer {
            verification_status: String,
        }
        let url = self.api.url("/v1/notifications/verify-webhook-signature");
        let client = self.api.client();
        let (answer, _) = client
            .send_json::<Answer, _>(SERVICE, || {
                client
                    .http()
                    .post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(&request)
            })
            .await;
        match answer {
            Ok(answer) => Ok(answer.verification_status == "SUCCESS"),
            Err(error) => {
                // A refused token: the next delivery gets a new one.
                self.api.forget_refused(&error).await;
                Err(error.to_string())
            }
        }
    }
}

impl<A, S, C> OnlineCheck for OnlineVerifier<A, S, C>
where
    A: Admission,
    S: SecretSource,
    C: Clock + Clone,
{
    fn check<'a>(
        &'a self,
        transmission: &'a Transmission<'_>,
        webhook_id: &'a str,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>> {
        Box::pin(self.ask(transmission, webhook_id, body))
    }
}
