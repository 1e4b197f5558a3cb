//! One [`MembershipSource`] over each provider's: a run's scope names its provider
//! ([`SyncProvider`]) and its pages are listed by that provider's source. Single memberships
//! (users' own syncs) are Whop's.

use super::{Scope, SyncProvider};
use crate::domain::ports::{
    ListedMembership, MembershipPage, MembershipSource, MembershipSourceError, SourceFailure,
};

/// The sources of the providers sync reads; a provider without one refuses its scopes.
pub struct ByProvider<W, G, S = G, P = G> {
    pub whop: W,
    pub gumroad: Option<G>,
    pub stripe: Option<S>,
    pub paypal: Option<P>,
}

/// A provider's scopes refused because the provider's sync is not configured.
fn unconfigured(provider: &str) -> MembershipSourceError {
    MembershipSourceError {
        failure: SourceFailure::Refused,
        code: "provider_unconfigured",
        message: format!("{provider} is not configured"),
    }
}

impl<W: MembershipSource, G: MembershipSource, S: MembershipSource, P: MembershipSource>
    MembershipSource for ByProvider<W, G, S, P>
{
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
            (SyncProvider::Gumroad { .. }, None) => Err(unconfigured("Gumroad")),
            (SyncProvider::Stripe, _) => match &self.stripe {
                Some(stripe) => stripe.list_memberships(scope, cursor).await,
                None => Err(unconfigured("Stripe")),
            },
            (SyncProvider::PayPal, _) => match &self.paypal {
                Some(paypal) => paypal.list_memberships(scope, cursor).await,
                None => Err(unconfigured("PayPal")),
            },
        }
    }

    async fn get_membership(
        &self,
        id: &str,
    ) -> Result<Option<ListedMembership>, MembershipSourceError> {
        self.whop.get_membership(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose every page names it.
    struct Named(&'static str);

    impl MembershipSource for Named {
        fn is_membership_id(&self, _: &str) -> bool {
            true
        }

        async fn list_memberships(
            &self,
            _: &Scope,
            _: Option<&str>,
        ) -> Result<MembershipPage, MembershipSourceError> {
            Ok(MembershipPage {
                next_cursor: Some(self.0.to_owned()),
                ..MembershipPage::default()
            })
        }

        async fn get_membership(
            &self,
            _: &str,
        ) -> Result<Option<ListedMembership>, MembershipSourceError> {
            Ok(None)
        }
    }

    async fn lister(
        sources: &ByProvider<Named, Named>,
        scope: &Scope,
    ) -> Result<String, &'static str> {
        sources
            .list_memberships(scope, None)
            .await
            .map(|page| page.next_cursor.unwrap_or_default())
            .map_err(|error| error.code())
    }

    #[tokio::test]
    async fn each_scope_is_listed_by_its_providers_source() {
        let all = ByProvider {
            whop: Named("whop"),
            gumroad: Some(Named("gumroad")),
            stripe: Some(Named("stripe")),
            paypal: Some(Named("paypal")),
        };
        let whop_only = ByProvider::<Named, Named> {
            whop: Named("whop"),
            gumroad: None,
            stripe: None,
            paypal: None,
        };
        let (whop, gumroad) = (Scope::company("biz_1"), Scope::gumroad("biz_1", "seller_1"));
        let (stripe, paypal) = (Scope::stripe("biz_1"), Scope::paypal("biz_1"));
        assert_eq!(lister(&all, &whop).await, Ok("whop".into()));
        assert_eq!(lister(&all, &gumroad).await, Ok("gumroad".into()));
        assert_eq!(lister(&all, &stripe).await, Ok("stripe".into()));
        assert_eq!(lister(&all, &paypal).await, Ok("paypal".into()));
        assert_eq!(lister(&whop_only, &whop).await, Ok("whop".into()));
        assert_eq!(
            lister(&whop_only, &gumroad).await,
            Err("provider_unconfigured")
        );
        assert_eq!(
            lister(&whop_only, &stripe).await,
            Err("provider_unconfigured")
        );
        assert_eq!(
            lister(&whop_only, &paypal).await,
            Err("provider_unconfigured")
        );
    }
}
