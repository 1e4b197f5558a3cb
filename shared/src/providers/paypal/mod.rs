//! PayPal: offline verification of its webhook signatures ([`verify`], with the certificates of
//! [`certs`]), its event envelope ([`normalise`]) and what its subscription and sale events say
//! about a subscription ([`observe`]). Wire facts: `docs/providers.md` (PayPal).
//!
//! The webhook id a delivery is signed for is the deployment's `PAYPAL_WEBHOOK_ID` (not a
//! secret: forging a delivery takes PayPal's private key), and the company its subscriptions
//! belong to is `PAYPAL_COMPANY_ID` (PayPal's events name no company).

pub mod certs;
pub mod normalise;
pub mod observe;
pub mod online;
pub mod refund;
pub mod sync;
#[cfg(any(test, feature = "paypal-test-chain"))]
pub mod test_chain;
pub mod verify;

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use self::certs::{CertCache, CertError, Trust};
use crate::domain::ports::Clock;
use crate::domain::webhooks::verify::{
    CertificateProblem, CertifiedError, VerifyError, VerifyOptions,
};
use crate::domain::webhooks::{Headers, Verified};

/// A deployment's PayPal webhook settings (`edge::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayPalSettings {
    /// `PAYPAL_WEBHOOK_ID`: the id of the webhook PayPal signs deliveries for.
    pub webhook_id: String,
    /// `PAYPAL_COMPANY_ID`: the company PayPal's subscriptions are shown under.
    pub company_id: Option<String>,
    /// `PAYPAL_TEST_ROOT_PEM` (or the file `PAYPAL_TEST_ROOT_FILE` names): a trust anchor besides
    /// the shipped roots. Non-prod only.
    pub test_root_pem: Option<String>,
    /// `PAYPAL_ALLOW_LOOPBACK_CERT_URLS`: also fetch certificates from `http://` loopback URLs
    /// (the local stand-in). Non-prod only.
    pub allow_loopback_cert_urls: bool,
    /// `PAYPAL_TOLERANCE_SECS` (30–3600, default 300): how far a transmission time may be from
    /// now, in either direction.
    pub tolerance_secs: i64,
    /// `PAYPAL_VERIFICATION` (`offline`, the default, or `online`, which needs the REST app).
    pub verification: Verification,
    /// `PAYPAL_CLIENT_ID` and `PAYPAL_CLIENT_SECRET_ID` (`{"client_secret": "…"}`) with
    /// `PAYPAL_API_BASE_URL`: the REST app whose client-credentials token calls PayPal's API.
    pub api: Option<PayPalApiSettings>,
}

/// How deliveries are verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verification {
    /// Here, with the certificate ([`verify`], [`certs`]).
    #[default]
    Offline,
    /// By PayPal's verify API ([`online`]).
    Online,
}

/// The REST app PayPal's API is called as (`edge::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayPalApiSettings {
    pub client_id: String,
    /// The Secrets Manager secret holding `{"client_secret": "…"}`.
    pub client_secret_id: String,
    /// `PAYPAL_API_BASE_URL`, e.g. `https://api-m.paypal.com`.
    pub base_url: url::Url,
}

impl PayPalSettings {
    /// The trust these settings give: the shipped roots, plus the test root and loopback URLs
    /// when configured.
    ///
    /// # Errors
    /// [`CertificateProblem::Unusable`] when the test root is not a PEM certificate.
    pub fn trust(&self) -> Result<Trust, CertificateProblem> {
        let mut trust = Trust::shipped();
        if let Some(pem) = &self.test_root_pem {
            trust = trust.with_test_root(pem.as_bytes())?;
        }
        if self.allow_loopback_cert_urls {
            trust = trust.allowing_loopback_http();
        }
        Ok(trust)
    }
}

/// Whether `id` has the form of a PayPal webhook id (`^[A-Za-z0-9]{1,50}$`, PayPal's schema).
pub fn is_webhook_id(id: &str) -> bool {
    (1..=50).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

/// PayPal's webhooks for one deployment: its webhook id, its company and the certificate cache.
pub struct PayPal {
    webhook_id: String,
    company_id: Option<String>,
    tolerance_secs: i64,
    certs: CertCache,
    /// PayPal's verify API instead of the certificate, when `PAYPAL_VERIFICATION=online`.
    online: Option<Arc<dyn online::OnlineCheck>>,
}

impl std::fmt::Debug for PayPal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayPal")
            .field("webhook_id", &self.webhook_id)
            .field("company_id", &self.company_id)
            .field("online", &self.online.is_some())
            .finish_non_exhaustive()
    }
}

