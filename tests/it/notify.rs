//! Notifications end to end on the local stack: signed Whop webhooks through the webhooks
//! function, the processor's and the notify function's real handlers over the stack's queues, the
//! stand-in mail API capturing what is sent, and the unsubscribe and Resend feedback routes.

use std::sync::Arc;

use churnsaver::fake_mail::CapturedEmail;
use churnsaver::local::LocalStack;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::App;
use shared::aws::company_items::DynamoCompanyItems;
use shared::domain::companies::settings::CompanySettings;
use shared::domain::ports::{SettingsStore, SuppressionList};
use shared::domain::webhooks::Source;
use shared::edge::deps::notify::NotifyDeps;
use shared::edge::deps::webhooks::{WebhooksDeps, suppression_list};
use tower::ServiceExt;

use crate::helpers::{
    RequestLog, receive_all, receive_all_from, signed_webhook, start_stack, state_items,
};
use crate::processor::{failed_ids, ingest, process, sqs_event};

pub(crate) const COMPANY: &str = "biz_notify";
const OWNER: &str = "owner@example.com";

fn manage_url(membership: &str) -> String {
    format!("https://whop.com/orders/{membership}/manage/")
}

fn member_address(membership: &str) -> String {
    format!("{membership}@example.com")
}

/// A Whop v1 delivery `id` of `kind` about `membership`, whose member is
/// [`member_address`]`(membership)`.
fn whop_event(id: &str, minute: u32, kind: &str, membership: &str) -> String {
    let user = json!({"id": format!("user_{membership}"), "email": member_address(membership),
                      "name": "Ann Member"});
    let payment = format!("pay_{id}");
    let data = match kind {
        "payment.failed" => json!({"id": payment, "status": "open", "substatus": "failed",
            "total": 29.0, "currency": "usd", "user": user,
            "membership": {"id": membership, "status": "past_due"}}),
        "payment.succeeded" => json!({"id": payment, "status": "paid", "substatus": "succeeded",
            "total": 29.0, "currency": "usd", "user": user,
            "membership": {"id": membership, "status": "active"}}),
        _ => json!({"id": membership, "status": "active", "cancel_at_period_end": false,
            "user": user, "manage_url": manage_url(membership),
            "plan": {"id": "plan_1"}, "product": {"id": "prod_1"}}),
    };
    json!({"id": id, "api_version": "v1", "type": kind,
           "timestamp": format!("2026-11-23T10:{minute:02}:00.000Z"),
           "company_id": COMPANY, "data": data})
    .to_string()
}

/// Alerts as each signal opens, to [`OWNER`], and member messages.
async fn turn_on_alerts_and_member_messages(app: &App) {
    let settings = CompanySettings {
        recipients: vec![OWNER.to_owned()],
        immediate: true,
        member_messages: true,
        ..CompanySettings::default()
    };
    DynamoCompanyItems::of(app)
        .put_company_settings(COMPANY, &settings)
        .await
        .unwrap();
}

/// Ingests each Whop delivery `(id, minute, kind, membership)` (all accepted), then runs the
/// processor over the events queue.
pub(crate) async fn deliver(stack: &LocalStack, deliveries: &[(&str, u32, &str, &str)]) {
    for (id, minute, kind, membership) in deliveries {
        let body = whop_event(id, *minute, kind, membership);
        assert_eq!(ingest(&stack.app, id, &body).await, 202);
    }
    let events = receive_all(stack).await;
    assert!(process(&stack.app, &events).await.is_empty());
}

/// The notification jobs on the queue, received once.
pub(crate) async fn jobs(stack: &LocalStack) -> Vec<aws_sdk_sqs::types::Message> {
    let queue = stack.app.config.notify.queue.clone().unwrap();
    receive_all_from(stack, &queue).await
}

/// Runs the notify function's handler on `jobs`; returns the failed message ids.
pub(crate) async fn notify(
    deps: &Arc<NotifyDeps>,
    jobs: &[aws_sdk_sqs::types::Message],
) -> Vec<String> {
    let event = LambdaEvent::new(sqs_event(jobs), Context::default());
    failed_ids(notify::handle(Arc::clone(deps), event).await.unwrap())
}

pub(crate) fn mail(stack: &LocalStack) -> Vec<CapturedEmail> {
    stack.mail.as_ref().unwrap().messages()
}

