//! Companies' GA4 analytics (README "Analytics") on moto and the GA4 stand-in: the routes that
//! set the property, the sealed secret, and the events the notify function sends once per
//! signal change.

use std::sync::Arc;
use std::time::Duration;

use churnsaver::fake_ga4::Collected;
use churnsaver::local::LocalStack;
use serde_json::json;
use shared::aws::company_items::DynamoCompanyItems;
use shared::domain::analytics::{AnalyticsTarget, client_id, seal_context};
use shared::domain::ports::AnalyticsStore;
use shared::edge::deps::notify::{NotifyDeps, data_keys};

use crate::companies::{get, send};
use crate::helpers::{open_session, start_running_stack, start_stack, state_items};
use crate::notify::{COMPANY, deliver, jobs, notify};
use crate::processor::post_webhook;

const SECRET: &str = "local-Ga4-secret_1";

fn collected(stack: &LocalStack) -> Vec<Collected> {
    stack.ga4.as_ref().unwrap().collected()
}

/// Waits (up to 20 s) until the stand-in holds `count` requests.
async fn collected_at_least(stack: &LocalStack, count: usize) -> Vec<Collected> {
    for _ in 0..200 {
        let now = collected(stack);
        if now.len() >= count {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collected(stack)
}

#[tokio::test]
async fn a_company_that_turns_analytics_on_gets_one_event_per_signal_change_with_no_personal_data_and_its_secret_is_stored_sealed()
 {
    let stack = start_running_stack().await;
    let path = "/companies/biz_local/analytics";
    let admin = open_session(&stack, "user_local_admin").await;
    let other = open_session(&stack, "user_other_admin").await;
    let property = json!({"measurement_id": "G-LOCAL123", "api_secret": SECRET});

    let (status, body) = get(&stack, &admin, path).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    let (status, body) = send(&stack, &other, "PUT", path, Some(property.clone())).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("not_company_admin"))
    );
    let bad = json!({"measurement_id": "UA-1", "api_secret": SECRET});
    let (status, body) = send(&stack, &admin, "PUT", path, Some(bad)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_analytics"))
    );
    assert!(!body.to_string().contains(SECRET), "{body}");
    let (status, body) = send(&stack, &admin, "PUT", path, Some(property)).await;
    assert_eq!(
        (status, body.clone()),
        (
            200,
            json!({"measurement_id": "G-LOCAL123", "enabled": true})
        )
    );
    let (status, shown) = get(&stack, &admin, path).await;
    assert_eq!((status, shown), (200, body));
    let stored = state_items(&stack.app, "COMPANY#biz_local").await;
    let item = stored
        .iter()
        .find(|item| item["sk"].as_s().is_ok_and(|sk| sk == "ANALYTICS"))
        .unwrap();
    let sealed = item["api_secret"].as_s().unwrap();
    assert!(
        !sealed.contains(SECRET),
        "the table holds the secret sealed"
    );

    // A failed payment of a biz_local membership: at risk opens.
    let member = json!({"id": "user_ga4", "email": "ga4member@example.com", "name": "Gail"});
    let failed = json!({"id": "msg_ga4_1", "api_version": "v1", "type": "payment.failed",
        "timestamp": "2026-11-23T10:01:00.000Z", "company_id": "biz_local",
        "data": {"id": "pay_ga4_1", "status": "open", "substatus": "failed", "total": 29.0,
            "currency": "usd", "user": member, "membership": {"id": "mem_ga4", "status": "past_due"}}})
    .to_string();
    assert_eq!(post_webhook(&stack, "msg_ga4_1", &failed).await, 202);
    let sent = collected_at_least(&stack, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let request = &sent[0];
    assert_eq!(
        (request.measurement_id.as_str(), request.api_secret.as_str()),
        ("G-LOCAL123", SECRET),
        "the secret is opened for the call"
    );
    assert_eq!(
        request.body,
        json!({"client_id": client_id("biz_local", "mem_ga4"), "events": [
            {"name": "churn_signal_opened", "params": {"signal": "at_risk", "provider": "whop",
                "value": 29.0, "currency": "USD"}}]})
    );
    let text = request.body.to_string();
    for personal in ["mem_ga4", "user_ga4", "ga4member", "Gail"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    let (status, _) = send(&stack, &admin, "DELETE", path, None).await;
    assert_eq!(status, 204);
    let (status, _) = get(&stack, &admin, path).await;
    assert_eq!(status, 404);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_ga4_outage_fails_the_job_for_sqs_to_retry_and_the_redelivery_sends_the_batch_once() {
    let stack = start_stack().await;
    let keys = data_keys(&stack.app).unwrap();
    let target = AnalyticsTarget {
        measurement_id: "G-NOTIFY1".into(),
        sealed_api_secret: keys.seal(SECRET, &seal_context(COMPANY)).await.unwrap(),
    };
    DynamoCompanyItems::of(&stack.app)
        .put_company_analytics(COMPANY, &target)
        .await
        .unwrap();
    deliver(&stack, &[("msg_o1", 1, "payment.failed", "mem_o1")]).await;
    let queued = jobs(&stack).await;
    assert_eq!(queued.len(), 1);
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));
    let ga4 = stack.ga4.as_ref().unwrap();
    ga4.unavailable(1);

    let failed = notify(&deps, &queued).await;
    assert_eq!(failed.len(), 1, "the job fails for SQS to deliver it again");
    assert!(
        ga4.collected().is_empty(),
        "the 503 is not repeated within the attempt"
    );

    assert_eq!(
        notify(&deps, &queued).await.len(),
        1,
        "within the claim's lease a redelivery leaves it to the first attempt"
    );
    assert!(ga4.collected().is_empty());
    lease_passes(&stack).await;
    assert!(
        notify(&deps, &queued).await.is_empty(),
        "the redelivery after the lease sends"
    );
    assert!(
        notify(&deps, &queued).await.is_empty(),
        "a duplicate finds it sent"
    );
    let sent = ga4.collected();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].measurement_id, "G-NOTIFY1");
}

/// Moves every `sending` claim's time back past its lease, as the queue's visibility timeout
/// does before SQS delivers a failed job again.
async fn lease_passes(stack: &LocalStack) {
    let past = chrono::Utc::now() - chrono::Duration::minutes(10);
    for claim in state_items(&stack.app, "NOTIFY#").await {
        if claim["status"].as_s().is_ok_and(|s| s == "sending") {
            stack
                .app
                .dynamodb
                .update_item()
                .table_name(&stack.app.config.tables.state)
                .key("pk", claim["pk"].clone())
                .key("sk", claim["sk"].clone())
                .update_expression("SET claimed_at = :past")
                .expression_attribute_values(
                    ":past",
                    aws_sdk_dynamodb::types::AttributeValue::N(past.timestamp_millis().to_string()),
                )
                .send()
                .await
                .unwrap();
        }
    }
}
