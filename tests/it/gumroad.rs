//! Gumroad on the local stack (README "Gumroad"): the connect routes behind the authorizer and
//! the Whop access check (`user_local_admin` administers `biz_local`), the stand-in Gumroad
//! (`churnsaver::fake_gumroad`) for the authorization page, the token endpoint, `/v2/user` and
//! the resource subscriptions, its pings through `POST /webhooks/gumroad/{token}`, the running
//! stack's processor (which confirms each ping with the stand-in's API), and the creator view.

use churnsaver::fake_gumroad::{FakeGumroad, SELLER_ID};
use churnsaver::local::LocalStack;
use reqwest::header::LOCATION;
use serde_json::Value;
use shared::aws::connections::connection_pk;
use shared::aws::state::DynamoState;
use shared::domain::ports::StateStore;

use std::sync::Arc;

use axum::body::Body;
use http::Request;
use shared::edge::deps::webhooks::WebhooksDeps;
use tower::ServiceExt;

use crate::helpers::{RequestLog, open_session, start_running_stack};

const COMPANY: &str = "biz_local";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn gumroad(stack: &LocalStack) -> &FakeGumroad {
    stack.gumroad.as_ref().unwrap()
}

/// `/connections/gumroad/start` with `token`'s session, then the stand-in's authorization page,
/// up to the callback URL it sends the browser back to.
async fn authorize(stack: &LocalStack, token: &str) -> String {
    let http = browser();
    let started = http
        .get(format!(
            "{}/connections/gumroad/start?company_id={COMPANY}",
            stack.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 302, "{:?}", started.text().await);
    let authorize = started.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("scope=view_sales+view_profile"),
        "{authorize}"
    );
    let approved = http.get(&authorize).send().await.unwrap();
    assert_eq!(approved.status(), 302);
    let callback = approved.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!(
        "{}/connections/gumroad/callback?",
        stack.base_url()
    )));
    callback
}

