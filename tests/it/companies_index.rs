//! The company indexes of the state table against the emulator: written by the real processor
//! from shuffled, duplicated, racing and interrupted deliveries (and by sync pages whose upkeep
//! failed), listed with Query, and compared with a brute-force listing of every membership's
//! folded state read by GetItem.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions, sample_membership};
use serde_json::json;
use shared::App;
use shared::aws::claims::DynamoClaims;
use shared::aws::state::DynamoState;
use shared::domain::ports::{
    CompanyMemberships, DependencyError, InboundMessage, StateStore, SystemClock,
};
use shared::domain::state::model::{Observation, SignalKind};
use shared::domain::state::process::Processor;
use shared::domain::state::store::{Page, Recorded, StoredMembership, Upkeep};
use shared::domain::sync::worker::{PageOutcome, SyncError};
use shared::domain::sync::{PageJob, SyncCounts};
use shared::domain::webhooks::Source;
use shared::edge::deps::processor::{AppProcessor, processor};
use shared::providers::Registry;

use crate::helpers::{RequestLog, start_stack};
use crate::processor::Draws;

const COMPANIES: [&str; 4] = ["biz_a", "biz_b", "biz_c", "biz_d"];

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .to_utc()
        + Duration::minutes(minute)
}

/// A Whop event of `membership` as the events queue carries it (what ingest enqueues).
pub(crate) fn queued(company: &str, membership: &str, n: usize, kind: &str, minute: i64) -> String {
    let user = json!({"id": format!("user_{membership}"), "email": format!("{membership}@example.com"),
                      "name": "A Member"});
    let payment = format!("pay_{n}_{membership}");
    let data = match kind {
        "payment.failed" => json!({"id": payment, "substatus": "failed", "total": 29.0,
            "currency": "usd", "user": user, "membership": {"id": membership, "status": "past_due"}}),
        "payment.succeeded" => json!({"id": payment, "substatus": "succeeded", "total": 29.0,
            "currency": "usd", "user": user, "membership": {"id": membership, "status": "active"}}),
        "membership.cancel_at_period_end_changed" => {
            json!({"id": membership, "status": "active", "cancel_at_period_end": true})
        }
        "membership.deactivated" => json!({"id": membership, "status": "canceled"}),
        _ => json!({"id": membership, "status": "active", "cancel_at_period_end": false,
            "user": user, "manage_url": format!("https://whop.com/orders/{membership}/manage/")}),
    };
    let mut subject = json!({"membership_id": membership, "user_id": format!("user_{membership}"),
                             "company_id": company});
    if kind.starts_with("payment.") {
        subject["payment_id"] = json!(payment);
    }
    json!({"provider": "whop", "event_id": format!("evt_{n}_{membership}"), "kind": kind,
           "subject": subject, "occurred_at": at(minute), "received_at": at(minute),
           "raw": {"type": kind, "data": data}})
    .to_string()
}

/// A history of 2–7 events per membership, drawn so every signal kind opens and closes: an
/// activation, then failed and successful payments, cancellations scheduled, deactivations and
/// reactivations. Minutes repeat across memberships, so signal starts tie.
fn histories(memberships: &[(String, String)], draws: &mut Draws) -> Vec<(String, String)> {
    const STEPS: [&str; 5] = [
        "payment.failed",
        "payment.succeeded",
        "membership.cancel_at_period_end_changed",
        "membership.deactivated",
        "membership.activated",
    ];
    let mut events = Vec::new();
    for (company, membership) in memberships {
        let mut minute = i64::try_from(draws.below(5)).unwrap();
        events.push((
            membership.clone(),
            queued(company, membership, 0, "membership.activated", minute),
        ));
        for n in 1..=1 + draws.below(6) {
            minute += 1 + i64::try_from(draws.below(3)).unwrap();
            let kind = STEPS[draws.below(STEPS.len())];
            events.push((
                membership.clone(),
                queued(company, membership, n, kind, minute),
            ));
        }
    }
    events
}

/// The state table, with two disturbances at the upkeep write: before it, another processor may
/// record a delivery of the same membership (so the upkeep loses its race), and the upkeeps
/// `fails` picks (by call number, from 0) fail as a timed-out request would (so the message or
/// page is retried).
struct Racing {
    inner: DynamoState,
    rival: AppProcessor,
    interlopers: Mutex<HashMap<String, Vec<String>>>,
    fails: fn(usize) -> bool,
    calls: AtomicUsize,
    lost: AtomicUsize,
    failed: AtomicUsize,
}

