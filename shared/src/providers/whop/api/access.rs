//! Whop's access check as the domain's [`CompanyAccess`]: `GET /users/{user_id}/access/{company_id}`
//! → `{"has_access": bool, "access_level": "admin"|"customer"|"no_access"}` (`docs/providers.md`
//! §2), through the same resilient client and API key as every other Whop call.
//!
//! A user is an admin only when Whop says `has_access` and `admin`; an access level this code does
//! not know reads as no access. Whop not knowing the user or company (404) is no access; every
//! other failure (breaker open, rate limited, 5xx, timeout, a refused key, a malformed body) is
//! [`AccessCheckError::Unavailable`], which the caller turns into a refusal (fail closed).

use serde::Deserialize;

use super::{ApiKeySource, WhopApi, WhopApiError, not_found_as_none, segment};
use crate::domain::ports::{AccessCheckError, AccessLevel, CompanyAccess};
use crate::providers::client::Admission;

/// The access check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Access {
    pub has_access: bool,
    /// Kept as text so a new level is not a decode error.
    #[serde(default)]
    pub access_level: Option<String>,
}

impl Access {
    /// What the answer makes the user.
    pub fn level(&self) -> AccessLevel {
        match (self.has_access, self.access_level.as_deref()) {
            (true, Some("admin")) => AccessLevel::Admin,
            (true, Some("customer")) => AccessLevel::Customer,
            _ => AccessLevel::NoAccess,
        }
    }
}

impl<A: Admission, K: ApiKeySource> WhopApi<A, K> {
    /// What `user_id` is to `resource_id` (a company, product or experience); `None` when Whop
    /// knows neither.
    pub async fn access(
        &self,
        user_id: &str,
        resource_id: &str,
    ) -> Result<Option<Access>, WhopApiError> {
        let path = format!("users/{}/access/{}", segment(user_id), segment(resource_id));
        not_found_as_none(self.get(&path, &[]).await)
    }
}

impl<A: Admission, K: ApiKeySource> CompanyAccess for WhopApi<A, K> {
    async fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<AccessLevel, AccessCheckError> {
        match self.access(user_id, company_id).await {
            Ok(access) => Ok(access.map_or(AccessLevel::NoAccess, |access| access.level())),
            Err(error) => Err(AccessCheckError::Unavailable(error.code().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use url::Url;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::providers::client::{NoAdmission, ResilientClient, RetryPolicy};
    use crate::providers::whop::api::StaticKey;

    fn api(server: &MockServer) -> WhopApi<NoAdmission, StaticKey> {
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let client = ResilientClient::new(reqwest::Client::new(), policy, NoAdmission);
        let base = Url::parse(&format!("{}/api/v1", server.uri())).unwrap();
        WhopApi::new(client, base, StaticKey("key_app".to_owned().into()))
    }

    async fn answering(status: u16, body: serde_json::Value) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/users/user_1/access/biz_1"))
            .and(header("authorization", "Bearer key_app"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn each_answer_is_its_access_level() {
        let cases = [
            (
                json!({"has_access": true, "access_level": "admin"}),
                AccessLevel::Admin,
            ),
            (
                json!({"has_access": true, "access_level": "customer"}),
                AccessLevel::Customer,
            ),
            (
                json!({"has_access": false, "access_level": "no_access"}),
                AccessLevel::NoAccess,
            ),
            (
                json!({"has_access": false, "access_level": "admin"}),
                AccessLevel::NoAccess,
            ),
            (
                json!({"has_access": true, "access_level": "moderator"}),
                AccessLevel::NoAccess,
            ),
        ];
        for (body, level) in cases {
            let server = answering(200, body.clone()).await;
            assert_eq!(
                api(&server).access_level("user_1", "biz_1").await,
                Ok(level),
                "{body}"
            );
        }
        let server = answering(404, json!({"error": {"message": "not found"}})).await;
        assert_eq!(
            api(&server).access_level("user_1", "biz_1").await,
            Ok(AccessLevel::NoAccess)
        );
    }

    #[tokio::test]
    async fn no_usable_answer_is_unavailable() {
        for (status, body) in [
            (500, json!({"error": {"message": "down"}})),
            (401, json!({"error": {"message": "bad key"}})),
            (200, json!({"unexpected": true})),
        ] {
            let server = answering(status, body).await;
            let answer = api(&server).access_level("user_1", "biz_1").await;
            assert!(
                matches!(answer, Err(AccessCheckError::Unavailable(_))),
                "{status}: {answer:?}"
            );
        }
    }
}
