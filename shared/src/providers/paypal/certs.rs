//! PayPal's signing certificates: the URL a delivery names is checked against the allow-list
//! before anything is fetched, the PEM chain is fetched (timeout, size cap) and checked offline
//! (chain to a trust anchor, the leaf's subject CN ending in `.paypal.com`, validity at the
//! transmission time), and the verified leaf key is cached by URL (bounded, for a TTL, never used
//! past its `notAfter`). See `docs/providers.md` (PayPal).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use url::Url;
use webpki::{EndEntityCert, KeyUsage};

use crate::domain::metrics::{MetricSink, Stdout};
use crate::domain::ports::Clock;
use crate::domain::webhooks::verify::CertificateProblem;
use crate::providers::client::{emit_fetch_metrics, fetch_answer};

/// The hosts PayPal serves its webhook certificates from (live and sandbox, both API domains).
pub const ALLOWED_HOSTS: [&str; 4] = [
    "api.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.paypal.com",
    "api-m.sandbox.paypal.com",
];
/// The path every certificate URL lies under.
pub const CERT_PATH_PREFIX: &str = "/v1/notifications/certs/";
/// The subject CN of a PayPal signing certificate ends with this.
pub const SUBJECT_SUFFIX: &str = ".paypal.com";
/// A larger certificate document is refused rather than buffered.
pub const MAX_CERT_BYTES: usize = 64 * 1024;
/// Bound on one certificate fetch, body included.
pub const CERT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a verified certificate is reused before it is fetched (and checked) again.
pub const CERT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The most certificates kept (PayPal rotates rarely; a handful of URLs is normal).
pub const MAX_CACHED_CERTS: usize = 16;

/// The chain signatures webpki accepts (PayPal's chain is RSA; ECDSA for a future one).
static CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PKCS1_3072_8192_SHA384,
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
];

/// What a certificate must chain to, and which URLs may be fetched.
#[derive(Debug, Clone)]
pub struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    allow_loopback_http: bool,
}

impl Trust {
    /// The shipped roots (`webpki-root-certs`, the roots the HTTP client trusts) and the
    /// https allow-list only: what prod uses.
    pub fn shipped() -> Self {
        let anchors = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
            .map(|anchor| anchor.to_owned())
            .collect();
        Self {
            anchors,
            allow_loopback_http: false,
        }
    }

    /// Adds a test root (PEM) besides the shipped ones. Non-prod stages only (`edge::config`
    /// refuses it in prod).
    ///
    /// # Errors
    /// [`CertificateProblem::Unusable`] when `pem` holds no certificate usable as an anchor.
    pub fn with_test_root(mut self, pem: &[u8]) -> Result<Self, CertificateProblem> {
        let ders = pem_certificates(pem)?;
        for der in ders {
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|_| CertificateProblem::Unusable)?
                .to_owned();
            self.anchors.push(anchor);
        }
        Ok(self)
    }

    /// Also admits `http://` URLs on a loopback address (the local stand-in). Non-prod only.
    #[must_use]
    pub fn allowing_loopback_http(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// Whether `url` may be fetched: https on one of [`ALLOWED_HOSTS`] (default port) under
    /// [`CERT_PATH_PREFIX`], or, when allowed, http on a loopback address under the same path.
    /// No credentials, query or fragment.
    ///
    /// # Errors
    /// [`CertificateProblem::UrlRefused`].
    pub fn check_url(&self, raw: &str) -> Result<Url, CertificateProblem> {
        let refused = CertificateProblem::UrlRefused;
        let url = Url::parse(raw).map_err(|_| refused)?;
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(refused);
        }
        // `Url` has resolved `..` and percent-decoding does not apply to the prefix check: a
        // path that leaves the prefix after normalisation is refused.
        let rest = url.path().strip_prefix(CERT_PATH_PREFIX).ok_or(refused)?;
        if rest.is_empty() || rest.contains('/') || rest.contains('%') {
            return Err(refused);
        }
        let allowed = match (url.scheme(), url.host()) {
            ("https", Some(url::Host::Domain(host))) => {
                url.port().is_none() && ALLOWED_HOSTS.contains(&host)
            }
            ("http", Some(url::Host::Ipv4(ip))) => self.allow_loopback_http && ip.is_loopback(),
            ("http", Some(url::Host::Ipv6(ip))) => self.allow_loopback_http && ip.is_loopback(),
            _ => false,
        };
        if allowed { Ok(url) } else { Err(refused) }
    }

    /// Checks a fetched PEM chain (leaf first) at `at` (Unix seconds, the transmission time).
    ///
    /// # Errors
    /// See [`CertificateProblem`].
    pub fn check_chain(&self, pem: &[u8], at: i64) -> Result<Certificate, CertificateProblem> {
        let mut ders = pem_certificates(pem)?.into_iter();
        let leaf = ders.next().ok_or(CertificateProblem::Unusable)?;
        let intermediates: Vec<CertificateDer<'static>> = ders.collect();
        let end_entity =
            EndEntityCert::try_from(&leaf).map_err(|_| CertificateProblem::Unusable)?;
        let time = UnixTime::since_unix_epoch(Duration::from_secs(
            u64::try_from(at).map_err(|_| CertificateProblem::Expired)?,
        ));
        end_entity
            .verify_for_usage(
                CHAIN_ALGORITHMS,
                &self.anchors,
                &intermediates,
                time,
                KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|error| match error {
                webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                    CertificateProblem::Expired
                }
                _ => CertificateProblem::Untrusted,
            })?;
        Certificate::of_leaf(&leaf)
    }
}

