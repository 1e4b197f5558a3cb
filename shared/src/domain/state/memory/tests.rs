//! The company indexes over the in-memory store: any interleaving of record and upkeep writes,
//! with duplicates, crashes between the two and lost races, ends with every listing equal to a
//! brute-force listing of the folded states.

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::state::model::{
    MembershipFacts, MembershipState, PaymentFacts, PaymentStatus, Version,
};
use crate::domain::state::store::{record_and_upkeep, signal_index};

const MEMBERSHIPS: usize = 6;
const COMPANIES: [&str; 2] = ["biz_0", "biz_1"];

fn membership_id(index: usize) -> String {
    format!("mem_{index}")
}

/// Every membership but the last names its company; the last names none (listed nowhere).
fn company_of(index: usize) -> Option<String> {
    (index + 1 < MEMBERSHIPS).then(|| COMPANIES[index % 2].to_owned())
}

/// Event `n` of membership `index`: one of six facts, `day` days into the history.
fn observation(n: usize, index: usize, fact: u8, day: i64) -> Observation {
    let status = |status: &str| MembershipFacts {
        status: Some(status.to_owned()),
        ..MembershipFacts::default()
    };
    let payment = |outcome| PaymentFacts {
        id: format!("pay_{n}"),
        status: outcome,
        amount: Some("29.00".into()),
        currency: Some("usd".into()),
        failure_reason: None,
    };
    let (membership, payment) = match fact {
        0 => (status("active"), None),
        1 => (
            MembershipFacts::default(),
            Some(payment(PaymentStatus::Failed)),
        ),
        2 => (
            MembershipFacts::default(),
            Some(payment(PaymentStatus::Succeeded)),
        ),
        3 => (
            MembershipFacts {
                cancel_at_period_end: Some(true),
                ..status("active")
            },
            None,
        ),
        4 => (
            MembershipFacts {
                valid: Some(false),
                ..status("canceled")
            },
            None,
        ),
        _ => (status("past_due"), None),
    };
    let at = DateTime::<Utc>::from_timestamp(1_772_366_400 + day * 86_400 + n as i64, 0).unwrap();
    Observation {
        version: Version::new(at, format!("evt_{n:03}")),
        kind: "test".into(),
        membership: MembershipFacts {
            company_id: company_of(index),
            ..membership
        },
        payment,
    }
}

/// The oracle: every stored membership folded, those of `company` with an open `kind` signal,
/// most recent signal start first (then the higher id, as the index's sort key orders).
async fn brute_force(store: &MemoryStateStore, company: &str, kind: SignalKind) -> Vec<String> {
    let mut listed: Vec<(DateTime<Utc>, String)> = Vec::new();
    for index in 0..MEMBERSHIPS {
        let Some(stored) = store.membership(&membership_id(index)).await.unwrap() else {
            continue;
        };
        let state: MembershipState = stored.state();
        if state.company_id.as_deref() == Some(company)
            && let Some(signal) = state.open_signal(kind)
        {
            listed.push((signal.started_at, state.id.clone()));
        }
    }
    listed.sort();
    listed.reverse();
    listed.into_iter().map(|(_, id)| id).collect()
}

/// The ids of every page of a listing read two at a time (so cursors are exercised).
async fn every_page<F, Fut>(page: F) -> Vec<String>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<StoredMembership>, DependencyError>>,
{
    let items = crate::domain::state::store::every_page(page).await.unwrap();
    items.into_iter().map(|item| item.membership_id).collect()
}

async fn listed(store: &MemoryStateStore, company: &str, kind: SignalKind) -> Vec<String> {
    every_page(|after| async move {
        store
            .with_open_signal(company, kind, 2, after.as_deref())
            .await
    })
    .await
}

async fn all_of_company(store: &MemoryStateStore, company: &str) -> Vec<String> {
    every_page(|after| async move { store.of_company(company, 2, after.as_deref()).await }).await
}

