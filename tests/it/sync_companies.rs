//! Many companies in one deployment: companies made known by their webhooks, the schedule's one
//! run per known company under the rate limit every instance shares, and a company whose access
//! was revoked.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use churnsaver::fake_whop::{FakeWhop, FakeWhopOptions};
use churnsaver::local::LocalStack;
use shared::aws::breaker::DynamoBreakers;
use shared::aws::company_items::DynamoCompanyItems;
use shared::aws::limits::DynamoFailureCounter;
use shared::aws::state::DynamoState;
use shared::aws::sync::DynamoRuns;
use shared::domain::auth::limits::Window;
use shared::domain::companies::known::KnownSource;
use shared::domain::ports::{KnownCompanies, SyncStore, SystemClock};
use shared::domain::sync::RunStatus;
use shared::domain::sync::worker::Syncer;
use shared::edge::config::{Provider, ProviderLimits, RateLimit};
use shared::providers::client::{ProviderGuard, ResilientClient, RetryPolicy};
use shared::providers::whop::api::{SERVICE, SecretKey, WhopApi};
use url::Url;

use crate::companies_index::{process_with as process, queued};
use crate::helpers::{RequestLog, start_stack};
use crate::sync::{api_key, assert_state_equals_the_api, company_syncer, work_runs};

/// The shared limit of these tests: 3 calls per 2-second window.
const LIMIT: u32 = 3;
const WINDOW_SECS: u64 = 2;

type SharedGuard = ProviderGuard<DynamoBreakers, SystemClock, DynamoFailureCounter>;
type SharedSyncer = Syncer<
    WhopApi<SharedGuard, SecretKey<aws_sdk_secretsmanager::Client, SystemClock>>,
    DynamoState,
    DynamoRuns,
    aws_sdk_sqs::Client,
    DynamoCompanyItems,
>;

/// One sync function instance: its own in-process limits (the same 3 per 2 s, so each instance
/// alone keeps to it) and the limit shared with every other instance through the state table.
/// No default company: the schedule covers the known ones.
async fn instance(stack: &LocalStack, fake: &FakeWhop) -> SharedSyncer {
    let app = &stack.app;
    let limits = ProviderLimits {
        rate_limit: RateLimit {
            requests: NonZeroU32::new(LIMIT).unwrap(),
            window: Duration::from_secs(WINDOW_SECS),
            burst: NonZeroU32::new(1).unwrap(),
        },
        ..Provider::Whop.default_limits()
    };
    let guard = ProviderGuard::new(DynamoBreakers::of(app), SystemClock)
        .with_limits(SERVICE, limits)
        .with_shared_limit(DynamoFailureCounter::of(app));
    let client = ResilientClient::new(reqwest::Client::new(), RetryPolicy::default(), guard);
    let api = WhopApi::new(
        client,
        Url::parse(&fake.base_url()).unwrap(),
        api_key(stack).await,
    );
    company_syncer(stack, api, shared::domain::ports::NoSales)
}

/// The calls the stand-in received in each window of the limit's own length, by window start.
fn calls_per_window(fake: &FakeWhop) -> BTreeMap<i64, usize> {
    let mut windows = BTreeMap::new();
    for arrival in fake.arrivals() {
        *windows
            .entry(Window::containing(arrival.timestamp(), WINDOW_SECS).start)
            .or_default() += 1;
    }
    windows
}

