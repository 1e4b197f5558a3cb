//! Many creators in one deployment: profiles, `/me`, the creator's own plan, and isolation. The
//! stand-in Whop API says who administers what: `user_local_admin` administers `biz_local`,
//! `user_other_admin` `biz_other`.

use std::collections::BTreeMap;

use churnsaver::local::LocalStack;
use churnsaver::template::{EventDef, Template};
use serde_json::{Value, json};
use shared::domain::auth::sessions::{Client, Login};
use shared::domain::creators::record_sign_in;
use shared::domain::ports::{ProfileStore, StateStore};
use shared::edge::deps::auth::AuthDeps;

use crate::companies::{get, send};
use crate::helpers::{
    RequestLog, open_session, start_running_stack, start_running_stack_with, start_stack,
};
use crate::processor::post_webhook;

/// The two creators and the company each administers.
const CREATORS: [(&str, &str); 2] = [
    ("user_local_admin", "biz_local"),
    ("user_other_admin", "biz_other"),
];

/// A Whop v1 delivery `id` of `kind` for membership `membership` of `user` in `company`.
fn delivery(
    id: &str,
    minute: usize,
    kind: &str,
    company: &str,
    membership: &Value,
) -> (String, String) {
    let body = json!({
        "id": id, "api_version": "v1", "type": kind,
        "timestamp": format!("2026-11-23T10:{minute:02}:00.000Z"),
        "company_id": company, "data": membership,
    });
    (id.to_owned(), body.to_string())
}

fn membership(
    id: &str,
    status: &str,
    user: &str,
    company: &str,
    product: &str,
    plan: &str,
) -> Value {
    json!({"id": id, "status": status, "cancel_at_period_end": false, "user": {"id": user},
           "company": {"id": company}, "plan": {"id": plan}, "product": {"id": product}})
}

/// Posts `deliveries`, then waits until the queue workers recorded `observations` of each
/// membership.
async fn deliver_all(
    stack: &LocalStack,
    deliveries: &[(String, String)],
    observations: &[(&str, usize)],
) {
    for (id, body) in deliveries {
        assert_eq!(post_webhook(stack, id, body).await, 202, "{id}");
    }
    let store = shared::aws::state::DynamoState::of(&stack.app);
    for _ in 0..200 {
        let mut done = true;
        for (id, expected) in observations {
            // moto applies an UpdateItem that creates an item in steps (the keys first), so a
            // read racing the worker's write may find a keys-only item: not recorded yet.
            // DynamoDB writes an item at once.
            let recorded = store
                .membership(id)
                .await
                .ok()
                .flatten()
                .map_or(0, |m| m.observations.len());
            done &= recorded >= *expected;
        }
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the events were not recorded");
}

/// Every route of the HTTP API, as the template declares them.
fn template_routes() -> Vec<(String, String)> {
    let template = Template::load(&churnsaver::template_path()).unwrap();
    template
        .functions()
        .unwrap()
        .iter()
        .flat_map(|f| f.events.clone())
        .filter_map(|e| match e {
            EventDef::Http(route) => Some((route.method, route.path)),
            _ => None,
        })
        .collect()
}

/// Every creator route naming a company in its path (`{company_id}`), so a route added there is
/// in this list.
/// Every route naming its company in its path: the writes first, so a read finds what they
/// set (`PUT …/analytics` before its `GET`), the removals last.
fn company_routes() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = template_routes()
        .into_iter()
        .filter(|(_, path)| path.contains("{company_id}"))
        .collect();
    routes.sort_by_key(|(method, _)| match method.as_str() {
        "PUT" => 0,
        "DELETE" => 2,
        _ => 1,
    });
    routes
}

/// Every route naming its company in the query (`?company_id=`): all of `/connections/…` but
/// the provider's callback, which names none (its signed `state` carries the company the start
/// checked), and the ingestion routes without a job id in their path.
fn company_query_routes() -> Vec<(String, String)> {
    template_routes()
        .into_iter()
        .filter(|(_, path)| {
            (path.starts_with("/connections/") && !path.ends_with("/callback"))
                || (path.starts_with("/ingestions") && !path.contains('{'))
        })
        .collect()
}

