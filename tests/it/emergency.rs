//! Emergency mode against moto and the stand-in Whop API: switched on as `churnsaver emergency
//! on` stores it, no request reaches Whop (sync, one-membership sync, the health probe), sync
//! pages wait without using up their run's deferrals, state reads are marked stale, health is
//! degraded, webhooks are accepted and processed, the creator routes answer from stored state
//! marked stale; switched off, everything is back once the cache interval has passed.
//!
//! The functions are built over a copy of the stack's `App` whose switch cache is 1 s
//! (`EMERGENCY_CACHE_SECS=1`); the tests wait that interval after a switch, no longer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions, LOCAL_API_KEY};
use churnsaver::local::LocalStack;
use serde_json::Value;
use shared::App;
use shared::aws::emergency::DynamoEmergencies;
use shared::domain::emergency::{switch_off, switch_on};
use shared::domain::ports::{Clock, SyncStore, SystemClock};
use shared::domain::sync::worker::{PageOutcome, SyncError};
use shared::domain::sync::{PageJob, RunStatus};
use shared::domain::webhooks::Source;
use tower::ServiceExt;

use crate::helpers::{fixture, receive_all, signed_webhook, start_stack_with};

/// The stand-in Whop API with three memberships, a stack whose sync reads it (its key stored),
/// and the stack's `App` with a 1 s emergency cache.
async fn setup() -> (FakeWhop, LocalStack, Arc<App>) {
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    fake.seed(3);
    let stack = start_stack_with(BTreeMap::from([
        ("WhopApiBaseUrl".to_owned(), fake.base_url()),
        ("WhopCompanyId".to_owned(), COMPANY_ID.to_owned()),
    ]))
    .await;
    let key = serde_json::json!({ "api_key": LOCAL_API_KEY }).to_string();
    let secret_id = stack.app.config.secrets.whop_api_key.as_deref().unwrap();
    let secrets = &stack.app.secrets_manager;
    let put = secrets.put_secret_value().secret_id(secret_id);
    put.secret_string(key).send().await.unwrap();
    let mut app = (*stack.app).clone();
    app.config.emergency_cache_ttl = Duration::from_secs(1);
    (fake, stack, Arc::new(app))
}

/// `churnsaver emergency on whop --for 1h`, then the cache interval.
async fn whop_emergency_on(app: &App) {
    let store = DynamoEmergencies::of(app);
    let hour = Duration::from_secs(3600);
    let now = SystemClock.now();
    switch_on(&store, "whop", hour, "ops", "whop answers 5xx", now)
        .await
        .unwrap();
    tokio::time::sleep(app.config.emergency_cache_ttl).await;
}

/// `churnsaver emergency off whop`, then the cache interval.
async fn whop_emergency_off(app: &App) {
    let was = switch_off(&DynamoEmergencies::of(app), "whop")
        .await
        .unwrap();
    assert_eq!(was.map(|e| e.by), Some("ops".to_owned()));
    tokio::time::sleep(app.config.emergency_cache_ttl).await;
}

/// The next page job on the sync-jobs queue (deferred ones come back after the syncer's 1 s).
async fn next_job(app: &App) -> PageJob {
    let received = app
        .sqs
        .receive_message()
        .queue_url(&app.config.queues.sync_jobs)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let message = &received.messages()[0];
    serde_json::from_str(message.body().unwrap()).unwrap()
}

