//! Sync against moto and the fake Whop API: whole runs through the `sync-jobs` queue, faults,
//! interruptions, and webhooks newer than the API.

use shared::domain::ports::SyncStore;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use churnsaver::fake_whop::{
    COMPANY_ID, FakeWhop, FakeWhopOptions, LOCAL_API_KEY, membership_json, sample_membership,
};
use churnsaver::local::LocalStack;
use shared::aws::company_items::DynamoCompanyItems;
use shared::aws::state::DynamoState;
use shared::aws::sync::DynamoRuns;
use std::num::NonZeroU32;

use shared::aws::breaker::DynamoBreakers;
use shared::domain::breaker::BreakerSettings;
use shared::domain::ports::SystemClock;
use shared::domain::ports::{
    KnownCompanies, MembershipSource, NoSales, Publisher, SalesStore, StateStore,
};
use shared::domain::state::model::{MembershipFacts, Observation, Version};
use shared::domain::sync::worker::{PageOutcome, SyncError, Syncer};
use shared::domain::sync::{PageJob, RunStatus, SyncRun};
use shared::domain::webhooks::Source;
use shared::edge::config::{Provider, ProviderLimits, RateLimit};
use shared::providers::client::{ProviderGuard, ResilientClient, RetryPolicy};
use shared::providers::whop::api::{SERVICE, SecretKey, WhopApi};
use url::Url;

use crate::helpers::start_stack;

type TestApi = WhopApi<
    ProviderGuard<DynamoBreakers, SystemClock>,
    SecretKey<aws_sdk_secretsmanager::Client, SystemClock>,
>;

pub(crate) type TestSyncer =
    Syncer<TestApi, DynamoState, DynamoRuns, aws_sdk_sqs::Client, DynamoCompanyItems>;

/// Quick retries: the fake's faults need no real backoff.
pub(crate) fn policy() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

/// The sync function's syncer over the test stack and the fake API, the key in Secrets Manager.
pub(crate) async fn syncer(stack: &LocalStack, fake: &FakeWhop) -> TestSyncer {
    syncer_over(stack, fake, DynamoState::of(&stack.app)).await
}

/// [`syncer`] over another state store (one that disturbs the stack's table).
pub(crate) async fn syncer_over<S: StateStore>(
    stack: &LocalStack,
    fake: &FakeWhop,
    state: S,
) -> Syncer<TestApi, S, DynamoRuns, aws_sdk_sqs::Client, DynamoCompanyItems> {
    let app = &stack.app;
    let key = api_key(stack).await;
    let guard = ProviderGuard::new(DynamoBreakers::of(app), SystemClock)
        .with_limits(SERVICE, quick_limits(Provider::Whop))
        .with_breaker_cache_ttl(Duration::ZERO);
    let client = ResilientClient::new(reqwest::Client::new(), policy(), guard);
    Syncer {
        api: WhopApi::new(client, Url::parse(&fake.base_url()).unwrap(), key),
        state,
        runs: DynamoRuns::of(app),
        publisher: app.sqs.clone(),
        queue_url: app.config.queues.sync_jobs.clone(),
        company_id: Some(COMPANY_ID.to_owned()),
        known: DynamoCompanyItems::of(app),
        notifications_queue: app.config.notify.queue.clone(),
        clock: Arc::new(SystemClock),
        deferral: Duration::from_secs(1),
        sales: NoSales,
    }
}

/// `provider`'s limits without its pacing (the stand-ins have no limit here) and with a breaker
/// that trips and recovers quickly: the sync function's admission in tests.
pub(crate) fn quick_limits(provider: Provider) -> ProviderLimits {
    ProviderLimits {
        breaker: BreakerSettings {
            failure_threshold: 2,
            recovery_timeout: Duration::from_secs(1),
            half_open_probes: 1,
            success_threshold: 1,
        },
        rate_limit: RateLimit {
            requests: NonZeroU32::new(1_000).unwrap(),
            window: Duration::from_secs(1),
            burst: NonZeroU32::new(1_000).unwrap(),
        },
        ..provider.default_limits()
    }
}

