use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::TimeZone;

use super::plan::{Feature, FixedPlan, PlanRequired, PlanSettings, Tier, allowance, require};
use super::profile::{CreatorProfile, DiscoveryMark, ProfileSettings};
use super::*;
use crate::domain::companies::known::{KnownSource, MemoryKnownCompanies};
use crate::domain::ports::CachedAccess;
use crate::domain::state::model::{MembershipState, SignalKind};
use crate::domain::webhooks::Source;

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000, 0).unwrap()
}

/// Profiles in memory with the store's rule (create if absent, add a missing identity), counting
/// the writes asked.
#[derive(Default)]
struct Profiles {
    profiles: Mutex<BTreeMap<String, CreatorProfile>>,
    writes: AtomicU64,
}

impl ProfileStore for Profiles {
    async fn record_identity(
        &self,
        user_id: &str,
        identity: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut profiles = self.profiles.lock().unwrap();
        let profile = profiles
            .entry(user_id.to_owned())
            .or_insert_with(|| CreatorProfile {
                user_id: user_id.to_owned(),
                identities: Vec::new(),
                created_at: at,
                connections: Vec::new(),
                settings: ProfileSettings::default(),
                discovered_through: None,
            });
        if profile.identities.iter().any(|i| i == identity) {
            return Ok(false);
        }
        profile.identities.push(identity.to_owned());
        Ok(true)
    }

    async fn profile(&self, user_id: &str) -> Result<Option<CreatorProfile>, DependencyError> {
        Ok(self.profiles.lock().unwrap().get(user_id).cloned())
    }