async fn get(token: &str, url: &str) -> (u16, Value) {
    let response = browser().get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The raw connection item, every attribute's text.
async fn raw_connection(stack: &LocalStack) -> String {
    let item = stack
        .app
        .dynamodb
        .get_item()
        .table_name(&stack.app.config.tables.state)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(connection_pk(COMPANY)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CONNECTION".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    format!("{item:?}")
}

/// Polls the creator view until the membership `id` has the open signal `kind` (bounded).
async fn until_signal(stack: &LocalStack, token: &str, kind: &str, id: &str) -> Value {
    let url = format!(
        "{}/companies/{COMPANY}/memberships?signal={kind}",
        stack.base_url()
    );
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = get(token, &url).await;
        if status == 200
            && body["memberships"]
                .as_array()
                .is_some_and(|rows| rows.iter().any(|row| row["id"] == id))
        {
            return body;
        }
        last = body;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {kind} signal for {id}: {last}");
}

#[tokio::test]
async fn a_connected_account_pings_its_subscriptions_into_the_creator_view() {
    let stack = start_running_stack().await;
    let admin = open_session(&stack, "user_local_admin").await;
    let callback = authorize(&stack, &admin).await;
    let (status, body) = get(&admin, &callback).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["seller_id"], SELLER_ID);
    assert_eq!(body["status"], "active");
    assert_eq!(body["initial_sync"], "pending");
    assert_eq!(body["resource_subscriptions"], 8);

    // The tokens are sealed: the raw item holds neither.
    let raw = raw_connection(&stack).await;
    assert!(raw.contains("ct1."), "{raw}");
    assert!(!raw.contains("gumroad_access"), "{raw}");
    assert!(!raw.contains("gumroad_refresh"), "{raw}");

    // One subscription per resource, all to one secret post_url on this stack.
    let subscriptions = gumroad(&stack).subscriptions();
    let mut resources: Vec<_> = subscriptions
        .iter()
        .map(|s| s.resource_name.as_str())
        .collect();
    resources.sort_unstable();
    assert_eq!(
        resources,
        [
            "cancellation",
            "dispute",
            "dispute_won",
            "refund",
            "sale",
            "subscription_ended",
            "subscription_restarted",
            "subscription_updated"
        ]
    );
    let post_url = &subscriptions[0].post_url;
    assert!(post_url.starts_with(&format!("{}/webhooks/gumroad/", stack.base_url())));
    assert!(subscriptions.iter().all(|s| &s.post_url == post_url));
    let token = post_url.rsplit('/').next().unwrap();
    assert!(!raw.contains(token), "only the token's hash is stored");

    // A sale, then its retry: one event.
    let sale = [
        ("seller_id", SELLER_ID),
        ("sale_id", "sale_1"),
        ("subscription_id", "sub_gr_1"),
        ("product_id", "prod_gr"),
        ("purchaser_id", "buyer_1"),
        ("email", "buyer@example.test"),
        ("price", "1500"),
        ("currency", "usd"),
        ("sale_timestamp", "2026-01-05T10:00:00Z"),
        ("card[visual]", "**** 4242"),
    ];
    assert_eq!(gumroad(&stack).fire("sale", &sale).await.unwrap(), [202]);
    // The retry is a duplicate: 200 once the processor has recorded the first, 409 while the
    // first is still queued (Gumroad does not retry a 4xx; the first delivery stands).
    let again = gumroad(&stack).fire("sale", &sale).await.unwrap()[0];
    assert!(
        again.is_success() || again.as_u16() == 409,
        "the retried ping answered {again}"
    );

    let cancellation = [
        ("subscription_id", "sub_gr_1"),
        ("user_id", "buyer_1"),
        ("cancelled", "true"),
        ("cancelled_at", "2026-02-01T09:00:00Z"),
    ];
    assert_eq!(
        gumroad(&stack)
            .fire("cancellation", &cancellation)
            .await
            .unwrap(),
        [202]
    );
    let scheduled = until_signal(&stack, &admin, "cancel_scheduled", "sub_gr_1").await;
    let row = &scheduled["memberships"][0];
    assert_eq!(row["provider"], "gumroad", "{row}");

    let ended = [
        ("subscription_id", "sub_gr_1"),
        ("ended_at", "2026-03-01T00:00:00Z"),
        ("ended_reason", "cancelled"),
    ];
    assert_eq!(
        gumroad(&stack)
            .fire("subscription_ended", &ended)
            .await
            .unwrap(),
        [202]
    );
    until_signal(&stack, &admin, "churned", "sub_gr_1").await;
    // Each ping was confirmed with Gumroad before it was applied: one read of the sale, one of
    // the subscriber for each subscription ping; the sale's payment is in the state.
    assert_eq!(gumroad(&stack).reads("/v2/sales/sale_1"), 1);
    assert_eq!(gumroad(&stack).reads("/v2/subscribers/sub_gr_1"), 2);
    let state = DynamoState::of(&stack.app)
        .membership("sub_gr_1")
        .await
        .unwrap()
        .unwrap()
        .state();
    assert_eq!(state.payments.len(), 1);
    assert_eq!(state.payments[0].id, "sale_1");

    // Disconnecting removes the subscriptions and the stored tokens.
    let response = browser()
        .delete(format!(
            "{}/connections/gumroad?company_id={COMPANY}",
            stack.base_url()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(gumroad(&stack).subscriptions().is_empty());
    assert_eq!(raw_connection(&stack).await, "{}");
    stack.shutdown().await;
}

#[tokio::test]
async fn wrong_tokens_other_sellers_replayed_states_and_bad_bodies_are_refused_and_a_ping_costs_three_requests()
 {
    let stack = start_running_stack().await;
    let admin = open_session(&stack, "user_local_admin").await;
    let callback = authorize(&stack, &admin).await;
    assert_eq!(get(&admin, &callback).await.0, 200);
    // The same state again: refused before Gumroad is asked anything.
    let calls = gumroad(&stack).calls();
    let (status, body) = get(&admin, &callback).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("state_replayed"))
    );
    assert_eq!(gumroad(&stack).calls(), calls);
    // Another session cannot finish a state it did not start.
    let other = open_session(&stack, "user_local_admin").await;
    let fresh = authorize(&stack, &admin).await;
    let (status, body) = get(&other, &fresh).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("state_mismatch"))
    );

    let post_url = gumroad(&stack).subscriptions()[0].post_url.clone();
    let http = reqwest::Client::new();
    let form = "application/x-www-form-urlencoded";
    let post = |url: String, body: Vec<u8>| {
        http.post(url)
            .header(reqwest::header::CONTENT_TYPE, form)
            .body(body)
            .send()
    };
    let claims_before = count_claims(&stack).await;
    let sale = format!(
        "resource_name=sale&seller_id={SELLER_ID}&sale_id=s9&sale_timestamp=2026-01-01T00:00:00Z"
    );
    // A wrong token (right shape): 404, no Gumroad call, no claim.
    let wrong = format!("{}/webhooks/gumroad/{}", stack.base_url(), "A".repeat(43));
    let calls = gumroad(&stack).calls();
    let response = post(wrong, sale.clone().into_bytes()).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(gumroad(&stack).calls(), calls);
    // Another seller's ping on the right URL: 403.
    let response = post(
        post_url.clone(),
        sale.replace(SELLER_ID, "seller_other").into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "seller_mismatch");
    // Malformed, incomplete and oversized bodies: a clear 4xx each.
    for (body, status, code) in [
        (b"a=%zz".to_vec(), 400, "invalid_form"),
        (
            b"resource_name=sale&sale_id=s1".to_vec(),
            400,
            "missing_field",
        ),
        (b"seller_id=x".to_vec(), 400, "missing_field"),
        (vec![b'a'; 1024 * 1024], 413, "payload_too_large"),
    ] {
        let response = post(post_url.clone(), body).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
    let response = http
        .post(&post_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"seller_id":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        count_claims(&stack).await,
        claims_before,
        "nothing was claimed"
    );

    // The hot path's AWS requests, on a webhooks function of its own: a wrong token costs the
    // route's read; an accepted ping that read, the claim and the send.
    let requests = RequestLog::default();
    let router = webhooks::router(Arc::new(WebhooksDeps::build(requests.app(&stack.app))));
    let ping = |token: String, body: String| {
        let router = router.clone();
        async move {
            let request = Request::post(format!("/webhooks/gumroad/{token}"))
                .header("content-type", form)
                .body(Body::from(body))
                .unwrap();
            router.oneshot(request).await.unwrap().status().as_u16()
        }
    };
    let token = post_url.rsplit('/').next().unwrap().to_owned();
    requests.take();
    assert_eq!(ping("B".repeat(43), sale.clone()).await, 404);
    let refused = requests.take();
    assert_eq!(ping(token, sale).await, 202);
    let accepted = requests.take();
    assert_eq!(
        (refused, accepted),
        (
            vec!["GetItem".to_owned()],
            vec![
                "GetItem".to_owned(),
                "PutItem".to_owned(),
                "SendMessage".to_owned()
            ]
        ),
        "the route's read; then the claim and the send"
    );
    stack.shutdown().await;
}

