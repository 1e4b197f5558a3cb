//! PayPal webhooks' variables: off (a PayPal delivery is refused with `no_secrets`) without
//! `PAYPAL_WEBHOOK_ID`; the test trust anchor and loopback certificate URLs are refused in prod.

use super::Stage;
use super::reader::Reader;
use crate::providers::paypal::{PayPalSettings, is_webhook_id};

/// The variables meaningless without `PAYPAL_WEBHOOK_ID`.
const DEPENDENT: [&str; 3] = [
    "PAYPAL_COMPANY_ID",
    "PAYPAL_TEST_ROOT_PEM",
    "PAYPAL_ALLOW_LOOPBACK_CERT_URLS",
];

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
) -> Option<PayPalSettings> {
    let Some(webhook_id) = env.optional("PAYPAL_WEBHOOK_ID") else {
        for var in DEPENDENT {
            if env.optional(var).is_some() {
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
    let settings = PayPalSettings {
        webhook_id,
        company_id,
        test_root_pem,
        allow_loopback_cert_urls,
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
