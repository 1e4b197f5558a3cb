//! The creator's own plan (`docs/architecture.md`, "Creators"): the state of their membership in
//! Churn Saver's own Whop product, and what each tier allows.
//!
//! The tier is not stored apart: it is read from the creator's memberships (the user index of the
//! `state` table, which the processor and sync keep like any membership), so a webhook that makes
//! the membership invalid drops the creator to [`Tier::Free`] at once. [`require`] is the one place
//! that says what a tier allows; every tier-limited action asks it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::ports::{DependencyError, StateStore};
use crate::domain::state::model::MembershipState;
use crate::domain::state::store::every_page;

/// A creator's plan, from lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// No valid membership of Churn Saver's product (or of a plan not listed in the
    /// configuration).
    #[default]
    Free,
    Starter,
    Pro,
}

impl Tier {
    pub const ALL: [Self; 3] = [Self::Free, Self::Starter, Self::Pro];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Starter => "starter",
            Self::Pro => "pro",
        }
    }

    /// The tier named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.as_str() == text)
    }
}

/// What a tier allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allowance {
    /// Whether the creator's companies may message their members (`member_messages` in the
    /// company settings).
    pub member_messages: bool,
    /// How many platform connections the profile may hold.
    pub max_connections: usize,
}

/// What `tier` allows: the one table of the tiers.
pub const fn allowance(tier: Tier) -> Allowance {
    match tier {
        Tier::Free => Allowance {
            member_messages: false,
            max_connections: 1,
        },
        Tier::Starter => Allowance {
            member_messages: true,
            max_connections: 3,
        },
        Tier::Pro => Allowance {
            member_messages: true,
            max_connections: 10,
        },
    }
}

/// A tier-limited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Turning member messages on for a company.
    MemberMessages,
    /// Holding this many connections.
    Connections(usize),
}

/// Why a tier-limited action was refused: the tier the creator has and the lowest one that
/// allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} needs the {} plan or higher; this creator's plan is {}", .needed.as_str(), .tier.as_str())]
pub struct PlanRequired {
    pub what: &'static str,
    pub tier: Tier,
    pub needed: Tier,
}

/// Whether `tier` allows `feature`; the lowest tier that does otherwise. The only place tiers
/// are enforced.
pub fn require(tier: Tier, feature: Feature) -> Result<(), PlanRequired> {
    let (what, allowed): (&'static str, fn(Allowance) -> bool) = match feature {
        Feature::MemberMessages => ("member messages", |a| a.member_messages),
        Feature::Connections(n) => {
            let fits = Tier::ALL
                .into_iter()
                .find(|t| allowance(*t).max_connections >= n);
            return match fits {
                Some(needed) if needed <= tier => Ok(()),
                needed => Err(PlanRequired {
                    what: "this many connections",
                    tier,
                    needed: needed.unwrap_or(Tier::Pro),
                }),
            };
        }
    };
    if allowed(allowance(tier)) {
        return Ok(());
    }
    let needed = Tier::ALL
        .into_iter()
        .find(|t| allowed(allowance(*t)))
        .unwrap_or(Tier::Pro);
    Err(PlanRequired { what, tier, needed })
}

/// Which product is Churn Saver's own and which of its plans give which tier
/// (`CHURNSAVER_PRODUCT_ID`, `CHURNSAVER_TIER_PLANS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSettings {
    /// Churn Saver's own Whop product (`prod_…`); every creator is on [`Tier::Free`] without it.
    pub product_id: Option<String>,
    /// Plan id → tier; a plan not listed gives [`Tier::Free`].
    pub tiers: BTreeMap<String, Tier>,
}

/// A creator's plan as `GET /me` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatorPlan {
    pub tier: Tier,
    /// The membership of Churn Saver's product the tier comes from, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// Whether that membership is valid now (an invalid one gives [`Tier::Free`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    pub allows: Allowance,
}

impl PlanSettings {
    /// The plan the creator's `memberships` give: the highest tier among the valid memberships
    /// of Churn Saver's product, else the free tier (naming the product's membership when there
    /// is an invalid one).
    pub fn plan_of(&self, memberships: &[MembershipState]) -> CreatorPlan {
        let Some(product) = &self.product_id else {
            return free();
        };
        let ours = memberships
            .iter()
            .filter(|m| m.product_id.as_deref() == Some(product.as_str()));
        let tier_of = |m: &MembershipState| match m.valid {
            Some(true) => m
                .plan_id
                .as_ref()
                .and_then(|plan| self.tiers.get(plan).copied())
                .unwrap_or_default(),
            _ => Tier::Free,
        };
        let best = ours.max_by_key(|m| (tier_of(m), m.valid == Some(true)));
        let Some(best) = best else {
            return free();
        };
        let tier = tier_of(best);
        CreatorPlan {
            tier,
            membership_id: Some(best.id.clone()),
            plan_id: best.plan_id.clone(),
            valid: Some(best.valid == Some(true)),
            allows: allowance(tier),
        }
    }
}

fn free() -> CreatorPlan {
    CreatorPlan {
        tier: Tier::Free,
        membership_id: None,
        plan_id: None,
        valid: None,
        allows: allowance(Tier::Free),
    }
}

/// Page size of the user-index reads a creator's plan is found in.
const PLAN_PAGE: usize = 100;

/// Reads creators' plans from the `state` table.
pub struct Plans<S> {
    pub store: S,
    pub settings: PlanSettings,
}

impl<S: StateStore> crate::domain::ports::CreatorPlans for Plans<S> {
    /// `user_id`'s plan: one Query of the user index per 100 of their memberships (a creator is
    /// a member of few). A user that is not a Whop user (`google:<sub>`) has no Whop membership
    /// and is on the free tier without a read.
    async fn plan(&self, user_id: &str) -> Result<CreatorPlan, DependencyError> {
        plan_of_user(&self.store, &self.settings, user_id).await
    }
}

/// `user_id`'s plan under `settings`, read from `store`: one Query of the user index per 100 of
/// their memberships; none for a user that is not a Whop user or without a product configured.
///
/// # Errors
/// The store's.
pub async fn plan_of_user(
    store: &impl StateStore,
    settings: &PlanSettings,
    user_id: &str,
) -> Result<CreatorPlan, DependencyError> {
    if settings.product_id.is_none() || user_id.starts_with("google:") {
        return Ok(free());
    }
    let stored = every_page(|after| async move {
        store
            .memberships_of_user(user_id, PLAN_PAGE, after.as_deref())
            .await
    })
    .await?;
    let states: Vec<MembershipState> = stored.iter().map(|m| m.state()).collect();
    Ok(settings.plan_of(&states))
}

/// A creator plan of a fixed tier, for tests of tier-limited actions.
#[cfg(test)]
pub struct FixedPlan(pub Tier);

#[cfg(test)]
impl crate::domain::ports::CreatorPlans for FixedPlan {
    async fn plan(&self, _: &str) -> Result<CreatorPlan, DependencyError> {
        Ok(CreatorPlan {
            tier: self.0,
            membership_id: None,
            plan_id: None,
            valid: None,
            allows: allowance(self.0),
        })
    }
}
