//! Gumroad connections' variables: all or nothing around `GUMROAD_CLIENT_ID`, every problem
//! reported.

use url::Url;

use super::reader::Reader;
use super::{Provider, Stage};
use crate::providers::gumroad::{DEFAULT_API_BASE_URL, DEFAULT_AUTHORIZATION_URL, GumroadSettings};

/// The variables meaningless without `GUMROAD_CLIENT_ID`.
const DEPENDENT: [&str; 1] = ["GUMROAD_REDIRECT_URI"];

/// Gumroad's settings: `None` (connections off) without `GUMROAD_CLIENT_ID`, in which case a
/// redirect URI is a problem (a half-done setup). `GUMROAD_API_BASE_URL` is already read into
/// `base_urls`. Endpoints must be https in prod.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
    base_urls: &[(Provider, Url)],
) -> Option<GumroadSettings> {
    let Some(client_id) = env.optional("GUMROAD_CLIENT_ID") else {
        for var in DEPENDENT {
            if env.optional(var).is_some() {
                env.problem(
                    var,
                    "is set but GUMROAD_CLIENT_ID is not",
                    "set GUMROAD_CLIENT_ID to the Gumroad OAuth application's id to turn connections on, or unset it",
                );
            }
        }
        return None;
    };
    let before = env.problems.len();
    if client_id.is_empty()
        || client_id.len() > 256
        || client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        env.problem(
            "GUMROAD_CLIENT_ID",
            "is not an OAuth application id",
            "copy the application id from Gumroad's Settings → Advanced → Applications",
        );
    }
    let redirect_uri = match env.optional("GUMROAD_REDIRECT_URI") {
        None => {
            env.problem(
                "GUMROAD_REDIRECT_URI",
                "is required with GUMROAD_CLIENT_ID",
                "set it to this API's https://…/connections/gumroad/callback, as registered with the application",
            );
            None
        }
        Some(value) => env
            .http_url(
                "GUMROAD_REDIRECT_URI",
                &value,
                stage,
                "https://api.example.com/connections/gumroad/callback",
            )
            .filter(|url| {
                let ok = url.path().ends_with("/connections/gumroad/callback")
                    && url.query().is_none()
                    && url.fragment().is_none();
                if !ok {
                    env.problem(
                        "GUMROAD_REDIRECT_URI",
                        format!("`{url}` is not this API's /connections/gumroad/callback"),
                        "point it at the callback route, e.g. https://api.example.com/connections/gumroad/callback",
                    );
                }
                ok
            }),
    };
    let mut secret_id = |var: &'static str, holds: &str| {
        let value = env.optional(var);
        if value.is_none() {
            env.problem(
                var,
                "is required with GUMROAD_CLIENT_ID",
                format!("set it to the Secrets Manager secret holding {holds}"),
            );
        }
        value
    };
    let client_secret_id = secret_id("GUMROAD_CLIENT_SECRET_ID", "{\"client_secret\": \"…\"}");
    let data_key_secret_id = secret_id(
        "GUMROAD_DATA_KEY_SECRET_ID",
        "the 32-byte data key the tokens are sealed with (base64 or hex)",
    );
    let authorization_url = {
        let value = env
            .optional("GUMROAD_AUTHORIZATION_URL")
            .unwrap_or_else(|| DEFAULT_AUTHORIZATION_URL.to_owned());
        env.http_url(
            "GUMROAD_AUTHORIZATION_URL",
            &value,
            stage,
            DEFAULT_AUTHORIZATION_URL,
        )
    };
    let api_base_url = base_urls
        .iter()
        .find(|(provider, _)| *provider == Provider::Gumroad)
        .map(|(_, url)| url.clone())
        .or_else(|| Url::parse(DEFAULT_API_BASE_URL).ok());
    if env.problems.len() > before {
        return None;
    }
    Some(GumroadSettings {
        client_id,
        redirect_uri: redirect_uri?,
        client_secret_id: client_secret_id?,
        data_key_secret_id: data_key_secret_id?,
        authorization_url: authorization_url?,
        api_base_url: api_base_url?,
    })
}
