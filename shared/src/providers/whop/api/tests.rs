use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::*;
use crate::domain::ports::{
    DependencyError, SecretSource, SecretVersion, SystemClock, VersionStage,
};
use crate::providers::client::{NoAdmission, RetryPolicy, Sleeper};

/// Counts waits instead of sleeping.
#[derive(Default)]
struct NoWait(AtomicUsize);

impl Sleeper for NoWait {
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::ready(()))
    }
}

fn api(server: &MockServer, policy: RetryPolicy) -> WhopApi<NoAdmission, StaticKey> {
    let client = ResilientClient::new(reqwest::Client::new(), policy, NoAdmission)
        .with_sleeper(Arc::new(NoWait::default()));
    let base = Url::parse(&format!("{}/api/v1", server.uri())).unwrap();
    WhopApi::new(client, base, StaticKey("key_current".to_owned().into()))
}

fn membership(n: usize) -> Value {
    json!({
        "id": format!("mem_{n:04}"),
        "status": if n.is_multiple_of(3) { "past_due" } else { "active" },
        "cancel_at_period_end": n.is_multiple_of(5),
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": 1_780_000_000 + n,
        "renewal_period_end": format!("{}", 1_790_000_000 + n),
        "user": {"id": format!("user_{n}"), "email": null, "username": "u"},
        "company": {"id": "biz_1", "title": "Co"},
        "plan": {"id": "plan_1"},
        "product": {"id": "prod_1", "title": "P", "metadata": {}},
        "manage_url": "https://whop.com/x",
        "future_field": {"nested": [1, 2, 3]}
    })
}

/// Serves `total` memberships `per_page` at a time with opaque cursors, like Whop's v1 listing.
struct Pages {
    total: usize,
    per_page: usize,
}

impl Respond for Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let start = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "after")
            .and_then(|(_, v)| v.strip_prefix("cur_").and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let end = (start + self.per_page).min(self.total);
        let data: Vec<Value> = (start..end).map(membership).collect();
        let more = end < self.total;
        ResponseTemplate::new(200).set_body_json(json!({
            "data": data,
            "page_info": {"end_cursor": more.then(|| format!("cur_{end}")), "start_cursor": format!("cur_{start}"),
                "has_next_page": more, "has_previous_page": start > 0}
        }))
    }
}

#[tokio::test]
async fn lists_every_page_by_cursor_with_the_documented_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/memberships"))
        .and(query_param("company_id", "biz_1"))
        .and(query_param("first", "100"))
        .and(query_param("statuses[]", "active"))
        .and(header("authorization", "Bearer key_current"))
        .and(header("api-version-date", API_VERSION_DATE))
        .respond_with(Pages {
            total: 1_234,
            per_page: 100,
        })
        .expect(13)
        .mount(&server)
        .await;
    let api = api(&server, RetryPolicy::default());
    let query = MembershipQuery {
        company_id: Some("biz_1".into()),
        statuses: vec!["active".into()],
        ..MembershipQuery::default()
    };
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = api
            .list_memberships(&query, after.as_deref())
            .await
            .unwrap();
        ids.extend(page.data.iter().map(|m| m.id.clone()));
        match page.next_cursor() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 1_234);
    assert_eq!(ids.first().unwrap(), "mem_0000");
    assert_eq!(ids.last().unwrap(), "mem_1233");
}

#[tokio::test]
async fn membership_fields_are_typed_and_unknown_ones_ignored() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/memberships/mem_0015"))
        .respond_with(ResponseTemplate::new(200).set_body_json(membership(15)))
        .mount(&server)
        .await;
    let got = api(&server, RetryPolicy::default())
        .get_membership("mem_0015")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, "past_due");
    assert_eq!(got.cancel_at_period_end, Some(true));
    assert_eq!(got.updated_at.unwrap().timestamp(), 1_780_000_015);
    assert_eq!(got.renewal_period_end.unwrap().timestamp(), 1_790_000_015);
    assert_eq!(
        got.created_at.unwrap().to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );
    assert_eq!(got.user.unwrap().id, "user_15");
    assert_eq!(got.company.unwrap().id, "biz_1");
}

#[tokio::test]
async fn unknown_membership_and_user_are_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "not_found"}})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let api = api(&server, RetryPolicy::default());
    assert_eq!(api.get_membership("mem_x").await, Ok(None));
    assert_eq!(api.get_user("user_x").await, Ok(None));
}

#[tokio::test]
async fn an_id_cannot_change_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/memberships/..%2Fusers%2Fme"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let api = api(&server, RetryPolicy::default());
    assert_eq!(api.get_membership("../users/me").await, Ok(None));
}