impl Racing {
    fn new(app: &App, fails: fn(usize) -> bool) -> Self {
        Self {
            inner: DynamoState::of(app),
            rival: processor(app),
            interlopers: Mutex::new(HashMap::new()),
            fails,
            calls: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }
}

impl StateStore for Racing {
    async fn record(
        &self,
        membership_id: &str,
        provider: Source,
        observation: &Observation,
    ) -> Result<Recorded, DependencyError> {
        self.inner
            .record(membership_id, provider, observation)
            .await
    }

    async fn upkeep(&self, membership_id: &str, upkeep: &Upkeep) -> Result<bool, DependencyError> {
        let interloper = self
            .interlopers
            .lock()
            .unwrap()
            .get_mut(membership_id)
            .and_then(Vec::pop);
        if let Some(body) = interloper {
            self.rival.process(&body, 1).await.unwrap();
        }
        if (self.fails)(self.calls.fetch_add(1, Ordering::Relaxed)) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Err(DependencyError::Timeout);
        }
        let applied = self.inner.upkeep(membership_id, upkeep).await?;
        if !applied {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        Ok(applied)
    }

    async fn membership(&self, id: &str) -> Result<Option<StoredMembership>, DependencyError> {
        self.inner.membership(id).await
    }

    async fn memberships(&self, ids: &[String]) -> Result<Vec<StoredMembership>, DependencyError> {
        self.inner.memberships(ids).await
    }

