//! Google sign-in (OpenID Connect, `docs/providers.md` §8): the authorization URL, the code
//! exchange at the token endpoint through the [`ResilientClient`] (the `google` service's breaker
//! and limits), and the ID token's signature ([`id_token`]). The domain side of the flow is
//! [`crate::domain::auth::oidc`].
//!
//! The client secret is a Secrets Manager secret (`{"client_secret": "…"}`,
//! `GOOGLE_CLIENT_SECRET_ID`), cached for [`CLIENT_SECRET_TTL`].

pub mod id_token;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::auth::oidc::{IdClaims, SignInError};
use crate::domain::ports::{Clock, OidcProvider, SecretSource, VersionStage};
use crate::domain::secret::{SecretError, VersionedSecret};
use crate::providers::client::{Admission, ClientError, ResilientClient};
use id_token::GoogleKeys;

/// The breaker, rate limit and metrics name of Google's endpoints.
pub const SERVICE: &str = "google";
/// Google's authorization endpoint.
pub const DEFAULT_AUTHORIZATION_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Where Google publishes the keys that sign its ID tokens (JWK form).
pub const DEFAULT_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The scopes asked for.
pub const SCOPES: &str = "openid email profile";
/// How long the client secret is cached.
pub const CLIENT_SECRET_TTL: Duration = Duration::from_secs(300);

/// Google sign-in's configuration (`GOOGLE_*`, validated in [`crate::edge::config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleSettings {
    /// `GOOGLE_CLIENT_ID`: the OAuth client id, and the only `aud` accepted.
    pub client_id: String,
    /// `GOOGLE_REDIRECT_URI`: this API's `/auth/google/callback` as registered with Google.
    pub redirect_uri: Url,
    /// `GOOGLE_HOSTED_DOMAIN`: when set, only accounts of this Workspace domain (`hd`).
    pub hosted_domain: Option<String>,
    /// `GOOGLE_CLIENT_SECRET_ID`: the secret holding `{"client_secret": "…"}`.
    pub client_secret_id: String,
    /// `GOOGLE_AUTHORIZATION_URL` (default [`DEFAULT_AUTHORIZATION_URL`]).
    pub authorization_url: Url,
    /// `GOOGLE_TOKEN_URL` (default [`DEFAULT_TOKEN_URL`]).
    pub token_url: Url,
    /// `GOOGLE_JWKS_URL` (default [`DEFAULT_JWKS_URL`]).
    pub jwks_url: Url,
}

/// The client secret from its Secrets Manager secret, cached.
pub struct ClientSecret<S, C> {
    secret: VersionedSecret<S, C, SecretString, String>,
}

impl<S: SecretSource, C: Clock> ClientSecret<S, C> {
    pub fn new(source: S, clock: C, secret_id: impl Into<String>) -> Self {
        Self {
            secret: VersionedSecret::new(
                source,
                clock,
                secret_id,
                CLIENT_SECRET_TTL,
                parse_client_secret,
            ),
        }
    }

    async fn get(&self) -> Result<SecretString, SignInError> {
        let unavailable = |why: String| SignInError::ProviderUnavailable(why);
        match self.secret.get(VersionStage::Current).await {
            Ok(Some(secret)) => Ok(SecretString::clone(&secret)),
            Ok(None) => Err(unavailable("the client secret has no current value".into())),
            Err(SecretError::Unavailable(error)) => Err(unavailable(error.to_string())),
            Err(SecretError::Invalid { error, .. }) => Err(unavailable(error)),
        }
    }
}

/// The `client_secret` of the secret's JSON.
pub(crate) fn parse_client_secret(value: &str) -> Result<SecretString, String> {
    #[derive(Deserialize)]
    struct Stored {
        client_secret: Option<SecretString>,
    }
    let stored: Stored = serde_json::from_str(value)
        .map_err(|_| "the secret is not `{\"client_secret\": \"…\"}`".to_owned())?;
    stored
        .client_secret
        .filter(|secret| !secret.expose_secret().trim().is_empty())
        .ok_or_else(|| "the secret's `client_secret` is empty".to_owned())
}

/// The token endpoint's answer (only the ID token is used).
#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

/// Google as the domain's [`OidcProvider`].
pub struct GoogleOidc<A, S, C> {
    pub settings: GoogleSettings,
    pub client: ResilientClient<A>,
    pub secret: ClientSecret<S, C>,
    pub keys: GoogleKeys<C>,
}

impl<A: Admission, S: SecretSource, C: Clock> OidcProvider for GoogleOidc<A, S, C> {
    fn authorization_url(&self, state: &str, nonce: &str, challenge: &str) -> String {
        let mut url = self.settings.authorization_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", self.settings.redirect_uri.as_str())
            .append_pair("scope", SCOPES)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(domain) = &self.settings.hosted_domain {
            // A hint for Google's account chooser only; the `hd` claim is what is checked.
            url.query_pairs_mut().append_pair("hd", domain);
        }
        url.into()
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<IdClaims, SignInError> {
        let secret = self.secret.get().await?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("client_secret", secret.expose_secret())
            .append_pair("redirect_uri", self.settings.redirect_uri.as_str())
            .append_pair("code_verifier", verifier)
            .finish();
        let (result, _) = self
            .client
            .send_json::<TokenResponse, _>(SERVICE, || {
                self.client
                    .http()
                    .post(self.settings.token_url.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.clone())
            })
            .await;
        let token = match result {
            Ok(TokenResponse {
                id_token: Some(token),
            }) => token,
            Ok(_) => return Err(SignInError::Malformed("the token response has no id_token")),
            // `invalid_grant` and the like: a used, expired or foreign code, or a wrong verifier.
            Err(ClientError::Provider { status, .. }) if (400..500).contains(&status) => {
                return Err(SignInError::CodeRejected);
            }
            Err(error) => return Err(SignInError::ProviderUnavailable(error.code().to_owned())),
        };
        id_token::verify(&token, &self.keys).await
    }
}

/// The retry policy of the code exchange: one attempt (a code is single-use, so a retry after a
/// lost answer could only fail), bounded well within the function's timeout.
pub fn exchange_policy() -> crate::providers::client::RetryPolicy {
    crate::providers::client::RetryPolicy {
        max_attempts: 1,
        budget: Duration::from_secs(8),
        attempt_timeout: Duration::from_secs(5),
        ..crate::providers::client::RetryPolicy::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_secret_is_read_from_its_json() {
        assert_eq!(
            parse_client_secret(r#"{"client_secret": "s3cret"}"#)
                .unwrap()
                .expose_secret(),
            "s3cret"
        );
        for bad in ["s3cret", "{}", r#"{"client_secret": " "}"#] {
            assert!(parse_client_secret(bad).is_err(), "{bad}");
        }
    }
}
