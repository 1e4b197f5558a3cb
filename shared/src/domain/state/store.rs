//! How memberships are stored, as a port ([`StateStore`]) with one storage rule.
//!
//! A membership is one item (`pk = MEMBERSHIP#<id>`, `sk = STATE`) holding its recent
//! [`Observation`]s, one attribute per event (`o#<event_id>`), plus a compacted `base` state with
//! its `base_version`. The state is [`StoredMembership::state`]: the base with the observations
//! folded on top in version order.
//!
//! Recording an event is **one conditional write and no read**: add the observation if this
//! event is not recorded yet and it is newer than the compacted base. Duplicates and events
//! older than the base fail the condition and cost nothing more (the old item comes back with the
//! failure). Two processors recording different events of one membership at once both succeed
//! and the fold orders them, so there is no read-modify-write race and no lost update.
//!
//! Why observations rather than overwriting a snapshot when newer: churn signals depend on the
//! sequence (a failed payment followed by a success is a recovery), so an event that arrives late
//! must still be placed in the middle of the history, not dropped. A snapshot rule would make the
//! signals depend on arrival order.
//!
//! To bound the item, [`StoredMembership::compaction`] folds old observations into the base
//! once there are more than [`COMPACT_ABOVE`]; it keeps every observation within
//! [`EXACT_WINDOW_DAYS`] of the newest (longer than SQS can hold a message, DLQ included), so
//! any event a queue can still deliver is placed exactly.
//!
//! The company's listings read the item through indexes (`docs/architecture.md`, "Company
//! indexes"): the company index, keyed once by the record write like the user index, and one
//! sparse index per signal kind, whose attributes say where the item is listed. Those depend on the
//! fold, so they are brought up to date by [`record_and_upkeep`] from the item the record write
//! returned, with a second conditional write only when they differ (see there why that is right
//! under any interleaving).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::{MemberContact, MembershipState, Observation, SignalKind, Version};
use crate::domain::ports::DependencyError;
use crate::domain::ports::StateStore;
use crate::domain::webhooks::Source;

/// Compact once an item holds more observations than this.
pub const COMPACT_ABOVE: usize = 8;
/// Observations compaction always leaves (the newest).
pub const KEEP_AFTER_COMPACTION: usize = 4;
/// Observations this close (provider time) to the newest are never compacted while the item
/// holds at most [`HARD_LIMIT`]: SQS keeps a message at most 14 days, its DLQ 14 more.
pub const EXACT_WINDOW_DAYS: i64 = 28;
/// Past this many observations, compaction ignores the window (the item must stay small).
pub const HARD_LIMIT: usize = 64;

/// The partition key of a membership.
pub fn membership_pk(membership_id: &str) -> String {
    format!("MEMBERSHIP#{membership_id}")
}

/// The sort key of a membership's state item.
pub const STATE_SK: &str = "STATE";

/// The GSI partition key listing a user's memberships.
pub fn user_gsi_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The partition key of a company in the company index and the signal indexes.
pub fn company_pk(company_id: &str) -> String {
    format!("COMPANY#{company_id}")
}

/// The sort key of a membership in the index of one of its open signals: the signal's start in
/// fixed width (byte order is time order), then the membership id.
pub fn signal_sk(started_at: DateTime<Utc>, membership_id: &str) -> String {
    Version::new(started_at, membership_id).encode()
}

/// A signal sort key as a listing cursor: without `#` (the key separator ids may not contain),
/// so it passes where ids do. The time part holds no `_`.
pub fn signal_cursor(sk: &str) -> String {
    sk.replacen('#', "_", 1)
}

/// The signal sort key a [`signal_cursor`] stands for. Any text is a valid bound: a cursor that
/// was not made here only starts the page elsewhere.
pub fn signal_sk_of_cursor(cursor: &str) -> String {
    cursor.replacen('_', "#", 1)
}

/// Where a membership is listed in one signal index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexKey {
    /// [`company_pk`].
    pub pk: String,
    /// [`signal_sk`].
    pub sk: String,
}

/// Where a membership is listed in the signal indexes: per open signal kind, its key there.
pub type SignalIndex = BTreeMap<SignalKind, IndexKey>;

/// Where `state` belongs in the signal indexes: each open signal, if the membership names its
/// company (one without a company is in no company's listing).
pub fn signal_index(state: &MembershipState) -> SignalIndex {
    let Some(company_id) = &state.company_id else {
        return SignalIndex::new();
    };
    state
        .signals
        .iter()
        .filter(|signal| signal.is_open())
        .map(|signal| {
            (
                signal.kind,
                IndexKey {
                    pk: company_pk(company_id),
                    sk: signal_sk(signal.started_at, &state.id),
                },
            )
        })
        .collect()
}

