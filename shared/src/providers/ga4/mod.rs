//! Google Analytics 4's Measurement Protocol (`docs/providers.md`, "GA4"): `POST
//! /mp/collect?measurement_id=G-…&api_secret=…` with `{client_id, events}` through the
//! [`ResilientClient`] under the `ga4` service (its breaker, rate limit, 429 `Retry-After`).
//!
//! GA4 answers 2xx whatever it does with the events and takes no idempotency key, so a send that
//! may have reached it is not repeated ([`Reply::repeatable`]): the notifier's claim decides.
//! The API secret is opened from the company's sealed one for the call only; it travels in the
//! query string, which the client never logs (transport errors drop their URL).

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use url::Url;

use crate::domain::analytics::{AnalyticsBatch, AnalyticsTarget, seal_context};
use crate::domain::connections::seal::DataKeys;
use crate::domain::ports::{
    AnalyticsSink, AnalyticsStore, Clock, DependencyError, SecretSource, SendError, Sent,
};
use crate::providers::client::{Admission, Reply, ResilientClient};
use crate::providers::messaging::{CallError, send_error};

/// The breaker, rate limit and metrics name of the Measurement Protocol.
pub const SERVICE: &str = "ga4";
/// GA4's collection host when `GA4_API_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://www.google-analytics.com";

/// The Measurement Protocol behind the [`AnalyticsSink`] port.
pub struct Ga4<A, S, C, St> {
    client: ResilientClient<A>,
    base_url: Url,
    keys: Arc<DataKeys<S, C>>,
    store: St,
}

impl<A, S, C, St> Ga4<A, S, C, St> {
    pub fn new(
        client: ResilientClient<A>,
        base_url: Url,
        keys: Arc<DataKeys<S, C>>,
        store: St,
    ) -> Self {
        Self {
            client,
            base_url,
            keys,
            store,
        }
    }

    /// `{base}/mp/collect?measurement_id=…&api_secret=…`.
    fn collect_url(&self, measurement_id: &str, api_secret: &str) -> Url {
        let mut url = self.base_url.clone();
        let path = format!("{}/mp/collect", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.query_pairs_mut()
            .clear()
            .append_pair("measurement_id", measurement_id)
            .append_pair("api_secret", api_secret);
        url
    }
}

/// A 2xx answer is taken: GA4 states nothing more.
struct CollectReply;

impl Reply for CollectReply {
    type Output = ();

    fn success(&self, _: StatusCode, _: &HeaderMap, _: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// No idempotency key: an ambiguous failure is not sent again (the claim decides).
    fn repeatable(&self) -> bool {
        false
    }
}

impl<A, S, C, St> AnalyticsSink for Ga4<A, S, C, St>
where
    A: Admission,
    S: SecretSource,
    C: Clock,
    St: AnalyticsStore,
{
    async fn target(&self, company_id: &str) -> Result<Option<AnalyticsTarget>, DependencyError> {
        self.store.company_analytics(company_id).await
    }

    async fn send(
        &self,
        company_id: &str,
        target: &AnalyticsTarget,
        batch: &AnalyticsBatch,
    ) -> Result<Sent, SendError> {
        let secret = self
            .keys
            .open(&target.sealed_api_secret, &seal_context(company_id))
            .await
            .map_err(|error| {
                tracing::warn!(code = "analytics_secret_unreadable", %error, "the company's GA4 secret does not open");
                SendError::Unavailable {
                    provider: SERVICE,
                    reason: "analytics_secret_unreadable".into(),
                    retry_after: None,
                }
            })?;
        let url = self.collect_url(&target.measurement_id, secret.expose_secret());
        let build = || self.client.http().post(url.clone()).json(batch);
        let (result, report) = self.client.send_with(SERVICE, build, &CollectReply).await;
        tracing::info!(
            provider = SERVICE,
            events = batch.events.len(),
            attempts = report.attempts,
            outcome = report.outcome,
            "analytics provider call"
        );
        result
            .map(|()| Sent {
                provider: SERVICE,
                message_id: String::new(),
            })
            .map_err(|error| send_error(SERVICE, CallError::Call(error)))
    }
}
