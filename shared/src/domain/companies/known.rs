//! The companies the deployment knows (`docs/architecture.md`, "Known companies"): one item per
//! company, written when one of its webhooks first names it for a membership or when one of its
//! admins passes the access check, read by the reconcile schedule, which starts one run per
//! company that is not revoked.
//!
//! Remembering is idempotent (a conditional write) and cheap: the processor asks only on the
//! first event of a membership, and [`RememberOnce`] skips companies this instance already
//! wrote, so a warm instance pays one request per company, not per webhook.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::ports::{DependencyError, KnownCompanies};

/// How the deployment learnt of a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownSource {
    /// A webhook named it (the first event of one of its memberships).
    Webhook,
    /// One of its admins passed the creator routes' access check.
    SignIn,
    /// The stack's `WhopCompanyId` (a run of it found its access revoked before anything else
    /// named it).
    Config,
}

impl KnownSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::SignIn => "sign_in",
            Self::Config => "config",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Webhook, Self::SignIn, Self::Config]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Why and since when a company is not scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    /// A stable code, e.g. `company_access_revoked`.
    pub reason: String,
}

/// A company the deployment knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownCompany {
    pub company_id: String,
    pub first_seen: DateTime<Utc>,
    /// How it became known (the last time, when it was revoked in between).
    pub source: KnownSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// The companies a scheduled reconcile covers: every known company that is not revoked, and
/// `default` (the stack's `WhopCompanyId`) unless it is revoked; each once, in id order.
pub fn schedule_targets(known: &[KnownCompany], default: Option<&str>) -> Vec<String> {
    let revoked = |id: &str| {
        known
            .iter()
            .any(|c| c.company_id == id && c.revoked.is_some())
    };
    let mut targets: Vec<String> = known
        .iter()
        .filter(|c| c.revoked.is_none())
        .map(|c| c.company_id.clone())
        .chain(default.filter(|id| !revoked(id)).map(str::to_owned))
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// No store: remembers nothing, knows nothing (processors and access checks built without one).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKnownCompanies;

impl KnownCompanies for NoKnownCompanies {
    async fn remember(
        &self,
        _: &str,
        _: KnownSource,
        _: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        Ok(false)
    }

    async fn known_companies(&self) -> Result<Vec<KnownCompany>, DependencyError> {
        Ok(Vec::new())
    }

    async fn revoke(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), DependencyError> {
        Ok(())
    }
}

/// The most companies one instance remembers having written; past it the set starts over (a
/// company then costs one more conditional write).
pub const REMEMBERED_PER_INSTANCE: usize = 10_000;

/// `inner`, skipping [`KnownCompanies::remember`] for a company this instance already wrote.
/// A revocation forgets the company, so its next webhook or sign-in is written again.
#[derive(Debug, Default)]
pub struct RememberOnce<K> {
    inner: K,
    written: Mutex<HashSet<String>>,
}

impl<K> RememberOnce<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            written: Mutex::new(HashSet::new()),
        }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: KnownCompanies> KnownCompanies for RememberOnce<K> {
    async fn remember(
        &self,
        company_id: &str,
        source: KnownSource,
        at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        if self.written().contains(company_id) {
            return Ok(false);
        }
        let made_known = self.inner.remember(company_id, source, at).await?;
        let mut written = self.written();
        if written.len() >= REMEMBERED_PER_INSTANCE {
            written.clear();
        }
        written.insert(company_id.to_owned());
        Ok(made_known)
    }

    async fn known_companies(&self) -> Result<Vec<KnownCompany>, DependencyError> {
        self.inner.known_companies().await
    }

    async fn revoke(
        &self,
        company_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        self.written().remove(company_id);
        self.inner.revoke(company_id, reason, at).await
    }
}

/// Known companies in memory, for unit tests: the store's rules (idempotent, a revocation
/// cleared by the next remember) and the number of writes asked of it.
#[derive(Debug, Default)]
pub struct MemoryKnownCompanies {
    companies: Mutex<std::collections::BTreeMap<String, KnownCompany>>,
    writes: std::sync::atomic::AtomicU64,
}

