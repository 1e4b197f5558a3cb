//! [`FailureCounter`] over DynamoDB's `state` table: one item per IP and window, pk
//! `RATE#<ip>#<window start>` ([`rate_pk`]), sk [`RATE_SK`], holding `count` and `expires_at`
//! (the window's end in epoch seconds, the table's TTL attribute).

use crate::domain::ports::FailureCounter;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;

use super::dependency_error;
use super::item::{self, Item, key, n, number};
use crate::domain::auth::limits::{RATE_SK, rate_pk};
use crate::domain::ports::DependencyError;

/// Failure counts in the state table.
#[derive(Debug, Clone)]
pub struct DynamoFailureCounter {
    pub client: Client,
    pub table: String,
}

impl DynamoFailureCounter {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

fn rate_key(ip: &str, window_start: i64) -> Item {
    key(rate_pk(ip, window_start), RATE_SK)
}

fn count_of(item: Option<&Item>) -> Result<u64, DependencyError> {
    let Some(item) = item.filter(|item| item.contains_key("count")) else {
        return Ok(0);
    };
    number(item, "count").ok_or_else(|| item::unreadable("rate-limit", "count"))
}

impl FailureCounter for DynamoFailureCounter {
    async fn record_failure(
        &self,
        ip: &str,
        window_start: i64,
        window_secs: u64,
    ) -> Result<u64, DependencyError> {
        let expires_at = i64::try_from(window_secs)
            .ok()
            .and_then(|secs| window_start.checked_add(secs))
            .ok_or_else(|| DependencyError::Other("the window ends past 2^63 s".to_owned()))?;
        // One request: the count comes back with the increment, and the first failure of the
        // window sets its expiry.
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rate_key(ip, window_start)))
            .update_expression("ADD #count :one SET #expires_at = if_not_exists(#expires_at, :end)")
            // `count` is a DynamoDB reserved word.
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        match count_of(output.attributes())? {
            0 => Err(DependencyError::Other(
                "UpdateItem returned no count".to_owned(),
            )),
            count => Ok(count),
        }
    }

    async fn failures(&self, ip: &str, window_start: i64) -> Result<u64, DependencyError> {
        let item = item::get_with(&self.client, &self.table, rate_key(ip, window_start), |r| {
            r.projection_expression("#count")
                .expression_attribute_names("#count", "count")
        })
        .await?;
        count_of(item.as_ref())
    }
}
