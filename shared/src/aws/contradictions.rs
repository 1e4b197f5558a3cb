//! [`ContradictionLog`] over DynamoDB's `state` table (`docs/architecture.md`, "Gumroad"): one
//! item per event its provider contradicted, pk `CONTRADICTED#<provider>#<event id>`, sk
//! [`CONTRADICTION_SK`]: `provider`, `event_id`, `kind`, `reason` (a stable code), the ids it names
//! (`company_id`, `membership_id`, `payment_id`; no contact details), `at` (ms) and `expires_at`
//! (the table's TTL, [`RETENTION_DAYS`] later). Written with one PutItem, so a redelivery rewrites
//! it.

use aws_sdk_dynamodb::Client;

use super::item::{key, millis, n, put, s};
use crate::domain::ports::{Contradiction, ContradictionLog, DependencyError};

/// The sort key of a contradiction.
pub const CONTRADICTION_SK: &str = "CONTRADICTED";
/// How long a contradiction is kept.
pub const RETENTION_DAYS: i64 = 90;

/// The partition key of `provider`'s event `event_id` contradicted.
pub fn contradiction_pk(provider: &str, event_id: &str) -> String {
    format!("CONTRADICTED#{provider}#{event_id}")
}

/// Contradicted events in the state table.
#[derive(Debug, Clone)]
pub struct DynamoContradictions {
    pub client: Client,
    pub table: String,
}

impl DynamoContradictions {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

impl ContradictionLog for DynamoContradictions {
    async fn record(&self, contradiction: &Contradiction) -> Result<(), DependencyError> {
        let mut item = key(
            contradiction_pk(&contradiction.provider, &contradiction.event_id),
            CONTRADICTION_SK,
        );
        let expires = contradiction.at + chrono::TimeDelta::days(RETENTION_DAYS);
        for (name, value) in [
            ("provider", Some(&contradiction.provider)),
            ("event_id", Some(&contradiction.event_id)),
            ("kind", Some(&contradiction.kind)),
            ("company_id", contradiction.company_id.as_ref()),
            ("membership_id", contradiction.membership_id.as_ref()),
            ("payment_id", contradiction.payment_id.as_ref()),
        ] {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value.as_str()));
            }
        }
        item.insert("reason".to_owned(), s(contradiction.reason));
        item.insert("at".to_owned(), millis(contradiction.at));
        item.insert("expires_at".to_owned(), n(expires.timestamp()));
        put(&self.client, &self.table, item).await
    }
}