#[tokio::test]
async fn the_schedule_reconciles_three_known_companies_and_no_window_of_the_shared_limit_sees_more_than_it()
 {
    let companies = ["biz_alpha", "biz_beta", "biz_gamma"];
    let fake = FakeWhop::start(FakeWhopOptions {
        max_page_size: 3,
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    for company in companies {
        fake.seed_company(company, 12);
    }
    let stack = start_stack().await;
    let known = DynamoCompanyItems::of(&stack.app);
    for company in companies {
        assert!(
            known
                .remember(company, KnownSource::Webhook, chrono::Utc::now())
                .await
                .unwrap()
        );
    }
    // Three instances of the sync function: each would keep to 3 per 2 s on its own, 9 together.
    let instances = [
        instance(&stack, &fake).await,
        instance(&stack, &fake).await,
        instance(&stack, &fake).await,
    ];

    let scheduled = instances[0].start_scheduled().await.unwrap();
    let started: Vec<(String, String)> = scheduled
        .into_iter()
        .map(|s| (s.company_id, s.started.unwrap().run_id))
        .collect();
    assert_eq!(
        started.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        companies,
        "one run per known company"
    );
    let run_ids: Vec<String> = started.iter().map(|(_, run)| run.clone()).collect();
    let outcomes = futures_util::future::join_all(
        instances
            .iter()
            .map(|i| work_runs(&stack, i, &run_ids, usize::MAX)),
    )
    .await;

    for (company, run_id) in &started {
        let run = instances[0].runs.run(run_id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{company}: {run:?}");
        assert_eq!(run.scope.company_id, *company);
        assert_eq!((run.pages, run.counts.seen), (4, 12), "{company}");
    }
    let windows = calls_per_window(&fake);
    let calls: usize = windows.values().sum();
    println!("calls per {WINDOW_SECS}-s window (start: calls): {windows:?}");
    assert!(
        calls >= 12,
        "4 listings per company at least: {calls} calls"
    );
    assert!(
        windows.values().all(|&n| n <= LIMIT as usize),
        "calls per {WINDOW_SECS}-s window: {windows:?}"
    );
    assert!(
        outcomes.iter().all(|o| !o.is_empty()),
        "every instance worked pages: {outcomes:?}"
    );
    assert_state_equals_the_api(&instances[0], &fake).await;
}

#[tokio::test]
async fn a_company_whose_access_was_revoked_fails_its_run_with_its_reason_and_is_not_scheduled_until_remembered_again()
 {
    let fake = FakeWhop::start(FakeWhopOptions {
        revoked: vec!["biz_gone".to_owned()],
        ..FakeWhopOptions::default()
    })
    .await
    .unwrap();
    fake.seed_company("biz_kept", 2);
    fake.seed_company("biz_gone", 2);
    let stack = start_stack().await;
    let syncer = instance(&stack, &fake).await;
    for company in ["biz_gone", "biz_kept"] {
        syncer
            .known
            .remember(company, KnownSource::Webhook, chrono::Utc::now())
            .await
            .unwrap();
    }

    let started: BTreeMap<String, String> = syncer
        .start_scheduled()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.company_id, s.started.unwrap().run_id))
        .collect();
    let run_ids: Vec<String> = started.values().cloned().collect();
    work_runs(&stack, &syncer, &run_ids, usize::MAX).await;
    let gone = syncer
        .runs
        .run(&started["biz_gone"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.status, RunStatus::Failed);
    assert_eq!(gone.last_error.as_deref(), Some("company_access_revoked"));
    let kept = syncer
        .runs
        .run(&started["biz_kept"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, RunStatus::Completed);

    let known = syncer.known.known_companies().await.unwrap();
    let revoked: Vec<_> = known
        .iter()
        .filter_map(|c| {
            c.revoked
                .as_ref()
                .map(|r| (c.company_id.as_str(), r.reason.as_str()))
        })
        .collect();
    assert_eq!(revoked, [("biz_gone", "company_access_revoked")]);
    let next: Vec<String> = syncer
        .start_scheduled()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.company_id)
        .collect();
    assert_eq!(next, ["biz_kept"], "the revoked company is not scheduled");

    // An admin's sign-in makes it known again.
    assert!(
        syncer
            .known
            .remember("biz_gone", KnownSource::SignIn, chrono::Utc::now())
            .await
            .unwrap()
    );
    let scheduled = syncer.start_scheduled().await.unwrap();
    assert!(
        scheduled
            .iter()
            .any(|s| s.company_id == "biz_gone" && s.started.is_ok())
    );
}

#[tokio::test]
async fn a_company_is_made_known_by_a_memberships_first_event_with_one_conditional_write_per_instance()
 {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let warm = shared::edge::deps::processor::processor(&app);

    process(
        &warm,
        &[queued("biz_a", "mem_one", 0, "membership.activated", 0)],
    )
    .await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem", "UpdateItem"],
        "the first event: the state write, the company made known, the mark"
    );
    process(
        &warm,
        &[queued("biz_a", "mem_one", 1, "membership.activated", 1)],
    )
    .await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem"],
        "a later event of the membership: as before"
    );
    process(
        &warm,
        &[queued("biz_a", "mem_two", 2, "membership.activated", 2)],
    )
    .await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem"],
        "another membership's first event: this instance already wrote the company"
    );
    let cold = shared::edge::deps::processor::processor(&app);
    process(
        &cold,
        &[queued("biz_a", "mem_three", 3, "membership.activated", 3)],
    )
    .await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem", "UpdateItem"],
        "another instance writes it once; its condition finds the company known"
    );

    let known = DynamoCompanyItems::of(&stack.app)
        .known_companies()
        .await
        .unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].company_id, "biz_a");
    assert_eq!(known[0].source, KnownSource::Webhook);
    assert!(known[0].revoked.is_none());
}
