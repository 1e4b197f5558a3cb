//! One-click unsubscribe (RFC 8058): a signed token naming an address and the company whose
//! messages it gets, the link that carries it, and the two headers member messages carry.
//!
//! A token is `u1.<kid>.<payload>.<mac>`: `payload` the base64url JSON `{"a": address, "c":
//! company id, "t": issued at (Unix seconds)}`, `mac` the base64url HMAC-SHA256 of
//! `u1.<kid>.<payload>` under the unsubscribe key named by `kid` (the secret's `AWSCURRENT` signs;
//! `AWSCURRENT` and `AWSPREVIOUS` verify, the session keys' pattern, [`SessionKeys`]). A token is
//! checked in this order: shape, key, MAC, then age; every failure is one [`TokenError`] the edge
//! answers with the same 400, so a prober learns nothing.
//!
//! The link is `<api>/unsubscribe?token=…`: `GET` shows a confirmation (mail scanners follow
//! links, so it changes nothing), `POST` (a mail client's one-click `List-Unsubscribe=One-Click`,
//! or the page's form) suppresses the address.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::auth::keys::{SessionKeys, SigningKey};
use crate::domain::ports::{Clock, DependencyError, SecretSource};

/// The token format's version prefix.
pub const TOKEN_PREFIX: &str = "u1";
/// The route the link points at.
pub const PATH: &str = "/unsubscribe";
/// Longest token accepted; longer input is rejected unparsed (a real one is well under 1 KB).
pub const MAX_TOKEN_LEN: usize = 1024;
/// How far in the future a token's issue time may be (clock skew between functions).
const FUTURE_SKEW_SECS: i64 = 300;
/// Default time a link stays valid.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(180 * 86_400);
/// The body of a one-click POST (RFC 8058 §3.1), and the value of `List-Unsubscribe-Post`.
pub const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// Who asked to stop getting a company's messages. `Debug` shows no address.
#[derive(Clone, PartialEq, Eq)]
pub struct Unsubscription {
    pub address: String,
    pub company_id: String,
    pub issued_at: DateTime<Utc>,
}

impl std::fmt::Debug for Unsubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsubscription")
            .field("company_id", &self.company_id)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused. The edge answers each with the same 400 `invalid_unsubscribe_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("expired")]
    Expired,
}

/// Why an unsubscribe request could not be checked or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsubscribeError {
    #[error("invalid unsubscribe token: {0}")]
    Invalid(#[from] TokenError),
    #[error("{dependency} unavailable: {error}")]
    Unavailable {
        dependency: &'static str,
        error: DependencyError,
    },
}

#[derive(Serialize, Deserialize)]
struct Payload {
    a: String,
    c: String,
    t: i64,
}

/// The token for `unsubscription`, signed with `key`.
pub fn sign_token(key: &SigningKey, unsubscription: &Unsubscription) -> String {
    let payload = Payload {
        a: unsubscription.address.clone(),
        c: unsubscription.company_id.clone(),
        t: unsubscription.issued_at.timestamp(),
    };
    // A struct of two strings and a number always serialises.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let signed = format!(
        "{TOKEN_PREFIX}.{}.{}",
        key.kid(),
        URL_SAFE_NO_PAD.encode(json)
    );
    let mac = URL_SAFE_NO_PAD.encode(key.mac(signed.as_bytes()));
    format!("{signed}.{mac}")
}

/// A token split into its parts, before its MAC is checked.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedToken<'t> {
    pub kid: &'t str,
    /// `u1.<kid>.<payload>`: what the MAC covers.
    signed: &'t str,
    payload: &'t str,
    mac: Vec<u8>,
}

/// Splits a token: prefix, kid, payload and MAC, each in its alphabet; nothing is decoded but the
/// MAC.
pub fn parse_token(token: &str) -> Result<ParsedToken<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (signed, mac) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let mut parts = signed.splitn(3, '.');
    let (Some(TOKEN_PREFIX), Some(kid), Some(payload)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if kid.is_empty() || !kid.bytes().all(|b| b.is_ascii_hexdigit()) || payload.is_empty() {
        return Err(TokenError::Malformed);
    }
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| TokenError::Malformed)?;
    Ok(ParsedToken {
        kid,
        signed,
        payload,
        mac,
    })
}

/// The unsubscription a parsed token names, if `key` signed it and it is younger than `lifetime`
/// at `now`.
pub fn open_token(
    key: &SigningKey,
    parsed: &ParsedToken<'_>,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<Unsubscription, TokenError> {
    if key.kid() != parsed.kid {
        return Err(TokenError::UnknownKey);
    }
    if !key.verify(parsed.signed.as_bytes(), &parsed.mac) {
        return Err(TokenError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD
        .decode(parsed.payload)
        .map_err(|_| TokenError::Malformed)?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    let issued_at = DateTime::from_timestamp(payload.t, 0).ok_or(TokenError::Malformed)?;
    let age = now.timestamp().saturating_sub(payload.t);
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    if age > lifetime || age < -FUTURE_SKEW_SECS {
        return Err(TokenError::Expired);
    }
    Ok(Unsubscription {
        address: payload.a,
        company_id: payload.c,
        issued_at,
    })
}

/// The link carrying `token`: `<base>/unsubscribe?token=<token>` (`base` the API's public URL; a
/// path it has is kept).
pub fn link(base: &Url, token: &str) -> Url {
    let mut url = base.clone();
    let path = format!("{}{PATH}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.query_pairs_mut().append_pair("token", token);
    url
}

/// The RFC 8058 headers for a message whose unsubscribe link is `link`:
/// `List-Unsubscribe: <link>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
pub fn headers(link: &Url) -> Vec<(String, String)> {
    vec![
        ("List-Unsubscribe".to_owned(), format!("<{link}>")),
        ("List-Unsubscribe-Post".to_owned(), ONE_CLICK.to_owned()),
    ]
}

