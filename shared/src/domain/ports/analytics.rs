//! A company's GA4 property: where it is stored, and the Measurement Protocol that takes its
//! events (`domain::analytics`).

use std::future::Future;

use super::{DependencyError, SendError, Sent};
use crate::domain::analytics::{AnalyticsBatch, AnalyticsTarget};

/// The companies' GA4 properties (one item per company).
pub trait AnalyticsStore: Send + Sync {
    /// The company's property; `None` when analytics is off.
    fn company_analytics(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<AnalyticsTarget>, DependencyError>> + Send;

    /// Sets (replaces) the company's property.
    fn put_company_analytics(
        &self,
        company_id: &str,
        target: &AnalyticsTarget,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// Turns the company's analytics off (nothing to do when it is off).
    fn delete_company_analytics(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}

/// Sends a batch of events to a company's property.
pub trait AnalyticsSink: Send + Sync {
    /// The company's property, when it turned analytics on.
    fn target(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<AnalyticsTarget>, DependencyError>> + Send;

    /// Sends `batch` to `target` (its sealed secret opened for the call only).
    fn send(
        &self,
        company_id: &str,
        target: &AnalyticsTarget,
        batch: &AnalyticsBatch,
    ) -> impl Future<Output = Result<Sent, SendError>> + Send;
}

/// A deployment without analytics: no company has a property.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAnalytics;

impl AnalyticsSink for NoAnalytics {
    async fn target(&self, _company_id: &str) -> Result<Option<AnalyticsTarget>, DependencyError> {
        Ok(None)
    }

    async fn send(
        &self,
        _company_id: &str,
        _target: &AnalyticsTarget,
        _batch: &AnalyticsBatch,
    ) -> Result<Sent, SendError> {
        Err(SendError::Refused {
            provider: "ga4",
            code: "analytics_not_configured".to_owned(),
        })
    }
}

/// A deployment that may not configure analytics (no data key): `None` has no property.
impl<G: AnalyticsSink> AnalyticsSink for Option<G> {
    async fn target(&self, company_id: &str) -> Result<Option<AnalyticsTarget>, DependencyError> {
        match self {
            Some(sink) => sink.target(company_id).await,
            None => Ok(None),
        }
    }

    async fn send(
        &self,
        company_id: &str,
        target: &AnalyticsTarget,
        batch: &AnalyticsBatch,
    ) -> Result<Sent, SendError> {
        match self {
            Some(sink) => sink.send(company_id, target, batch).await,
            None => NoAnalytics.send(company_id, target, batch).await,
        }
    }
}