/// Every route naming a job of a company in its path (`{id}`, the company its prefix).
fn job_routes() -> Vec<(String, String)> {
    template_routes()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/ingestions/") && path.contains("{id}"))
        .collect()
}

#[tokio::test]
async fn two_creators_see_only_their_own_companies_and_every_company_route_refuses_the_other() {
    let stack = start_running_stack().await;
    let deliveries: Vec<(String, String)> = CREATORS
        .iter()
        .enumerate()
        .map(|(n, (_, company))| {
            let id = format!("mem_{company}");
            let data = membership(
                &id,
                "active",
                &format!("user_member_{n}"),
                company,
                "prod_1",
                "plan_1",
            );
            delivery(
                &format!("evt_creators_{n}"),
                n,
                "membership.activated",
                company,
                &data,
            )
        })
        .collect();
    deliver_all(
        &stack,
        &deliveries,
        &[("mem_biz_local", 1), ("mem_biz_other", 1)],
    )
    .await;

    let routes = company_routes();
    assert!(routes.len() >= 4, "{routes:?}");
    for (n, (user, own)) in CREATORS.iter().enumerate() {
        let (_, other) = CREATORS[1 - n];
        let token = open_session(&stack, user).await;

        let (status, me) = get(&stack, &token, "/me").await;
        assert_eq!((status, &me["user_id"]), (200, &json!(user)), "{me}");
        assert_eq!(me["plan"]["tier"], "free");
        let (status, mine) = get(&stack, &token, "/me/companies").await;
        assert_eq!(status, 200, "{mine}");
        let ids: Vec<&str> = mine["companies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["company_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [*own], "{user} sees only their own company");
        assert_eq!(mine["companies"][0]["open_signals"]["at_risk"], 0);

        for (method, path) in &routes {
            // A property to set for analytics; any settings (`{}` takes the defaults).
            let body = (method == "PUT").then(|| {
                if path.ends_with("/analytics") {
                    json!({"measurement_id": "G-ISOLATE1", "api_secret": "isolation-secret"})
                } else {
                    json!({})
                }
            });
            let theirs = path.replace("{company_id}", other);
            let (status, answer) = send(&stack, &token, method, &theirs, body.clone()).await;
            assert_eq!(
                (status, &answer["error"]["code"]),
                (403, &json!("not_company_admin")),
                "{user}: {method} {theirs}"
            );
            let ours = path.replace("{company_id}", own);
            let (status, answer) = send(&stack, &token, method, &ours, body).await;
            let done = if method == "DELETE" { 204 } else { 200 };
            assert_eq!(status, done, "{user}: {method} {ours}: {answer}");
        }
        let by_query = company_query_routes();
        assert!(by_query.len() >= 4, "{by_query:?}");
        for (method, path) in &by_query {
            let theirs = format!("{path}?company_id={other}");
            let body = (method == "POST" && path.starts_with("/ingestions"))
                .then(|| json!({"file_name": "report.xlsx", "size": 10}));
            let (status, answer) = send(&stack, &token, method, &theirs, body).await;
            assert_eq!(
                (status, &answer["error"]["code"]),
                (403, &json!("not_company_admin")),
                "{user}: {method} {theirs}"
            );
        }
        let jobs = job_routes();
        assert!(!jobs.is_empty());
        for (method, path) in &jobs {
            let theirs = path.replace("{id}", &format!("{other}.0192f0c1000070008000000000000000"));
            let (status, answer) = send(&stack, &token, method, &theirs, None).await;
            assert_eq!(
                (status, &answer["error"]["code"]),
                (403, &json!("not_company_admin")),
                "{user}: {method} {theirs}"
            );
        }
        // Their own company's listing holds their member only.
        let (_, page) = get(&stack, &token, &format!("/companies/{own}/memberships")).await;
        assert_eq!(page["memberships"].as_array().unwrap().len(), 1);
        assert_eq!(page["memberships"][0]["id"], format!("mem_{own}"), "{page}");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn a_creator_whose_churn_saver_membership_goes_invalid_drops_to_free_and_member_messages_answer_402()
 {
    let parameters = BTreeMap::from([
        (
            "ChurnSaverProductId".to_owned(),
            "prod_churnsaver".to_owned(),
        ),
        (
            "ChurnSaverTierPlans".to_owned(),
            "plan_cspro:pro,plan_csstarter:starter".to_owned(),
        ),
    ]);
    let stack = start_running_stack_with(parameters).await;
    let (creator, company) = CREATORS[0];
    let plan = |status| {
        membership(
            "mem_cs",
            status,
            creator,
            "biz_churnsaver",
            "prod_churnsaver",
            "plan_cspro",
        )
    };
    let valid = delivery(
        "evt_cs_1",
        1,
        "membership.activated",
        "biz_churnsaver",
        &plan("active"),
    );
    deliver_all(&stack, &[valid], &[("mem_cs", 1)]).await;

    let token = open_session(&stack, creator).await;
    let (status, me) = get(&stack, &token, "/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["plan"]["tier"], "pro", "{me}");
    assert_eq!(me["plan"]["membership_id"], "mem_cs");
    assert_eq!(me["plan"]["allows"]["member_messages"], true);
    let settings = format!("/companies/{company}/settings");
    let messages_on = json!({"member_messages": true});
    let (status, saved) = send(&stack, &token, "PUT", &settings, Some(messages_on.clone())).await;
    assert_eq!(
        (status, &saved["member_messages"]),
        (200, &json!(true)),
        "{saved}"
    );

    let invalid = delivery(
        "evt_cs_2",
        2,
        "membership.deactivated",
        "biz_churnsaver",
        &plan("canceled"),
    );
    deliver_all(&stack, &[invalid], &[("mem_cs", 2)]).await;
    let (_, me) = get(&stack, &token, "/me").await;
    assert_eq!(
        (&me["plan"]["tier"], &me["plan"]["valid"]),
        (&json!("free"), &json!(false)),
        "{me}"
    );
    let (status, refused) = send(&stack, &token, "PUT", &settings, Some(messages_on)).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (402, &json!("plan_required")),
        "{refused}"
    );
    let (status, _) = send(
        &stack,
        &token,
        "PUT",
        &settings,
        Some(json!({"member_messages": false})),
    )
    .await;
    assert_eq!(status, 200, "what the free tier allows is still saved");
    stack.shutdown().await;
}

#[tokio::test]
async fn a_profile_costs_one_conditional_write_at_a_first_sign_in_and_nothing_on_later_ones() {
    let stack = start_stack().await;
    let log = RequestLog::default();
    let deps = AuthDeps::build(log.app(&stack.app));
    let sign_in = async |user: &str, identity: Option<&str>| {
        let login = Login {
            identity: identity.map(str::to_owned),
            email: None,
        };
        let issued = deps
            .sessions
            .create_for(user, &login, &Client::default())
            .await
            .unwrap();
        let identity = shared::domain::creators::profile::sign_in_identity(user, identity);
        record_sign_in(
            &deps.profiles,
            user,
            identity,
            issued.returning,
            chrono::Utc::now(),
        )
        .await;
        log.take()
    };
    // The signing key's first read is not the sign-in's cost.
    sign_in("user_warm", None).await;

    assert_eq!(
        sign_in("user_p", None).await,
        ["PutItem", "Query", "UpdateItem"],
        "first sign-in"
    );
    assert_eq!(
        sign_in("user_p", None).await,
        ["PutItem", "Query"],
        "a later sign-in"
    );
    // A Google identity linked to the Whop user reaches the same profile, once.
    assert_eq!(
        sign_in("user_p", Some("google:9")).await,
        ["PutItem", "Query", "UpdateItem"]
    );
    assert_eq!(
        sign_in("user_p", Some("google:9")).await,
        ["PutItem", "Query"]
    );
    // An unlinked Google identity has its own profile.
    sign_in("google:7", Some("google:7")).await;

    let profile = deps.profiles.profile("user_p").await.unwrap().unwrap();
    assert_eq!(profile.identities, ["user_p", "google:9"]);
    assert!(profile.connections.is_empty());
    let unlinked = deps.profiles.profile("google:7").await.unwrap().unwrap();
    assert_eq!(unlinked.identities, ["google:7"]);
    // A repeated write (a sign-in whose sessions were all deleted) changes nothing.
    assert!(
        !deps
            .profiles
            .record_identity("user_p", "user_p", chrono::Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(
        deps.profiles.profile("user_p").await.unwrap().unwrap(),
        profile
    );
}
