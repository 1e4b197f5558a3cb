//! PayPal's verification against a chain made at test time, served by a local server that counts
//! its requests.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::test_chain::{LeafSpec, TestChain, make};
use super::verify::{crc32, signed_string};
use super::{PayPal, PayPalSettings, sign};
use crate::domain::ports::{SystemClock, WebhookProviders};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::verify::{CertifiedError, VerifyOptions};
use crate::providers::Registry;

const WEBHOOK_ID: &str = "9XL90610J3647323C";
const BODY: &[u8] =
    br#"{"id":"WH-9UG43882HX7271132-6E0871324L7949614","event_type":"PAYMENT.SALE.COMPLETED"}"#;
const TIME: &str = "2016-09-21T22:00:46Z";
const TIME_SECS: i64 = 1_474_495_246;

#[test]
fn crc32_matches_the_documented_vectors() {
    assert_eq!(crc32(b"123456789"), 3_421_780_262);
    assert_eq!(crc32(BODY), 217_358_542);
    assert_eq!(
        signed_string(
            "d938e770-8046-11e6-8103-6b62a8a99ac4",
            TIME,
            WEBHOOK_ID,
            BODY
        ),
        "d938e770-8046-11e6-8103-6b62a8a99ac4|2016-09-21T22:00:46Z|9XL90610J3647323C|217358542"
    );
}

struct Fixture {
    server: MockServer,
    registry: Registry,
    chain: TestChain,
}

impl Fixture {
    /// A server serving `served` at every path, and a registry trusting `trusted`'s root with
    /// loopback certificate URLs allowed when `loopback`.
    async fn new(served: &TestChain, trusted: &TestChain, loopback: bool) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(served.chain_pem.clone()))
            .mount(&server)
            .await;
        let settings = PayPalSettings {
            webhook_id: WEBHOOK_ID.to_owned(),
            company_id: Some("biz_paypal".to_owned()),
            test_root_pem: Some(trusted.root_pem.clone()),
            allow_loopback_cert_urls: loopback,
            tolerance_secs: crate::domain::webhooks::verify::DEFAULT_TOLERANCE_SECS,
            verification: super::Verification::Offline,
            api: None,
        };
        let paypal = PayPal::new(&settings, reqwest::Client::new(), Arc::new(SystemClock)).unwrap();
        Self {
            server,
            registry: Registry::with_paypal(Arc::new(paypal)),
            chain: TestChain {
                root_pem: served.root_pem.clone(),
                chain_pem: served.chain_pem.clone(),
                leaf_key_pkcs8: served.leaf_key_pkcs8.clone(),
            },
        }
    }

    fn cert_url(&self) -> String {
        format!("{}/v1/notifications/certs/CERT-test", self.server.uri())
    }

    fn headers(&self, cert_url: &str, webhook_id: &str, body: &[u8]) -> HeaderMap {
        let key = self.chain.leaf_key().unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in sign(
            &key,
            webhook_id,
            cert_url,
            "d938e770-8046-11e6-8103-6b62a8a99ac4",
            TIME,
            body,
        )
        .unwrap()
        {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        map
    }

    async fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
        self.registry
            .verify_certified(Source::PayPal, headers, body, now, VerifyOptions::default())
            .await
            .unwrap()
            .map(|_| ())
            .map_err(|error| match error {
                CertifiedError::Rejected(error) => error.reason_code().to_owned(),
                CertifiedError::Unavailable(detail) => format!("unavailable: {detail}"),
            })
    }

    async fn fetches(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
    }
}

fn chain(spec: LeafSpec<'_>) -> TestChain {
    make(spec).unwrap()
}

#[tokio::test]
async fn a_signed_delivery_verifies_and_its_certificate_is_fetched_once() {
    let good = chain(LeafSpec::default());
    let fixture = Fixture::new(&good, &good, true).await;
    let headers = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    assert_eq!(fixture.verify(&headers, BODY, TIME_SECS).await, Ok(()));
    assert_eq!(fixture.verify(&headers, BODY, TIME_SECS + 60).await, Ok(()));
    assert_eq!(fixture.fetches().await, 1);
}

#[tokio::test]
async fn a_changed_body_or_another_webhook_id_is_no_matching_signature() {
    let good = chain(LeafSpec::default());
    let fixture = Fixture::new(&good, &good, true).await;
    let signed = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    let tampered =
        br#"{"id":"WH-9UG43882HX7271132-6E0871324L7949614","event_type":"PAYMENT.SALE.DENIED"}"#;
    assert_eq!(
        fixture.verify(&signed, tampered, TIME_SECS).await,
        Err("no_matching_signature".to_owned())
    );
    let other_webhook = fixture.headers(&fixture.cert_url(), "1AB23456CD7890123", BODY);
    assert_eq!(
        fixture.verify(&other_webhook, BODY, TIME_SECS).await,
        Err("no_matching_signature".to_owned())
    );
}