/// Claims in the webhook-events table.
async fn count_claims(stack: &LocalStack) -> i32 {
    stack
        .app
        .dynamodb
        .scan()
        .table_name(&stack.app.config.tables.webhook_events)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count
}

#[tokio::test]
async fn the_cli_connects_shows_and_disconnects_a_company_through_the_stand_in() {
    let stack = start_running_stack().await;
    let creator = churnsaver::gumroad::Creator {
        base_url: stack.base_url(),
        token: open_session(&stack, "user_local_admin").await,
        company_id: Some(COMPANY.to_owned()),
    };
    let http = churnsaver::gumroad::http().unwrap();
    assert!(creator.status(&http).await.unwrap().is_none());
    let waiting = churnsaver::gumroad::Waiting {
        timeout: std::time::Duration::ZERO,
        every: std::time::Duration::ZERO,
    };
    let connection = creator
        .connect(&http, waiting, |url| {
            panic!("the stand-in's page sends straight back, yet {url} was handed out")
        })
        .await
        .unwrap();
    assert_eq!(
        churnsaver::gumroad::describe(&connection),
        format!(
            "company {COMPANY}: Gumroad seller {SELLER_ID}, active, 8 resource subscriptions registered, initial sync pending"
        )
    );
    assert_eq!(gumroad(&stack).subscriptions().len(), 8);
    let shown = creator.status(&http).await.unwrap().unwrap();
    assert_eq!(shown["seller_id"], SELLER_ID);
    creator.disconnect(&http).await.unwrap();
    assert!(creator.status(&http).await.unwrap().is_none());
    assert!(gumroad(&stack).subscriptions().is_empty());
    stack.shutdown().await;
}