/// Asserts every listing equals the brute force: 0 missing, 0 extra, same order.
async fn assert_listings_match(store: &MemoryStateStore) {
    for company in COMPANIES {
        for kind in SignalKind::ALL {
            assert_eq!(
                listed(store, company, kind).await,
                brute_force(store, company, kind).await,
                "{company} {kind:?}"
            );
        }
        let expected: Vec<String> = (0..MEMBERSHIPS)
            .filter(|index| company_of(*index).as_deref() == Some(company))
            .map(membership_id)
            .filter(|id| store.items().contains_key(id))
            .collect();
        assert_eq!(all_of_company(store, company).await, expected);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// A delivery between its two writes.
struct Writer {
    delivery: usize,
    upkeep: Option<Upkeep>,
}

proptest! {
    /// Deliveries in any order, some twice, as concurrent writers whose record and upkeep
    /// interleave at random; some stop between the two (their message is delivered again).
    #[test]
    fn any_interleaving_leaves_every_index_equal_to_the_folded_states(
        events in prop::collection::vec((0..MEMBERSHIPS, 0u8..6, 0i64..120), 1..60),
        seed in any::<u64>(),
    ) {
        let observations: Vec<(usize, Observation)> = events
            .iter()
            .enumerate()
            .map(|(n, &(index, fact, day))| (index, observation(n, index, fact, day)))
            .collect();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut deliveries: Vec<usize> = (0..observations.len()).collect();
        for _ in 0..observations.len() / 3 {
            deliveries.push(rng.usize(..observations.len()));
        }
        rng.shuffle(&mut deliveries);
        let store = MemoryStateStore::new();
        runtime().block_on(async {
            let mut pending: Vec<Writer> = Vec::new();
            while !deliveries.is_empty() || !pending.is_empty() {
                if !deliveries.is_empty() && (pending.is_empty() || rng.bool()) {
                    let delivery = deliveries.remove(0);
                    let (index, observation) = &observations[delivery];
                    let recorded = store
                        .record(&membership_id(*index), Source::Whop, observation)
                        .await
                        .unwrap();
                    let upkeep = recorded.item().and_then(StoredMembership::upkeep);
                    pending.push(Writer { delivery, upkeep });
                    continue;
                }
                let writer = pending.remove(rng.usize(..pending.len()));
                let Some(upkeep) = writer.upkeep else { continue };
                if rng.u8(..8) == 0 {
                    deliveries.push(writer.delivery);
                    continue;
                }
                // `false` when a later write got in between: that writer's upkeep covers it.
                let index = observations[writer.delivery].0;
                store.upkeep(&membership_id(index), &upkeep).await.unwrap();
            }
            assert_listings_match(&store).await;
        });
    }
}

#[tokio::test]
async fn a_lost_upkeep_race_is_made_good_by_the_later_writer() {
    let store = MemoryStateStore::new();
    let failed = observation(0, 0, 1, 0);
    let succeeded = observation(1, 0, 2, 1);
    let id = membership_id(0);
    record_and_upkeep(&store, &id, Source::Whop, &observation(2, 0, 0, -1))
        .await
        .unwrap();
    // Writer X records the failure; before its upkeep, writer Y records the success.
    let x = store.record(&id, Source::Whop, &failed).await.unwrap();
    let y = store.record(&id, Source::Whop, &succeeded).await.unwrap();
    let (x, y) = (x.item().unwrap().upkeep(), y.item().unwrap().upkeep());
    assert!(store.upkeep(&id, &y.unwrap()).await.unwrap());
    assert!(
        !store.upkeep(&id, &x.unwrap()).await.unwrap(),
        "X lost the race"
    );
    assert_eq!(
        listed(&store, "biz_0", SignalKind::AtRisk).await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(&store, "biz_0", SignalKind::Recovered).await,
        vec![id.clone()]
    );
    assert_listings_match(&store).await;
}

#[tokio::test]
async fn a_redelivery_repairs_an_index_its_first_delivery_left_unwritten() {
    let store = MemoryStateStore::new();
    let id = membership_id(0);
    let failed = observation(0, 0, 1, 0);
    // The first delivery stops after its record write.
    store.record(&id, Source::Whop, &failed).await.unwrap();
    assert!(listed(&store, "biz_0", SignalKind::AtRisk).await.is_empty());
    let writes = store.writes.load(Ordering::Relaxed);
    let again = record_and_upkeep(&store, &id, Source::Whop, &failed)
        .await
        .unwrap();
    assert!(matches!(again, Recorded::Duplicate(Some(_))));
    assert_eq!(
        store.writes.load(Ordering::Relaxed) - writes,
        2,
        "refused record, then upkeep"
    );
    assert_eq!(
        listed(&store, "biz_0", SignalKind::AtRisk).await,
        vec![id.clone()]
    );
    // A further duplicate finds the index right: the refused record alone.
    record_and_upkeep(&store, &id, Source::Whop, &failed)
        .await
        .unwrap();
    assert_eq!(store.writes.load(Ordering::Relaxed) - writes, 3);
}

#[tokio::test]
async fn an_event_that_changes_no_signal_costs_the_record_write_alone() {
    let store = MemoryStateStore::new();
    let id = membership_id(0);
    record_and_upkeep(&store, &id, Source::Whop, &observation(0, 0, 1, 0))
        .await
        .unwrap();
    let writes = store.writes.load(Ordering::Relaxed);
    // A second failed payment: still at risk since the first.
    record_and_upkeep(&store, &id, Source::Whop, &observation(1, 0, 1, 1))
        .await
        .unwrap();
    assert_eq!(store.writes.load(Ordering::Relaxed) - writes, 1);
    let stored = store.membership(&id).await.unwrap().unwrap();
    assert_eq!(stored.indexed, signal_index(&stored.state()));
    assert_eq!(
        stored.indexed.keys().copied().collect::<Vec<_>>(),
        vec![SignalKind::AtRisk]
    );
}
