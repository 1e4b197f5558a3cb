//! Google sign-in's variables: all or nothing around `GOOGLE_CLIENT_ID`, every problem reported.

use url::Url;

use super::reader::Reader;
use super::{Provider, Stage};
use crate::providers::google::{
    DEFAULT_AUTHORIZATION_URL, DEFAULT_JWKS_URL, DEFAULT_TOKEN_URL, GoogleSettings,
};

/// The variables that say how a deployment signs in with Google, meaningless without
/// `GOOGLE_CLIENT_ID` (the secret id and endpoint URLs are set by the template either way).
const DEPENDENT: [&str; 2] = ["GOOGLE_REDIRECT_URI", "GOOGLE_HOSTED_DOMAIN"];

/// Google sign-in's settings: `None` (off) without `GOOGLE_CLIENT_ID`, in which case any other
/// `GOOGLE_*` sign-in variable is a problem (a half-done setup). `GOOGLE_TOKEN_URL` is the Google
/// provider's base URL, already read into `base_urls`. Endpoints must be https in prod; other
/// stages may use http (the local stand-in on loopback).
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
    base_urls: &[(Provider, Url)],
) -> Option<GoogleSettings> {
    let Some(client_id) = env.optional("GOOGLE_CLIENT_ID") else {
        for var in DEPENDENT {
            if env.optional(var).is_some() {
                env.problem(
                    var,
                    "is set but GOOGLE_CLIENT_ID is not",
                    "set GOOGLE_CLIENT_ID to the OAuth client id to turn Google sign-in on, or unset the GOOGLE_* variables",
                );
            }
        }
        return None;
    };
    let before = env.problems.len();
    if client_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
        || client_id.len() > 256
    {
        env.problem(
            "GOOGLE_CLIENT_ID",
            "is not an OAuth client id",
            "copy the client id (`….apps.googleusercontent.com`) from the Google Cloud console",
        );
    }
    let redirect_uri = match env.optional("GOOGLE_REDIRECT_URI") {
        None => {
            env.problem(
                "GOOGLE_REDIRECT_URI",
                "is required with GOOGLE_CLIENT_ID",
                "set it to this API's https://…/auth/google/callback, as registered with the client",
            );
            None
        }
        Some(value) => env
            .http_url(
                "GOOGLE_REDIRECT_URI",
                &value,
                stage,
                "https://api.example.com/auth/google/callback",
            )
            .filter(|url| {
                let ok = url.path().ends_with("/auth/google/callback") && url.fragment().is_none();
                if !ok {
                    env.problem(
                        "GOOGLE_REDIRECT_URI",
                        format!("`{url}` is not this API's /auth/google/callback"),
                        "point it at the callback route, e.g. https://api.example.com/auth/google/callback",
                    );
                }
                ok
            }),
    };
    let client_secret_id = env.optional("GOOGLE_CLIENT_SECRET_ID");
    if client_secret_id.is_none() {
        env.problem(
            "GOOGLE_CLIENT_SECRET_ID",
            "is required with GOOGLE_CLIENT_ID",
            "set it to the Secrets Manager secret holding {\"client_secret\": \"…\"}",
        );
    }
    let hosted_domain = env.optional("GOOGLE_HOSTED_DOMAIN");
    if let Some(domain) = &hosted_domain
        && !is_domain(domain)
    {
        env.problem(
            "GOOGLE_HOSTED_DOMAIN",
            format!("`{domain}` is not a domain name"),
            "set the Workspace domain accounts must belong to (e.g. example.com), or unset it to allow any",
        );
    }
    let mut endpoint = |var: &'static str, default: &str| {
        let value = env.optional(var).unwrap_or_else(|| default.to_owned());
        env.http_url(var, &value, stage, default)
    };
    let authorization_url = endpoint("GOOGLE_AUTHORIZATION_URL", DEFAULT_AUTHORIZATION_URL);
    let jwks_url = endpoint("GOOGLE_JWKS_URL", DEFAULT_JWKS_URL);
    let token_url = base_urls
        .iter()
        .find(|(provider, _)| *provider == Provider::Google)
        .map(|(_, url)| url.clone())
        .or_else(|| Url::parse(DEFAULT_TOKEN_URL).ok());
    if env.problems.len() > before {
        return None;
    }
    Some(GoogleSettings {
        client_id,
        redirect_uri: redirect_uri?,
        hosted_domain,
        client_secret_id: client_secret_id?,
        authorization_url: authorization_url?,
        token_url: token_url?,
        jwks_url: jwks_url?,
    })
}

/// Letters, digits, hyphens and dots, with a dot, as a Workspace domain is.
fn is_domain(value: &str) -> bool {
    value.len() <= 253
        && value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
