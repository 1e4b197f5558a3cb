//! [`BreakerStore`] over DynamoDB's `state` table: one item per breaker, pk `BREAKER#<name>`
//! ([`breaker_pk`]), sk [`BREAKER_SK`], holding the state and a `version` that guards every
//! write. Breaker items carry no `expires_at`: a breaker must outlive the table's TTL.

use crate::domain::ports::BreakerStore;
use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};

use super::dependency_error;
use crate::domain::breaker::{BreakerRecord, BreakerState};
use crate::domain::ports::DependencyError;
use crate::edge::config::Provider;

/// The sort key of every breaker item.
pub const BREAKER_SK: &str = "BREAKER";
const PK_PREFIX: &str = "BREAKER#";

/// The partition key of breaker `name`.
pub fn breaker_pk(name: &str) -> String {
    format!("{PK_PREFIX}{name}")
}

/// Breakers in the state table.
#[derive(Debug, Clone)]
pub struct DynamoBreakers {
    pub client: Client,
    pub table: String,
}

impl DynamoBreakers {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

type Item = HashMap<String, AttributeValue>;

/// The key of breaker `name`.
fn key(name: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(breaker_pk(name))),
        ("sk".to_owned(), AttributeValue::S(BREAKER_SK.to_owned())),
    ])
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unreadable(what: &str) -> DependencyError {
    DependencyError::Other(format!("unreadable breaker item: {what}"))
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, DependencyError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| unreadable(name))
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, DependencyError> {
    Utc.timestamp_millis_opt(number(item, name)?)
        .single()
        .ok_or_else(|| unreadable(name))
}

fn to_item(name: &str, record: &BreakerRecord, version: u64) -> Item {
    let mut item = key(name);
    item.extend([
        ("name".to_owned(), AttributeValue::S(name.to_owned())),
        (
            "state".to_owned(),
            AttributeValue::S(record.state.as_str().to_owned()),
        ),
        ("since".to_owned(), n(record.since.timestamp_millis())),
        ("version".to_owned(), n(version)),
    ]);
    match record.state {
        BreakerState::Closed {
            consecutive_failures,
        } => {
            item.insert("failures".to_owned(), n(consecutive_failures));
        }
        BreakerState::Open { until } => {
            item.insert("open_until".to_owned(), n(until.timestamp_millis()));
        }
        BreakerState::HalfOpen {
            probes_in_flight,
            successes,
        } => {
            item.insert("probes".to_owned(), n(probes_in_flight));
            item.insert("successes".to_owned(), n(successes));
        }
    }
    item
}

fn from_item(item: &Item) -> Result<(String, BreakerRecord, u64), DependencyError> {
    let name = item
        .get("name")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| unreadable("name"))?
        .clone();
    let state = match item
        .get("state")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
    {
        Some("closed") => BreakerState::Closed {
            consecutive_failures: number(item, "failures")?,
        },
        Some("open") => BreakerState::Open {
            until: time(item, "open_until")?,
        },
        Some("half_open") => BreakerState::HalfOpen {
            probes_in_flight: number(item, "probes")?,
            successes: number(item, "successes")?,
        },
        _ => return Err(unreadable("state")),
    };
    let record = BreakerRecord {
        state,
        since: time(item, "since")?,
    };
    Ok((name, record, number(item, "version")?))
}

impl BreakerStore for DynamoBreakers {
    async fn load(&self, name: &str) -> Result<Option<(BreakerRecord, u64)>, DependencyError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output
            .item()
            .map(|item| from_item(item).map(|(_, record, version)| (record, version)))
            .transpose()
    }

    async fn save(
        &self,
        name: &str,
        record: &BreakerRecord,
        expected_version: u64,
    ) -> Result<bool, DependencyError> {
        let version = expected_version
            .checked_add(1)
            .ok_or_else(|| DependencyError::Other("breaker version overflow".to_owned()))?;
        // A PutItem in both cases: moto's UpdateItem that creates an item is not atomic under
        // concurrency, and the whole item is rewritten anyway (fields differ by state).
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(name, record, version)));
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected_version))
        };
        Ok(super::applied(put.send().await)?.is_some())
    }

    async fn list(&self) -> Result<Vec<(String, BreakerRecord, u64)>, DependencyError> {
        // Breakers are named after the providers, so one BatchGetItem of their keys finds them
        // all: no Scan of a table that mostly holds memberships.
        let keys = Provider::ALL.iter().map(|p| key(p.as_str())).collect();
        let mut breakers = super::dynamo::batch_get(&self.client, &self.table, keys)
            .await?
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        breakers.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(breakers)
    }
}