impl PayPal {
    /// # Errors
    /// [`CertificateProblem::Unusable`] when the configured test root is unusable.
    pub fn new(
        settings: &PayPalSettings,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CertificateProblem> {
        Ok(Self {
            webhook_id: settings.webhook_id.clone(),
            company_id: settings.company_id.clone(),
            tolerance_secs: settings.tolerance_secs,
            certs: CertCache::new(http, settings.trust()?, clock),
            online: None,
        })
    }

    /// Verifies with PayPal's verify API (`check`) instead of the certificate.
    #[must_use]
    pub fn with_online(mut self, check: Arc<dyn online::OnlineCheck>) -> Self {
        self.online = Some(check);
        self
    }

    /// The company PayPal's subscriptions belong to, if configured.
    pub fn company_id(&self) -> Option<&str> {
        self.company_id.as_deref()
    }

    /// The certificate cache (for tests and the benchmark).
    pub fn certs(&self) -> &CertCache {
        &self.certs
    }

    /// Verifies a delivery whose transmission headers were read (see [`verify::transmission`]):
    /// the certificate (allow-list, chain, subject, validity at the transmission time), then
    /// the signature over the signed string with this deployment's webhook id; or, online,
    /// PayPal's verify API's answer.
    ///
    /// # Errors
    /// See [`CertifiedError`].
    pub async fn verify<'h>(
        &self,
        transmission: verify::Transmission<'h>,
        body: &[u8],
    ) -> Result<Verified<'h>, CertifiedError> {
        if let Some(online) = &self.online {
            return match online.check(&transmission, &self.webhook_id, body).await {
                Ok(true) => Ok(verify::verified(&transmission)),
                Ok(false) => Err(CertifiedError::Rejected(VerifyError::NoMatchingSignature)),
                Err(detail) => Err(CertifiedError::Unavailable(detail)),
            };
        }
        let certificate = self
            .certs
            .certificate(transmission.cert_url, transmission.timestamp)
            .await
            .map_err(|error| match error {
                CertError::Refused(problem) => {
                    CertifiedError::Rejected(VerifyError::Certificate(problem))
                }
                CertError::Unavailable(detail) => CertifiedError::Unavailable(detail),
            })?;
        Ok(verify::check(
            &transmission,
            &self.webhook_id,
            body,
            &certificate,
        )?)
    }
}

/// The first, synchronous part of [`crate::domain::ports::WebhookProviders::verify_certified`]
/// for PayPal: configured, then the headers read (no await holds the headers), the transmission
/// time checked against PayPal's own tolerance (`PAYPAL_TOLERANCE_SECS`).
pub(crate) fn start<'h, H: Headers + ?Sized>(
    paypal: Option<&Arc<PayPal>>,
    headers: &'h H,
    now: i64,
    options: VerifyOptions,
) -> Result<(Arc<PayPal>, verify::Transmission<'h>), VerifyError> {
    let paypal = paypal.ok_or(VerifyError::NoSecrets)?;
    let options = VerifyOptions {
        tolerance_secs: paypal.tolerance_secs,
        ..options
    };
    Ok((
        Arc::clone(paypal),
        verify::transmission(headers, now, options)?,
    ))
}

/// The headers PayPal sends for `body`, signed with `key` (the test leaf's key: the CLI and
/// tests). `time` is RFC 3339.
///
/// # Errors
/// When the key cannot sign (never for a valid RSA key).
pub fn sign(
    key: &RsaKeyPair,
    webhook_id: &str,
    cert_url: &str,
    transmission_id: &str,
    time: &str,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, aws_lc_rs::error::Unspecified> {
    let signed = verify::signed_string(transmission_id, time, webhook_id, body);
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )?;
    Ok(vec![
        (verify::TRANSMISSION_ID, transmission_id.to_owned()),
        (verify::TRANSMISSION_TIME, time.to_owned()),
        (verify::TRANSMISSION_SIG, STANDARD.encode(signature)),
        (verify::CERT_URL, cert_url.to_owned()),
        (verify::AUTH_ALGO, verify::SHA256_WITH_RSA.to_owned()),
    ])
}

#[cfg(test)]
mod tests;
