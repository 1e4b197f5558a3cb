//! The access check with a short cache in front (`docs/architecture.md`, "Creator view").
//!
//! [`CachedCompanyAccess`] wraps any provider's [`CompanyAccess`] (Whop's today; another
//! provider's check implements the same port). A fresh cached answer is served without asking the
//! provider; otherwise the provider is asked and its answer kept for [`ACCESS_TTL`]. It fails
//! closed: when the provider gives no answer and nothing fresh is cached, the error stands (the
//! route answers 503), and an expired answer is never served. A cache that cannot be read or
//! written only costs a provider call.
//!
//! An answer of the provider that the user is an admin (a cache miss, so at most once per
//! [`ACCESS_TTL`] per user and company) also makes the company known
//! ([`super::known`]); a revoked company becomes schedulable again that way.

use chrono::{DateTime, Utc};

use super::known::{KnownSource, NoKnownCompanies};
use crate::domain::ports::{
    AccessCacheStore, AccessCheckError, AccessLevel, CachedAccess, Clock, CompanyAccess,
    KnownCompanies,
};

/// How long an answer of the provider is served from the cache.
pub const ACCESS_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// `provider`'s access check, its answers cached in `cache` for `ttl`; the companies its admins
/// are found in made known in `known`.
pub struct CachedCompanyAccess<A, S, C, N = NoKnownCompanies> {
    provider: A,
    cache: S,
    clock: C,
    ttl: chrono::Duration,
    known: N,
}

impl<A, S, C> CachedCompanyAccess<A, S, C> {
    pub fn new(provider: A, cache: S, clock: C, ttl: std::time::Duration) -> Self {
        Self {
            provider,
            cache,
            clock,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            known: NoKnownCompanies,
        }
    }

    /// The check, making the company of each admin the provider confirms known in `known`.
    pub fn with_known_companies<N>(self, known: N) -> CachedCompanyAccess<A, S, C, N> {
        CachedCompanyAccess {
            provider: self.provider,
            cache: self.cache,
            clock: self.clock,
            ttl: self.ttl,
            known,
        }
    }
}

impl<A, S, C, N> CachedCompanyAccess<A, S, C, N> {
    pub const fn provider(&self) -> &A {
        &self.provider
    }
}

/// The access check of a reader who has none: operators (the CLI) read without one, since
/// [`super::authorize`] lets them through before asking. Asked anyway, it answers unavailable, so a
/// user viewer given it is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAccessCheck;

impl CompanyAccess for NoAccessCheck {
    async fn access_level(&self, _: &str, _: &str) -> Result<AccessLevel, AccessCheckError> {
        Err(AccessCheckError::Unavailable(
            "no access check is configured".to_owned(),
        ))
    }
}

/// Whether `cached` may still be served at `now`.
fn fresh(cached: &CachedAccess, now: DateTime<Utc>) -> bool {
    cached.checked_at <= now && now < cached.expires_at
}