/// A syncer over the test stack listing with `api` and writing sales to `sales`, with no default
/// company (the schedule's or the test's scopes) and no notifications.
pub(crate) fn company_syncer<M, L>(
    stack: &LocalStack,
    api: M,
    sales: L,
) -> Syncer<M, DynamoState, DynamoRuns, aws_sdk_sqs::Client, DynamoCompanyItems, L> {
    let app = &stack.app;
    Syncer {
        api,
        state: DynamoState::of(app),
        runs: DynamoRuns::of(app),
        publisher: app.sqs.clone(),
        queue_url: app.config.queues.sync_jobs.clone(),
        company_id: None,
        known: DynamoCompanyItems::of(app),
        notifications_queue: None,
        clock: Arc::new(SystemClock),
        deferral: Duration::from_secs(1),
        sales,
    }
}

/// The local key stored in the stack's Whop API key secret, and the sync function's reader of it.
pub(crate) async fn api_key(
    stack: &LocalStack,
) -> SecretKey<aws_sdk_secretsmanager::Client, SystemClock> {
    let app = &stack.app;
    let secret_id = app.config.secrets.whop_api_key.clone().unwrap();
    app.secrets_manager
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(format!(r#"{{"api_key":"{LOCAL_API_KEY}"}}"#))
        .send()
        .await
        .unwrap();
    SecretKey::new(app.secrets_manager.clone(), SystemClock, secret_id)
}

/// Receives page jobs and works them as the sync function's event source mapping would, until
/// the run ends or `max_jobs` were worked. Returns the outcomes.
pub(crate) async fn work_jobs(
    stack: &LocalStack,
    syncer: &TestSyncer,
    run_id: &str,
    max_jobs: usize,
) -> Vec<PageOutcome> {
    work_runs(stack, syncer, &[run_id.to_owned()], max_jobs).await
}

/// `provider`'s admission as the sync function's (breakers and rate limits shared in the state
/// table) without pacing, with a breaker that trips and recovers quickly and a 1 s pause after a
/// 429.
pub(crate) fn shared_quick_guard(
    app: &shared::App,
    provider: Provider,
) -> ProviderGuard<DynamoBreakers, SystemClock, shared::aws::limits::DynamoFailureCounter> {
    let limits = ProviderLimits {
        cooldown: Duration::from_secs(1),
        ..quick_limits(provider)
    };
    ProviderGuard::new(DynamoBreakers::of(app), SystemClock)
        .with_limits(provider.as_str(), limits)
        .with_breaker_cache_ttl(Duration::ZERO)
        .with_shared_limit(shared::aws::limits::DynamoFailureCounter::of(app))
}

/// Records what the webhook `event` leaves on its subscription `id`, through the webhooks' own
/// observation and the processor's storage rule.
pub(crate) async fn record_webhook<S: StateStore>(
    state: &S,
    id: &str,
    event: &shared::domain::webhooks::event::QueuedEvent,
) {
    let shared::domain::state::observe::Observed::Membership { observation, .. } =
        shared::providers::observe(event).unwrap()
    else {
        panic!("the webhook observed nothing");
    };
    state
        .record(id, event.provider, &observation)
        .await
        .unwrap();
}

/// Asserts `run` completed and none of its pages' `outcomes` failed.
pub(crate) fn assert_completed_without_failed_pages(run: &SyncRun, outcomes: &[PageOutcome]) {
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let failed: Vec<&PageOutcome> = outcomes
        .iter()
        .filter(|o| matches!(o, PageOutcome::Failed { .. }))
        .collect();
    assert_eq!(failed, Vec::<&PageOutcome>::new(), "no page failed");
}

/// [`work_jobs`] with any syncer (one instance of the sync function), until every run of
/// `run_ids` has ended, `max_jobs` were worked or two minutes passed.
pub(crate) async fn work_runs<M, S, P, N, L>(
    stack: &LocalStack,
    syncer: &Syncer<M, S, DynamoRuns, P, N, L>,
    run_ids: &[String],
    max_jobs: usize,
) -> Vec<PageOutcome>
where
    M: MembershipSource,
    S: StateStore,
    P: Publisher,
    N: KnownCompanies,
    L: SalesStore,
{
    let sqs = &stack.app.sqs;
    let queue = &stack.app.config.queues.sync_jobs;
    let mut outcomes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while outcomes.len() < max_jobs && tokio::time::Instant::now() < deadline {
        let mut ended = true;
        for run_id in run_ids {
            ended &= syncer
                .runs
                .run(run_id)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_finished();
        }
        if ended {
            break;
        }
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages() {
            let job: PageJob = serde_json::from_str(message.body().unwrap()).unwrap();
            let outcome = syncer.run_page(&job).await;
            match outcome {
                Ok(outcome) => {
                    outcomes.push(outcome);
                    sqs.delete_message()
                        .queue_url(queue)
                        .receipt_handle(message.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
                Err(error) => panic!("page {} failed: {error}", job.page),
            }
        }
    }
    outcomes
}

async fn finished_run(syncer: &TestSyncer, run_id: &str) -> SyncRun {
    syncer.runs.run(run_id).await.unwrap().unwrap()
}

/// Every membership of the fake equals its stored state, with one observation each.
pub(crate) async fn assert_state_equals_the_api<M, R, P, N>(
    syncer: &Syncer<M, DynamoState, R, P, N>,
    fake: &FakeWhop,
) {
    let memberships = fake.memberships();
    let ids: Vec<String> = memberships
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let stored = syncer.state.memberships(&ids).await.unwrap();
    assert_eq!(stored.len(), memberships.len());
    let by_id: std::collections::HashMap<_, _> = stored
        .iter()
        .map(|s| (s.membership_id.clone(), s))
        .collect();
    for membership in &memberships {
        let id = membership["id"].as_str().unwrap();
        let stored = by_id[id];
        let state = stored.state();
        assert_eq!(
            state.status.as_deref(),
            membership["status"].as_str(),
            "{id}"
        );
        assert_eq!(
            state.cancel_at_period_end,
            membership["cancel_at_period_end"].as_bool().unwrap(),
            "{id}"
        );
        assert_eq!(
            state.user_id.as_deref(),
            membership["user"]["id"].as_str(),
            "{id}"
        );
        assert_eq!(
            state
                .renewal_period_end
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .as_deref(),
            membership["renewal_period_end"].as_str(),
            "{id}"
        );
        assert_eq!(
            stored.observations.len(),
            1,
            "{id}: no duplicate observations"
        );
    }
}

#[tokio::test]
async fn a_reconcile_of_1000_memberships_over_50_pages_with_faults_ends_equal_to_the_api() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 20,
        fail_every: Some(7),
        throttle_every: Some(11),
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed(1_000);
    let syncer = syncer(&stack, &fake).await;

    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let outcomes = work_jobs(&stack, &syncer, &run.run_id, 200).await;

    let run = finished_run(&syncer, &run.run_id).await;
    assert_eq!(run.status, RunStatus::Completed, "{outcomes:?}");
    assert_eq!(run.pages, 50);
    assert_eq!(run.last_page, Some(49));
    assert_eq!(run.counts.seen, 1_000);
    assert_eq!(run.counts.drifted, 1_000, "nothing was stored before");
    assert!(
        !outcomes
            .iter()
            .any(|o| matches!(o, PageOutcome::Failed { .. })),
        "{outcomes:?}"
    );
    let counts = fake.counts();
    assert!(counts.injected >= 10, "faults were injected: {counts:?}");
    assert_state_equals_the_api(&syncer, &fake).await;

    // A second run over a store in step writes nothing.
    fake.configure(|o| {
        o.fail_every = None;
        o.throttle_every = None;
    });
    let again = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    work_jobs(&stack, &syncer, &again.run_id, 200).await;
    let again = finished_run(&syncer, &again.run_id).await;
    assert_eq!(again.status, RunStatus::Completed);
    assert_eq!(again.counts.unchanged, 1_000);
    assert_eq!(again.counts.drifted, 0);
}

#[tokio::test]
async fn a_run_interrupted_halfway_and_restarted_finishes_without_duplicates() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 20,
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed(400);
    let syncer = syncer(&stack, &fake).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();

    // Half the pages, then the worker dies holding the next job: it stays on the queue.
    work_jobs(&stack, &syncer, &run.run_id, 10).await;
    let halfway = finished_run(&syncer, &run.run_id).await;
    assert_eq!(halfway.pages, 10);
    assert_eq!(halfway.status, RunStatus::Running);

    // A page job delivered twice (SQS is at-least-once), including one already counted.
    let duplicate = PageJob {
        run_id: run.run_id.clone(),
        page: 9,
        cursor: Some("cur_mem_00179".into()),
        deferrals: 0,
    };
    assert_eq!(
        syncer.run_page(&duplicate).await.unwrap(),
        PageOutcome::AlreadyDone
    );

    // A new start of the same scope is refused while the run holds it.
    let refused = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap_err();
    assert!(matches!(refused, SyncError::InProgress { ref run_id } if *run_id == run.run_id));

    // Restarted: the rest of the chain is worked by a fresh worker.
    let restarted = self::syncer(&stack, &fake).await;
    work_jobs(&stack, &restarted, &run.run_id, 100).await;
    let run = finished_run(&syncer, &run.run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.pages, 20);
    assert_eq!(run.counts.seen, 400, "no page counted twice");
    assert_eq!(run.counts.drifted, 400);
    assert_state_equals_the_api(&syncer, &fake).await;
}

#[tokio::test]
async fn a_webhook_newer_than_the_apis_updated_at_is_not_overwritten() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    let api_time = Utc.timestamp_opt(1_772_000_000, 0).unwrap();
    // The API still says active; a webhook a minute later said the member left.
    fake.put(membership_json(
        "mem_new", "user_new", "active", false, api_time,
    ));
    fake.put(membership_json(
        "mem_old", "user_old", "active", false, api_time,
    ));
    let syncer = syncer(&stack, &fake).await;
    let webhook = |id: &str, at: i64| Observation {
        version: Version::new(Utc.timestamp_opt(at, 0).unwrap(), format!("msg_{id}")),
        kind: "membership.deactivated".into(),
        membership: MembershipFacts {
            user_id: Some(format!("user_{}", &id[4..])),
            status: Some("canceled".into()),
            valid: Some(false),
            ..MembershipFacts::default()
        },
        payment: None,
    };
    let state = &syncer.state;
    state
        .record("mem_new", Source::Whop, &webhook("mem_new", 1_772_000_060))
        .await
        .unwrap();
    // And one whose webhook is older than the API's answer: that one drifted.
    state
        .record("mem_old", Source::Whop, &webhook("mem_old", 1_771_999_940))
        .await
        .unwrap();

    let one = syncer
        .sync_membership("mem_new", Some("user_new"), COMPANY_ID)
        .await
        .unwrap();
    assert_eq!(one.result, "newer_locally");
    assert!(
        one.fields.starts_with(&["status", "valid"]),
        "{:?}",
        one.fields
    );

    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    work_jobs(&stack, &syncer, &run.run_id, 10).await;
    let run = finished_run(&syncer, &run.run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!((run.counts.newer_locally, run.counts.drifted), (1, 1));

    let newer = state.membership("mem_new").await.unwrap().unwrap().state();
    assert_eq!(newer.status.as_deref(), Some("canceled"));
    assert_eq!(newer.valid, Some(false));
    let older = state.membership("mem_old").await.unwrap().unwrap().state();
    assert_eq!(older.status.as_deref(), Some("active"));
    assert_eq!(older.valid, Some(true));
}

#[tokio::test]
async fn one_membership_syncs_for_its_owner_only() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    fake.put(sample_membership(3));
    let syncer = syncer(&stack, &fake).await;

    assert!(matches!(
        syncer
            .sync_membership("mem_00003", Some("user_other"), COMPANY_ID)
            .await,
        Err(SyncError::NotFound)
    ));
    assert!(matches!(
        syncer
            .sync_membership("mem_unknown", Some("user_00003"), COMPANY_ID)
            .await,
        Err(SyncError::NotFound)
    ));
    // Another company's membership (an app key could see it) is not synced.
    let mut foreign = sample_membership(9);
    foreign["company"]["id"] = "biz_other".into();
    fake.put(foreign);
    assert!(matches!(
        syncer.sync_membership("mem_00009", None, COMPANY_ID).await,
        Err(SyncError::NotFound)
    ));
    let synced = syncer
        .sync_membership("mem_00003", Some("user_00003"), COMPANY_ID)
        .await
        .unwrap();
    assert_eq!(synced.result, "drifted");
    let again = syncer
        .sync_membership("mem_00003", Some("user_00003"), COMPANY_ID)
        .await
        .unwrap();
    assert_eq!(again.result, "unchanged");
}

#[tokio::test]
async fn a_users_sync_names_a_known_company_and_without_a_default_one_must_name_it() {
    use shared::domain::companies::known::KnownSource;
    use shared::domain::sync::worker::{SyncRequest, SyncStarted};

    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    for (n, company) in [(11, "biz_two"), (12, "biz_two"), (13, "biz_gone")] {
        let mut membership = sample_membership(n);
        membership["company"]["id"] = company.into();
        fake.put(membership);
    }
    let syncer = Syncer {
        company_id: None,
        ..syncer(&stack, &fake).await
    };
    let known = DynamoCompanyItems::of(&stack.app);
    for company in ["biz_two", "biz_gone"] {
        known
            .remember(company, KnownSource::Webhook, Utc::now())
            .await
            .unwrap();
    }
    known
        .revoke("biz_gone", "access_revoked", Utc::now())
        .await
        .unwrap();
    let request = |company: Option<&str>, membership: Option<&str>| SyncRequest {
        company_id: company.map(str::to_owned),
        membership_id: membership.map(str::to_owned),
        ..SyncRequest::default()
    };

    // No default company: a sync must name one.
    let unnamed = syncer.request("user_00011", request(None, None)).await;
    assert!(
        matches!(&unnamed, Err(SyncError::BadRequest(m)) if m.contains("company_id")),
        "{unnamed:?}"
    );
    // An unknown or revoked company is refused before any Whop call.
    let calls = fake.counts();
    for company in ["biz_nobody", "biz_gone"] {
        let refused = syncer
            .request("user_00011", request(Some(company), None))
            .await;
        assert!(
            matches!(refused, Err(SyncError::UnknownCompany)),
            "{refused:?}"
        );
    }
    assert_eq!(fake.counts(), calls);
    // A known company: the caller's own membership syncs; another company's does not.
    let synced = syncer
        .request("user_00012", request(Some("biz_two"), Some("mem_00012")))
        .await
        .unwrap();
    assert!(
        matches!(&synced, SyncStarted::Membership(m) if m.result == "drifted"),
        "{synced:?}"
    );
    let elsewhere = syncer
        .request("user_00013", request(Some("biz_two"), Some("mem_00013")))
        .await;
    assert!(
        matches!(elsewhere, Err(SyncError::NotFound)),
        "{elsewhere:?}"
    );
    // A run over the caller's memberships of the named company.
    let run = syncer
        .request("user_00011", request(Some("biz_two"), None))
        .await
        .unwrap();
    let SyncStarted::Run { run_id, .. } = run else {
        panic!("a run: {run:?}")
    };
    let stored = syncer.runs.run(&run_id).await.unwrap().unwrap();
    assert_eq!(stored.scope.company_id, "biz_two");
    assert_eq!(stored.scope.user_id.as_deref(), Some("user_00011"));
}

#[tokio::test]
async fn an_unreachable_api_pauses_the_run_and_it_resumes_without_loss() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 10,
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed(30);
    let syncer = syncer(&stack, &fake).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    work_jobs(&stack, &syncer, &run.run_id, 1).await;

    // The API goes down: two failed attempts open the breaker, which refuses the third without
    // calling, and the page is put off.
    fake.configure(|o| o.fail_every = Some(1));
    let before = fake.counts().requests;
    let outcomes = work_jobs(&stack, &syncer, &run.run_id, 1).await;
    assert!(
        matches!(outcomes[..], [PageOutcome::Deferred { .. }]),
        "{outcomes:?}"
    );
    assert_eq!(fake.counts().requests - before, 2);
    let paused = finished_run(&syncer, &run.run_id).await;
    assert_eq!(paused.status, RunStatus::Paused);
    assert!(paused.paused_until.is_some());
    assert_eq!(paused.last_error.as_deref(), Some("circuit_open"));

    // It comes back; the deferred page is delivered again after its delay and the half-open
    // breaker's probe closes it.
    fake.configure(|o| o.fail_every = None);
    work_jobs(&stack, &syncer, &run.run_id, 10).await;
    let run = finished_run(&syncer, &run.run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.counts.seen, 30);
    assert_eq!(run.paused_until, None);
    assert_state_equals_the_api(&syncer, &fake).await;
}