/// The compacted base as stored: the state's JSON plus its contact details, which the state's
/// own JSON (the member routes' answers) leaves out.
pub fn encode_base(base: &MembershipState) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Base<'a> {
        #[serde(flatten)]
        state: &'a MembershipState,
        #[serde(rename = "ct", skip_serializing_if = "MemberContact::is_empty")]
        contact: &'a MemberContact,
    }
    serde_json::to_vec(&Base {
        state: base,
        contact: &base.contact,
    })
}

/// Reads [`encode_base`]'s form back.
pub fn decode_base(json: &[u8]) -> serde_json::Result<MembershipState> {
    #[derive(Deserialize)]
    struct Base {
        #[serde(flatten)]
        state: MembershipState,
        #[serde(rename = "ct", default)]
        contact: MemberContact,
    }
    let Base { mut state, contact } = serde_json::from_slice(json)?;
    state.contact = contact;
    Ok(state)
}

/// The attribute holding one observation.
pub fn observation_attribute(event_id: &str) -> String {
    format!("{OBSERVATION_PREFIX}{event_id}")
}

/// Prefix of observation attributes.
pub const OBSERVATION_PREFIX: &str = "o#";

/// One membership as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMembership {
    pub membership_id: String,
    pub provider: Source,
    /// The first user id any of its events named (the user index key).
    pub user_id: Option<String>,
    /// The first company id any of its events named (the company index key).
    pub company_id: Option<String>,
    /// Where the item is listed in the signal indexes now (its index attributes).
    pub indexed: SignalIndex,
    /// The compacted prefix of its history.
    pub base: Option<MembershipState>,
    /// The observations not compacted yet, in no particular order.
    pub observations: Vec<Observation>,
    /// Incremented by every write; compaction is conditional on it.
    pub revision: u64,
}

/// Folding old observations into the base: the new base and the events it absorbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub base: MembershipState,
    pub absorbed: Vec<String>,
}

/// The second write a record may call for: a compaction, the signal indexes brought up to date,
/// or both in one request, applied only if the item is still at `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upkeep {
    /// The revision it was computed from.
    pub revision: u64,
    pub compaction: Option<Compaction>,
    /// The signal index as the item's state says it must be, when the item's differs.
    pub index: Option<SignalIndex>,
}

impl StoredMembership {
    /// The membership's current state.
    pub fn state(&self) -> MembershipState {
        self.base_state().fold(&self.observations)
    }

    /// The compacted base, or the empty state when nothing was compacted yet.
    fn base_state(&self) -> MembershipState {
        self.base
            .clone()
            .unwrap_or_else(|| MembershipState::empty(&self.membership_id, self.provider))
    }

    /// The state without `event_id` (what the membership was before that event was recorded,
    /// when it is the newest).
    pub fn state_without(&self, event_id: &str) -> MembershipState {
        self.base_state().fold(
            self.observations
                .iter()
                .filter(|o| o.version.event_id != event_id),
        )
    }

    /// The version below which events can no longer be recorded.
    pub fn base_version(&self) -> Option<&Version> {
        self.base.as_ref().and_then(|base| base.version.as_ref())
    }

    /// What to compact, if the item has grown past [`COMPACT_ABOVE`].
    pub fn compaction(&self) -> Option<Compaction> {
        if self.observations.len() <= COMPACT_ABOVE {
            return None;
        }
        let mut sorted: Vec<&Observation> = self.observations.iter().collect();
        sorted.sort_by(|a, b| a.version.cmp(&b.version));
        let newest = sorted.last()?.version.at;
        let horizon = newest - Duration::days(EXACT_WINDOW_DAYS);
        let over_hard_limit = sorted.len() > HARD_LIMIT;
        let absorbed: Vec<&Observation> = sorted[..sorted.len() - KEEP_AFTER_COMPACTION]
            .iter()
            .copied()
            .take_while(|o| over_hard_limit || o.version.at < horizon)
            .collect();
        if absorbed.is_empty() {
            return None;
        }
        let base = self.base_state().fold(absorbed.iter().copied());
        Some(Compaction {
            base,
            absorbed: absorbed
                .iter()
                .map(|o| o.version.event_id.clone())
                .collect(),
        })
    }

