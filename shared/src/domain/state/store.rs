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

use chrono::Duration;

use super::model::{MembershipState, Observation, Version};
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
    /// The first user id any of its events named (the GSI key).
    pub user_id: Option<String>,
    /// The compacted prefix of its history.
    pub base: Option<MembershipState>,
    /// The observations not compacted yet, in no particular order.
    pub observations: Vec<Observation>,
    /// Incremented by every write; compaction is conditional on it.
    pub revision: u64,
}

/// Folding old observations into the base: the new base, the events it absorbs, and the
/// revision it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub base: MembershipState,
    pub absorbed: Vec<String>,
    pub revision: u64,
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
            revision: self.revision,
        })
    }
}

/// What recording an observation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; the membership as it now stands.
    Applied(Box<StoredMembership>),
    /// This event was already recorded: a no-op.
    Duplicate,
    /// Older than the compacted history: already part of it, or too late to change it. A no-op.
    Stale,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Records `observation` and compacts the membership's history when it has grown past
/// [`COMPACT_ABOVE`]. Compaction is best effort: a skipped one is retried by the next write.
pub async fn record_and_compact<S: StateStore>(
    store: &S,
    membership_id: &str,
    provider: Source,
    observation: &Observation,
) -> Result<Recorded, DependencyError> {
    let recorded = store.record(membership_id, provider, observation).await?;
    if let Recorded::Applied(stored) = &recorded
        && let Some(compaction) = stored.compaction()
    {
        match store.compact(membership_id, &compaction).await {
            Ok(applied) => tracing::info!(
                applied,
                absorbed = compaction.absorbed.len(),
                "compacted the membership's history"
            ),
            Err(error) => tracing::warn!(%error, "compaction failed; the next write retries"),
        }
    }
    Ok(recorded)
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
        assert_eq!(compaction.revision, 7);
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
    fn state_without_leaves_one_event_out() {
        let item = stored(0..3);
        assert_eq!(item.state_without("e0002"), stored(0..2).state());
    }
}
