//! The creator view on the local stack: the company routes behind the authorizer and the Whop
//! access check (the stand-in answers it: `user_local_admin` administers `biz_local`,
//! `user_other_admin` `biz_other`, `user_local_customer` is a customer of `biz_local`).

use churnsaver::local::LocalStack;
use serde_json::{Value, json};

use crate::helpers::{open_session, start_running_stack};
use crate::processor::post_webhook;

const COMPANY: &str = "biz_local";

/// `method path` on the stack with a session's token: status and JSON body.
pub async fn send(
    stack: &LocalStack,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.base_url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get(stack: &LocalStack, token: &str, path: &str) -> (u16, Value) {
    send(stack, token, "GET", path, None).await
}

fn access_checks(stack: &LocalStack) -> u64 {
    stack.whop.as_ref().unwrap().counts().access_checks
}

#[tokio::test]
async fn the_access_check_is_cached_for_minutes_and_fails_closed() {
    let stack = start_running_stack().await;
    let admin = open_session(&stack, "user_local_admin").await;
    let settings = format!("/companies/{COMPANY}/settings");

    let (status, body) = get(&stack, &admin, &settings).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(access_checks(&stack), 1);
    let (status, _) = get(&stack, &admin, &settings).await;
    assert_eq!(status, 200);
    assert_eq!(
        access_checks(&stack),
        1,
        "the second check within the window asks Whop nothing"
    );

    // Whop goes down: the fresh answer is still served, without a request.
    stack
        .whop
        .as_ref()
        .unwrap()
        .configure(|o| o.fail_every = Some(1));
    let (status, _) = get(&stack, &admin, &settings).await;
    assert_eq!(status, 200);
    assert_eq!(access_checks(&stack), 1);
    // A first check while Whop is down is refused.
    let other = open_session(&stack, "user_other_admin").await;
    let (status, body) = get(&stack, &other, "/companies/biz_other/settings").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("access_check_unavailable")),
        "{body}"
    );
    assert!(access_checks(&stack) > 1, "the first check asked Whop");
    stack.shutdown().await;
}

#[tokio::test]
async fn customers_and_admins_of_other_companies_are_refused_and_settings_are_validated() {
    let stack = start_running_stack().await;
    let settings = format!("/companies/{COMPANY}/settings");
    for user in ["user_local_customer", "user_other_admin", "user_nobody"] {
        let token = open_session(&stack, user).await;
        let (status, body) = get(&stack, &token, &settings).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (403, &json!("not_company_admin")),
            "{user}"
        );
    }

    let admin = open_session(&stack, "user_local_admin").await;
    let (status, body) = get(&stack, &admin, &settings).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["member_messages"], false,
        "member messages are off by default"
    );
    assert_eq!(body["recipients"], json!([]));

    let invalid = json!({"recipients": ["nope"], "digest": {"hour": 25, "time_zone": "Nowhere/City"}, "extra": 1});
    let (status, body) = send(&stack, &admin, "PUT", &settings, Some(invalid)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_settings")),
        "{body}"
    );
    let fields: Vec<&str> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["extra", "recipients[0]", "digest.hour", "digest.time_zone"]
    );

    let valid = json!({"recipients": ["ops@example.com"], "signals": ["at_risk", "churned"], "immediate": true,
        "digest": {"hour": 8, "time_zone": "Europe/Paris"}, "sender_name": "Local Co", "reply_to": "help@example.com"});
    let (status, saved) = send(&stack, &admin, "PUT", &settings, Some(valid.clone())).await;
    assert_eq!(status, 200, "{saved}");
    let (status, read) = get(&stack, &admin, &settings).await;
    assert_eq!((status, &read), (200, &saved));
    assert_eq!(read["digest"], valid["digest"]);
    assert_eq!(read["member_messages"], false);

    let (status, body) = get(
        &stack,
        &admin,
        &format!("/companies/{COMPANY}/memberships?signal=lost&limit=0"),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_query")),
        "{body}"
    );
    assert_eq!(body["error"]["problems"][0]["field"], "signal");
    assert_eq!(body["error"]["problems"][1]["field"], "limit");
    let (status, body) = get(
        &stack,
        &admin,
        &format!("/companies/{COMPANY}/summary?since=yesterday"),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["problems"][0]["field"]),
        (400, &json!("since")),
        "{body}"
    );
    stack.shutdown().await;
}

/// A Whop v1 delivery of `kind` for `membership` of [`COMPANY`] at minute `minute`.
fn whop_event(n: usize, minute: usize, kind: &str, data: &Value) -> (String, String) {
    let id = format!("evt_company_{n}");
    let body = json!({
        "id": id, "api_version": "v1", "type": kind,
        "timestamp": format!("2026-11-23T10:{minute:02}:00.000Z"),
        "company_id": COMPANY, "data": data,
    });
    (id, body.to_string())
}

