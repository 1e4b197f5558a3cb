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
use std::collections::BTreeSet;

use crate::domain::ports::{
    AccessCacheStore, AccessCheckError, AccessLevel, CompanyAccess, CreatorPlans, DependencyError,
    KnownCompanies, OpenSignalCounts, ProfileStore,
};
use plan::CreatorPlan;
use profile::CreatorProfile;
use profile::DiscoveryMark;

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
    /// Companies whose access check could not be made (the provider unavailable and no fresh
    /// answer cached): left out, failing closed; ask again later.
    pub unchecked: usize,
    /// Known companies remain that this creator was never checked against (more than one call
    /// checks, [`DISCOVERY_BATCH`]); ask again to see them.
    pub more_to_check: bool,
}

/// Known companies a creator is checked against for the first time in one `GET /me/companies`.
pub const DISCOVERY_BATCH: usize = 25;

/// `GET /me/companies`: the companies the provider's access check says `user_id` administers,
/// with their open-signal counts. Revoked companies are included: their stored data is still the
/// creator's.
///
/// The candidates are the companies the access check has answered for this user before (one
/// Query of their cached answers), which a creator route of any company adds to, and the known
/// companies that became known after the profile's [`DiscoveryMark`], at most
/// [`DISCOVERY_BATCH`] of them, after which the mark moves on (one write). Each candidate is
/// proved again (a fresh cached answer, else the provider asked), so the cost grows with the
/// creator's own companies, not with the deployment's (beyond reading the known companies' list).
pub async fn my_companies(
    known: &impl KnownCompanies,
    access: &impl CompanyAccess,
    answers: &impl AccessCacheStore,
    profiles: &impl ProfileStore,
    counts: &impl OpenSignalCounts,
    user_id: &str,
) -> Result<MyCompanies, CreatorError> {
    let answered = answers
        .cached_companies(user_id)
        .await
        .map_err(|e| unavailable(&e))?;
    let proven: BTreeSet<String> = answered
        .into_iter()
        .filter(|(_, answer)| answer.level == AccessLevel::Admin)
        .map(|(company_id, _)| company_id)
        .collect();
    let mark = profiles
        .profile(user_id)
        .await
        .map_err(|e| unavailable(&e))?
        .and_then(|profile| profile.discovered_through);
    let mut unseen: Vec<DiscoveryMark> = known
        .known_companies()
        .await
        .map_err(|e| unavailable(&e))?
        .into_iter()
        .map(|company| DiscoveryMark {
            first_seen: company.first_seen,
            company_id: company.company_id,
        })
        .filter(|company| mark.as_ref().is_none_or(|mark| company > mark))
        .collect();
    unseen.sort();
    let more_to_check = unseen.len() > DISCOVERY_BATCH;
    unseen.truncate(DISCOVERY_BATCH);

    let mut candidates: BTreeSet<&str> = proven.iter().map(String::as_str).collect();
    candidates.extend(unseen.iter().map(|c| c.company_id.as_str()));
    let mut companies = Vec::new();
    let mut failed = BTreeSet::new();
    for company_id in candidates {
        match access.access_level(user_id, company_id).await {
            Ok(AccessLevel::Admin) => {}
            Ok(AccessLevel::Customer | AccessLevel::NoAccess) => continue,
            Err(AccessCheckError::Unavailable(reason)) => {
                tracing::warn!(%reason, "an access check for /me/companies is unavailable");
                failed.insert(company_id);
                continue;
            }
        }
        let open_signals = counts
            .open_signal_counts(company_id)
            .await
            .map_err(|e| unavailable(&e))?;
        companies.push(MyCompany {
            company_id: company_id.to_owned(),
            open_signals,
        });
    }
    // The mark moves past the newly checked companies, up to the first that could not be
    // checked (it is tried again next time).
    let checked = unseen
        .iter()
        .take_while(|c| !failed.contains(c.company_id.as_str()))
        .last();
    if let Some(checked) = checked
        && let Err(error) = profiles.advance_discovery(user_id, checked).await
    {
        // The same companies are checked again next time; the answer stands.
        tracing::warn!(%error, "the discovery mark could not be moved");
    }
    Ok(MyCompanies {
        user_id: user_id.to_owned(),
        companies,
        unchecked: failed.len(),
        more_to_check,
    })
}

#[cfg(test)]
mod tests;
