//! [`KnownCompanies`] over the `state` table (`docs/architecture.md`, "Known companies"): one
//! item per company, pk `KNOWN#<shard>` ([`KNOWN_SHARDS`] partitions, the shard a hash of the
//! company id), sk `COMPANY#<company id>`, holding `company_id`, `first_seen` (epoch ms),
//! `source`, and `revoked_at`/`revoked_reason` while the company is not scheduled. Listing them is
//! one Query per shard (paged), never a Scan; the shards spread a deployment's companies over
//! several partitions so no listing reads one ever-growing partition.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::company_items::DynamoCompanyItems;
use super::item::{self, Item, key, millis, s, text, time};
use super::{applied, dependency_error};
use crate::domain::companies::known::{KnownCompany, KnownSource, Revocation};
use crate::domain::ports::{DependencyError, KnownCompanies};

/// The partitions known companies are spread over.
pub const KNOWN_SHARDS: u8 = 4;

/// The partition key of shard `shard`.
fn shard_pk(shard: u8) -> String {
    format!("KNOWN#{shard}")
}

/// The key of `company_id`'s item.
fn known_key(company_id: &str) -> Item {
    let shard = Sha256::digest(company_id.as_bytes())[0] % KNOWN_SHARDS;
    key(shard_pk(shard), format!("COMPANY#{company_id}"))
}

fn known_company(found: &Item) -> Result<KnownCompany, DependencyError> {
    let unreadable = |what| item::unreadable("known company", what);
    let revoked = match (time(found, "revoked_at"), text(found, "revoked_reason")) {
        (Some(at), Some(reason)) => Some(Revocation {
            at,
            reason: reason.to_owned(),
        }),
        _ => None,
    };
    Ok(KnownCompany {
        company_id: text(found, "company_id")
            .ok_or_else(|| unreadable("company_id"))?
            .to_owned(),
        first_seen: time(found, "first_seen").ok_or_else(|| unreadable("first_seen"))?,
        source: text(found, "source")
            .and_then(KnownSource::parse)
            .ok_or_else(|| unreadable("source"))?,
        revoked,
    })
}

impl KnownCompanies for DynamoCompanyItems {
    /// One conditional UpdateItem: applied when the company is new or revoked; a failed
    /// condition means it was already known.
    async fn remember(
        &self,
        company_id: &str,
        source: KnownSource,
        at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(known_key(company_id)))
            .update_expression(
                "SET company_id = :company, #source = :source, \
                 first_seen = if_not_exists(first_seen, :at) \
                 REMOVE revoked_at, revoked_reason",
            )
            .condition_expression("attribute_not_exists(pk) OR attribute_exists(revoked_at)")
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":company", s(company_id))
            .expression_attribute_values(":source", s(source.as_str()))
            .expression_attribute_values(":at", millis(at))
            .send()
            .await;
        Ok(applied(result)?.is_some())
    }

    async fn known_companies(&self) -> Result<Vec<KnownCompany>, DependencyError> {
        let mut companies = Vec::new();
        for shard in 0..KNOWN_SHARDS {
            let items =
                super::dynamo::query_partition(&self.client, &self.table, &shard_pk(shard)).await?;
            for found in &items {
                companies.push(known_company(found)?);
            }
        }
        companies.sort_by(|a, b| a.company_id.cmp(&b.company_id));
        Ok(companies)
    }

    /// One UpdateItem; a company nothing named before (the stack's default) is stored as known
    /// from the configuration, revoked.
    async fn revoke(
        &self,
        company_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(known_key(company_id)))
            .update_expression(
                "SET company_id = :company, #source = if_not_exists(#source, :config), \
                 first_seen = if_not_exists(first_seen, :at), \
                 revoked_at = :at, revoked_reason = :reason",
            )
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":company", s(company_id))
            .expression_attribute_values(":config", s(KnownSource::Config.as_str()))
            .expression_attribute_values(":at", millis(at))
            .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned()))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_keeps_its_shard_and_the_shards_cover_few_partitions() {
        let pk = |id: &str| known_key(id)["pk"].as_s().unwrap().clone();
        assert_eq!(pk("biz_local"), pk("biz_local"));
        let shards: std::collections::BTreeSet<String> =
            (0..200).map(|n| pk(&format!("biz_{n}"))).collect();
        assert_eq!(shards.len(), usize::from(KNOWN_SHARDS));
        assert!(shards.iter().all(|pk| pk.starts_with("KNOWN#")));
    }
}