    async fn advance_discovery(
        &self,
        user_id: &str,
        mark: &DiscoveryMark,
    ) -> Result<(), DependencyError> {
        if let Some(profile) = self.profiles.lock().unwrap().get_mut(user_id) {
            profile.discovered_through = Some(mark.clone());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_first_sign_in_writes_the_profile_once_and_a_returning_one_writes_nothing() {
    let profiles = Profiles::default();
    record_sign_in(&profiles, "user_1", "user_1", false, t0()).await;
    record_sign_in(&profiles, "user_1", "user_1", true, t0()).await;
    assert_eq!(profiles.writes.load(Ordering::Relaxed), 1);
    // A Google identity linked to the Whop user reaches the same profile.
    record_sign_in(&profiles, "user_1", "google:42", false, t0()).await;
    // An unlinked Google identity has its own.
    record_sign_in(&profiles, "google:7", "google:7", false, t0()).await;
    let profile = profiles.profile("user_1").await.unwrap().unwrap();
    assert_eq!(profile.identities, ["user_1", "google:42"]);
    assert!(profile.connections.is_empty());
    let other = profiles.profile("google:7").await.unwrap().unwrap();
    assert_eq!(other.identities, ["google:7"]);
}

#[tokio::test]
async fn me_gives_a_user_without_a_profile_one_and_shows_the_plan() {
    let profiles = Profiles::default();
    let me = me(&profiles, &FixedPlan(Tier::Pro), "user_1", t0())
        .await
        .unwrap();
    assert_eq!(me.profile.user_id, "user_1");
    assert_eq!(me.profile.identities, ["user_1"]);
    assert_eq!(me.plan.tier, Tier::Pro);
    let json = serde_json::to_value(&me).unwrap();
    assert_eq!(json["plan"]["tier"], "pro");
    assert_eq!(json["plan"]["allows"]["member_messages"], true);
    assert_eq!(json["connections"], serde_json::json!([]));
}

fn membership(id: &str, plan: &str, valid: Option<bool>) -> MembershipState {
    let mut state = MembershipState::empty(id, Source::Whop);
    state.product_id = Some("prod_cs".to_owned());
    state.plan_id = Some(plan.to_owned());
    state.valid = valid;
    state
}

fn settings() -> PlanSettings {
    PlanSettings {
        product_id: Some("prod_cs".to_owned()),
        tiers: BTreeMap::from([
            ("plan_pro".to_owned(), Tier::Pro),
            ("plan_starter".to_owned(), Tier::Starter),
        ]),
    }
}

#[test]
fn the_tier_is_the_best_valid_membership_of_the_product_and_free_otherwise() {
    let plans = settings();
    let pro = membership("mem_1", "plan_pro", Some(true));
    let starter = membership("mem_2", "plan_starter", Some(true));
    let mut elsewhere = membership("mem_3", "plan_pro", Some(true));
    elsewhere.product_id = Some("prod_other".to_owned());
    assert_eq!(
        plans.plan_of(&[starter.clone(), pro.clone()]).tier,
        Tier::Pro
    );
    let plan = plans.plan_of(std::slice::from_ref(&starter));
    assert_eq!(
        (plan.tier, plan.membership_id.as_deref()),
        (Tier::Starter, Some("mem_2"))
    );
    assert_eq!(plans.plan_of(&[elsewhere]).tier, Tier::Free);
    let invalid = membership("mem_1", "plan_pro", Some(false));
    let plan = plans.plan_of(&[invalid]);
    assert_eq!((plan.tier, plan.valid), (Tier::Free, Some(false)));
    assert_eq!(
        plans
            .plan_of(&[membership("m", "plan_unlisted", Some(true))])
            .tier,
        Tier::Free
    );
    let unconfigured = PlanSettings::default();
    assert_eq!(unconfigured.plan_of(&[pro]).tier, Tier::Free);
}

#[test]
fn what_each_tier_allows_is_enforced_by_require() {
    assert_eq!(
        require(Tier::Free, Feature::MemberMessages),
        Err(PlanRequired {
            what: "member messages",
            tier: Tier::Free,
            needed: Tier::Starter
        })
    );
    assert_eq!(require(Tier::Starter, Feature::MemberMessages), Ok(()));
    assert_eq!(require(Tier::Free, Feature::Connections(1)), Ok(()));
    assert_eq!(
        require(Tier::Free, Feature::Connections(2)).map_err(|e| e.needed),
        Err(Tier::Starter)
    );
    assert_eq!(
        require(Tier::Starter, Feature::Connections(4)).map_err(|e| e.needed),
        Err(Tier::Pro)
    );
    let most = allowance(Tier::Pro).max_connections;
    assert_eq!(
        require(Tier::Pro, Feature::Connections(most + 1)).map_err(|e| e.needed),
        Err(Tier::Pro)
    );
}

/// An access check that knows who administers what (`admins`: `(user, company)` pairs), or is
/// down (`None`); each answer is kept in `answers` as the cached check keeps it, and counted.
#[derive(Default)]
struct Access {
    admins: Mutex<Option<BTreeSet<(String, String)>>>,
    answers: Mutex<Vec<(String, String, AccessLevel)>>,
    calls: AtomicU64,
}

impl Access {
    fn of(admins: &[(&str, &str)]) -> Self {
        let admins = admins
            .iter()
            .map(|(u, c)| ((*u).to_owned(), (*c).to_owned()))
            .collect();
        Self {
            admins: Mutex::new(Some(admins)),
            ..Self::default()
        }
    }

    fn calls(&self) -> u64 {
        self.calls.swap(0, Ordering::Relaxed)
    }
}

impl CompanyAccess for Access {
    async fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<AccessLevel, AccessCheckError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let admins = self.admins.lock().unwrap();
        let admins = admins
            .as_ref()
            .ok_or_else(|| AccessCheckError::Unavailable("down".to_owned()))?;
        let level = if admins.contains(&(user_id.to_owned(), company_id.to_owned())) {
            AccessLevel::Admin
        } else {
            AccessLevel::Customer
        };
        self.answers
            .lock()
            .unwrap()
            .push((user_id.to_owned(), company_id.to_owned(), level));
        Ok(level)
    }
}

impl AccessCacheStore for Access {
    async fn cached_access(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<CachedAccess>, DependencyError> {
        Ok(None)
    }

    async fn cached_companies(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, CachedAccess)>, DependencyError> {
        Ok(self
            .answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(user, _, _)| user == user_id)
            .map(|(_, company, level)| {
                let answer = CachedAccess {
                    level: *level,
                    checked_at: t0(),
                    expires_at: t0(),
                };
                (company.clone(), answer)
            })
            .collect())
    }

    async fn remember_access(
        &self,
        _: &str,
        _: &str,
        _: &CachedAccess,
    ) -> Result<(), DependencyError> {
        Ok(())
    }
}

struct Counts;

impl OpenSignalCounts for Counts {
    async fn open_signal_counts(&self, company_id: &str) -> Result<ByKind, DependencyError> {
        let at_risk = company_id.len();
        Ok(BTreeMap::from([(SignalKind::AtRisk, at_risk)]))
    }
}

#[tokio::test]
async fn my_companies_are_the_known_companies_the_access_check_proves_and_no_other() {
    let known = MemoryKnownCompanies::default();
    for company in ["biz_a", "biz_bb", "biz_ccc"] {
        known
            .remember(company, KnownSource::Webhook, t0())
            .await
            .unwrap();
    }
    let profiles = Profiles::default();
    record_sign_in(&profiles, "user_a", "user_a", false, t0()).await;
    let access = Access::of(&[
        ("user_a", "biz_a"),
        ("user_a", "biz_ccc"),
        ("user_b", "biz_bb"),
    ]);
    let mine = my_companies(&known, &access, &access, &profiles, &Counts, "user_a")
        .await
        .unwrap();
    let ids: Vec<&str> = mine
        .companies
        .iter()
        .map(|c| c.company_id.as_str())
        .collect();
    assert_eq!(ids, ["biz_a", "biz_ccc"]);
    assert_eq!(mine.companies[1].open_signals[&SignalKind::AtRisk], 7);
    assert_eq!((mine.unchecked, mine.more_to_check), (0, false));

    *access.admins.lock().unwrap() = None;
    let down = my_companies(&known, &access, &access, &profiles, &Counts, "user_a")
        .await
        .unwrap();
    assert!(
        down.companies.is_empty(),
        "an unchecked company is left out"
    );
    assert_eq!(
        down.unchecked, 2,
        "only the creator's own are checked again"
    );
}

#[tokio::test]
async fn my_companies_check_the_creators_own_and_at_most_a_batch_of_newly_known_ones_per_call() {
    let known = MemoryKnownCompanies::default();
    let company = |n: usize| format!("biz_{n:03}");
    let total = DISCOVERY_BATCH + 10;
    for n in 0..total {
        let seen = t0() + chrono::Duration::seconds(i64::try_from(n).unwrap());
        known
            .remember(&company(n), KnownSource::Webhook, seen)
            .await
            .unwrap();
    }
    let profiles = Profiles::default();
    record_sign_in(&profiles, "user_a", "user_a", false, t0()).await;
    let (early, late) = (company(3), company(total - 2));
    let access = Access::of(&[("user_a", early.as_str()), ("user_a", late.as_str())]);
    let ids = |mine: &MyCompanies| -> Vec<String> {
        mine.companies
            .iter()
            .map(|c| c.company_id.clone())
            .collect()
    };
    let call = || my_companies(&known, &access, &access, &profiles, &Counts, "user_a");

    let first = call().await.unwrap();
    assert_eq!(ids(&first), std::slice::from_ref(&early));
    assert!(first.more_to_check);
    assert_eq!(access.calls(), u64::try_from(DISCOVERY_BATCH).unwrap());

    let second = call().await.unwrap();
    assert_eq!(ids(&second), [early.clone(), late.clone()]);
    assert!(!second.more_to_check);
    assert_eq!(
        access.calls(),
        1 + 10,
        "its own company and the 10 not checked yet"
    );

    // From now on only the creator's own companies are checked, however many are known.
    let third = call().await.unwrap();
    assert_eq!(ids(&third), [early.clone(), late.clone()]);
    assert_eq!(access.calls(), 2);

    // A company known later is checked once.
    known
        .remember(
            "biz_new",
            KnownSource::Webhook,
            t0() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    call().await.unwrap();
    assert_eq!(access.calls(), 3);
    call().await.unwrap();
    assert_eq!(access.calls(), 2);
}
