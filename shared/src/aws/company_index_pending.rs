//! Placeholder of the company listings over the state table's company indexes, which the change
//! that adds those indexes (the sparse per-signal GSIs and the company GSI) implements on
//! [`DynamoState`]. Until it is merged, both listings answer an error, so the creator routes answer
//! 503 rather than a wrong (empty) page. Merging that implementation makes this impl a duplicate
//! (E0119): delete this file and its line in `aws/mod.rs` then.

use crate::aws::state::DynamoState;
use crate::domain::ports::{CompanyMemberships, DependencyError};
use crate::domain::state::model::SignalKind;
use crate::domain::state::store::{Page, StoredMembership};

fn not_indexed() -> DependencyError {
    DependencyError::Other("the state table's company indexes are not built yet".to_owned())
}

impl CompanyMemberships for DynamoState {
    async fn with_open_signal(
        &self,
        _company_id: &str,
        _signal: SignalKind,
        _limit: usize,
        _after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        Err(not_indexed())
    }

    async fn of_company(
        &self,
        _company_id: &str,
        _limit: usize,
        _after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        Err(not_indexed())
    }
}