#[tokio::test]
async fn users_and_payments_are_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/user_1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": "user_1", "username": "ann", "name": null, "bio": "x"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/payments"))
        .and(query_param("company_id", "biz_1"))
        .and(query_param("created_after", "2026-03-01T00:00:00Z"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "pay_1", "status": "paid", "substatus": "succeeded", "total": 12.5,
                "currency": "usd", "created_at": "2026-03-02T00:00:00Z", "membership": {"id": "mem_1", "status": "active"}}],
            "page_info": {"end_cursor": null, "has_next_page": false}
        })))
        .mount(&server)
        .await;
    let api = api(&server, RetryPolicy::default());
    assert_eq!(
        api.get_user("user_1")
            .await
            .unwrap()
            .unwrap()
            .username
            .as_deref(),
        Some("ann")
    );
    let query = PaymentQuery {
        company_id: Some("biz_1".into()),
        created_after: DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .ok()
            .map(|t| t.to_utc()),
    };
    let page = api.list_payments(&query, None).await.unwrap();
    assert_eq!(page.data[0].membership.as_ref().unwrap().id, "mem_1");
    assert_eq!(page.data[0].total, Some(12.5));
    assert_eq!(page.next_cursor(), None);
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3")
                .set_body_json(json!({"message": "You are being rate limited"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(membership(1)))
        .mount(&server)
        .await;
    let got = api(&server, RetryPolicy::default())
        .get_membership("mem_0001")
        .await
        .unwrap();
    assert_eq!(got.unwrap().id, "mem_0001");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_long_retry_after_is_a_rate_limited_error_carrying_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "600"))
        .expect(1)
        .mount(&server)
        .await;
    let error = api(&server, RetryPolicy::default())
        .list_memberships(&MembershipQuery::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "rate_limited");
    assert!(error.is_retryable());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn server_errors_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(membership(2)))
        .mount(&server)
        .await;
    let got = api(&server, RetryPolicy::default())
        .get_membership("mem_0002")
        .await;
    assert_eq!(got.unwrap().unwrap().id, "mem_0002");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_hanging_api_times_out_as_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        max_attempts: 2,
        attempt_timeout: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let error = api(&server, policy)
        .get_membership("mem_1")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        WhopApiError::Call(ClientError::Timeout { service: SERVICE })
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_json_and_wrong_shapes_are_decode_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/memberships/mem_bad"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"id\": \"mem_bad\", "))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/memberships"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "mem_1", "status": "active", "updated_at": "yesterday"}],
            "page_info": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let api = api(&server, RetryPolicy::default());
    let error = api.get_membership("mem_bad").await.unwrap_err();
    assert_eq!(error.code(), "decode_error");
    assert!(!error.is_retryable());
    let error = api
        .list_memberships(&MembershipQuery::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WhopApiError::Call(ClientError::Decode { ref detail, .. }) if detail.contains("yesterday")),
        "{error:?}"
    );
}

/// A secret whose value an operator rotates.
struct RotatingSecret {
    value: Mutex<String>,
    reads: AtomicUsize,
}

impl SecretSource for RotatingSecret {
    async fn secret_version(
        &self,
        _secret_id: &str,
        _stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(Some(SecretVersion {
            version_id: "v".into(),
            value: self.value.lock().unwrap().clone().into(),
        }))
    }
}

impl SecretSource for Arc<RotatingSecret> {
    async fn secret_version(
        &self,
        secret_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        self.as_ref().secret_version(secret_id, stage).await
    }
}

#[tokio::test]
async fn a_401_rereads_the_key_once_and_uses_the_rotated_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer key_new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(membership(3)))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "unauthorized"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let secret = Arc::new(RotatingSecret {
        value: Mutex::new(r#"{"api_key":"key_old"}"#.into()),
        reads: AtomicUsize::new(0),
    });
    let client = ResilientClient::new(reqwest::Client::new(), RetryPolicy::default(), NoAdmission);
    let base = Url::parse(&format!("{}/api/v1", server.uri())).unwrap();
    let api = WhopApi::new(
        client,
        base,
        SecretKey::new(Arc::clone(&secret), SystemClock, "whop-key"),
    );

    // Warm the cache with the old key, then rotate it behind the cache's back.
    assert_eq!(
        api.key.api_key(false).await.unwrap().expose_secret(),
        "key_old"
    );
    *secret.value.lock().unwrap() = r#"{"api_key":"key_new"}"#.into();

    assert_eq!(
        api.get_membership("mem_0003").await.unwrap().unwrap().id,
        "mem_0003"
    );
    // The fresh key is cached: the next call neither fails nor re-reads.
    assert_eq!(
        api.get_membership("mem_0003").await.unwrap().unwrap().id,
        "mem_0003"
    );
    assert_eq!(secret.reads.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_401_with_no_newer_key_is_a_provider_error_after_one_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let error = api(&server, RetryPolicy::default())
        .get_membership("mem_1")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        WhopApiError::Call(ClientError::Provider {
            service: SERVICE,
            status: 401,
            code: None
        })
    );
}

#[tokio::test]
async fn an_empty_or_malformed_key_secret_is_a_key_error() {
    for value in [r#"{"api_key":""}"#, "not json", r#"{"key":"x"}"#] {
        let secret = Arc::new(RotatingSecret {
            value: Mutex::new(value.into()),
            reads: AtomicUsize::new(0),
        });
        let key = SecretKey::new(secret, SystemClock, "whop-key");
        let error = WhopApiError::from(key.api_key(false).await.unwrap_err());
        assert_eq!(error.code(), "api_key_unavailable", "{value}");
        // The value never appears in the error.
        assert!(!error.to_string().contains("not json"));
    }
}