fn membership(id: &str, status: &str) -> Value {
    json!({"id": id, "status": status, "cancel_at_period_end": false, "user": {"id": format!("user_{id}")},
           "company": {"id": COMPANY}, "plan": {"id": "plan_1"}, "product": {"id": "prod_1"}})
}

fn payment(id: &str, membership: &str, failed: bool, total: f64) -> Value {
    let (status, substatus, member_status) = if failed {
        ("open", "failed", "past_due")
    } else {
        ("paid", "succeeded", "active")
    };
    json!({"id": id, "status": status, "substatus": substatus, "total": total, "currency": "usd",
           "user": {"id": format!("user_{membership}")}, "company": {"id": COMPANY},
           "membership": {"id": membership, "status": member_status}})
}

#[tokio::test]
async fn an_admin_sees_who_is_at_risk_churned_and_recovered_and_what_it_is_worth() {
    let stack = start_running_stack().await;
    let events = [
        whop_event(
            0,
            0,
            "membership.activated",
            &membership("mem_risk", "active"),
        ),
        whop_event(
            1,
            1,
            "payment.failed",
            &payment("pay_risk", "mem_risk", true, 29.0),
        ),
        whop_event(
            2,
            2,
            "membership.activated",
            &membership("mem_gone", "active"),
        ),
        whop_event(
            3,
            3,
            "membership.deactivated",
            &membership("mem_gone", "canceled"),
        ),
        whop_event(
            4,
            4,
            "membership.activated",
            &membership("mem_back", "active"),
        ),
        whop_event(
            5,
            5,
            "payment.failed",
            &payment("pay_back_1", "mem_back", true, 19.0),
        ),
        whop_event(
            6,
            6,
            "payment.succeeded",
            &payment("pay_back_2", "mem_back", false, 19.0),
        ),
    ];
    for (id, body) in &events {
        assert_eq!(post_webhook(&stack, id, body).await, 202, "{id}");
    }
    // Wait for the queue workers to record all seven events.
    let store = shared::aws::state::DynamoState::of(&stack.app);
    for _ in 0..100 {
        let mut recorded = 0;
        for id in ["mem_risk", "mem_gone", "mem_back"] {
            // moto applies an UpdateItem that creates an item in steps (the keys first), so a
            // read racing the worker's write may find a keys-only item: not recorded yet.
            // DynamoDB writes an item at once.
            if let Ok(Some(stored)) =
                shared::domain::ports::StateStore::membership(&store, id).await
            {
                recorded += stored.observations.len();
            }
        }
        if recorded == events.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let admin = open_session(&stack, "user_local_admin").await;
    for (signal, expected) in [
        ("at_risk", "mem_risk"),
        ("churned", "mem_gone"),
        ("recovered", "mem_back"),
    ] {
        let (status, body) = get(
            &stack,
            &admin,
            &format!("/companies/{COMPANY}/memberships?signal={signal}"),
        )
        .await;
        assert_eq!(status, 200, "{signal}: {body}");
        let ids: Vec<&str> = body["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [expected], "{signal}");
    }
    let (_, at_risk) = get(
        &stack,
        &admin,
        &format!("/companies/{COMPANY}/memberships?signal=at_risk"),
    )
    .await;
    let row = &at_risk["memberships"][0];
    assert_eq!(row["last_payment"]["amount"], "29.00");
    assert_eq!(row["last_payment"]["outcome"], "failed");
    assert_eq!(row["user"]["id"], "user_mem_risk");

    let period = "since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z";
    let (status, summary) = get(
        &stack,
        &admin,
        &format!("/companies/{COMPANY}/summary?{period}"),
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["revenue_at_risk"], json!({"usd": "29.00"}));
    assert_eq!(summary["revenue_recovered"], json!({"usd": "19.00"}));
    assert_eq!(summary["open_signals"]["at_risk"], 1);
    assert_eq!(summary["open_signals"]["churned"], 1);
    assert_eq!(summary["open_signals"]["recovered"], 1);

    for user in ["user_local_customer", "user_other_admin"] {
        let token = open_session(&stack, user).await;
        for path in ["memberships?signal=at_risk", "summary"] {
            let (status, body) = get(&stack, &token, &format!("/companies/{COMPANY}/{path}")).await;
            assert_eq!(
                (status, &body["error"]["code"]),
                (403, &json!("not_company_admin")),
                "{user} {path}"
            );
        }
    }
    stack.shutdown().await;
}