    async fn memberships_of_user(
        &self,
        user: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<StoredMembership>, DependencyError> {
        self.inner.memberships_of_user(user, limit, after).await
    }
}

/// A membership listed by its signal's start.
type Started = (DateTime<Utc>, String);

/// Delivers `queue` to `racing` in batches of ten, as SQS hands them over, failed messages to the
/// back of the queue, until every one succeeded; then the interlopers that found no upkeep to race.
async fn deliver(
    racing: &Processor<Racing, DynamoClaims, SystemClock, Registry>,
    mut queue: Vec<String>,
) {
    let mut sent = 0;
    while !queue.is_empty() {
        let batch: Vec<String> = queue.drain(..queue.len().min(10)).collect();
        let records: Vec<InboundMessage> = batch
            .iter()
            .map(|body| {
                sent += 1;
                InboundMessage {
                    message_id: Some(format!("m{sent}")),
                    body: Some(body.clone()),
                    receive_count: 1,
                }
            })
            .collect();
        let report = racing.process_batch(&records).await.unwrap();
        for (record, body) in records.iter().zip(batch) {
            if report.failed.contains(record.message_id.as_ref().unwrap()) {
                queue.push(body);
            }
        }
        if queue.is_empty() {
            queue.extend(
                racing
                    .state
                    .interlopers
                    .lock()
                    .unwrap()
                    .drain()
                    .flat_map(|(_, b)| b),
            );
        }
    }
}

/// The ids of every page of a listing.
async fn every_page<F, Fut>(page: F) -> Vec<String>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<StoredMembership>, DependencyError>>,
{
    let items = shared::domain::state::store::every_page(page)
        .await
        .unwrap();
    items.into_iter().map(|item| item.membership_id).collect()
}

/// The brute force: every membership of `memberships` (company, id) read by GetItem and folded,
/// then each company's signal listings and its listing of every membership, read page by page
/// through the indexes, compared with it (0 missing, 0 extra). Returns for how many memberships
/// each signal kind is open.
async fn assert_indexes_equal_the_folds(
    table: &DynamoState,
    memberships: &[(String, String)],
) -> BTreeMap<SignalKind, usize> {
    let mut expected: BTreeMap<(&str, SignalKind), Vec<Started>> = BTreeMap::new();
    let mut of_company: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (company, membership) in memberships {
        let state = table.membership(membership).await.unwrap().unwrap().state();
        assert_eq!(state.company_id.as_deref(), Some(company.as_str()));
        of_company
            .entry(company)
            .or_default()
            .push(state.id.clone());
        for kind in SignalKind::ALL {
            let listed = expected.entry((company, kind)).or_default();
            if let Some(signal) = state.open_signal(kind) {
                listed.push((signal.started_at, state.id.clone()));
            }
        }
    }
    let mut open = BTreeMap::new();
    for (&(company, kind), members) in &mut expected {
        *open.entry(kind).or_default() += members.len();
        // Most recent signal first; equal starts by id, as the sort key orders them.
        members.sort();
        members.reverse();
        let expected: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
        let listed = every_page(|after| async move {
            table
                .with_open_signal(company, kind, 7, after.as_deref())
                .await
        })
        .await;
        assert_eq!(listed, expected, "{company} {kind:?}: 0 missing, 0 extra");
    }
    for (company, members) in of_company {
        let listed =
            every_page(|after| async move { table.of_company(company, 9, after.as_deref()).await })
                .await;
        assert_eq!(listed, members, "{company}: every membership");
    }
    open
}

#[tokio::test]
async fn shuffled_duplicated_racing_histories_of_200_memberships_leave_every_index_equal_to_the_folded_states()
 {
    let stack = start_stack().await;
    let app = &stack.app;
    let mut draws = Draws::new(13);
    let memberships: Vec<(String, String)> = (0..200)
        .map(|i| (COMPANIES[i % 4].to_owned(), format!("mem_{i:03}")))
        .collect();
    let events = histories(&memberships, &mut draws);
    // Each membership's last two events are held back for the end; the others are delivered
    // once, a third of them twice, in a shuffled order.
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    let mut first = Vec::new();
    for (membership, body) in events.iter().rev() {
        let held = held.entry(membership.clone()).or_default();
        if held.len() < 2 {
            held.push(body.clone());
        } else {
            first.push(body.clone());
        }
    }
    let mut deliveries = first.clone();
    for _ in 0..first.len() / 3 {
        deliveries.push(first[draws.below(first.len())].clone());
    }
    draws.shuffle(&mut deliveries);
    // Every eleventh upkeep fails.
    let store = Racing::new(app, |call| call % 11 == 10);
    let racing = Processor::new(
        store,
        DynamoClaims::of(app),
        SystemClock,
        Registry::default(),
    );
    deliver(&racing, deliveries).await;
    // Then each membership's newest event, and, slipped in by another processor between its
    // record and its upkeep, the one before it (out of order): the upkeep loses that race.
    let mut last = Vec::new();
    for (membership, mut pair) in held {
        let before_last = pair.pop().unwrap();
        last.extend(pair);
        racing
            .state
            .interlopers
            .lock()
            .unwrap()
            .insert(membership, vec![before_last]);
    }
    draws.shuffle(&mut last);
    deliver(&racing, last).await;

    let table = DynamoState::of(app);
    let open = assert_indexes_equal_the_folds(&table, &memberships).await;
    for kind in SignalKind::ALL {
        assert!(
            open[&kind] >= 10,
            "{kind:?} is open for {} memberships",
            open[&kind]
        );
    }
    // What the run went through: upkeeps that lost their race and upkeeps that failed.
    let lost = racing.state.lost.load(Ordering::Relaxed);
    let failed = racing.state.failed.load(Ordering::Relaxed);
    assert!(
        lost > 10 && failed > 10,
        "lost races {lost}, failed upkeeps {failed}"
    );
}

/// Processes `bodies` (in order) with the stack's processor over `app` (a cold instance).
async fn process(app: &App, bodies: &[String]) {
    process_with(&processor(app), bodies).await;
}

/// Processes `bodies` (in order) with `processor` (one instance, warm after its first batch).
pub(crate) async fn process_with(
    processor: &shared::edge::deps::processor::AppProcessor,
    bodies: &[String],
) {
    let records: Vec<InboundMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: Some(format!("m{i}")),
            body: Some(body.clone()),
            receive_count: 1,
        })
        .collect();
    let report = processor.process_batch(&records).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
}

#[tokio::test]
async fn an_event_that_changes_no_signal_costs_the_state_write_and_the_mark_alone() {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let event = |n, kind, minute| queued("biz_a", "mem_quiet", n, kind, minute);

    process(&app, &[event(0, "membership.activated", 0)]).await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem", "UpdateItem"],
        "no signal yet; the membership's first event makes its company known"
    );
    process(&app, &[event(1, "payment.failed", 1)]).await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem", "SendMessage", "UpdateItem"],
        "at risk opens: the state write, the index upkeep, the notification job, the mark"
    );
    process(&app, &[event(2, "payment.failed", 2)]).await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem"],
        "still at risk since the first failure: as before the indexes"
    );
    process(&app, &[event(2, "payment.failed", 2)]).await;
    assert_eq!(
        requests.take(),
        ["UpdateItem", "UpdateItem"],
        "a duplicate: the refused write and the mark"
    );
    let listed = DynamoState::of(&stack.app)
        .with_open_signal("biz_a", SignalKind::AtRisk, 10, None)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let state = listed.items[0].state();
    assert_eq!(
        state.open_signal(SignalKind::AtRisk).unwrap().started_at,
        at(1)
    );
    assert_eq!(
        state.contact.email.as_deref(),
        Some("mem_quiet@example.com")
    );
}

