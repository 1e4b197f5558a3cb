//! The creators' items in the `state` table (`docs/architecture.md`, "Creators"):
//!
//! - a profile: pk `PROFILE#<user_id>`, sk `PROFILE`, with `user_id`, `identities` (a list),
//!   `created_at` (epoch ms), `connections`, `settings` and, once `GET /me/companies` checked
//!   known companies, `discovered_at` (epoch ms) and `discovered_company` ([`ProfileStore`]);
//! - a company's open-signal counts, counted in the sparse signal indexes ([`OpenSignalCounts`]).

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use serde::Deserialize;

use super::company_items::DynamoCompanyItems;
use super::item::{self, key, s};
use super::state::{DynamoState, signal_attributes, signal_index_name};
use super::{applied, dependency_error};
use crate::domain::companies::summary::ByKind;
use crate::domain::creators::profile::{
    Connection, CreatorProfile, DiscoveryMark, ProfileSettings,
};
use crate::domain::ports::{DependencyError, OpenSignalCounts, ProfileStore};
use crate::domain::state::model::SignalKind;
use crate::domain::state::store::company_pk;

/// The sort key of a profile.
pub const PROFILE_SK: &str = "PROFILE";

/// The partition key of `user_id`'s profile.
pub fn profile_pk(user_id: &str) -> String {
    format!("PROFILE#{user_id}")
}

#[derive(Debug, Deserialize)]
struct ProfileItem {
    user_id: String,
    #[serde(default)]
    identities: Vec<String>,
    created_at: i64,
    #[serde(default)]
    connections: Vec<Connection>,
    #[serde(default)]
    settings: ProfileSettings,
    /// The [`DiscoveryMark`]: epoch ms and company id.
    #[serde(default)]
    discovered_at: Option<i64>,
    #[serde(default)]
    discovered_company: Option<String>,
}

impl ProfileStore for DynamoCompanyItems {
    /// One UpdateItem: creates the item's fields where absent and appends `identity`, on the
    /// condition that the item is absent or lacks it (so a repeat changes nothing).
    async fn record_identity(
        &self,
        user_id: &str,
        identity: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(profile_pk(user_id), PROFILE_SK)))
            .update_expression(
                "SET user_id = :user, created_at = if_not_exists(created_at, :now), \
                 identities = list_append(if_not_exists(identities, :empty), :identities), \
                 connections = if_not_exists(connections, :empty), \
                 settings = if_not_exists(settings, :settings)",
            )
            .condition_expression("attribute_not_exists(pk) OR NOT contains(identities, :identity)")
            .expression_attribute_values(":user", s(user_id))
            .expression_attribute_values(":now", item::millis(at))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":identities", AttributeValue::L(vec![s(identity)]))
            .expression_attribute_values(":identity", s(identity))
            .expression_attribute_values(":settings", AttributeValue::M(Default::default()))
            .send()
            .await;
        Ok(applied(result)?.is_some())
    }

    async fn profile(&self, user_id: &str) -> Result<Option<CreatorProfile>, DependencyError> {
        let found = item::get(
            &self.client,
            &self.table,
            key(profile_pk(user_id), PROFILE_SK),
        )
        .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let stored: ProfileItem = item::from_item(found, "profile")?;
        let created_at = chrono::DateTime::from_timestamp_millis(stored.created_at)
            .ok_or_else(|| item::unreadable("profile", "a time out of range"))?;
        Ok(Some(CreatorProfile {
            user_id: stored.user_id,
            identities: stored.identities,
            created_at,
            connections: stored.connections,
            settings: stored.settings,
            discovered_through: stored
                .discovered_at
                .zip(stored.discovered_company)
                .and_then(|(at, company_id)| {
                    Some(DiscoveryMark {
                        first_seen: chrono::DateTime::from_timestamp_millis(at)?,
                        company_id,
                    })
                }),
        }))
    }

    /// One UpdateItem on the condition that the profile exists.
    async fn advance_discovery(
        &self,
        user_id: &str,
        mark: &DiscoveryMark,
    ) -> Result<(), DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(profile_pk(user_id), PROFILE_SK)))
            .update_expression("SET discovered_at = :at, discovered_company = :company")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", item::millis(mark.first_seen))
            .expression_attribute_values(":company", s(&mark.company_id))
            .send()
            .await;
        applied(result)?;
        Ok(())
    }
}

impl OpenSignalCounts for DynamoState {
    /// One `Select=COUNT` Query per signal kind of its sparse index (paged past 1 MB), so a count
    /// reads the index's keys only where a signal is open.
    async fn open_signal_counts(&self, company_id: &str) -> Result<ByKind, DependencyError> {
        let mut counts = ByKind::new();
        for kind in SignalKind::ALL {
            let (pk, _) = signal_attributes(kind);
            let mut count = 0_usize;
            let mut start = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(signal_index_name(kind))
                    .key_condition_expression(format!("{pk} = :company"))
                    .expression_attribute_values(":company", s(company_pk(company_id)))
                    .select(Select::Count)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| dependency_error(&e))?;
                count += usize::try_from(output.count).unwrap_or_default();
                start = output.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
            counts.insert(kind, count);
        }
        Ok(counts)
    }
}