/// (recipient, subject) of each message, oldest first.
fn sent(messages: &[CapturedEmail]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| (m.to.join(","), m.subject.clone()))
        .collect()
}

pub(crate) fn sorted(mut operations: Vec<String>) -> Vec<String> {
    operations.sort();
    operations
}

pub(crate) fn ops(counts: &[(&str, usize)]) -> Vec<String> {
    sorted(
        counts
            .iter()
            .flat_map(|(op, n)| std::iter::repeat_n((*op).to_owned(), *n))
            .collect(),
    )
}

#[tokio::test]
async fn a_failed_payment_sends_one_alert_and_one_member_email_with_its_manage_url_however_often_it_comes_and_a_success_one_recovered_alert()
 {
    let stack = start_stack().await;
    turn_on_alerts_and_member_messages(&stack.app).await;
    let member = member_address("mem_n1");
    deliver(
        &stack,
        &[("evt_n1_active", 0, "membership.activated", "mem_n1")],
    )
    .await;
    // The failed payment 3 times: accepted, a duplicate while it is queued (409), and a
    // duplicate once processed (200).
    let failed = whop_event("evt_n1_failed", 1, "payment.failed", "mem_n1");
    assert_eq!(ingest(&stack.app, "evt_n1_failed", &failed).await, 202);
    assert_eq!(ingest(&stack.app, "evt_n1_failed", &failed).await, 409);
    assert!(
        process(&stack.app, &receive_all(&stack).await)
            .await
            .is_empty()
    );
    assert_eq!(ingest(&stack.app, "evt_n1_failed", &failed).await, 200);
    assert!(receive_all(&stack).await.is_empty());
    let failed_jobs = jobs(&stack).await;
    assert_eq!(failed_jobs.len(), 1, "one job: one event opened a signal");

    let requests = RequestLog::default();
    let deps = Arc::new(NotifyDeps::build(requests.app(&stack.app)));
    assert!(notify(&deps, &failed_jobs).await.is_empty());
    let first_run = requests.take();

    let messages = mail(&stack);
    assert_eq!(
        sent(&messages),
        [
            (OWNER.to_owned(), "A membership is at risk".to_owned()),
            (
                member.clone(),
                "Your payment failed: update your payment method".to_owned()
            ),
        ]
    );
    let member_email = &messages[1];
    assert!(member_email.text.contains(&manage_url("mem_n1")));
    // The HTML part escapes `/` too.
    assert!(
        member_email
            .html
            .contains(&manage_url("mem_n1").replace('/', "&#x2f;"))
    );
    assert!(
        member_email.headers["List-Unsubscribe"].starts_with("<http://"),
        "{:?}",
        member_email.headers
    );
    assert_eq!(
        member_email.headers["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert!(!messages[0].headers.contains_key("List-Unsubscribe"));
    // Per job: the company's settings, its analytics property (none here) and the membership
    // (GetItem each); per message: the claim
    // (PutItem), the suppression check (GetItem), the outcome (UpdateItem); the first job of a
    // cold start also reads three secrets (the suppression key, Resend's key, the unsubscribe
    // key) and the provider admission two items (emergency switch and breaker), cached after.
    // (Each send's add to Resend's shared rate limit is not logged: see `RequestLog`.)
    assert_eq!(
        sorted(first_run.clone()),
        ops(&[
            ("GetItem", 7),
            ("GetSecretValue", 3),
            ("PutItem", 2),
            ("UpdateItem", 2)
        ]),
        "{first_run:?}"
    );

    // The job delivered again after its send: nothing new, and no send or secret read.
    assert!(notify(&deps, &failed_jobs).await.is_empty());
    let redelivered = requests.take();
    assert_eq!(mail(&stack).len(), 2);
    assert_eq!(
        sorted(redelivered.clone()),
        ops(&[("GetItem", 5), ("PutItem", 2)]),
        "a redelivered job: settings, analytics property and membership (GetItem each), then per message the claim's \
         refused PutItem and the GetItem that finds it finished"
    );

    // The payment then succeeds: one recovered alert, nothing to the member.
    deliver(&stack, &[("evt_n1_paid", 2, "payment.succeeded", "mem_n1")]).await;
    let paid_jobs = jobs(&stack).await;
    assert_eq!(paid_jobs.len(), 1);
    assert!(notify(&deps, &paid_jobs).await.is_empty());
    let warm_one_message = requests.take();
    assert_eq!(
        sent(&mail(&stack)[2..]),
        [(OWNER.to_owned(), "A membership recovered".to_owned())]
    );
    // Warm: settings, analytics property, membership, and for its one message claim,
    // suppression check, record.
    assert_eq!(
        sorted(warm_one_message.clone()),
        ops(&[("GetItem", 4), ("PutItem", 1), ("UpdateItem", 1)]),
        "{warm_one_message:?}"
    );
    stack.shutdown().await;
}

/// The `status` of every message claim (`NOTIFY#` items), sorted.
async fn claim_statuses(app: &App) -> Vec<String> {
    let items = state_items(app, "NOTIFY#").await;
    let mut statuses: Vec<String> = items
        .iter()
        .map(|item| item["status"].as_s().unwrap().clone())
        .collect();
    statuses.sort();
    statuses
}

/// The webhooks function's router over the stack.
fn webhooks_router(stack: &LocalStack) -> axum::Router {
    webhooks::router(Arc::new(WebhooksDeps::build(Arc::clone(&stack.app))))
}

async fn status(router: &axum::Router, request: http::Request<axum::body::Body>) -> u16 {
    router
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn after_a_one_click_unsubscribe_or_a_signed_complaint_the_member_gets_no_further_email() {
    let stack = start_stack().await;
    turn_on_alerts_and_member_messages(&stack.app).await;
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));
    let router = webhooks_router(&stack);

    // mem_u: a failed payment, whose e-mail's one-click link the member then POSTs.
    deliver(
        &stack,
        &[
            ("evt_u_active", 0, "membership.activated", "mem_u"),
            ("evt_u_failed", 1, "payment.failed", "mem_u"),
        ],
    )
    .await;
    assert!(notify(&deps, &jobs(&stack).await).await.is_empty());
    let messages = mail(&stack);
    assert_eq!(messages.len(), 2);
    let link = messages[1].headers["List-Unsubscribe"]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let link = url::Url::parse(&link).unwrap();
    assert_eq!(link.path(), "/unsubscribe");
    let one_click = http::Request::post(format!("/unsubscribe?{}", link.query().unwrap()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    assert_eq!(status(&router, one_click).await, 200);

    // mem_c: Resend reports a complaint about the member's address before anything is sent.
    let complaint = json!({"type": "email.complained", "created_at": "2026-11-23T10:00:00.000Z",
        "data": {"email_id": "e_1", "from": "alerts@churnsaver.example",
                 "to": [member_address("mem_c")], "subject": "Your payment failed"}})
    .to_string();
    let request = signed_webhook(&stack.app, Source::Resend, &complaint, "msg_complaint_n").await;
    assert_eq!(status(&router, request).await, 200);
    let list = suppression_list(&stack.app).unwrap();
    assert!(list.is_suppressed(&member_address("mem_c")).await.unwrap());
    assert!(list.is_suppressed(&member_address("mem_u")).await.unwrap());

    // A new failed payment for each: the creator is told, neither member is written to.
    deliver(
        &stack,
        &[
            ("evt_u_paid", 2, "payment.succeeded", "mem_u"),
            ("evt_c_active", 0, "membership.activated", "mem_c"),
        ],
    )
    .await;
    assert!(notify(&deps, &jobs(&stack).await).await.is_empty());
    deliver(
        &stack,
        &[
            ("evt_u_failed_again", 3, "payment.failed", "mem_u"),
            ("evt_c_failed", 1, "payment.failed", "mem_c"),
        ],
    )
    .await;
    assert!(notify(&deps, &jobs(&stack).await).await.is_empty());
    let later = mail(&stack)[2..].to_vec();
    let mut recipients: Vec<String> = later.iter().map(|m| m.to.join(",")).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        [OWNER; 3],
        "the recovered alert and two at-risk alerts; no member e-mail: {:?}",
        sent(&later)
    );
    assert_eq!(
        claim_statuses(&stack.app).await,
        [
            "sent",
            "sent",
            "sent",
            "sent",
            "sent",
            "suppressed",
            "suppressed"
        ],
        "both member messages were planned and stopped by the suppression list"
    );
    stack.shutdown().await;
}

/// The alert phone of the texting company.
const PHONE: &str = "+14155550123";

#[tokio::test]
async fn no_log_line_of_a_notify_run_names_an_address_a_number_a_member_or_a_message_body() {
    let stack = start_stack().await;
    let settings = CompanySettings {
        recipients: vec![OWNER.to_owned()],
        immediate: true,
        member_messages: true,
        alert_phones: vec![PHONE.to_owned()],
        urgent_signals: vec![shared::domain::state::model::SignalKind::AtRisk],
        ..CompanySettings::default()
    };
    DynamoCompanyItems::of(&stack.app)
        .put_company_settings(COMPANY, &settings)
        .await
        .unwrap();
    deliver(
        &stack,
        &[
            ("evt_l_active", 0, "membership.activated", "mem_l"),
            ("evt_l_failed", 1, "payment.failed", "mem_l"),
        ],
    )
    .await;
    let jobs = jobs(&stack).await;
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));

    let captured = crate::unsubscribe::Captured::default();
    let guard = tracing::subscriber::set_default(captured.clone());
    let failed = notify(&deps, &jobs).await;
    drop(guard);
    let logs = captured.0.lock().unwrap().clone();

    assert!(failed.is_empty(), "{logs}");
    let messages = mail(&stack);
    assert_eq!(messages.len(), 2, "{:?} {logs}", sent(&messages));
    let texts = stack.messaging.as_ref().unwrap().accepted();
    let [text] = &texts[..] else {
        panic!("one text: {texts:?} {logs}")
    };
    assert_eq!(text.to, [PHONE]);
    let body: String = url::form_urlencoded::parse(text.body.as_bytes())
        .find(|(k, _)| k == "Body")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(body.contains("Ann"), "{body}");

    assert!(logs.contains("message done"), "{logs}");
    let member_text = messages[1]
        .text
        .lines()
        .find(|l| l.len() > 20)
        .unwrap()
        .to_owned();
    for needle in [
        OWNER,
        &member_address("mem_l"),
        "example.com",
        PHONE,
        "4155550123",
        "Ann",
        "Member",
        &manage_url("mem_l"),
        &body,
        &member_text,
    ] {
        assert!(!logs.contains(needle), "{needle:?} in the logs: {logs}");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn a_dead_mail_api_fails_the_jobs_for_sqs_to_retry_opens_the_breaker_and_dead_letters_the_job_after_max_receive_count()
 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let stack = crate::helpers::start_stack_with(
        [("ResendApiBaseUrl".to_owned(), dead)]
            .into_iter()
            .collect(),
    )
    .await;
    stack
        .app
        .secrets_manager
        .put_secret_value()
        .secret_id(stack.app.config.messaging.resend_api_key.clone().unwrap())
        .secret_string(json!({"api_key": "re_test"}).to_string())
        .send()
        .await
        .unwrap();
    turn_on_alerts_and_member_messages(&stack.app).await;
    deliver(
        &stack,
        &[
            ("evt_d_active", 0, "membership.activated", "mem_d"),
            ("evt_d_failed", 1, "payment.failed", "mem_d"),
        ],
    )
    .await;
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));
    let queue = stack.app.config.notify.queue.clone().unwrap();
    let dlq = stack.app.config.notify.dlq.clone().unwrap();

    // The template's redrive policy: maxReceiveCount 5. Each delivery fails and is reported, so
    // SQS keeps the job; moto moves it on the receive after the fifth.
    let mut job_id = None;
    for delivery in 1..=5 {
        let received = stack
            .app
            .sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(received.len(), 1, "delivery {delivery}");
        let id = received[0].message_id.clone().unwrap();
        assert_eq!(*job_id.get_or_insert(id.clone()), id, "the same job");
        assert_eq!(notify(&deps, &received).await, [id], "delivery {delivery}");
    }
    let sixth = stack
        .app
        .sqs
        .receive_message()
        .queue_url(&queue)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert!(sixth.messages.unwrap_or_default().is_empty());
    let dead_letters = receive_all_from(&stack, &dlq).await;
    assert_eq!(dead_letters.len(), 1, "the job is in the DLQ, not lost");
    assert_eq!(dead_letters[0].message_id, job_id);

    let breakers =
        churnsaver::breaker::status(&shared::aws::breaker::DynamoBreakers::of(&stack.app))
            .await
            .unwrap();
    assert!(
        breakers
            .iter()
            .any(|line| line.starts_with("resend  state=open")),
        "{breakers:?}"
    );
    assert_eq!(
        claim_statuses(&stack.app).await,
        ["sending", "sending"],
        "both messages claimed, neither recorded: a later delivery sends them"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn the_first_settings_save_welcomes_its_recipient_and_a_later_one_confirms_to_the_old_and_new()
 {
    let stack = crate::helpers::start_running_stack().await;
    let admin = crate::helpers::open_session(&stack, "user_local_admin").await;
    let put = |recipients: serde_json::Value| {
        let request = reqwest::Client::new()
            .put(format!("{}/companies/biz_local/settings", stack.base_url()))
            .bearer_auth(&admin)
            .json(&json!({"recipients": recipients, "immediate": true}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(put(json!(["first@example.com"])).await, 200);
    crate::breaker::eventually("the welcome", || mail(&stack).len() == 1).await;
    assert_eq!(put(json!(["second@example.com"])).await, 200);
    crate::breaker::eventually("two confirmations", || mail(&stack).len() == 3).await;
    let mut later = sent(&mail(&stack)[1..]);
    later.sort();
    assert_eq!(
        sent(&mail(&stack)[..1]),
        [(
            "first@example.com".to_owned(),
            "Churn Saver alerts are on".to_owned()
        )]
    );
    assert_eq!(
        later,
        [
            (
                "first@example.com".to_owned(),
                "Your Churn Saver notification settings changed".to_owned()
            ),
            (
                "second@example.com".to_owned(),
                "Your Churn Saver notification settings changed".to_owned()
            ),
        ]
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_company_run_that_fails_tells_the_companys_recipients_once() {
    use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions};
    let stack = start_stack().await;
    let settings = CompanySettings {
        recipients: vec![OWNER.to_owned()],
        ..CompanySettings::default()
    };
    DynamoCompanyItems::of(&stack.app)
        .put_company_settings(COMPANY_ID, &settings)
        .await
        .unwrap();
    // A Whop API that refuses the stack's key: the run's first page fails it.
    let fake = FakeWhop::start(FakeWhopOptions {
        keys: vec!["another_key".into()],
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    let syncer = crate::sync::syncer(&stack, &fake).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "cli".into())
        .await
        .unwrap();
    crate::sync::work_jobs(&stack, &syncer, &run.run_id, 1).await;

    let ended = jobs(&stack).await;
    assert_eq!(ended.len(), 1, "one job: the run ended once");
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));
    assert!(notify(&deps, &ended).await.is_empty());
    assert!(notify(&deps, &ended).await.is_empty(), "a redelivery");
    assert_eq!(
        sent(&mail(&stack)),
        [(
            OWNER.to_owned(),
            "A sync of your memberships failed".to_owned()
        )]
    );
    assert!(mail(&stack)[0].text.contains(&run.run_id));
    stack.shutdown().await;
}

/// A Whop delivery about `creator`'s membership of Churn Saver's own product (plan
/// `plan_cspro`, the pro tier in [`plan_parameters`]).
fn own_plan_event(id: &str, minute: u32, kind: &str, creator: &str, status: &str) -> String {
    json!({"id": id, "api_version": "v1", "type": kind,
           "timestamp": format!("2026-11-23T09:{minute:02}:00.000Z"),
           "company_id": "biz_churnsaver",
           "data": {"id": "mem_cs", "status": status, "cancel_at_period_end": false,
                    "user": {"id": creator}, "plan": {"id": "plan_cspro"},
                    "product": {"id": "prod_churnsaver"}}})
    .to_string()
}

fn plan_parameters() -> std::collections::BTreeMap<String, String> {
    [
        ("ChurnSaverProductId", "prod_churnsaver"),
        ("ChurnSaverTierPlans", "plan_cspro:pro"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn member_messages_a_creator_turned_on_stop_when_their_plan_drops_to_free_and_the_owner_is_still_alerted()
 {
    let stack = crate::helpers::start_stack_with(plan_parameters()).await;
    let creator = "user_cs_creator";
    let own = own_plan_event("evt_cs_on", 0, "membership.activated", creator, "active");
    assert_eq!(ingest(&stack.app, "evt_cs_on", &own).await, 202);
    assert!(
        process(&stack.app, &receive_all(&stack).await)
            .await
            .is_empty()
    );
    let settings = CompanySettings {
        recipients: vec![OWNER.to_owned()],
        immediate: true,
        member_messages: true,
        member_messages_by: Some(creator.to_owned()),
        ..CompanySettings::default()
    };
    DynamoCompanyItems::of(&stack.app)
        .put_company_settings(COMPANY, &settings)
        .await
        .unwrap();
    let deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));

    // On the pro plan: the member is told.
    deliver(
        &stack,
        &[
            ("evt_p1_active", 0, "membership.activated", "mem_p1"),
            ("evt_p1_failed", 1, "payment.failed", "mem_p1"),
        ],
    )
    .await;
    assert!(notify(&deps, &jobs(&stack).await).await.is_empty());
    let paid = sent(&mail(&stack));
    assert_eq!(paid.len(), 2, "{paid:?}");
    assert_eq!(paid[1].0, member_address("mem_p1"));

    // The creator's membership ends: the free tier, and member messages stop.
    let off = own_plan_event(
        "evt_cs_off",
        1,
        "membership.deactivated",
        creator,
        "canceled",
    );
    assert_eq!(ingest(&stack.app, "evt_cs_off", &off).await, 202);
    assert!(
        process(&stack.app, &receive_all(&stack).await)
            .await
            .is_empty()
    );
    deliver(
        &stack,
        &[
            ("evt_p2_active", 2, "membership.activated", "mem_p2"),
            ("evt_p2_failed", 3, "payment.failed", "mem_p2"),
        ],
    )
    .await;
    let jobs = jobs(&stack).await;
    let event = LambdaEvent::new(sqs_event(&jobs), Context::default());
    let captured = crate::unsubscribe::Captured::default();
    let guard = tracing::subscriber::set_default(captured.clone());
    let response = notify::handle(Arc::clone(&deps), event).await.unwrap();
    drop(guard);
    assert!(failed_ids(response).is_empty());
    let free = sent(&mail(&stack));
    assert_eq!(
        free[2..],
        [(OWNER.to_owned(), "A membership is at risk".to_owned())],
        "{free:?}"
    );
    let logs = captured.0.lock().unwrap().clone();
    assert!(logs.contains("code=\"plan_required\" dropped=1"), "{logs}");
    stack.shutdown().await;
}

/// Messages on the events queue, visible or in flight.
async fn events_queued(stack: &LocalStack) -> u64 {
    use shared::domain::ports::QueueProbe;
    let depth = stack
        .app
        .sqs
        .queue_depth(&stack.app.config.queues.events)
        .await
        .unwrap();
    depth.visible + depth.in_flight
}

/// The whole path as `churnsaver local` runs it: the webhook over HTTP, the events queue's
/// worker, the processor, the notifications queue's worker, the notify function and the stand-in
/// mail API. The time from the webhook's 202 to the second message is printed, as a figure (the
/// issue's "within 5 s"); the test waits up to a minute for it.
#[tokio::test]
async fn on_the_running_stack_a_failed_payment_reaches_the_creator_and_the_member_by_mail() {
    let stack = crate::helpers::start_running_stack().await;
    turn_on_alerts_and_member_messages(&stack.app).await;
    let activated = whop_event("evt_rs_active", 0, "membership.activated", "mem_rs");
    assert_eq!(
        crate::processor::post_webhook(&stack, "evt_rs_active", &activated).await,
        202
    );
    // The activation processed (its message deleted) before the failure is sent, so the
    // member's mail has the membership's manage_url.
    let mut queued = 1;
    for _ in 0..600 {
        queued = events_queued(&stack).await;
        if queued == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        queued, 0,
        "the activation was not processed within a minute"
    );
    assert!(mail(&stack).is_empty(), "an activation opens no signal");

    let failed = whop_event("evt_rs_failed", 1, "payment.failed", "mem_rs");
    assert_eq!(
        crate::processor::post_webhook(&stack, "evt_rs_failed", &failed).await,
        202
    );
    let accepted = std::time::Instant::now();
    let mut messages = Vec::new();
    for _ in 0..1200 {
        messages = mail(&stack);
        if messages.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!(
        "payment.failed accepted -> creator alert and member e-mail captured: {} ms",
        accepted.elapsed().as_millis()
    );
    let mut seen = sent(&messages);
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                member_address("mem_rs"),
                "Your payment failed: update your payment method".to_owned()
            ),
            (OWNER.to_owned(), "A membership is at risk".to_owned()),
        ]
    );
    let member_email = messages
        .iter()
        .find(|m| m.to == [member_address("mem_rs")])
        .unwrap();
    assert!(member_email.text.contains(&manage_url("mem_rs")));
    stack.shutdown().await;
}
