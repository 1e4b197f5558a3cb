//! The creator view's items in the `state` table (`docs/architecture.md`, "Creator view"):
//!
//! - a company's settings: pk `COMPANY#<company_id>`, sk `SETTINGS` ([`SettingsStore`]);
//! - a cached answer of the access check: pk `ACCESS#<user_id>#<company_id>`, sk `ACCESS`, with
//!   `level`, `checked_at` (epoch ms) and `expires_at` (epoch seconds, the table's TTL attribute,
//!   so DynamoDB deletes old answers; freshness is checked on read, TTL deletion being lazy)
//!   ([`AccessCacheStore`]).

use aws_sdk_dynamodb::Client;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::dependency_error;
use super::item::{self, Item, key};
use crate::domain::companies::settings::CompanySettings;
use crate::domain::ports::{
    AccessCacheStore, AccessLevel, CachedAccess, DependencyError, SettingsStore,
};

/// The sort key of a company's settings.
pub const SETTINGS_SK: &str = "SETTINGS";
/// The sort key of a cached access answer.
pub const ACCESS_SK: &str = "ACCESS";

/// The partition key of a company's own items.
pub fn company_pk(company_id: &str) -> String {
    format!("COMPANY#{company_id}")
}

/// The partition key of `user_id`'s cached access to `company_id`.
pub fn access_pk(user_id: &str, company_id: &str) -> String {
    format!("ACCESS#{user_id}#{company_id}")
}

/// Settings and cached access answers in the state table.
#[derive(Debug, Clone)]
pub struct DynamoCompanyItems {
    pub client: Client,
    pub table: String,
}

impl DynamoCompanyItems {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }

    async fn put(&self, item: Item) -> Result<(), DependencyError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    company_id: String,
    /// Epoch milliseconds of the last save.
    updated_at: i64,
    #[serde(flatten)]
    settings: CompanySettings,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessItem {
    pk: String,
    sk: String,
    level: AccessLevel,
    checked_at: i64,
    expires_at: i64,
}

impl SettingsStore for DynamoCompanyItems {
    async fn company_settings(
        &self,
        company_id: &str,
    ) -> Result<Option<CompanySettings>, DependencyError> {
        let found = item::get(
            &self.client,
            &self.table,
            key(company_pk(company_id), SETTINGS_SK),
        )
        .await?;
        found
            .map(|found| item::from_item::<SettingsItem>(found, "settings").map(|i| i.settings))
            .transpose()
    }

    async fn put_company_settings(
        &self,
        company_id: &str,
        settings: &CompanySettings,
    ) -> Result<(), DependencyError> {
        let stored = SettingsItem {
            pk: company_pk(company_id),
            sk: SETTINGS_SK.to_owned(),
            company_id: company_id.to_owned(),
            updated_at: Utc::now().timestamp_millis(),
            settings: settings.clone(),
        };
        self.put(item::to_item(&stored, "settings")?).await
    }
}

impl AccessCacheStore for DynamoCompanyItems {
    async fn cached_access(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<Option<CachedAccess>, DependencyError> {
        let found = item::get(
            &self.client,
            &self.table,
            key(access_pk(user_id, company_id), ACCESS_SK),
        )
        .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let stored: AccessItem = item::from_item(found, "access")?;
        let time = |value: Option<chrono::DateTime<Utc>>| {
            value.ok_or_else(|| item::unreadable("access", "a time out of range"))
        };
        Ok(Some(CachedAccess {
            level: stored.level,
            checked_at: time(Utc.timestamp_millis_opt(stored.checked_at).single())?,
            expires_at: time(Utc.timestamp_opt(stored.expires_at, 0).single())?,
        }))
    }

    async fn remember_access(
        &self,
        user_id: &str,
        company_id: &str,
        access: &CachedAccess,
    ) -> Result<(), DependencyError> {
        let stored = AccessItem {
            pk: access_pk(user_id, company_id),
            sk: ACCESS_SK.to_owned(),
            level: access.level,
            checked_at: access.checked_at.timestamp_millis(),
            expires_at: access.expires_at.timestamp(),
        };
        self.put(item::to_item(&stored, "access answer")?).await
    }
}
