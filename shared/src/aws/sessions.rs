//! [`SessionStore`] over DynamoDB's `sessions` table (GSI `by_user`: `user_id`, `created_at`).

use crate::domain::ports::SessionStore;
use aws_sdk_dynamodb::Client;

use super::dependency_error;
use super::item::{self, n, s};
use crate::domain::auth::sessions::SessionRecord;
use crate::domain::ports::DependencyError;

/// The index listing a user's sessions.
pub const USER_INDEX: &str = "by_user";
/// A user holds few sessions (the cap); stop listing past this many.
const MAX_LISTED: usize = 1000;

#[derive(Debug, Clone)]
pub struct DynamoSessions {
    pub client: Client,
    pub table: String,
}

impl DynamoSessions {
    /// The stack's sessions table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.sessions.clone(),
        }
    }
}

fn unreadable(error: &serde_dynamo::Error) -> DependencyError {
    item::unreadable("sessions", error)
}

impl SessionStore for DynamoSessions {
    async fn put(&self, record: &SessionRecord) -> Result<(), DependencyError> {
        let item = serde_dynamo::to_item(record).map_err(|e| unreadable(&e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(drop)
            .map_err(|e| dependency_error(&e))
    }

    async fn get(&self, pk: &str) -> Result<Option<SessionRecord>, DependencyError> {
        let key = std::collections::HashMap::from([("pk".to_owned(), s(pk))]);
        item::get(&self.client, &self.table, key)
            .await?
            .map(|item| item::from_item(item, "sessions"))
            .transpose()
    }

    async fn extend(
        &self,
        pk: &str,
        expires_at: i64,
        last_seen: i64,
        created_after: i64,
    ) -> Result<bool, DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET expires_at = :expires, last_seen = :seen")
            .condition_expression("attribute_exists(pk) AND created_at > :created_after")
            .expression_attribute_values(":expires", n(expires_at))
            .expression_attribute_values(":created_after", n(created_after))
            .expression_attribute_values(":seen", n(last_seen))
            .send()
            .await;
        Ok(super::applied(result)?.is_some())
    }

    async fn delete(&self, pk: &str) -> Result<(), DependencyError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .send()
            .await
            .map(drop)
            .map_err(|e| dependency_error(&e))
    }

    async fn of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, DependencyError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USER_INDEX)
                .key_condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(user_id))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dependency_error(&e))?;
            for item in output.items.unwrap_or_default() {
                records.push(serde_dynamo::from_item(item).map_err(|e| unreadable(&e))?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || records.len() >= MAX_LISTED {
                return Ok(records);
            }
        }
    }
}