/// The DER certificates of a PEM document, in order.
fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertificateProblem> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|_| CertificateProblem::Unusable)?;
        if block.label == "CERTIFICATE" {
            ders.push(CertificateDer::from(block.contents));
        }
    }
    if ders.is_empty() {
        Err(CertificateProblem::Unusable)
    } else {
        Ok(ders)
    }
}

/// A verified PayPal signing certificate: its RSA key, parsed once, and its validity.
#[derive(Clone)]
pub struct Certificate {
    key: Arc<ParsedPublicKey>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// `rsaEncryption`.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

impl Certificate {
    /// The leaf's subject CN must end in [`SUBJECT_SUFFIX`]; its key must be RSA.
    fn of_leaf(der: &CertificateDer<'_>) -> Result<Self, CertificateProblem> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| CertificateProblem::Unusable)?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or(CertificateProblem::WrongSubject)?;
        if !common_name.ends_with(SUBJECT_SUFFIX) {
            return Err(CertificateProblem::WrongSubject);
        }
        let spki = cert.public_key();
        if spki.algorithm.algorithm.to_id_string() != RSA_ENCRYPTION {
            return Err(CertificateProblem::Unusable);
        }
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &*spki.subject_public_key.data)
            .map_err(|_| CertificateProblem::Unusable)?;
        let validity = cert.validity();
        Ok(Self {
            key: Arc::new(key),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }

    /// Whether `signature` is the certificate key's RSA PKCS#1 v1.5 SHA-256 signature of
    /// `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }

    /// Whether the certificate is valid at `at` (Unix seconds).
    pub fn valid_at(&self, at: i64) -> bool {
        (self.not_before..=self.not_after).contains(&at)
    }
}

/// Why no certificate could be had for a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The delivery's certificate is refused (401).
    #[error(transparent)]
    Refused(#[from] CertificateProblem),
    /// PayPal could not be reached, answered an error or too much (503: PayPal retries).
    #[error("{0}")]
    Unavailable(String),
}

struct Cached {
    certificate: Certificate,
    /// Unix seconds.
    fetched_at: i64,
}

/// Verified certificates by URL, fetched on first use (see the module).
pub struct CertCache {
    http: reqwest::Client,
    trust: Trust,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    timeout: Duration,
    entries: RwLock<HashMap<String, Arc<Cached>>>,
    /// One fetch at a time: a burst of deliveries naming a new URL fetches it once.
    fetching: tokio::sync::Mutex<()>,
    metrics: Arc<dyn MetricSink>,
}

impl CertCache {
    /// Certificates fetched with `http` (e.g. a clone of [`crate::App::http`]) and checked
    /// against `trust`.
    pub fn new(http: reqwest::Client, trust: Trust, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            trust,
            clock,
            ttl: CERT_TTL,
            timeout: CERT_FETCH_TIMEOUT,
            entries: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            metrics: Arc::new(Stdout),
        }
    }

