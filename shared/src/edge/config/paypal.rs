//! PayPal webhooks' variables: off (a PayPal delivery is refused with `no_secrets`) without
//! `PAYPAL_WEBHOOK_ID`; the test trust anchor and loopback certificate URLs are refused in prod;
//! the REST app (`PAYPAL_CLIENT_ID`) needs its secret and `PAYPAL_API_BASE_URL`.

use url::Url;

use super::reader::Reader;
use super::{Provider, Stage};
use crate::domain::webhooks::verify::DEFAULT_TOLERANCE_SECS;
use crate::providers::paypal::{PayPalApiSettings, PayPalSettings, Verification, is_webhook_id};

/// The variables meaningless without `PAYPAL_WEBHOOK_ID`.
const DEPENDENT: [&str; 4] = [
    "PAYPAL_COMPANY_ID",
    "PAYPAL_TEST_ROOT_PEM",
    "PAYPAL_ALLOW_LOOPBACK_CERT_URLS",
    "PAYPAL_CLIENT_ID",
];

/// `PAYPAL_API_BASE_URL` is already read into `base_urls`.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
    base_urls: &[(Provider, Url)],
) -> Option<PayPalSettings> {
    let Some(webhook_id) = env.optional("PAYPAL_WEBHOOK_ID") else {
        for var in DEPENDENT {
            // The template sets the flag to `false` when PayPal is off: only `true` is half a setup.
            let set = if var == "PAYPAL_ALLOW_LOOPBACK_CERT_URLS" {
                env.flag(var, false)
            } else {
                env.optional(var).is_some()
            };
            if set {
                env.problem(
                    var,
                    "is set but PAYPAL_WEBHOOK_ID is not",
                    "set PAYPAL_WEBHOOK_ID to the webhook's id from PayPal's dashboard, or unset the PAYPAL_* variables",
                );
            }
        }
        return None;
    };
    if !is_webhook_id(&webhook_id) {
        env.problem(
            "PAYPAL_WEBHOOK_ID",
            "is not a PayPal webhook id (1–50 letters and digits)",
            "copy the webhook's id from PayPal's developer dashboard (Apps & Credentials → the app → Webhooks)",
        );
    }
    let company_id = env.optional("PAYPAL_COMPANY_ID");
    if company_id
        .as_deref()
        .is_some_and(|id| id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic() && b != b'#'))
    {
        env.problem(
            "PAYPAL_COMPANY_ID",
            "is not a company id (1–128 printable ASCII characters without `#`)",
            "set it to the company PayPal's subscriptions belong to (e.g. biz_…), or unset it",
        );
    }
    let test_root_pem = env.optional("PAYPAL_TEST_ROOT_PEM");
    let allow_loopback_cert_urls = env.flag("PAYPAL_ALLOW_LOOPBACK_CERT_URLS", false);
    if stage == Stage::Prod {
        if test_root_pem.is_some() {
            env.problem(
                "PAYPAL_TEST_ROOT_PEM",
                "is set in prod, where only the shipped roots are trusted",
                "unset it: the test trust anchor is for the local, dev and staging stages",
            );
        }
        if allow_loopback_cert_urls {
            env.problem(
                "PAYPAL_ALLOW_LOOPBACK_CERT_URLS",
                "is true in prod, where certificates come only from PayPal's https hosts",
                "unset it: loopback certificate URLs are for the local stand-in",
            );
        }
    }
    let tolerance_secs = env.number_in(
        "PAYPAL_TOLERANCE_SECS",
        30..=3600,
        DEFAULT_TOLERANCE_SECS.unsigned_abs(),
        "set how far a transmission time may be from now, in seconds from 30 to 3600, or unset it for 300",
    );
    let api = api(env, base_urls);
    let verification = match env.optional("PAYPAL_VERIFICATION").as_deref() {
        None | Some("offline") => Verification::Offline,
        Some("online") => {
            if api.is_none() && env.optional("PAYPAL_CLIENT_ID").is_none() {
                env.problem(
                    "PAYPAL_VERIFICATION",
                    "is online but PAYPAL_CLIENT_ID is not set",
                    "set PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET_ID and PAYPAL_API_BASE_URL for PayPal's verify API, or set it to offline",
                );
            }
            Verification::Online
        }
        Some(other) => {
            env.problem(
                "PAYPAL_VERIFICATION",
                format!("`{other}` is not offline or online"),
                "set it to offline (the certificate, checked here) or online (PayPal's verify API)",
            );
            Verification::Offline
        }
    };
    let settings = PayPalSettings {
        webhook_id,
        company_id,
        test_root_pem,
        allow_loopback_cert_urls,
        tolerance_secs: i64::try_from(tolerance_secs).unwrap_or(DEFAULT_TOLERANCE_SECS),
        verification,
        api,
    };
    if settings.test_root_pem.is_some() && settings.trust().is_err() {
        env.problem(
            "PAYPAL_TEST_ROOT_PEM",
            "is not a PEM certificate usable as a trust anchor",
            "set it to the test root's `-----BEGIN CERTIFICATE-----` block",
        );
    }
    Some(settings)
}

/// The REST app: `None` without `PAYPAL_CLIENT_ID`; with it, its secret and the API's base URL
/// are required.
fn api<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    base_urls: &[(Provider, Url)],
) -> Option<PayPalApiSettings> {
    let client_id = env.optional("PAYPAL_CLIENT_ID")?;
    let before = env.problems.len();
    if client_id.len() > 256
        || client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        env.problem(
            "PAYPAL_CLIENT_ID",
            "is not a REST app's client id",
            "copy the client id from PayPal's developer dashboard (Apps & Credentials → the app)",
        );
    }
    let client_secret_id = env.optional("PAYPAL_CLIENT_SECRET_ID");
    let base_url = base_urls
        .iter()
        .find(|(provider, _)| *provider == Provider::Paypal)
        .map(|(_, url)| url.clone());
    for (var, missing, fix) in [
        (
            "PAYPAL_CLIENT_SECRET_ID",
            client_secret_id.is_none(),
            "set it to the Secrets Manager secret holding {\"client_secret\": \"…\"}",
        ),
        (
            "PAYPAL_API_BASE_URL",
            base_url.is_none(),
            "set it to https://api-m.paypal.com (live) or https://api-m.sandbox.paypal.com (sandbox)",
        ),
    ] {
        if missing {
            env.problem(var, "is required with PAYPAL_CLIENT_ID", fix);
        }
    }
    if env.problems.len() > before {
        return None;
    }
    Some(PayPalApiSettings {
        client_id,
        client_secret_id: client_secret_id?,
        base_url: base_url?,
    })
}
