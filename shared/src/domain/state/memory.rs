//! An in-memory [`StateStore`] and [`CompanyMemberships`] with the DynamoDB adapter's conditions
//! and index rules, for unit tests and benchmarks. The proof that storage works is the adapter's
//! tests against the emulator.

use crate::domain::ports::{CompanyMemberships, ProcessingLog, StateStore};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::{Observation, SignalKind};
use super::store::{
    Page, Recorded, SignalIndex, StoredMembership, Upkeep, company_pk, signal_cursor,
    signal_sk_of_cursor,
};
use crate::domain::ports::DependencyError;
use crate::domain::webhooks::Source;
use crate::domain::webhooks::claims::ProcessingMark;

/// Memberships in a map; `writes` and `reads` count requests as DynamoDB would bill them.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    items: Mutex<BTreeMap<String, StoredMembership>>,
    pub writes: AtomicU64,
    pub reads: AtomicU64,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A page (one read) of the items `keep` selects, in membership-id order, after `after`.
    fn by_id(
        &self,
        limit: usize,
        after: Option<&str>,
        keep: impl Fn(&StoredMembership) -> bool,
    ) -> Page<StoredMembership> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let listed: Vec<(String, StoredMembership)> = self
            .items()
            .values()
            .filter(|item| keep(item))
            .filter(|item| after.is_none_or(|after| item.membership_id.as_str() > after))
            .map(|item| (item.membership_id.clone(), item.clone()))
            .collect();
        page_of(listed.into_iter(), limit)
    }

    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StoredMembership>> {
        // A panic while holding the lock leaves consistent data (every write is one insert).
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl StateStore for MemoryStateStore {
    async fn record(
        &self,
        membership_id: &str,
        provider: Source,
        observation: &Observation,
    ) -> Result<Recorded, DependencyError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.items();
        let item = items
            .entry(membership_id.to_owned())
            .or_insert_with(|| StoredMembership {
                membership_id: membership_id.to_owned(),
                provider,
                user_id: None,
                company_id: None,
                indexed: SignalIndex::new(),
                base: None,
                observations: Vec::new(),
                revision: 0,
            });
        let event_id = &observation.version.event_id;
        if item
            .observations
            .iter()
            .any(|o| &o.version.event_id == event_id)
        {
            return Ok(Recorded::Duplicate(Some(Box::new(item.clone()))));
        }
        if item
            .base_version()
            .is_some_and(|base| observation.version <= *base)
        {
            return Ok(Recorded::Stale(Some(Box::new(item.clone()))));
        }
        item.observations.push(observation.clone());
        if item.user_id.is_none() {
            item.user_id.clone_from(&observation.membership.user_id);
        }
        if item.company_id.is_none() {
            item.company_id
                .clone_from(&observation.membership.company_id);
        }
        item.revision += 1;
        Ok(Recorded::Applied(Box::new(item.clone())))
    }

    async fn upkeep(&self, membership_id: &str, upkeep: &Upkeep) -> Result<bool, DependencyError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.items();
        let Some(item) = items.get_mut(membership_id) else {
            return Ok(false);
        };
        if item.revision != upkeep.revision {
            return Ok(false);
        }
        if let Some(compaction) = &upkeep.compaction {
            item.observations
                .retain(|o| !compaction.absorbed.contains(&o.version.event_id));
            item.base = Some(compaction.base.clone());
        }
        if let Some(index) = &upkeep.index {
            item.indexed.clone_from(index);
        }
        item.revision += 1;
        Ok(true)
    }

    async fn membership(
        &self,
        membership_id: &str,
    ) -> Result<Option<StoredMembership>, DependencyError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.items().get(membership_id).cloned())
    }

    async fn memberships(
        &self,
        membership_ids: &[String],
    ) -> Result<Vec<StoredMembership>, DependencyError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let items = self.items();
        Ok(membership_ids
            .iter()
            .filter_map(|id| items.get(id).cloned())
            .collect())
    }

    async fn memberships_of_user(
        &self,
        user_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        Ok(self.by_id(limit, after, |item| {
            item.user_id.as_deref() == Some(user_id)
        }))
    }
}

/// One page of `listed` (sorted by key), `next` being the last key when more remain.
fn page_of(
    mut listed: impl Iterator<Item = (String, StoredMembership)>,
    limit: usize,
) -> Page<StoredMembership> {
    let page: Vec<(String, StoredMembership)> = listed.by_ref().take(limit).collect();
    let next = if listed.next().is_some() {
        page.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    Page {
        items: page.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

impl CompanyMemberships for MemoryStateStore {
    async fn with_open_signal(
        &self,
        company_id: &str,
        signal: SignalKind,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let pk = company_pk(company_id);
        let before = after.map(signal_sk_of_cursor);
        let mut listed: Vec<(String, StoredMembership)> = self
            .items()
            .values()
            .filter_map(|item| {
                let key = item.indexed.get(&signal).filter(|key| key.pk == pk)?;
                Some((key.sk.clone(), item.clone()))
            })
            .filter(|(sk, _)| before.as_ref().is_none_or(|before| sk < before))
            .collect();
        listed.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(page_of(
            listed
                .into_iter()
                .map(|(sk, item)| (signal_cursor(&sk), item)),
            limit,
        ))
    }

    async fn of_company(
        &self,
        company_id: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        Ok(self.by_id(limit, after, |item| {
            item.company_id.as_deref() == Some(company_id)
        }))
    }
}

/// The webhook log's marks in a map, keyed by `pk`. Only records created with
/// [`MemoryProcessingLog::with_records`] exist, as in the table.
#[derive(Debug, Default)]
pub struct MemoryProcessingLog {
    pub marks: Mutex<BTreeMap<String, Option<ProcessingMark>>>,
}

impl MemoryProcessingLog {
    pub fn with_records<'a>(pks: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            marks: Mutex::new(pks.into_iter().map(|pk| (pk.to_owned(), None)).collect()),
        }
    }

    /// The mark of `pk`, if the record exists and was marked.
    pub fn mark_of(&self, pk: &str) -> Option<ProcessingMark> {
        self.marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pk)
            .cloned()
            .flatten()
    }
}

impl ProcessingLog for MemoryProcessingLog {
    async fn mark(&self, pk: &str, mark: &ProcessingMark) -> Result<bool, DependencyError> {
        let mut marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(current) = marks.get_mut(pk) else {
            return Ok(false);
        };
        let processed = matches!(current, Some(ProcessingMark::Processed { .. }));
        if processed && matches!(mark, ProcessingMark::Failed { .. }) {
            return Ok(false);
        }
        *current = Some(mark.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
