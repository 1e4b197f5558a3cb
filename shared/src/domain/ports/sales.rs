//! The port of [`crate::domain::sales`].

use std::future::Future;

use super::DependencyError;
use crate::domain::sales::{SaleEvent, SalesRange};

/// Where sales events are kept (`aws::sales`): one item per sale, keyed by
/// [`SaleEvent::key`], and read back by company and date.
pub trait SalesStore: Send + Sync {
    /// Writes the sales not stored yet; how many that was. Writing the same sales again writes
    /// nothing.
    fn record(
        &self,
        sales: &[SaleEvent],
    ) -> impl Future<Output = Result<u64, DependencyError>> + Send;

    /// The company's sales of `range` (days included, one platform or all), by date, at most
    /// `max`; whether there were more.
    fn sales_between(
        &self,
        range: &SalesRange,
        max: usize,
    ) -> impl Future<Output = Result<(Vec<SaleEvent>, bool), DependencyError>> + Send;
}

/// No sales store: a syncer that lists no sales (Whop's). Given sales, it refuses them rather
/// than drop them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSales;

impl SalesStore for NoSales {
    async fn record(&self, sales: &[SaleEvent]) -> Result<u64, DependencyError> {
        if sales.is_empty() {
            Ok(0)
        } else {
            Err(DependencyError::Other(
                "sales were listed but this syncer has no sales store".into(),
            ))
        }
    }

    async fn sales_between(
        &self,
        _range: &SalesRange,
        _max: usize,
    ) -> Result<(Vec<SaleEvent>, bool), DependencyError> {
        Ok((Vec::new(), false))
    }
}
