//! A company's GA4 property in the state table: pk `COMPANY#<company_id>`, sk `ANALYTICS`, with
//! `measurement_id`, `api_secret` (sealed with the data key, `domain::analytics`) and
//! `updated_at` (epoch ms) ([`AnalyticsStore`]).

use serde::{Deserialize, Serialize};

use super::company_items::{DynamoCompanyItems, company_pk};
use super::dependency_error;
use super::item::{self, key};
use crate::domain::analytics::AnalyticsTarget;
use crate::domain::ports::{AnalyticsStore, DependencyError};

/// The sort key of a company's analytics item.
pub const ANALYTICS_SK: &str = "ANALYTICS";

#[derive(Debug, Serialize, Deserialize)]
struct AnalyticsItem {
    pk: String,
    sk: String,
    measurement_id: String,
    /// Sealed: the table never holds the secret in clear.
    api_secret: String,
    updated_at: i64,
}

impl AnalyticsStore for DynamoCompanyItems {
    async fn company_analytics(
        &self,
        company_id: &str,
    ) -> Result<Option<AnalyticsTarget>, DependencyError> {
        let found = item::get(
            &self.client,
            &self.table,
            key(company_pk(company_id), ANALYTICS_SK),
        )
        .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let stored: AnalyticsItem = item::from_item(found, "analytics")?;
        Ok(Some(AnalyticsTarget {
            measurement_id: stored.measurement_id,
            sealed_api_secret: stored.api_secret,
        }))
    }

    async fn put_company_analytics(
        &self,
        company_id: &str,
        target: &AnalyticsTarget,
    ) -> Result<(), DependencyError> {
        let stored = AnalyticsItem {
            pk: company_pk(company_id),
            sk: ANALYTICS_SK.to_owned(),
            measurement_id: target.measurement_id.clone(),
            api_secret: target.sealed_api_secret.clone(),
            updated_at: chrono::Utc::now().timestamp_millis(),
        };
        item::put(
            &self.client,
            &self.table,
            item::to_item(&stored, "analytics")?,
        )
        .await
    }

    async fn delete_company_analytics(&self, company_id: &str) -> Result<(), DependencyError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(company_pk(company_id), ANALYTICS_SK)))
            .send()
            .await
            .map(drop)
            .map_err(|e| dependency_error(&e))
    }
}
