//! Creators (`docs/architecture.md`, "Creators"): the people who install Churn Saver on their
//! companies. Each has a [`profile`] (created on their first sign-in) and a [`plan`] (the state of
//! their membership in Churn Saver's own product).
//!
//! The functions below serve `GET /me` and `GET /me/companies`; both read only the signed-in
//! user's own items, so they need no further check.

pub mod plan;
pub mod profile;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::companies::summary::ByKind;
use crate::domain::ports::{
    AccessCheckError, AccessLevel, CompanyAccess, CreatorPlans, DependencyError, KnownCompanies,
    OpenSignalCounts, ProfileStore,
};
use plan::CreatorPlan;
use profile::CreatorProfile;

/// Why a creator route failed. The messages are the ones callers see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreatorError {
    /// The state table failed (logged where it happened).
    #[error("state table is unavailable; retry later")]
    Unavailable,
}

fn unavailable(error: &DependencyError) -> CreatorError {
    tracing::error!(%error, "the state table failed");
    CreatorError::Unavailable
}

/// Records a sign-in of `user_id` as `identity` in their profile, creating it on the first one.
/// `returning` says the sign-in service already saw this identity sign in to this user (one of
/// their sessions carries it), in which case nothing is written: a profile costs one conditional
/// write at a first sign-in and nothing on later ones. Best effort: a failed write is logged and
/// made good by `GET /me` ([`me`]).
pub async fn record_sign_in(
    profiles: &impl ProfileStore,
    user_id: &str,
    identity: &str,
    returning: bool,
    now: DateTime<Utc>,
) {
    if returning {
        return;
    }
    match profiles.record_identity(user_id, identity, now).await {
        Ok(true) => {
            tracing::info!(user.id = %user_id, "creator profile recorded a sign-in identity")
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "the creator profile could not be written"),
    }
}

/// `GET /me`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Me {
    #[serde(flatten)]
    pub profile: CreatorProfile,
    pub plan: CreatorPlan,
}

/// `GET /me`: the signed-in user's profile and plan. A user without a profile (a session opened
/// by an operator, or a sign-in whose profile write failed) gets one now, with the same write a
/// first sign-in makes.
pub async fn me(
    profiles: &impl ProfileStore,
    plans: &impl CreatorPlans,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Me, CreatorError> {
    let profile = match profiles
        .profile(user_id)
        .await
        .map_err(|e| unavailable(&e))?
    {
        Some(profile) => profile,
        None => {
            profiles
                .record_identity(user_id, user_id, now)
                .await
                .map_err(|e| unavailable(&e))?;
            profiles
                .profile(user_id)
                .await
                .map_err(|e| unavailable(&e))?
                .ok_or(CreatorError::Unavailable)?
        }
    };
    let plan = plans.plan(user_id).await.map_err(|e| unavailable(&e))?;
    Ok(Me { profile, plan })
}

/// One company of `GET /me/companies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyCompany {
    pub company_id: String,
    /// Memberships with each signal kind open now.
    pub open_signals: ByKind,
}

/// `GET /me/companies`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyCompanies {
    pub user_id: String,
    pub companies: Vec<MyCompany>,
    /// Known companies whose access check could not be made (the provider unavailable and no
    /// fresh answer cached): left out, failing closed; ask again later.
    pub unchecked: usize,
}

/// `GET /me/companies`: the known companies the provider's access check says `user_id`
/// administers (a fresh cached answer, else the provider asked), with their open-signal counts.
/// Revoked companies are included: their stored data is still the creator's.
pub async fn my_companies(
    known: &impl KnownCompanies,
    access: &impl CompanyAccess,
    counts: &impl OpenSignalCounts,
    user_id: &str,
) -> Result<MyCompanies, CreatorError> {
    let mut candidates = known.known_companies().await.map_err(|e| unavailable(&e))?;
    candidates.sort_by(|a, b| a.company_id.cmp(&b.company_id));
    let mut companies = Vec::new();
    let mut unchecked = 0;
    for company in candidates {
        match access.access_level(user_id, &company.company_id).await {
            Ok(AccessLevel::Admin) => {}
            Ok(AccessLevel::Customer | AccessLevel::NoAccess) => continue,
            Err(AccessCheckError::Unavailable(reason)) => {
                tracing::warn!(%reason, "an access check for /me/companies is unavailable");
                unchecked += 1;
                continue;
            }
        }
        let open_signals = counts
            .open_signal_counts(&company.company_id)
            .await
            .map_err(|e| unavailable(&e))?;
        companies.push(MyCompany {
            company_id: company.company_id,
            open_signals,
        });
    }
    Ok(MyCompanies {
        user_id: user_id.to_owned(),
        companies,
        unchecked,
    })
}

#[cfg(test)]
mod tests;
