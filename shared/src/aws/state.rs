//! [`StateStore`] and [`CompanyMemberships`] over DynamoDB's `state` table; the item layout is
//! described in [`crate::domain::state::store`], the indexes in `docs/architecture.md` ("Company
//! indexes").

use crate::domain::ports::{CompanyMemberships, StateStore};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{SecondsFormat, Utc};

use super::dependency_error;
use super::item::{self, Item, key, n, number, s, text};
use crate::domain::ports::DependencyError;
use crate::domain::state::model::{MembershipState, Observation, SignalKind};
use crate::domain::state::store::{
    IndexKey, OBSERVATION_PREFIX, Page, Recorded, STATE_SK, SignalIndex, StoredMembership, Upkeep,
    company_pk, decode_base, encode_base, membership_pk, observation_attribute, signal_cursor,
    signal_sk_of_cursor, user_gsi_pk,
};
use crate::domain::webhooks::Source;

/// The GSI listing a user's memberships (`gsi1pk = USER#<id>`, `gsi1sk = MEMBERSHIP#<id>`).
pub const USER_INDEX: &str = "gsi1";

/// The GSI listing a company's memberships (`co_pk = COMPANY#<id>`, `co_sk = <membership id>`),
/// keys only.
pub const COMPANY_INDEX: &str = "company";
const COMPANY_PK: &str = "co_pk";
const COMPANY_SK: &str = "co_sk";

/// The sparse GSI listing a company's memberships with an open `kind` signal: named as the kind
/// (`at_risk`, …), keyed by the attributes [`signal_attributes`] names, all attributes projected.
pub fn signal_index_name(kind: SignalKind) -> &'static str {
    kind.as_str()
}

/// The key attributes of `kind`'s signal index (short: every write pays for the item's size).
pub fn signal_attributes(kind: SignalKind) -> (&'static str, &'static str) {
    match kind {
        SignalKind::AtRisk => ("ar_pk", "ar_sk"),
        SignalKind::CancelScheduled => ("cs_pk", "cs_sk"),
        SignalKind::Churned => ("ch_pk", "ch_sk"),
        SignalKind::Recovered => ("rc_pk", "rc_sk"),
    }
}

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
    let indexed: SignalIndex = SignalKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let (pk, sk) = signal_attributes(kind);
            Some((
                kind,
                IndexKey {
                    pk: text(item, pk)?.to_owned(),
                    sk: text(item, sk)?.to_owned(),
                },
            ))
        })
        .collect();
    Ok(StoredMembership {
        membership_id,
        provider,
        user_id: text(item, "user_id").map(str::to_owned),
        company_id: text(item, COMPANY_PK)
            .and_then(|pk| pk.strip_prefix(company_pk("").as_str()))
            .map(str::to_owned),
        indexed,
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
    let json = encode_base(base)
        .map_err(|e| DependencyError::Other(format!("cannot encode the base: {e}")))?;
    Ok(item::deflated(&json))
}

fn read_base(value: &AttributeValue) -> Result<MembershipState, DependencyError> {
    let json = item::inflated("state", "base", value, MAX_BASE_BYTES)?;
    decode_base(&json).map_err(|e| unreadable(&format!("base: {e}")))
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
        if let Some(company_id) = &observation.membership.company_id {
            // Likewise the first company keys the company index (it is the membership's seller).
            update.push_str(&format!(
                ", {COMPANY_PK} = if_not_exists({COMPANY_PK}, :co_pk), \
                 {COMPANY_SK} = if_not_exists({COMPANY_SK}, :co_sk)"
            ));
            request = request
                .expression_attribute_values(":co_pk", s(company_pk(company_id)))
                .expression_attribute_values(":co_sk", s(membership_id));
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
                    // The old item came back with the failure: no read to tell why, nor for the
                    // upkeep a redelivery may owe.
                    let attribute = observation_attribute(&observation.version.event_id);
                    let recorded = failed
                        .item()
                        .is_some_and(|item| item.contains_key(&attribute));
                    let item = failed.item().map(from_item).transpose()?.map(Box::new);
                    Ok(if recorded {
                        Recorded::Duplicate(item)
                    } else {
                        Recorded::Stale(item)
                    })
                }
                _ => Err(dependency_error(&error)),
            },
        }
    }

    async fn upkeep(&self, membership_id: &str, upkeep: &Upkeep) -> Result<bool, DependencyError> {
        let mut set = Vec::new();
        let mut removed = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(membership_id)))
            .condition_expression("rev = :rev")
            .expression_attribute_values(":rev", n(upkeep.revision))
            .expression_attribute_values(":one", n(1));
        if let Some(compaction) = &upkeep.compaction {
            let base_version = compaction
                .base
                .version
                .as_ref()
                .ok_or_else(|| DependencyError::Other("compaction without a version".to_owned()))?
                .encode();
            // `base` is a DynamoDB reserved word.
            set.push("#base = :base, base_version = :base_version".to_owned());
            request = request
                .expression_attribute_names("#base", "base")
                .expression_attribute_values(":base", write_base(&compaction.base)?)
                .expression_attribute_values(":base_version", s(base_version));
            for (index, event_id) in compaction.absorbed.iter().enumerate() {
                let name = format!("#o{index}");
                request =
                    request.expression_attribute_names(&name, observation_attribute(event_id));
                removed.push(name);
            }
        }
        if let Some(index) = &upkeep.index {
            for kind in SignalKind::ALL {
                let (pk, sk) = signal_attributes(kind);
                match index.get(&kind) {
                    Some(key) => {
                        set.push(format!("{pk} = :{pk}, {sk} = :{sk}"));
                        request = request
                            .expression_attribute_values(format!(":{pk}"), s(&key.pk))
                            .expression_attribute_values(format!(":{sk}"), s(&key.sk));
                    }
                    None => removed.extend([pk.to_owned(), sk.to_owned()]),
                }
            }
        }
        let mut update = String::new();
        if !set.is_empty() {
            update.push_str(&format!("SET {} ", set.join(", ")));
        }
        if !removed.is_empty() {
            update.push_str(&format!("REMOVE {} ", removed.join(", ")));
        }
        update.push_str("ADD rev :one");
        let result = request.update_expression(update).send().await;
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
            .limit(query_limit(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        page(&output, |item| Some(item.membership_id.clone()))
    }
}

