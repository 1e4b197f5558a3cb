//! [`SuppressionList`] over DynamoDB's `state` table: one item per suppressed address, pk
//! `SUPPRESS#<id>`, sk [`SUPPRESSION_SK`], `<id>` the address's keyed hash
//! ([`crate::domain::notify::suppression::AddressHasher`]); the item holds the reason and the time
//! (`since`, epoch milliseconds) of the first suppression, and no address. A suppression is one
//! conditional PutItem (`attribute_not_exists(pk)`), so a repeated one changes nothing; a check is
//! one consistent GetItem of the key alone.

use aws_sdk_dynamodb::Client;

use super::item::{self, Item, key, millis, s};
use crate::domain::notify::suppression::{AddressHasher, log_id};
use crate::domain::ports::{
    Clock, DependencyError, SecretSource, SuppressionList, SuppressionReason, SystemClock,
};

/// The sort key of every suppression item.
pub const SUPPRESSION_SK: &str = "SUPPRESS";
const PK_PREFIX: &str = "SUPPRESS#";

/// The partition key of the address whose keyed id is `id`.
pub fn suppression_pk(id: &str) -> String {
    format!("{PK_PREFIX}{id}")
}

/// The suppression list in the state table.
pub struct DynamoSuppressionList<S, C> {
    pub client: Client,
    pub table: String,
    pub hasher: AddressHasher<S, C>,
}

impl DynamoSuppressionList<aws_sdk_secretsmanager::Client, SystemClock> {
    /// The stack's list: its state table and `SUPPRESSION_KEY_SECRET_ID`.
    pub fn of(app: &crate::App, secret_id: &str) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
            hasher: AddressHasher::new(app.secrets_manager.clone(), SystemClock, secret_id),
        }
    }
}

fn suppression_key(id: &str) -> Item {
    key(suppression_pk(id), SUPPRESSION_SK)
}

fn reason_name(reason: SuppressionReason) -> &'static str {
    match reason {
        SuppressionReason::Unsubscribed => "unsubscribed",
        SuppressionReason::Bounced => "bounced",
        SuppressionReason::Complained => "complained",
        SuppressionReason::OptedOut => "opted_out",
    }
}

impl<S: SecretSource, C: Clock> SuppressionList for DynamoSuppressionList<S, C> {
    async fn is_suppressed(&self, address: &str) -> Result<bool, DependencyError> {
        let id = self.hasher.id(address).await?;
        let found = item::get_with(&self.client, &self.table, suppression_key(&id), |request| {
            request.projection_expression("pk")
        })
        .await?
        .is_some();
        Ok(found)
    }

    async fn suppress(
        &self,
        address: &str,
        reason: SuppressionReason,
    ) -> Result<(), DependencyError> {
        let id = self.hasher.id(address).await?;
        let mut record = suppression_key(&id);
        record.insert("reason".to_owned(), s(reason_name(reason)));
        record.insert("since".to_owned(), millis(chrono::Utc::now()));
        let written = super::item::put_new(&self.client, &self.table, record).await?;
        tracing::info!(
            suppression.id = log_id(&id),
            suppression.reason = reason_name(reason),
            suppression.new = written,
            "suppressed address {}",
            log_id(&id)
        );
        Ok(())
    }
}