    /// Writes each fetch's `provider_*` metrics to `sink` instead of stdout.
    #[must_use]
    pub fn with_metric_sink(self, sink: Arc<dyn MetricSink>) -> Self {
        Self {
            metrics: sink,
            ..self
        }
    }

    /// The verified certificate at `raw_url` for a transmission at `at` (Unix seconds). A URL off
    /// the allow-list is refused before any request.
    ///
    /// # Errors
    /// See [`CertError`].
    pub async fn certificate(&self, raw_url: &str, at: i64) -> Result<Certificate, CertError> {
        let url = self.trust.check_url(raw_url)?;
        if let Some(hit) = self.cached(url.as_str(), at) {
            return hit;
        }
        let _fetching = self.fetching.lock().await;
        if let Some(hit) = self.cached(url.as_str(), at) {
            return hit;
        }
        let pem = self.fetch(&url).await?;
        let certificate = self.trust.check_chain(&pem, at)?;
        self.store(url.as_str(), certificate.clone());
        Ok(certificate)
    }

    /// The cached entry for `url` while it is fresh (within its TTL and not past its
    /// `notAfter`): the certificate when it is valid at `at`, else the refusal. A stale entry
    /// is `None`, fetched and checked again.
    fn cached(&self, url: &str, at: i64) -> Option<Result<Certificate, CertError>> {
        let entry = Arc::clone(
            self.entries
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(url)?,
        );
        let now = self.clock.now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let fresh =
            now.saturating_sub(entry.fetched_at) < ttl && now <= entry.certificate.not_after;
        if !fresh {
            return None;
        }
        Some(if entry.certificate.valid_at(at) {
            Ok(entry.certificate.clone())
        } else {
            Err(CertError::Refused(CertificateProblem::Expired))
        })
    }

    fn store(&self, url: &str, certificate: Certificate) {
        let now = self.clock.now().timestamp();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_CERTS && !entries.contains_key(url) {
            // Evict the oldest fetch.
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.fetched_at)
                .map(|(url, _)| url.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            url.to_owned(),
            Arc::new(Cached {
                certificate,
                fetched_at: now,
            }),
        );
    }

    /// One GET of a certificate, measured like a provider call (`provider_*` of `paypal`).
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, CertError> {
        let started = std::time::Instant::now();
        let mut answer = Err("unreachable");
        let fetched = self.fetch_pem(url, &mut answer).await;
        emit_fetch_metrics(
            self.metrics.as_ref(),
            super::online::SERVICE,
            url,
            answer,
            if fetched.is_ok() { "ok" } else { "failed" },
            started.elapsed(),
        );
        fetched
    }

    async fn fetch_pem(
        &self,
        url: &Url,
        answer: &mut Result<reqwest::StatusCode, &'static str>,
    ) -> Result<Vec<u8>, CertError> {
        let unavailable = |error: reqwest::Error| {
            CertError::Unavailable(crate::aws::http::request_error(&error).to_string())
        };
        let sent = self
            .http
            .get(url.clone())
            .timeout(self.timeout)
            .send()
            .await;
        *answer = fetch_answer(&sent);
        let response = sent.map_err(unavailable)?;
        // The client follows redirects: the final URL must be allowed too.
        self.trust.check_url(response.url().as_str())?;
        let status = response.status();
        if !status.is_success() {
            return Err(CertError::Unavailable(format!(
                "the certificate URL answered HTTP {}",
                status.as_u16()
            )));
        }
        crate::providers::client::read_capped(response, MAX_CERT_BYTES)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| CertError::Unavailable("the certificate is over 64 KiB".to_owned()))
    }
}