/// A page of the items a Query returned; when it stopped at its limit, `cursor` of the last item
/// is the next page's `after`.
fn page(
    output: &QueryOutput,
    cursor: impl Fn(&StoredMembership) -> Option<String>,
) -> Result<Page<StoredMembership>, DependencyError> {
    let items = output
        .items()
        .iter()
        .map(from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let next = output
        .last_evaluated_key()
        .and_then(|_| items.last().and_then(&cursor));
    Ok(Page { items, next })
}

fn query_limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

impl DynamoState {
    /// One Query of a company index: the company's partition of `index` (keyed by `pk`), in
    /// `forward` sort-key order, `limit` items, after the sort-key bound `bound` (a condition on
    /// the sort key and its value), if any.
    async fn query_company(
        &self,
        (index, pk): (&str, &str),
        company_id: &str,
        forward: bool,
        limit: usize,
        bound: Option<(String, String)>,
    ) -> Result<QueryOutput, DependencyError> {
        let mut condition = format!("{pk} = :company");
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_values(":company", s(company_pk(company_id)))
            .scan_index_forward(forward)
            .limit(query_limit(limit));
        if let Some((bound, value)) = bound {
            condition.push_str(&format!(" AND {bound}"));
            request = request.expression_attribute_values(":bound", s(value));
        }
        request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(|e| dependency_error(&e))
    }
}

impl CompanyMemberships for DynamoState {
    /// One Query of the kind's index (all attributes projected, so no read after), newest
    /// signal first; `after` bounds the sort key, so any cursor is a valid request.
    async fn with_open_signal(
        &self,
        company_id: &str,
        signal: SignalKind,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        let (pk, sk) = signal_attributes(signal);
        let bound = after.map(|after| (format!("{sk} < :bound"), signal_sk_of_cursor(after)));
        let output = self
            .query_company(
                (signal_index_name(signal), pk),
                company_id,
                false,
                limit,
                bound,
            )
            .await?;
        page(&output, |item| {
            item.indexed.get(&signal).map(|key| signal_cursor(&key.sk))
        })
    }

    /// One Query of the company index (keys only: every membership is in it, and a projection
    /// would copy each of its writes), then one BatchGetItem of that page's items.
    async fn of_company(
        &self,
        company_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        let bound = after.map(|after| (format!("{COMPANY_SK} > :bound"), after.to_owned()));
        let output = self
            .query_company((COMPANY_INDEX, COMPANY_PK), company_id, true, limit, bound)
            .await?;
        let ids: Vec<String> = output
            .items()
            .iter()
            .filter_map(|item| text(item, COMPANY_SK).map(str::to_owned))
            .collect();
        let mut items = self.memberships(&ids).await?;
        items.sort_by(|a, b| a.membership_id.cmp(&b.membership_id));
        let next = output.last_evaluated_key().and(ids.last().cloned());
        Ok(Page { items, next })
    }
}