impl MemoryKnownCompanies {
    /// The writes asked so far (remembers and revocations, applied or not).
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn companies(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, KnownCompany>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.companies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl KnownCompanies for MemoryKnownCompanies {
    async fn remember(
        &self,
        company_id: &str,
        source: KnownSource,
        at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let mut companies = self.companies();
        match companies.get_mut(company_id) {
            Some(known) if known.revoked.is_none() => Ok(false),
            Some(known) => {
                known.revoked = None;
                known.source = source;
                Ok(true)
            }
            None => {
                companies.insert(
                    company_id.to_owned(),
                    KnownCompany {
                        company_id: company_id.to_owned(),
                        first_seen: at,
                        source,
                        revoked: None,
                    },
                );
                Ok(true)
            }
        }
    }

    async fn known_companies(&self) -> Result<Vec<KnownCompany>, DependencyError> {
        let companies = self
            .companies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(companies.values().cloned().collect())
    }

    async fn revoke(
        &self,
        company_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        let mut companies = self.companies();
        let known = companies
            .entry(company_id.to_owned())
            .or_insert_with(|| KnownCompany {
                company_id: company_id.to_owned(),
                first_seen: at,
                source: KnownSource::Config,
                revoked: None,
            });
        known.revoked = Some(Revocation {
            at,
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
    }

    #[tokio::test]
    async fn remembering_is_idempotent_and_a_revocation_lasts_until_the_next_remember() {
        let store = MemoryKnownCompanies::default();
        assert!(
            store
                .remember("biz_a", KnownSource::Webhook, at(0))
                .await
                .unwrap()
        );
        assert!(
            !store
                .remember("biz_a", KnownSource::SignIn, at(1))
                .await
                .unwrap()
        );
        store
            .revoke("biz_a", "company_access_revoked", at(2))
            .await
            .unwrap();
        let known = store.known_companies().await.unwrap();
        assert_eq!(
            known[0].revoked.as_ref().unwrap().reason,
            "company_access_revoked"
        );
        assert_eq!(schedule_targets(&known, None), Vec::<String>::new());
        assert!(
            store
                .remember("biz_a", KnownSource::SignIn, at(3))
                .await
                .unwrap()
        );
        let known = store.known_companies().await.unwrap();
        assert_eq!(known[0].first_seen, at(0));
        assert_eq!(known[0].source, KnownSource::SignIn);
        assert_eq!(schedule_targets(&known, None), ["biz_a"]);
    }

    #[tokio::test]
    async fn an_instance_writes_each_company_once_until_it_is_revoked() {
        let store = RememberOnce::new(MemoryKnownCompanies::default());
        for _ in 0..5 {
            store
                .remember("biz_a", KnownSource::Webhook, at(0))
                .await
                .unwrap();
            store
                .remember("biz_b", KnownSource::Webhook, at(0))
                .await
                .unwrap();
        }
        assert_eq!(store.inner.writes(), 2);
        store
            .revoke("biz_a", "company_access_revoked", at(1))
            .await
            .unwrap();
        assert!(
            store
                .remember("biz_a", KnownSource::SignIn, at(2))
                .await
                .unwrap()
        );
        assert_eq!(
            store.inner.writes(),
            4,
            "the revocation, then biz_a written again"
        );
    }

    #[test]
    fn the_schedule_covers_known_companies_and_the_default_once_without_revoked_ones() {
        let company = |id: &str, revoked: bool| KnownCompany {
            company_id: id.to_owned(),
            first_seen: at(0),
            source: KnownSource::Webhook,
            revoked: revoked.then(|| Revocation {
                at: at(1),
                reason: "company_access_revoked".into(),
            }),
        };
        let known = [
            company("biz_c", false),
            company("biz_a", false),
            company("biz_x", true),
        ];
        assert_eq!(
            schedule_targets(&known, Some("biz_d")),
            ["biz_a", "biz_c", "biz_d"]
        );
        assert_eq!(schedule_targets(&known, Some("biz_a")), ["biz_a", "biz_c"]);
        assert_eq!(
            schedule_targets(&known, Some("biz_x")),
            ["biz_a", "biz_c"],
            "a revoked default is not scheduled either"
        );
        assert_eq!(schedule_targets(&[], None), Vec::<String>::new());
    }
}