#[tokio::test]
async fn an_expired_certificate_is_certificate_expired() {
    let expired = chain(LeafSpec {
        valid_years: (2010, 2015),
        ..LeafSpec::default()
    });
    let fixture = Fixture::new(&expired, &expired, true).await;
    let headers = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    assert_eq!(
        fixture.verify(&headers, BODY, TIME_SECS).await,
        Err("certificate_expired".to_owned())
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_certificate_wrong_subject() {
    let stranger = chain(LeafSpec {
        common_name: "paypal.com.example.net",
        ..LeafSpec::default()
    });
    let fixture = Fixture::new(&stranger, &stranger, true).await;
    let headers = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    assert_eq!(
        fixture.verify(&headers, BODY, TIME_SECS).await,
        Err("certificate_wrong_subject".to_owned())
    );
}

#[tokio::test]
async fn a_chain_to_an_untrusted_root_is_certificate_untrusted() {
    let served = chain(LeafSpec::default());
    let trusted = chain(LeafSpec::default());
    let fixture = Fixture::new(&served, &trusted, true).await;
    let headers = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    assert_eq!(
        fixture.verify(&headers, BODY, TIME_SECS).await,
        Err("certificate_untrusted".to_owned())
    );
}

#[tokio::test]
async fn urls_off_the_allow_list_are_refused_without_a_request() {
    let good = chain(LeafSpec::default());
    // Loopback http not allowed: the stand-in's own URL is off the list.
    let fixture = Fixture::new(&good, &good, false).await;
    let port = fixture.server.address().port();
    for url in [
        fixture.cert_url(),
        format!("http://127.0.0.1:{port}/v1/notifications/certs/CERT-test"),
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1".to_owned(),
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1".to_owned(),
        "https://api.paypal.com/v1/other/CERT-1".to_owned(),
        "https://api.paypal.com/v1/notifications/certs/../../v2/x".to_owned(),
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1".to_owned(),
        "http://api.paypal.com/v1/notifications/certs/CERT-1".to_owned(),
        "not a url".to_owned(),
    ] {
        let headers = fixture.headers(&url, WEBHOOK_ID, BODY);
        assert_eq!(
            fixture.verify(&headers, BODY, TIME_SECS).await,
            Err("certificate_url_refused".to_owned()),
            "{url}"
        );
    }
    assert_eq!(fixture.fetches().await, 0);
}

#[test]
fn the_allow_list_admits_paypals_hosts_under_the_certs_path() {
    let trust = super::certs::Trust::shipped();
    for host in super::certs::ALLOWED_HOSTS {
        let url = format!("https://{host}/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77");
        assert!(trust.check_url(&url).is_ok(), "{url}");
    }
}

#[tokio::test]
async fn a_stale_transmission_time_is_refused_before_any_fetch() {
    let good = chain(LeafSpec::default());
    let fixture = Fixture::new(&good, &good, true).await;
    let headers = fixture.headers(&fixture.cert_url(), WEBHOOK_ID, BODY);
    assert_eq!(
        fixture.verify(&headers, BODY, TIME_SECS + 301).await,
        Err("timestamp_out_of_tolerance".to_owned())
    );
    assert_eq!(fixture.fetches().await, 0);
}

#[tokio::test]
async fn without_paypal_configured_a_delivery_is_no_secrets_and_other_sources_are_not_certified() {
    let registry = Registry::default();
    let headers = HeaderMap::new();
    let outcome = registry
        .verify_certified(
            Source::PayPal,
            &headers,
            BODY,
            TIME_SECS,
            VerifyOptions::default(),
        )
        .await;
    assert!(
        matches!(outcome, Some(Err(CertifiedError::Rejected(e))) if e.reason_code() == "no_secrets")
    );
    let stripe = registry
        .verify_certified(
            Source::Stripe,
            &headers,
            BODY,
            TIME_SECS,
            VerifyOptions::default(),
        )
        .await;
    assert!(stripe.is_none());
}

#[tokio::test]
async fn each_certificate_fetch_is_measured_as_a_call_to_paypal() {
    let good = chain(LeafSpec::default());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(good.chain_pem.clone()))
        .mount(&server)
        .await;
    let trust = super::certs::Trust::shipped()
        .with_test_root(good.root_pem.as_bytes())
        .unwrap()
        .allowing_loopback_http();
    let sink = Arc::new(crate::domain::metrics::Captured::default());
    let certs = super::certs::CertCache::new(reqwest::Client::new(), trust, Arc::new(SystemClock))
        .with_metric_sink(sink.clone());
    let url = format!(
        "{}/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
        server.uri()
    );

    assert!(certs.certificate(&url, TIME_SECS).await.is_err());
    assert!(certs.certificate(&url, TIME_SECS).await.is_ok());
    // Cached: no third fetch.
    assert!(certs.certificate(&url, TIME_SECS).await.is_ok());

    let seen: Vec<_> = sink
        .documents()
        .iter()
        .map(|document| {
            assert!(
                crate::domain::metrics::catalogue::undeclared(document).is_empty(),
                "{document}"
            );
            (
                document["provider"].as_str().unwrap().to_owned(),
                document["endpoint"].as_str().unwrap().to_owned(),
                document["status_class"].as_str().unwrap().to_owned(),
                document["outcome"].as_str().unwrap().to_owned(),
                document["provider_responses_5xx"].as_f64(),
            )
        })
        .collect();
    let call = |class: &str, outcome: &str, server_errors: f64| {
        (
            "paypal".to_owned(),
            "GET /v1/notifications/certs/{id}".to_owned(),
            class.to_owned(),
            outcome.to_owned(),
            Some(server_errors),
        )
    };
    assert_eq!(seen, [call("5xx", "failed", 1.0), call("2xx", "ok", 0.0)]);
}
