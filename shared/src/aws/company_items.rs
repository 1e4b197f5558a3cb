//! The creator view's items in the `state` table (`docs/architecture.md`, "Creator view"):
//!
//! - a company's settings: pk `COMPANY#<company_id>`, sk `SETTINGS` ([`SettingsStore`]), with,
//!   while its digest is on, `digest_next_at` (epoch seconds of the next digest) and
//!   `digest_shard` (`DIGEST#<0..DIGEST_SHARDS>`, a hash of the company id): the keys of the
//!   sparse index `digest_due` the hourly run queries ([`DigestSchedule`], `docs/architecture.md`,
//!   "Daily digest");
//! - a cached answer of the access check: pk `ACCESS#<user_id>`, sk `COMPANY#<company_id>` (so
//!   one Query lists the companies a user was checked against), with `level`, `checked_at`
//!   (epoch ms), `fresh_until` (epoch seconds: the answer is served until then) and `expires_at`
//!   (epoch seconds, the table's TTL attribute: `fresh_until`, or [`ADMIN_ANSWER_KEPT`] later
//!   for an admin answer, which `GET /me/companies` lists and proves again) ([`AccessCacheStore`]).

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::item::{self, Item, key, n, s};
use super::{applied, dependency_error};
use crate::domain::companies::settings::CompanySettings;
use crate::domain::notify::digest::next_digest_at;
use crate::domain::ports::{
    AccessCacheStore, AccessLevel, CachedAccess, DependencyError, DigestSchedule, DigestSettings,
    DueDigest, SettingsStore,
};

/// The sort key of a company's settings.
pub const SETTINGS_SK: &str = "SETTINGS";
/// How long an admin answer of the access check is kept after it stops being fresh: the
/// creator's companies are listed from these answers (`domain::creators::my_companies`).
pub const ADMIN_ANSWER_KEPT: chrono::Duration = chrono::Duration::days(90);

/// The partition key of a company's own items.
pub fn company_pk(company_id: &str) -> String {
    format!("COMPANY#{company_id}")
}

/// The index of the companies by next digest (sparse: only companies with a digest).
pub const DIGEST_INDEX: &str = "digest_due";
/// The index's partitions: a digest's advance is a write to the index, and the companies of a
/// popular hour advance at once, so they spread over this many partitions (each Query of the
/// hourly run reads one).
pub const DIGEST_SHARDS: u8 = 4;

/// The index partition of `company_id`'s digest.
pub fn digest_shard(company_id: &str) -> String {
    let shard = Sha256::digest(company_id.as_bytes())[0] % DIGEST_SHARDS;
    format!("DIGEST#{shard}")
}

/// The partition key of `user_id`'s cached access answers.
pub fn access_pk(user_id: &str) -> String {
    format!("ACCESS#{user_id}")
}