#[tokio::test]
async fn while_on_no_sync_call_reaches_whop_and_the_page_waits_without_using_a_deferral_then_off_resumes_it()
 {
    let (fake, _stack, app) = setup().await;
    let mut syncer = shared::edge::deps::sync::syncer(&app).unwrap();
    syncer.deferral = Duration::from_secs(1);
    whop_emergency_on(&app).await;

    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let job = next_job(&app).await;
    let outcome = syncer.run_page(&job).await.unwrap();
    let one = syncer.sync_membership("mem_00001", None, COMPANY_ID).await;

    assert_eq!(
        outcome,
        PageOutcome::Deferred {
            delay_secs: 1,
            error: "emergency_mode".into()
        }
    );
    assert!(
        matches!(&one, Err(SyncError::Api(e)) if e.code() == "emergency_mode"),
        "{one:?}"
    );
    assert_eq!(fake.counts().received, 0, "no request reached Whop");
    let paused = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(paused.status, RunStatus::Paused);
    assert_eq!(paused.last_error.as_deref(), Some("emergency_mode"));
    let again = next_job(&app).await;
    assert_eq!((again.page, again.deferrals), (job.page, job.deferrals));

    whop_emergency_off(&app).await;
    let resumed = syncer.run_page(&again).await.unwrap();

    assert!(
        matches!(
            resumed,
            PageOutcome::Counted {
                completed: true,
                ..
            }
        ),
        "{resumed:?}"
    );
    assert!(fake.counts().requests > 0);
    let run = syncer.runs.run(&run.run_id).await.unwrap().unwrap();
    assert_eq!((run.status, run.counts.seen), (RunStatus::Completed, 3));
}

/// A function's answer to an API Gateway event (a sample of `events/`): status and JSON body.
async fn answer(router: axum::Router, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body()).await;
    (
        status,
        serde_json::from_slice(&body.unwrap().to_bytes()).unwrap(),
    )
}

/// The `provider:whop` check of a health report.
fn whop_check(report: &Value) -> &Value {
    let checks = report["checks"].as_array().unwrap();
    checks
        .iter()
        .find(|c| c["name"] == "provider:whop")
        .unwrap()
}

#[tokio::test]
async fn while_on_reads_are_stale_health_is_degraded_and_webhooks_are_processed_without_calling_whop_then_off_clears_both()
 {
    let (fake, stack, app) = setup().await;
    let health = health::router(Arc::new(shared::edge::deps::health::HealthDeps::build(
        Arc::clone(&app),
    )));
    let state = state::router(Arc::new(shared::edge::deps::state::StateDeps::build(
        Arc::clone(&app),
    )));
    let (status, report) = answer(health.clone(), &fixture("apigw-health-external.json")).await;
    assert_eq!(
        (status, &whop_check(&report)["status"]),
        (200, &"ok".into())
    );
    let probed = fake.counts().received;
    assert_eq!(probed, 1, "the health probe reached Whop");
    whop_emergency_on(&app).await;

    // A webhook: accepted, queued, processed to state.
    let body = serde_json::from_str::<Value>(&fixture("apigw-webhook-whop.json")).unwrap();
    let body = body["body"].as_str().unwrap();
    let request = signed_webhook(&app, Source::Whop, body, "msg_emergency_1").await;
    let webhooks = webhooks::router(Arc::new(shared::edge::deps::webhooks::WebhooksDeps::build(
        Arc::clone(&app),
    )));
    let accepted = webhooks.oneshot(request).await.unwrap().status();
    let queued = receive_all(&stack).await;
    let worker = stack.workers.iter().find(|w| w.function == "processor");
    let processor = churnsaver::functions::registry(&app)["processor"].clone();
    churnsaver::local::deliver(
        &app.sqs,
        worker.unwrap(),
        &processor.invoke.unwrap(),
        queued,
    )
    .await
    .unwrap();
    let (read, membership) = answer(state.clone(), &fixture("apigw-membership-get.json")).await;
    let (listed, page) = answer(state.clone(), &fixture("apigw-user-memberships.json")).await;
    let (status, report) = answer(health.clone(), &fixture("apigw-health-external.json")).await;

    assert_eq!(accepted, 202);
    assert_eq!((read, &membership["status"]), (200, &"active".into()));
    assert_eq!(membership["stale"], true);
    assert_eq!(membership["stale_reason"], "emergency_mode");
    assert!(membership["age_secs"].as_u64().is_some(), "{membership}");
    assert_eq!((listed, &page["stale"]), (200, &true.into()));
    assert_eq!(page["memberships"][0]["stale"], true);
    assert_eq!((status, &report["status"]), (200, &"degraded".into()));
    let whop = whop_check(&report);
    assert_eq!(
        (&whop["status"], &whop["reason"]),
        (&"degraded".into(), &"emergency_mode".into())
    );
    assert_eq!(fake.counts().received, probed, "no request reached Whop");

    whop_emergency_off(&app).await;
    let (_, membership) = answer(state.clone(), &fixture("apigw-membership-get.json")).await;
    let (_, page) = answer(state, &fixture("apigw-user-memberships.json")).await;
    let (status, report) = answer(health, &fixture("apigw-health-external.json")).await;

    assert_eq!(membership["status"], "active");
    assert!(membership.get("stale").is_none(), "{membership}");
    assert!(page.get("stale").is_none(), "{page}");
    assert_eq!(
        (status, &whop_check(&report)["status"]),
        (200, &"ok".into())
    );
    assert_eq!(fake.counts().received, probed + 1, "probed again");
}