    /// The second write this item calls for, if any: a compaction past [`COMPACT_ABOVE`], and the
    /// signal index when the item's attributes differ from its state's open signals.
    pub fn upkeep(&self) -> Option<Upkeep> {
        let index = signal_index(&self.state());
        let index = (index != self.indexed).then_some(index);
        let compaction = self.compaction();
        (index.is_some() || compaction.is_some()).then_some(Upkeep {
            revision: self.revision,
            compaction,
            index,
        })
    }

    /// The [`upkeep`](Self::upkeep) of an item whose signal index differs from its state's open
    /// signals (with the compaction it may also call for), else `None`.
    pub fn index_upkeep(&self) -> Option<Upkeep> {
        self.upkeep().filter(|upkeep| upkeep.index.is_some())
    }
}

/// What recording an observation did. Each carries the item as the write left or found it (the
/// refused write returns it too), so the upkeep needs no read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; the membership as it now stands.
    Applied(Box<StoredMembership>),
    /// This event was already recorded: a no-op. The item, when the store returned it.
    Duplicate(Option<Box<StoredMembership>>),
    /// Older than the compacted history: already part of it, or too late to change it. A no-op.
    /// The item, when the store returned it.
    Stale(Option<Box<StoredMembership>>),
}

impl Recorded {
    /// The item the write returned.
    pub fn item(&self) -> Option<&StoredMembership> {
        match self {
            Self::Applied(item) => Some(item),
            Self::Duplicate(item) | Self::Stale(item) => item.as_deref(),
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Every item of a paged listing: `page(after)` reads the page after the cursor `after`.
pub async fn every_page<T, F, Fut>(mut page: F) -> Result<Vec<T>, DependencyError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, DependencyError>>,
{
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let listed = page(after.take()).await?;
        items.extend(listed.items);
        match listed.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// Records `observation` (one conditional write), then, only when the item that write returned
/// calls for it, one [`Upkeep`] write: a compaction past [`COMPACT_ABOVE`] (best effort: a
/// skipped one is retried by the next write) and/or the signal index brought up to date.
///
/// Why the index ends equal to the fold with no read and no lock, whatever the interleaving:
/// every write to the item (a record or an upkeep) increments `rev`, and an upkeep applies only
/// at the `rev` of the item it was computed from. Take the last record write of a membership:
/// the item it returned holds every observation recorded so far (a record never removes one; a
/// compaction folds some into the base without changing the state) and the index attributes as
/// they stand. After it, an upkeep computed from any older item fails its condition, so only
/// this writer's upkeep can apply, and it sets the index from the fold of everything. An earlier
/// writer whose upkeep lost that race has nothing left to do: the later record returned its
/// observation too. If the last writer's upkeep never happens (the function stops, the request
/// fails: then this returns the error and the message is retried), the redelivery is a
/// duplicate whose refused write returns the item, and the same upkeep follows, still without a
/// read. An event whose item already has the right index costs the record write alone.
///
/// A sync write is retried differently: its page is listed again, finds the state equal to the
/// API and records nothing. So the sync page, which reads every listed item anyway, writes the
/// [`StoredMembership::index_upkeep`] of an item it does not record to (`domain::sync::worker`).
pub async fn record_and_upkeep<S: StateStore>(
    store: &S,
    membership_id: &str,
    provider: Source,
    observation: &Observation,
) -> Result<Recorded, DependencyError> {
    let recorded = store.record(membership_id, provider, observation).await?;
    if let Some(upkeep) = recorded.item().and_then(StoredMembership::upkeep) {
        write_upkeep(store, membership_id, &upkeep).await?;
    }
    Ok(recorded)
}

/// Writes `upkeep` (one conditional write). A failed signal-index write is the caller's error
/// (its retry repairs it); a failed compaction alone is logged and left to the next write.
pub async fn write_upkeep<S: StateStore>(
    store: &S,
    membership_id: &str,
    upkeep: &Upkeep,
) -> Result<(), DependencyError> {
    let absorbed = upkeep.compaction.as_ref().map_or(0, |c| c.absorbed.len());
    let index = upkeep.index.as_ref().map(BTreeMap::len);
    match store.upkeep(membership_id, upkeep).await {
        Ok(true) => tracing::info!(absorbed, index, "item upkeep written"),
        Ok(false) => tracing::info!(
            absorbed,
            index,
            "item upkeep skipped: a later write carries this observation and does it"
        ),
        Err(error) if index.is_some() => {
            tracing::warn!(%error, "the signal index write failed; the retry repairs it");
            return Err(error);
        }
        Err(error) => tracing::warn!(%error, "compaction failed; the next write retries"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state::model::MembershipFacts;
    use chrono::{DateTime, Utc};

    fn observation(day: i64, id: &str) -> Observation {
        Observation {
            version: Version::new(
                DateTime::<Utc>::from_timestamp(1_772_366_400 + day * 86_400, 0).unwrap(),
                id,
            ),
            kind: "membership.activated".into(),
            membership: MembershipFacts {
                status: Some(if day % 2 == 0 { "active" } else { "past_due" }.into()),
                ..MembershipFacts::default()
            },
            payment: None,
        }
    }

    fn stored(days: impl IntoIterator<Item = i64>) -> StoredMembership {
        StoredMembership {
            membership_id: "mem_1".into(),
            provider: Source::Whop,
            user_id: None,
            company_id: None,
            indexed: SignalIndex::new(),
            base: None,
            observations: days
                .into_iter()
                .map(|d| observation(d, &format!("e{d:04}")))
                .collect(),
            revision: 7,
        }
    }

    #[test]
    fn small_items_are_not_compacted() {
        assert_eq!(stored(0..8).compaction(), None);
    }

    #[test]
    fn compaction_keeps_the_exact_window() {
        // 17 observations a day apart: all within 28 days of the newest.
        assert_eq!(stored(0..17).compaction(), None);
        // Spread 10 days apart: everything but the newest few is older than the window.
        let item = stored((0..17).map(|i| i * 10));
        let compaction = item.compaction().unwrap();
        assert_eq!(item.upkeep().unwrap().revision, 7);
        assert_eq!(compaction.absorbed.len(), 17 - KEEP_AFTER_COMPACTION);
        assert_eq!(compaction.absorbed[0], "e0000");
        assert_eq!(compaction.base.observations, 13);
        // Three old ones, then fourteen recent: only the three leave.
        let item = stored([0, 1, 2].into_iter().chain(100..114));
        let compaction = item.compaction().unwrap();
        assert_eq!(compaction.absorbed, vec!["e0000", "e0001", "e0002"]);
    }

    #[test]
    fn compaction_past_the_hard_limit_keeps_only_the_newest() {
        let item = stored(0..65);
        let compaction = item.compaction().unwrap();
        assert_eq!(compaction.absorbed.len(), 65 - KEEP_AFTER_COMPACTION);
    }

    #[test]
    fn a_compacted_item_has_the_same_state() {
        let item = stored((0..30).map(|i| i * 10));
        let compaction = item.compaction().unwrap();
        let compacted = StoredMembership {
            base: Some(compaction.base.clone()),
            observations: item
                .observations
                .iter()
                .filter(|o| !compaction.absorbed.contains(&o.version.event_id))
                .cloned()
                .collect(),
            ..item.clone()
        };
        assert_eq!(compacted.state(), item.state());
        assert_eq!(
            compacted.base_version().map(|v| v.event_id.as_str()),
            compaction.absorbed.last().map(String::as_str)
        );
    }

    #[test]
    fn the_base_keeps_the_contact_details_its_json_leaves_out() {
        let mut base = stored(0..3).state();
        base.contact.email = Some("jane@example.com".into());
        let encoded = encode_base(&base).unwrap();
        assert_eq!(decode_base(&encoded).unwrap(), base);
        // A base stored before contact details existed reads back without them.
        let plain = serde_json::to_vec(&base).unwrap();
        assert!(decode_base(&plain).unwrap().contact.is_empty());
    }

    #[test]
    fn upkeep_is_due_only_when_the_index_differs() {
        // Active on day 0, past due from day 1.
        let mut item = stored(0..2);
        item.observations[0].membership.company_id = Some("biz_1".into());
        let upkeep = item.upkeep().unwrap();
        assert_eq!(upkeep.compaction, None);
        let index = upkeep.index.unwrap();
        assert_eq!(
            index.get(&SignalKind::AtRisk),
            Some(&IndexKey {
                pk: "COMPANY#biz_1".into(),
                sk: "2026-03-02T12:00:00.000000000Z#mem_1".into()
            })
        );
        item.indexed = index;
        assert_eq!(item.upkeep(), None);
        // Past due again on day 3: the same signal open, nothing to write.
        item.observations.push(observation(3, "e0003"));
        assert_eq!(item.upkeep(), None);
        assert_eq!(
            signal_sk_of_cursor(&signal_cursor(&item.indexed[&SignalKind::AtRisk].sk)),
            item.indexed[&SignalKind::AtRisk].sk
        );
    }

    #[test]
    fn state_without_leaves_one_event_out() {
        let item = stored(0..3);
        assert_eq!(item.state_without("e0002"), stored(0..2).state());
    }
}