/// The key of `user_id`'s cached access to `company_id`.
fn access_key(user_id: &str, company_id: &str) -> Item {
    key(access_pk(user_id), company_pk(company_id))
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
        item::put(&self.client, &self.table, item).await
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    company_id: String,
    /// Epoch milliseconds of the last save.
    updated_at: i64,
    /// The next digest (epoch seconds) and its index partition, while the digest is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest_next_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest_shard: Option<String>,
    #[serde(flatten)]
    settings: CompanySettings,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessItem {
    pk: String,
    sk: String,
    level: AccessLevel,
    checked_at: i64,
    /// Absent on answers stored before it was: `expires_at` was their freshness.
    #[serde(default)]
    fresh_until: Option<i64>,
    expires_at: i64,
}

impl AccessItem {
    fn answer(&self) -> Result<CachedAccess, DependencyError> {
        let time = |value: Option<chrono::DateTime<Utc>>| {
            value.ok_or_else(|| item::unreadable("access", "a time out of range"))
        };
        Ok(CachedAccess {
            level: self.level,
            checked_at: time(Utc.timestamp_millis_opt(self.checked_at).single())?,
            expires_at: time(
                Utc.timestamp_opt(self.fresh_until.unwrap_or(self.expires_at), 0)
                    .single(),
            )?,
        })
    }
}

impl DynamoCompanyItems {
    /// The settings item of `company_id`, read consistently.
    async fn settings_item(
        &self,
        company_id: &str,
    ) -> Result<Option<SettingsItem>, DependencyError> {
        let found = item::get(
            &self.client,
            &self.table,
            key(company_pk(company_id), SETTINGS_SK),
        )
        .await?;
        found
            .map(|found| item::from_item::<SettingsItem>(found, "settings"))
            .transpose()
    }
}

impl SettingsStore for DynamoCompanyItems {
    async fn company_settings(
        &self,
        company_id: &str,
    ) -> Result<Option<CompanySettings>, DependencyError> {
        Ok(self.settings_item(company_id).await?.map(|i| i.settings))
    }

    async fn put_company_settings(
        &self,
        company_id: &str,
        settings: &CompanySettings,
    ) -> Result<(), DependencyError> {
        let now = Utc::now();
        let next_at = settings
            .digest
            .as_ref()
            .and_then(|digest| next_digest_at(digest, now));
        let stored = SettingsItem {
            pk: company_pk(company_id),
            sk: SETTINGS_SK.to_owned(),
            company_id: company_id.to_owned(),
            updated_at: now.timestamp_millis(),
            digest_next_at: next_at.map(|at| at.timestamp()),
            digest_shard: next_at.map(|_| digest_shard(company_id)),
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
        let found = item::get(&self.client, &self.table, access_key(user_id, company_id)).await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let stored: AccessItem = item::from_item(found, "access")?;
        stored.answer().map(Some)
    }

    /// One Query of the user's partition (paged past 1 MB).
    async fn cached_companies(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, CachedAccess)>, DependencyError> {
        let items =
            super::dynamo::query_partition(&self.client, &self.table, &access_pk(user_id)).await?;
        let mut answers = Vec::with_capacity(items.len());
        for found in items {
            let stored: AccessItem = item::from_item(found, "access")?;
            let Some(company_id) = stored.sk.strip_prefix("COMPANY#") else {
                return Err(item::unreadable(
                    "access",
                    "a sort key that names no company",
                ));
            };
            answers.push((company_id.to_owned(), stored.answer()?));
        }
        Ok(answers)
    }

    async fn remember_access(
        &self,
        user_id: &str,
        company_id: &str,
        access: &CachedAccess,
    ) -> Result<(), DependencyError> {
        let kept = if access.level == AccessLevel::Admin {
            access
                .expires_at
                .checked_add_signed(ADMIN_ANSWER_KEPT)
                .unwrap_or(access.expires_at)
        } else {
            access.expires_at
        };
        let stored = AccessItem {
            pk: access_pk(user_id),
            sk: company_pk(company_id),
            level: access.level,
            checked_at: access.checked_at.timestamp_millis(),
            fresh_until: Some(access.expires_at.timestamp()),
            expires_at: kept.timestamp(),
        };
        self.put(item::to_item(&stored, "access answer")?).await
    }
}

impl DigestSchedule for DynamoCompanyItems {
    async fn due_digests(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDigest>, DependencyError> {
        let mut due = Vec::new();
        for shard in 0..DIGEST_SHARDS {
            let mut start: Option<Item> = None;
            loop {
                // Keys only: the company id is in `pk`, the instant in `digest_next_at`.
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(DIGEST_INDEX)
                    .key_condition_expression("digest_shard = :shard AND digest_next_at <= :now")
                    .expression_attribute_values(":shard", s(format!("DIGEST#{shard}")))
                    .expression_attribute_values(":now", n(now.timestamp()))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| dependency_error(&e))?;
                for found in output.items() {
                    let company_id = item::text(found, "pk")
                        .and_then(|pk| pk.strip_prefix("COMPANY#"))
                        .ok_or_else(|| {
                            item::unreadable("settings", "a digest without a company")
                        })?;
                    let due_at = item::number::<i64>(found, "digest_next_at")
                        .and_then(|at| Utc.timestamp_opt(at, 0).single())
                        .ok_or_else(|| item::unreadable("settings", "a digest without a time"))?;
                    due.push(DueDigest {
                        company_id: company_id.to_owned(),
                        due_at,
                    });
                    if due.len() >= limit {
                        return Ok(due);
                    }
                }
                start = output.last_evaluated_key.filter(|key| !key.is_empty());
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(due)
    }

    async fn digest_settings(
        &self,
        company_id: &str,
    ) -> Result<Option<DigestSettings>, DependencyError> {
        Ok(self.settings_item(company_id).await?.map(|stored| {
            let next_at = stored
                .digest_next_at
                .and_then(|at| Utc.timestamp_opt(at, 0).single());
            (stored.settings, next_at)
        }))
    }

    async fn advance_digest(
        &self,
        company_id: &str,
        due_at: DateTime<Utc>,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(company_pk(company_id), SETTINGS_SK)))
            .update_expression("SET digest_next_at = :next")
            .condition_expression("digest_next_at = :due")
            .expression_attribute_values(":next", n(next_at.timestamp()))
            .expression_attribute_values(":due", n(due_at.timestamp()))
            .send()
            .await;
        Ok(applied(result)?.is_some())
    }
}