#[tokio::test]
async fn a_refused_listing_fails_the_run_and_releases_its_scope() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions {
        keys: vec!["another_key".into()],
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    let syncer = syncer(&stack, &fake).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let outcomes = work_jobs(&stack, &syncer, &run.run_id, 1).await;
    assert_eq!(
        outcomes,
        [PageOutcome::Failed {
            error: "provider_error".into()
        }]
    );
    // The key was re-read once after the 401.
    assert_eq!(fake.counts().unauthorized, 2);
    let failed = finished_run(&syncer, &run.run_id).await;
    assert_eq!(failed.status, RunStatus::Failed);
    // The scope is free again.
    syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let recent = syncer.runs.recent_runs(5).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[1].run_id, run.run_id, "newest first");
}

/// `POST /sync` on the whole running stack: its stand-in Whop API, the authorizer, the
/// sync-jobs worker, then the state route.
#[tokio::test]
async fn post_sync_on_the_running_stack_reconciles_the_callers_memberships() {
    let stack = crate::helpers::start_running_stack().await;
    let whop = stack
        .whop
        .as_ref()
        .expect("the running stack has a Whop API");
    let owner = crate::helpers::open_session(&stack, "user_00003").await;
    let client = reqwest::Client::new();
    let sync = |body: serde_json::Value, token: String| {
        let client = &client;
        let url = format!("{}/sync", stack.base_url());
        async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    let (status, body) = sync(serde_json::json!({"provider": "whop"}), owner.clone()).await;
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_owned();

    // The worker works the run's page; the membership then reads back as the API has it.
    // `churnsaver sync start` follows a run the same way.
    let runs = DynamoRuns::of(&stack.app);
    let run = tokio::time::timeout(
        Duration::from_secs(30),
        churnsaver::runs::follow(&runs, &run_id),
    )
    .await
    .expect("the run ends")
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!((run.counts.seen, run.counts.drifted), (1, 1));
    let line = churnsaver::runs::describe(&run);
    assert!(
        line.starts_with(&format!("{run_id}  completed  pages=1  seen=1  drifted=1")),
        "{line}"
    );
    assert!(line.contains("trigger=user:user_00003"), "{line}");
    let view: serde_json::Value = client
        .get(format!("{}/memberships/mem_00003", stack.base_url()))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["status"],
        whop.membership("mem_00003").unwrap()["status"]
    );

    // Another run of the same user's memberships waits out the cooldown.
    let (status, body) = sync(serde_json::json!({}), owner.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("throttled")),
        "{body}"
    );

    // The owner's single membership waits out the same cooldown.
    let (status, _) = sync(
        serde_json::json!({"membership_id": "mem_00003"}),
        owner.clone(),
    )
    .await;
    assert_eq!(status, 429);

    // One membership, by another user: synced now, then the cooldown; a third user may not sync
    // it at all.
    let other = crate::helpers::open_session(&stack, "user_00004").await;
    let (status, body) = sync(
        serde_json::json!({"membership_id": "mem_00004"}),
        other.clone(),
    )
    .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("drifted")),
        "{body}"
    );
    let (status, _) = sync(
        serde_json::json!({"membership_id": "mem_00004"}),
        other.clone(),
    )
    .await;
    assert_eq!(status, 429);
    let stranger = crate::helpers::open_session(&stack, "user_00005").await;
    let (status, body) = sync(
        serde_json::json!({"membership_id": "mem_00004"}),
        stranger.clone(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = sync(
        serde_json::json!({"membership_id": "../users/me"}),
        owner.clone(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_sync_request"))
    );
    let (status, body) = sync(serde_json::json!({"provider": "stripe"}), owner.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_sync_request"))
    );
    stack.shutdown().await;
}

/// The sync function's own entry point, as Lambda invokes it, on a stack configured with a Whop
/// API: the schedule starts a run (a second firing while it runs is skipped, not an error), and
/// the run's jobs come back as an SQS batch with nothing to retry.
#[tokio::test]
async fn the_function_runs_the_schedule_and_the_queue_batches() {
    use lambda_runtime::{Context, LambdaEvent};

    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    fake.seed(3);
    let stack = crate::helpers::start_stack_with(std::collections::BTreeMap::from([
        ("WhopApiBaseUrl".to_owned(), fake.base_url()),
        ("WhopCompanyId".to_owned(), COMPANY_ID.to_owned()),
    ]))
    .await;
    syncer(&stack, &fake).await; // stores the API key
    let state = Arc::new(sync::SyncDeps::build(Arc::clone(&stack.app)));
    let invoke = |payload: serde_json::Value| {
        sync::handle(
            Arc::clone(&state),
            LambdaEvent::new(payload, Context::default()),
        )
    };
    let schedule: serde_json::Value =
        serde_json::from_str(&crate::helpers::fixture("schedule-sync-reconcile.json")).unwrap();

    // One run per known company and the default one: here only the default, `biz_local`.
    let scheduled = invoke(schedule.clone()).await.unwrap();
    assert_eq!(scheduled["outcome"], "scheduled", "{scheduled}");
    let started = &scheduled["runs"][0];
    assert_eq!(
        (&started["company_id"], &started["outcome"]),
        (
            &serde_json::json!(COMPANY_ID),
            &serde_json::json!("started")
        ),
        "{scheduled}"
    );
    let again = invoke(schedule).await.unwrap();
    let skipped = &again["runs"][0];
    assert_eq!(skipped["outcome"], "in_progress");
    assert_eq!(skipped["run_id"], started["run_id"]);

    let received = stack
        .app
        .sqs
        .receive_message()
        .queue_url(&stack.app.config.queues.sync_jobs)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let message = &received.messages()[0];
    let batch = serde_json::json!({"Records": [{
        "messageId": message.message_id(), "receiptHandle": message.receipt_handle(),
        "body": message.body(), "attributes": {}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync-jobs",
        "awsRegion": "us-east-1"
    }]});
    let response = invoke(batch).await.unwrap();
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));

    let runs = DynamoRuns::of(&stack.app);
    let run = runs
        .run(started["run_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!((run.trigger.as_str(), run.counts.drifted), ("schedule", 3));

    // A job that is not a page job is retried (and dead-lettered in the end), never dropped.
    let garbage = serde_json::json!({"Records": [{"messageId": "m1", "body": "{}", "attributes": {}, "messageAttributes": {}}]});
    let response = invoke(garbage).await.unwrap();
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m1"}])
    );
}

/// A delivery that counted the last page but died before ending the run: the queue's next
/// delivery of that job ends it.
#[tokio::test]
async fn a_run_whose_last_page_was_counted_is_ended_by_a_repeated_delivery() {
    let stack = start_stack().await;
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    fake.seed(5);
    let syncer = syncer(&stack, &fake).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let now = Utc::now();
    let counted = syncer
        .runs
        .page_done(
            &run,
            0,
            &shared::domain::sync::SyncCounts::default(),
            None,
            now,
            now,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counted.status, RunStatus::Running);
    assert!(counted.all_pages_done());

    let job = PageJob {
        run_id: run.run_id.clone(),
        page: 0,
        cursor: None,
        deferrals: 0,
    };
    assert_eq!(
        syncer.run_page(&job).await.unwrap(),
        PageOutcome::AlreadyDone
    );
    assert_eq!(
        finished_run(&syncer, &run.run_id).await.status,
        RunStatus::Completed
    );
    assert_eq!(fake.counts().requests, 0, "nothing was listed again");
}
