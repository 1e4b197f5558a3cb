//! [`BreakerStore`] over DynamoDB's `state` table: one item per breaker, pk `BREAKER#<name>`
//! ([`breaker_pk`]), sk [`BREAKER_SK`], holding the state and a `version` that guards every
//! write. Breaker items carry no `expires_at`: a breaker must outlive the table's TTL.

use crate::domain::ports::BreakerStore;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::item::{self, Item, key, n};
use crate::domain::breaker::{BreakerRecord, BreakerState};
use crate::domain::ports::DependencyError;

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

/// The key of breaker `name`.
fn breaker_key(name: &str) -> Item {
    key(breaker_pk(name), BREAKER_SK)
}

/// A breaker item as stored: times in epoch milliseconds, the counters of its state only.
#[derive(Debug, Serialize, Deserialize)]
struct BreakerItem {
    pk: String,
    sk: String,
    name: String,
    state: String,
    since: i64,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    successes: Option<u32>,
}

fn unreadable(what: &str) -> DependencyError {
    item::unreadable("breaker", what)
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, DependencyError> {
    value.ok_or_else(|| unreadable(name))
}

fn millis_time(ms: i64, name: &str) -> Result<DateTime<Utc>, DependencyError> {
    required(Utc.timestamp_millis_opt(ms).single(), name)
}

impl BreakerItem {
    fn new(name: &str, record: &BreakerRecord, version: u64) -> Self {
        let mut item = Self {
            pk: breaker_pk(name),
            sk: BREAKER_SK.to_owned(),
            name: name.to_owned(),
            state: record.state.as_str().to_owned(),
            since: record.since.timestamp_millis(),
            version,
            failures: None,
            open_until: None,
            probes: None,
            successes: None,
        };
        match record.state {
            BreakerState::Closed {
                consecutive_failures,
            } => item.failures = Some(consecutive_failures),
            BreakerState::Open { until } => item.open_until = Some(until.timestamp_millis()),
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } => {
                item.probes = Some(probes_in_flight);
                item.successes = Some(successes);
            }
        }
        item
    }

    fn read(self) -> Result<(String, BreakerRecord, u64), DependencyError> {
        let state = match self.state.as_str() {
            "closed" => BreakerState::Closed {
                consecutive_failures: required(self.failures, "failures")?,
            },
            "open" => BreakerState::Open {
                until: millis_time(required(self.open_until, "open_until")?, "open_until")?,
            },
            "half_open" => BreakerState::HalfOpen {
                probes_in_flight: required(self.probes, "probes")?,
                successes: required(self.successes, "successes")?,
            },
            _ => return Err(unreadable("state")),
        };
        let record = BreakerRecord {
            state,
            since: millis_time(self.since, "since")?,
        };
        Ok((self.name, record, self.version))
    }
}

fn from_item(item: Item) -> Result<(String, BreakerRecord, u64), DependencyError> {
    item::from_item::<BreakerItem>(item, "breaker")?.read()
}

impl BreakerStore for DynamoBreakers {
    async fn load(&self, name: &str) -> Result<Option<(BreakerRecord, u64)>, DependencyError> {
        item::get(&self.client, &self.table, breaker_key(name))
            .await?
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
            .set_item(Some(item::to_item(
                &BreakerItem::new(name, record, version),
                "breaker",
            )?));
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
        // Breakers are named after the providers.
        let mut breakers =
            super::dynamo::per_provider(&self.client, &self.table, breaker_key, from_item).await?;
        breakers.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(breakers)
    }
}