/// `GET /companies/{company}/{route}?{query}` by `user`, as API Gateway hands it over after the
/// authorizer (the user memberships sample, re-pointed).
fn company_request(user: &str, company: &str, route: &str, query: &str) -> String {
    let mut event: Value = serde_json::from_str(&fixture("apigw-user-memberships.json")).unwrap();
    let path = format!("/companies/{company}/{route}");
    let route_key = format!("GET /companies/{{company_id}}/{route}");
    event["rawPath"] = path.clone().into();
    event["rawQueryString"] = query.into();
    event["routeKey"] = route_key.clone().into();
    event["pathParameters"] = serde_json::json!({ "company_id": company });
    let context = &mut event["requestContext"];
    context["routeKey"] = route_key.into();
    context["http"]["path"] = path.into();
    context["authorizer"]["lambda"]["user_id"] = user.into();
    event.to_string()
}

#[tokio::test]
async fn while_on_an_admin_with_a_cached_access_answer_gets_the_at_risk_listing_and_summary_marked_stale_and_whop_gets_no_request()
 {
    let (fake, _stack, app) = setup().await;
    // `mem_00000` is past due: synced, it is at risk in the company.
    let syncer = shared::edge::deps::sync::syncer(&app).unwrap();
    syncer
        .sync_membership("mem_00000", None, COMPANY_ID)
        .await
        .unwrap();
    let state = state::router(Arc::new(shared::edge::deps::state::StateDeps::build(
        Arc::clone(&app),
    )));
    let at_risk = company_request(
        "user_local_admin",
        COMPANY_ID,
        "memberships",
        "signal=at_risk",
    );
    let summary = company_request("user_local_admin", COMPANY_ID, "summary", "");
    // Before: the admin's access answer is asked for and cached; nothing is stale.
    let (status, page) = answer(state.clone(), &at_risk).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.get("stale").is_none(), "{page}");
    assert!(page["memberships"][0].get("stale").is_none(), "{page}");
    assert_eq!(fake.counts().access_checks, 1);
    whop_emergency_on(&app).await;
    let received = fake.counts().received;

    let (listed, page) = answer(state.clone(), &at_risk).await;
    let (summed, figures) = answer(state.clone(), &summary).await;
    // An admin without a cached answer: the check would need Whop, which is switched off.
    let other = company_request("user_other_admin", "biz_other", "memberships", "");
    let (refused, error) = answer(state, &other).await;

    assert_eq!(listed, 200, "{page}");
    assert_eq!(page["stale"], true);
    let row = &page["memberships"][0];
    assert_eq!(page["memberships"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&row["id"], &row["signal"]["kind"]),
        (&"mem_00000".into(), &"at_risk".into())
    );
    assert_eq!(
        (&row["stale"], &row["stale_reason"]),
        (&true.into(), &"emergency_mode".into())
    );
    assert!(row["age_secs"].as_u64().is_some(), "{row}");
    assert_eq!(summed, 200, "{figures}");
    assert_eq!(figures["open_signals"]["at_risk"], 1);
    assert_eq!(
        (&figures["stale"], &figures["stale_reason"]),
        (&true.into(), &"emergency_mode".into())
    );
    // Its newest fact is that membership's, read after it.
    assert!(
        figures["age_secs"].as_u64() >= row["age_secs"].as_u64(),
        "{figures}"
    );
    assert_eq!(
        (refused, &error["error"]["code"]),
        (503, &"access_check_unavailable".into())
    );
    assert_eq!(fake.counts().received, received, "no request reached Whop");
}