#[tokio::test]
async fn listing_50_at_risk_members_is_one_query() {
    let stack = start_stack().await;
    let bodies: Vec<String> = (0..60)
        .map(|i| {
            queued(
                "biz_big",
                &format!("mem_{i:02}"),
                0,
                "payment.failed",
                i64::from(i),
            )
        })
        .collect();
    for batch in bodies.chunks(10) {
        process(&stack.app, batch).await;
    }
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let table = DynamoState::of(&app);
    let page = table
        .with_open_signal("biz_big", SignalKind::AtRisk, 50, None)
        .await
        .unwrap();
    assert_eq!(requests.take(), ["Query"]);
    let ids: Vec<&str> = page
        .items
        .iter()
        .map(|m| m.membership_id.as_str())
        .collect();
    let newest_first: Vec<String> = (10..60).rev().map(|i| format!("mem_{i:02}")).collect();
    assert_eq!(ids, newest_first);
    let rest = table
        .with_open_signal("biz_big", SignalKind::AtRisk, 50, page.next.as_deref())
        .await
        .unwrap();
    assert_eq!(requests.take(), ["Query"]);
    assert_eq!(rest.items.len(), 10);
    assert_eq!(rest.next, None);
    // All of the company: a page of the keys-only index, then its items in one batch.
    let all = table.of_company("biz_big", 50, None).await.unwrap();
    assert_eq!(requests.take(), ["Query", "BatchGetItem"]);
    assert_eq!(all.items.len(), 50);
}

#[tokio::test]
async fn a_sync_write_whose_index_upkeep_failed_is_indexed_by_the_retried_page_that_finds_no_drift()
{
    let stack = start_stack().await;
    let app = &stack.app;
    let fake = FakeWhop::start(FakeWhopOptions::default()).await.unwrap();
    // Past due and set to cancel at the period's end: at risk and cancel scheduled.
    fake.put(sample_membership(0));
    // The first upkeep fails.
    let syncer = crate::sync::syncer_over(&stack, &fake, Racing::new(app, |call| call == 0)).await;
    let run = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let job = PageJob {
        run_id: run.run_id.clone(),
        page: 0,
        cursor: None,
        deferrals: 0,
    };

    let failed = syncer.run_page(&job).await;
    assert!(
        matches!(failed, Err(SyncError::Store(DependencyError::Timeout))),
        "{failed:?}"
    );
    let table = DynamoState::of(app);
    let item = table.membership("mem_00000").await.unwrap().unwrap();
    assert_eq!(
        item.state().open_signals(),
        [SignalKind::AtRisk, SignalKind::CancelScheduled],
        "the sync write was recorded"
    );
    assert!(item.indexed.is_empty(), "its index upkeep was not");

    // The queue delivers the page again: the state equals the API, nothing drifted.
    let again = syncer.run_page(&job).await.unwrap();
    let in_step = SyncCounts {
        seen: 1,
        unchanged: 1,
        ..SyncCounts::default()
    };
    assert_eq!(
        again,
        PageOutcome::Counted {
            counts: in_step,
            completed: true
        }
    );
    let memberships = [(COMPANY_ID.to_owned(), "mem_00000".to_owned())];
    let open = assert_indexes_equal_the_folds(&table, &memberships).await;
    assert_eq!(
        (
            open[&SignalKind::AtRisk],
            open[&SignalKind::CancelScheduled]
        ),
        (1, 1)
    );
    assert_eq!(
        syncer.state.calls.load(Ordering::Relaxed),
        2,
        "the failed upkeep, then the one the retried page wrote"
    );

    // A later run over the store in step writes nothing.
    let next = syncer
        .start(syncer.scope(None, None).unwrap(), "test".into())
        .await
        .unwrap();
    let job = PageJob {
        run_id: next.run_id,
        ..job
    };
    let outcome = syncer.run_page(&job).await.unwrap();
    assert_eq!(
        outcome,
        PageOutcome::Counted {
            counts: in_step,
            completed: true
        }
    );
    assert_eq!(syncer.state.calls.load(Ordering::Relaxed), 2, "no upkeep");
}
