//! The port of [`crate::domain::sales`].

use std::future::Future;

use super::DependencyError;
use crate::domain::sales::SaleEvent;

/// Where sales events are kept (`aws::sales`): one item per sale, keyed by
/// [`SaleEvent::key`].
pub trait SalesStore: Send + Sync {
    /// Writes the sales not stored yet; how many that was. Writing the same sales again writes
    /// nothing.
    fn record(
        &self,
        sales: &[SaleEvent],
    ) -> impl Future<Output = Result<u64, DependencyError>> + Send;
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
}
