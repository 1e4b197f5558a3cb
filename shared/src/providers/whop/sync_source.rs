//! Whop's API as the domain's [`MembershipSource`]: the listing and the lookup sync reads, with
//! Whop's records and errors converted into the domain's.

use crate::domain::ports::{
    ACCESS_REVOKED, ListedMembership, MembershipPage, MembershipSource, MembershipSourceError,
    SourceFailure,
};
use crate::domain::sync::Scope;
use crate::providers::client::{Admission, ClientError};
use crate::providers::whop::api::{
    ApiKeySource, IdRef, Membership, MembershipQuery, WhopApi, WhopApiError,
};
use crate::providers::whop::ids::is_whop_id;

/// The listing `scope` makes.
pub fn query(scope: &Scope) -> MembershipQuery {
    MembershipQuery {
        company_id: Some(scope.company_id.clone()),
        user_ids: scope.user_id.iter().cloned().collect(),
        created_after: scope.since,
        ..MembershipQuery::default()
    }
}

/// What sync reads of a Whop membership.
pub fn listed(membership: Membership) -> ListedMembership {
    let id = |r: Option<IdRef>| r.map(|r| r.id);
    ListedMembership {
        id: membership.id,
        status: membership.status,
        cancel_at_period_end: membership.cancel_at_period_end,
        valid: None,
        updated_at: membership.updated_at,
        renewal_period_start: membership.renewal_period_start,
        renewal_period_end: membership.renewal_period_end,
        user_id: id(membership.user),
        company_id: id(membership.company),
        product_id: id(membership.product),
        plan_id: id(membership.plan),
        payment: None,
    }
}

impl From<WhopApiError> for MembershipSourceError {
    /// A 403 is the company's access revoked (`company_access_revoked`). A 401 is not: it refuses
    /// the API key itself (after one re-read of it), which would otherwise mark every company.
    fn from(error: WhopApiError) -> Self {
        if let WhopApiError::Call(ClientError::Provider { status: 403, .. }) = &error {
            return Self {
                failure: SourceFailure::AccessRevoked,
                code: ACCESS_REVOKED,
                message: error.to_string(),
            };
        }
        let failure = match &error {
            WhopApiError::Call(ClientError::RateLimited { retry_after, .. }) => {
                SourceFailure::RateLimited {
                    retry_after: *retry_after,
                }
            }
            WhopApiError::Call(ClientError::EmergencyMode { .. }) => SourceFailure::Suspended,
            error if error.is_retryable() => SourceFailure::Unavailable,
            WhopApiError::Call(ClientError::Decode { .. }) => SourceFailure::Decode,
            _ => SourceFailure::Refused,
        };
        Self {
            failure,
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl<A: Admission, K: ApiKeySource> MembershipSource for WhopApi<A, K> {
    fn is_membership_id(&self, id: &str) -> bool {
        is_whop_id(id, "mem_")
    }

    async fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        let page = Self::list_memberships(self, &query(scope), cursor).await?;
        let next_cursor = page.next_cursor().map(str::to_owned);
        Ok(MembershipPage {
            memberships: page.data.into_iter().map(listed).collect(),
            next_cursor,
            ..MembershipPage::default()
        })
    }

    async fn get_membership(
        &self,
        id: &str,
    ) -> Result<Option<ListedMembership>, MembershipSourceError> {
        Ok(Self::get_membership(self, id).await?.map(listed))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn scopes_list_what_they_cover() {
        let user = Scope {
            provider: crate::domain::sync::SyncProvider::Whop,
            company_id: "biz_1".into(),
            user_id: Some("user_1".into()),
            since: Utc.timestamp_opt(1_780_000_000, 0).single(),
        };
        let query = query(&user);
        assert_eq!(query.company_id.as_deref(), Some("biz_1"));
        assert_eq!(query.user_ids, ["user_1"]);
        assert_eq!(query.created_after, user.since);
    }

    fn call(error: ClientError) -> MembershipSourceError {
        WhopApiError::Call(error).into()
    }

    #[test]
    fn each_error_keeps_its_code_message_and_pause_or_fail_decision() {
        let cases = [
            (
                WhopApiError::Call(ClientError::RateLimited {
                    service: "whop",
                    retry_after: Some(Duration::from_secs(7)),
                }),
                SourceFailure::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                },
            ),
            (
                WhopApiError::Call(ClientError::CircuitOpen { service: "whop" }),
                SourceFailure::Unavailable,
            ),
            (
                WhopApiError::Call(ClientError::EmergencyMode { service: "whop" }),
                SourceFailure::Suspended,
            ),
            (
                WhopApiError::Call(ClientError::BudgetExhausted {
                    service: "whop",
                    attempts: 3,
                }),
                SourceFailure::Unavailable,
            ),
            (
                WhopApiError::Call(ClientError::Timeout { service: "whop" }),
                SourceFailure::Unavailable,
            ),
            (
                WhopApiError::Call(ClientError::Provider {
                    service: "whop",
                    status: 503,
                    code: None,
                }),
                SourceFailure::Unavailable,
            ),
            (WhopApiError::Key("gone".into()), SourceFailure::Unavailable),
            (
                WhopApiError::Call(ClientError::Provider {
                    service: "whop",
                    status: 401,
                    code: Some("unauthorized".into()),
                }),
                SourceFailure::Refused,
            ),
            (
                WhopApiError::Call(ClientError::Decode {
                    service: "whop",
                    detail: "eof".into(),
                }),
                SourceFailure::Decode,
            ),
        ];
        for (error, failure) in cases {
            let (code, message) = (error.code(), error.to_string());
            let (retryable, retry_after) = (error.is_retryable(), error.retry_after());
            let converted = MembershipSourceError::from(error);
            assert_eq!(converted.failure, failure, "{message}");
            assert_eq!(converted.code(), code);
            assert_eq!(converted.to_string(), message);
            assert_eq!(converted.is_retryable(), retryable, "{message}");
            assert_eq!(converted.retry_after(), retry_after, "{message}");
        }
        assert_eq!(
            call(ClientError::Unreachable {
                service: "whop",
                detail: "refused".into(),
                connected: false,
            })
            .failure,
            SourceFailure::Unavailable
        );
    }

    #[test]
    fn a_403_is_the_companys_access_revoked_and_is_not_retried() {
        let revoked = call(ClientError::Provider {
            service: "whop",
            status: 403,
            code: None,
        });
        assert_eq!(revoked.failure, SourceFailure::AccessRevoked);
        assert_eq!(revoked.code(), "company_access_revoked");
        assert!(!revoked.is_retryable());
    }
}
