//! Trust roots compiled into the binary (Mozilla's, from `webpki-root-certs`) for every outbound
//! TLS connection: the AWS SDK's HTTPS client and the provider HTTP client.
//!
//! The SDK's default HTTPS client reads and parses the operating system's certificate store
//! (`rustls-native-certs`: the CA bundle and the certificate folder) when a service client is
//! constructed, and builds a throw-away connector for each of them: about half of a function's CPU
//! before its first event. AWS endpoints and the providers' APIs chain to roots in Mozilla's list,
//! so the roots travel with the binary and no file is read. The price: a CA added to the host's
//! store (`SSL_CERT_FILE`, a TLS-intercepting proxy) is no longer trusted.

use std::sync::LazyLock;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use base64::Engine as _;

/// The compiled-in roots as one PEM bundle, the form the SDK's trust store takes.
static ROOTS_PEM: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
});

/// `aws_config::defaults` for the latest behaviour version (region, credentials, `AWS_ENDPOINT_URL`
/// and the rest of the default chain), with the SDK's default HTTPS client (hyper 1 and rustls on
/// aws-lc, proxy settings from the environment, as `aws-config` builds it) trusting the
/// compiled-in roots instead of the system store. Plain `http://` endpoints (the local emulator)
/// work as before.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(ROOTS_PEM.as_slice()))
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "compiled-in TLS roots refused; using the system store");
            TlsContext::default()
        });
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(FirstUse(client))
}

/// The SDK's client, less the connector it builds and throws away when each service client is
/// constructed (`validate_base_client_config`, there to load the system store before the first
/// request). With the roots compiled in there is nothing to load ahead: the connector a request
/// uses is built on that request, once per timeout setting, as it always was.
#[derive(Debug)]
struct FirstUse(SharedHttpClient);

impl HttpClient for FirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The compiled-in roots for the provider client (`reqwest`), replacing the platform verifier.
pub(super) fn reqwest_roots() -> reqwest::Result<Vec<reqwest::Certificate>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| reqwest::Certificate::from_der(cert.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_config::Region;
    use aws_sdk_sqs::config::Credentials;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[test]
    fn every_compiled_in_root_is_in_the_pem_bundle() {
        let parsed = reqwest::Certificate::from_pem_bundle(&ROOTS_PEM)
            .unwrap()
            .len();
        assert!(parsed > 100, "{parsed} roots");
        assert_eq!(parsed, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert_eq!(reqwest_roots().unwrap().len(), parsed);
    }

    /// The emulator is reached over plain http: the endpoint override still works through the
    /// hand-built client.
    #[tokio::test]
    async fn the_sdk_reaches_a_plain_http_endpoint() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/x-amz-json-1.0")
                    .set_body_string(r#"{"QueueUrls":[]}"#),
            )
            .mount(&server)
            .await;
        let sdk = sdk_defaults()
            .region(Region::new("us-east-1"))
            .endpoint_url(server.uri())
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .load()
            .await;
        aws_sdk_sqs::Client::new(&sdk)
            .list_queues()
            .send()
            .await
            .unwrap();
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}
