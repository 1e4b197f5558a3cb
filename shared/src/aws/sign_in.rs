//! [`SignInStore`] over DynamoDB's `state` table (`docs/architecture.md`, "Google sign-in"):
//!
//! - a used sign-in `state`: pk `SIGNIN#<sha-256 of the state, hex>`, sk [`STATE_SK`], with
//!   `expires_at` (the flow's end, epoch seconds, the table's TTL attribute), written once with
//!   `attribute_not_exists(pk)`, so a replayed `state` finds it and is refused;
//! - an identity link: pk `LINK#<identity>` (`LINK#google:<sub>`), sk [`LINK_SK`], with `user_id`
//!   (the Whop user) and `linked_at` (epoch seconds), written once with `attribute_not_exists(pk)`.

use aws_sdk_dynamodb::Client;

use super::item::{self, key, n, s, text};
use crate::domain::ports::{DependencyError, LinkOutcome, SignInStore};

/// The sort key of a used state.
pub const STATE_SK: &str = "STATE";
/// The sort key of an identity link.
pub const LINK_SK: &str = "LINK";

/// The partition key of a used state.
pub fn state_pk(state_hash: &str) -> String {
    format!("SIGNIN#{state_hash}")
}

/// The partition key of `identity`'s link.
pub fn link_pk(identity: &str) -> String {
    format!("LINK#{identity}")
}

/// Sign-in states and links in the state table.
#[derive(Debug, Clone)]
pub struct DynamoSignIn {
    pub client: Client,
    pub table: String,
}

impl DynamoSignIn {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

impl DynamoSignIn {
    /// Writes `item` unless its key exists; `false` when it did.
    async fn put_new(&self, item: item::Item) -> Result<bool, DependencyError> {
        item::put_new(&self.client, &self.table, item).await
    }
}

impl SignInStore for DynamoSignIn {
    async fn claim_state(
        &self,
        state_hash: &str,
        expires_at: i64,
    ) -> Result<bool, DependencyError> {
        let mut item = key(state_pk(state_hash), STATE_SK);
        item.insert("expires_at".to_owned(), n(expires_at));
        self.put_new(item).await
    }

    async fn linked_user(&self, identity: &str) -> Result<Option<String>, DependencyError> {
        let Some(item) =
            item::get(&self.client, &self.table, key(link_pk(identity), LINK_SK)).await?
        else {
            return Ok(None);
        };
        text(&item, "user_id")
            .map(|user| Some(user.to_owned()))
            .ok_or_else(|| item::unreadable("state", "an identity link without user_id"))
    }

    /// One conditional write; only when the link exists already, one read of whose it is.
    async fn link(
        &self,
        identity: &str,
        user_id: &str,
        now: i64,
    ) -> Result<LinkOutcome, DependencyError> {
        let mut item = key(link_pk(identity), LINK_SK);
        item.insert("user_id".to_owned(), s(user_id));
        item.insert("linked_at".to_owned(), n(now));
        if self.put_new(item).await? {
            return Ok(LinkOutcome::Linked);
        }
        Ok(match self.linked_user(identity).await? {
            Some(owner) if owner == user_id => LinkOutcome::AlreadyLinked,
            _ => LinkOutcome::LinkedElsewhere,
        })
    }
}