impl<A: CompanyAccess, S: AccessCacheStore, C: Clock, N: KnownCompanies> CompanyAccess
    for CachedCompanyAccess<A, S, C, N>
{
    async fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<AccessLevel, AccessCheckError> {
        let now = self.clock.now();
        match self.cache.cached_access(user_id, company_id).await {
            Ok(Some(cached)) if fresh(&cached, now) => return Ok(cached.level),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "the access cache is unreadable; asking the provider");
            }
        }
        let level = self.provider.access_level(user_id, company_id).await?;
        let access = CachedAccess {
            level,
            checked_at: now,
            expires_at: now.checked_add_signed(self.ttl).unwrap_or(now),
        };
        if let Err(error) = self
            .cache
            .remember_access(user_id, company_id, &access)
            .await
        {
            tracing::warn!(%error, "the access answer could not be cached");
        }
        if level == AccessLevel::Admin {
            match self
                .known
                .remember(company_id, KnownSource::SignIn, now)
                .await
            {
                Ok(true) => {
                    tracing::info!(company.id = %company_id, "a company made known by an admin");
                }
                Ok(false) => {}
                // The next check after the cache ends tries again; the answer stands.
                Err(error) => tracing::warn!(%error, "the company could not be made known"),
            }
        }
        Ok(level)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use chrono::TimeZone;

    use super::*;
    use crate::domain::ports::DependencyError;

    /// The provider: a fixed answer or down; counts the calls.
    struct Provider {
        answer: Mutex<Result<AccessLevel, AccessCheckError>>,
        calls: AtomicU64,
    }

    impl Provider {
        fn new(answer: Result<AccessLevel, AccessCheckError>) -> Self {
            Self {
                answer: Mutex::new(answer),
                calls: AtomicU64::new(0),
            }
        }
    }

    impl CompanyAccess for &Provider {
        async fn access_level(&self, _: &str, _: &str) -> Result<AccessLevel, AccessCheckError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.answer.lock().unwrap().clone()
        }
    }

    #[derive(Default)]
    struct Cache(Mutex<HashMap<(String, String), CachedAccess>>);

    impl AccessCacheStore for &Cache {
        async fn cached_access(
            &self,
            user_id: &str,
            company_id: &str,
        ) -> Result<Option<CachedAccess>, DependencyError> {
            let key = (user_id.to_owned(), company_id.to_owned());
            Ok(self.0.lock().unwrap().get(&key).copied())
        }

        async fn cached_companies(
            &self,
            user_id: &str,
        ) -> Result<Vec<(String, CachedAccess)>, DependencyError> {
            let cached = self.0.lock().unwrap();
            Ok(cached
                .iter()
                .filter(|((user, _), _)| user == user_id)
                .map(|((_, company), access)| (company.clone(), *access))
                .collect())
        }

        async fn remember_access(
            &self,
            user_id: &str,
            company_id: &str,
            access: &CachedAccess,
        ) -> Result<(), DependencyError> {
            let key = (user_id.to_owned(), company_id.to_owned());
            self.0.lock().unwrap().insert(key, *access);
            Ok(())
        }
    }

    struct At(Mutex<DateTime<Utc>>);

    impl Clock for &At {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000, 0).unwrap()
    }

    /// A provider answering `answer`, an empty cache, a clock at `t0`.
    fn world(answer: Result<AccessLevel, AccessCheckError>) -> (Provider, Cache, At) {
        (
            Provider::new(answer),
            Cache::default(),
            At(Mutex::new(t0())),
        )
    }

    const DOWN: AccessCheckError = AccessCheckError::Unavailable(String::new());

    #[tokio::test]
    async fn a_second_check_within_the_window_does_not_ask_the_provider() {
        let (provider, cache, clock) = world(Ok(AccessLevel::Admin));
        let access = CachedCompanyAccess::new(&provider, &cache, &clock, ACCESS_TTL);
        assert_eq!(
            access.access_level("u", "biz").await,
            Ok(AccessLevel::Admin)
        );
        *clock.0.lock().unwrap() = t0() + chrono::Duration::seconds(299);
        assert_eq!(
            access.access_level("u", "biz").await,
            Ok(AccessLevel::Admin)
        );
        assert_eq!(provider.calls.load(Ordering::Relaxed), 1);
        // Another company is another question.
        assert_eq!(
            access.access_level("u", "biz_2").await,
            Ok(AccessLevel::Admin)
        );
        assert_eq!(provider.calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_admin_the_provider_confirms_makes_the_company_known_and_a_customer_does_not() {
        let (provider, cache, clock) = world(Ok(AccessLevel::Admin));
        let known = crate::domain::companies::known::MemoryKnownCompanies::default();
        let access = CachedCompanyAccess::new(&provider, &cache, &clock, ACCESS_TTL)
            .with_known_companies(&known);
        access.access_level("u", "biz").await.unwrap();
        access.access_level("u", "biz").await.unwrap();
        assert_eq!(known.writes(), 1, "a cached answer writes nothing");
        *provider.answer.lock().unwrap() = Ok(AccessLevel::Customer);
        access.access_level("u", "biz_2").await.unwrap();
        let companies = known.known_companies().await.unwrap();
        assert_eq!(companies.len(), 1);
        assert_eq!(companies[0].company_id, "biz");
        assert_eq!(companies[0].source, KnownSource::SignIn);
    }

    #[tokio::test]
    async fn a_provider_outage_refuses_a_first_check_and_serves_a_fresh_answer() {
        let (provider, cache, clock) = world(Err(DOWN));
        let access = CachedCompanyAccess::new(&provider, &cache, &clock, ACCESS_TTL);
        assert_eq!(access.access_level("u", "biz").await, Err(DOWN));
        assert!(
            cache.0.lock().unwrap().is_empty(),
            "an outage is not cached"
        );

        *provider.answer.lock().unwrap() = Ok(AccessLevel::Customer);
        assert_eq!(
            access.access_level("u", "biz").await,
            Ok(AccessLevel::Customer)
        );
        *provider.answer.lock().unwrap() = Err(DOWN);
        *clock.0.lock().unwrap() = t0() + chrono::Duration::seconds(120);
        assert_eq!(
            access.access_level("u", "biz").await,
            Ok(AccessLevel::Customer)
        );
    }

    #[tokio::test]
    async fn an_expired_answer_is_never_served_when_the_provider_is_down() {
        let (provider, cache, clock) = world(Ok(AccessLevel::Admin));
        let access = CachedCompanyAccess::new(&provider, &cache, &clock, ACCESS_TTL);
        assert_eq!(
            access.access_level("u", "biz").await,
            Ok(AccessLevel::Admin)
        );
        *provider.answer.lock().unwrap() = Err(DOWN);
        *clock.0.lock().unwrap() = t0() + chrono::Duration::seconds(300);
        assert_eq!(access.access_level("u", "biz").await, Err(DOWN));
        assert_eq!(provider.calls.load(Ordering::Relaxed), 2);
    }
}
