//! Breakers in memory, for unit tests of code that admits through or reports on breakers.

use crate::domain::ports::BreakerStore;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::BreakerRecord;
use crate::domain::ports::DependencyError;

/// A [`BreakerStore`] in a map; clones share it, as instances share the state table.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemoryBreakers {
    items: Arc<Mutex<HashMap<String, (BreakerRecord, u64)>>>,
}

impl MemoryBreakers {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<String, (BreakerRecord, u64)>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BreakerStore for MemoryBreakers {
    async fn load(&self, name: &str) -> Result<Option<(BreakerRecord, u64)>, DependencyError> {
        Ok(self.items().get(name).copied())
    }

    async fn save(
        &self,
        name: &str,
        record: &BreakerRecord,
        expected_version: u64,
    ) -> Result<bool, DependencyError> {
        let mut items = self.items();
        let stored = items.get(name).map_or(0, |(_, version)| *version);
        if stored != expected_version {
            return Ok(false);
        }
        items.insert(name.to_owned(), (*record, expected_version + 1));
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<(String, BreakerRecord, u64)>, DependencyError> {
        let mut all: Vec<_> = self
            .items()
            .iter()
            .map(|(name, (record, version))| (name.clone(), *record, *version))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }
}
