//! One [`MembershipSource`] over each provider's: a run's scope names its provider
//! ([`SyncProvider`]) and its pages are listed by that provider's source. Single memberships
//! (users' own syncs) are Whop's.

use super::{Scope, SyncProvider};
use crate::domain::ports::{
    ListedMembership, MembershipPage, MembershipSource, MembershipSourceError, SourceFailure,
};

/// The sources of the providers sync reads; a provider without one refuses its scopes.
pub struct ByProvider<W, G> {
    pub whop: W,
    pub gumroad: Option<G>,
}

impl<W: MembershipSource, G: MembershipSource> MembershipSource for ByProvider<W, G> {
    fn is_membership_id(&self, id: &str) -> bool {
        self.whop.is_membership_id(id)
    }

    async fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        match (&scope.provider, &self.gumroad) {
            (SyncProvider::Whop, _) => self.whop.list_memberships(scope, cursor).await,
            (SyncProvider::Gumroad { .. }, Some(gumroad)) => {
                gumroad.list_memberships(scope, cursor).await
            }
            (SyncProvider::Gumroad { .. }, None) => Err(MembershipSourceError {
                failure: SourceFailure::Refused,
                code: "provider_unconfigured",
                message: "Gumroad is not configured".into(),
            }),
        }
    }

    async fn get_membership(
        &self,
        id: &str,
    ) -> Result<Option<ListedMembership>, MembershipSourceError> {
        self.whop.get_membership(id).await
    }
}
