use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::TimeZone;

use super::plan::{Feature, FixedPlan, PlanRequired, PlanSettings, Tier, allowance, require};
use super::profile::{CreatorProfile, ProfileSettings};
use super::*;
use crate::domain::companies::known::{KnownSource, MemoryKnownCompanies};
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

/// An access check that knows who administers what (`(user, company)` pairs), or is down.
struct Access(Option<BTreeSet<(&'static str, &'static str)>>);

impl CompanyAccess for Access {
    async fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<AccessLevel, AccessCheckError> {
        let admins = self
            .0
            .as_ref()
            .ok_or_else(|| AccessCheckError::Unavailable("down".to_owned()))?;
        Ok(
            if admins
                .iter()
                .any(|(u, c)| *u == user_id && *c == company_id)
            {
                AccessLevel::Admin
            } else {
                AccessLevel::Customer
            },
        )
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
    let access = Access(Some(BTreeSet::from([
        ("user_a", "biz_a"),
        ("user_a", "biz_ccc"),
        ("user_b", "biz_bb"),
    ])));
    let mine = my_companies(&known, &access, &Counts, "user_a")
        .await
        .unwrap();
    let ids: Vec<&str> = mine
        .companies
        .iter()
        .map(|c| c.company_id.as_str())
        .collect();
    assert_eq!(ids, ["biz_a", "biz_ccc"]);
    assert_eq!(mine.companies[1].open_signals[&SignalKind::AtRisk], 7);
    assert_eq!(mine.unchecked, 0);

    let down = my_companies(&known, &Access(None), &Counts, "user_a")
        .await
        .unwrap();
    assert!(
        down.companies.is_empty(),
        "an unchecked company is left out"
    );
    assert_eq!(down.unchecked, 3);
}