/// Signs and checks unsubscribe tokens with the unsubscribe key from Secrets Manager.
pub struct UnsubscribeTokens<S, C> {
    keys: SessionKeys<S, C>,
    lifetime: Duration,
}

impl<S: SecretSource, C: Clock> UnsubscribeTokens<S, C> {
    /// `secret_id` is `UNSUBSCRIBE_KEY_SECRET_ID`; `lifetime` how long a link stays valid
    /// (`UNSUBSCRIBE_TOKEN_DAYS`).
    pub fn new(
        source: S,
        clock: C,
        secret_id: impl Into<String>,
        ttl: Duration,
        lifetime: Duration,
    ) -> Self {
        Self {
            keys: SessionKeys::new(source, clock, secret_id, ttl),
            lifetime,
        }
    }

    /// A token for `address` and `company_id`, issued at `now`, signed with the current key.
    pub async fn token(
        &self,
        address: &str,
        company_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, DependencyError> {
        let key = self.keys.signing_key().await?;
        Ok(sign_token(
            &key,
            &Unsubscription {
                address: address.to_owned(),
                company_id: company_id.to_owned(),
                issued_at: now,
            },
        ))
    }

    /// The headers a member message to `address` about `company_id` carries (see [`headers`]),
    /// with a link under `base` (the API's public URL) issued at `now`.
    pub async fn headers(
        &self,
        base: &Url,
        address: &str,
        company_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, DependencyError> {
        let token = self.token(address, company_id, now).await?;
        Ok(headers(&link(base, &token)))
    }

    /// What `token` asks, if a current or previous key signed it and it has not expired.
    pub async fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Unsubscription, UnsubscribeError> {
        let parsed = parse_token(token)?;
        let key = self
            .keys
            .verifying_key(parsed.kid)
            .await
            .map_err(|error| UnsubscribeError::Unavailable {
                dependency: "unsubscribe key",
                error,
            })?
            .ok_or(TokenError::UnknownKey)?;
        Ok(open_token(&key, &parsed, now, self.lifetime)?)
    }
}

#[cfg(test)]
mod tests;
