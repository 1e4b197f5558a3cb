//! [`StateStore`] over DynamoDB's `state` table; the item layout is described in
//! [`crate::domain::state::store`].

use crate::domain::ports::StateStore;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{SecondsFormat, Utc};

use super::dependency_error;
use super::item::{self, Item, key, n, number, s, text};
use crate::domain::ports::DependencyError;
use crate::domain::state::model::{MembershipState, Observation};
use crate::domain::state::store::{
    Compaction, OBSERVATION_PREFIX, Page, Recorded, STATE_SK, StoredMembership, membership_pk,
    observation_attribute, user_gsi_pk,
};
use crate::domain::webhooks::Source;

/// The GSI listing a user's memberships (`gsi1pk = USER#<id>`, `gsi1sk = MEMBERSHIP#<id>`).
pub const USER_INDEX: &str = "gsi1";

/// The state table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    pub client: Client,
    pub table: String,
}

impl DynamoState {
    /// The stack's state table.
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

fn unreadable(what: &str) -> DependencyError {
    item::unreadable("state", what)
}

/// Reads a membership item.
fn from_item(item: &Item) -> Result<StoredMembership, DependencyError> {
    let membership_id = text(item, "membership_id")
        .ok_or_else(|| unreadable("no membership_id"))?
        .to_owned();
    let provider = text(item, "provider")
        .and_then(Source::parse)
        .ok_or_else(|| unreadable("no provider"))?;
    let base = item.get("base").map(read_base).transpose()?;
    let mut observations = Vec::new();
    for (name, value) in item {
        if name.starts_with(OBSERVATION_PREFIX) {
            let json = value.as_s().map_err(|_| unreadable(name))?;
            observations.push(
                serde_json::from_str::<Observation>(json)
                    .map_err(|e| unreadable(&format!("{name}: {e}")))?,
            );
        }
    }
    let revision = number(item, "rev").unwrap_or(0);
    Ok(StoredMembership {
        membership_id,
        provider,
        user_id: text(item, "user_id").map(str::to_owned),
        base,
        observations,
        revision,
    })
}

/// Past this, an inflated base is corrupt (an item is at most 400 KB).
const MAX_BASE_BYTES: usize = 4 << 20;

/// The base is stored deflated ([`item::deflated`]): its JSON (signal history, payments) repeats
/// keys and ids.
fn write_base(base: &MembershipState) -> Result<AttributeValue, DependencyError> {
    let json = serde_json::to_vec(base)
        .map_err(|e| DependencyError::Other(format!("cannot encode the base: {e}")))?;
    Ok(item::deflated(&json))
}

fn read_base(value: &AttributeValue) -> Result<MembershipState, DependencyError> {
    let json = item::inflated("state", "base", value, MAX_BASE_BYTES)?;
    serde_json::from_slice(&json).map_err(|e| unreadable(&format!("base: {e}")))
}

fn state_key(membership_id: &str) -> Item {
    key(membership_pk(membership_id), STATE_SK)
}

impl StateStore for DynamoState {
    async fn record(
        &self,
        membership_id: &str,
        provider: Source,
        observation: &Observation,
    ) -> Result<Recorded, DependencyError> {
        let json = serde_json::to_string(observation)
            .map_err(|e| DependencyError::Other(format!("cannot encode the observation: {e}")))?;
        let mut update = String::from(
            "SET #obs = :obs, membership_id = if_not_exists(membership_id, :id), \
             provider = if_not_exists(provider, :provider), updated_at = :now",
        );
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(membership_id)))
            .condition_expression(
                "attribute_not_exists(#obs) AND \
                 (attribute_not_exists(base_version) OR base_version < :version)",
            )
            .expression_attribute_names(
                "#obs",
                observation_attribute(&observation.version.event_id),
            )
            .expression_attribute_values(":obs", s(json))
            .expression_attribute_values(":id", s(membership_id))
            .expression_attribute_values(":provider", s(provider.as_str()))
            .expression_attribute_values(
                ":now",
                s(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
            )
            .expression_attribute_values(":version", s(observation.version.encode()))
            .expression_attribute_values(":one", n(1));
        if let Some(user_id) = &observation.membership.user_id {
            // The first user an event names keys the GSI; a membership never changes hands.
            update.push_str(
                ", user_id = if_not_exists(user_id, :user), \
                 gsi1pk = if_not_exists(gsi1pk, :gsi1pk), gsi1sk = if_not_exists(gsi1sk, :gsi1sk)",
            );
            request = request
                .expression_attribute_values(":user", s(user_id))
                .expression_attribute_values(":gsi1pk", s(user_gsi_pk(user_id)))
                .expression_attribute_values(":gsi1sk", s(membership_pk(membership_id)));
        }
        update.push_str(" ADD rev :one");
        let result = request
            .update_expression(update)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes()
                    .ok_or_else(|| unreadable("UpdateItem returned no attributes"))?;
                Ok(Recorded::Applied(Box::new(from_item(item)?)))
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    // The old item came back with the failure: no read to tell why.
                    let attribute = observation_attribute(&observation.version.event_id);
                    let recorded = failed
                        .item()
                        .is_some_and(|item| item.contains_key(&attribute));
                    Ok(if recorded {
                        Recorded::Duplicate
                    } else {
                        Recorded::Stale
                    })
                }
                _ => Err(dependency_error(&error)),
            },
        }
    }

    async fn compact(
        &self,
        membership_id: &str,
        compaction: &Compaction,
    ) -> Result<bool, DependencyError> {
        let base = write_base(&compaction.base)?;
        let base_version = compaction
            .base
            .version
            .as_ref()
            .ok_or_else(|| DependencyError::Other("compaction without a version".to_owned()))?
            .encode();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(membership_id)))
            .condition_expression("rev = :rev")
            // `base` is a DynamoDB reserved word.
            .expression_attribute_names("#base", "base")
            .expression_attribute_values(":rev", n(compaction.revision))
            .expression_attribute_values(":base", base)
            .expression_attribute_values(":base_version", s(base_version))
            .expression_attribute_values(":one", n(1));
        let mut removed = Vec::with_capacity(compaction.absorbed.len());
        for (index, event_id) in compaction.absorbed.iter().enumerate() {
            let name = format!("#o{index}");
            request = request.expression_attribute_names(&name, observation_attribute(event_id));
            removed.push(name);
        }
        let result = request
            .update_expression(format!(
                "SET #base = :base, base_version = :base_version REMOVE {} ADD rev :one",
                removed.join(", ")
            ))
            .send()
            .await;
        Ok(super::applied(result)?.is_some())
    }

    async fn membership(
        &self,
        membership_id: &str,
    ) -> Result<Option<StoredMembership>, DependencyError> {
        item::get(&self.client, &self.table, state_key(membership_id))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }

    async fn memberships(
        &self,
        membership_ids: &[String],
    ) -> Result<Vec<StoredMembership>, DependencyError> {
        let keys = membership_ids.iter().map(|id| state_key(id)).collect();
        super::dynamo::batch_get(&self.client, &self.table, keys)
            .await?
            .iter()
            .map(from_item)
            .collect()
    }

    async fn memberships_of_user(
        &self,
        user_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        let start = after.map(|after| {
            let mut start = state_key(after);
            start.insert("gsi1pk".to_owned(), s(user_gsi_pk(user_id)));
            start.insert("gsi1sk".to_owned(), s(membership_pk(after)));
            start
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("gsi1pk = :user AND begins_with(gsi1sk, :prefix)")
            .expression_attribute_values(":user", s(user_gsi_pk(user_id)))
            .expression_attribute_values(":prefix", s(membership_pk("")))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        let items = output
            .items()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key()
            .and_then(|_| items.last())
            .map(|last| last.membership_id.clone());
        Ok(Page { items, next })
    }
}
