use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;
use crate::domain::secret::tests::FixedClock;
use crate::domain::state::model::{MembershipState, Version};
use crate::domain::webhooks::Source;

/// Switches in memory, counting loads; `down` makes every call fail.
#[derive(Default)]
struct Memory {
    stored: Mutex<Vec<Emergency>>,
    loads: AtomicUsize,
    down: AtomicBool,
}

impl Memory {
    fn check(&self) -> Result<(), DependencyError> {
        if self.down.load(Ordering::Relaxed) {
            Err(DependencyError::Timeout)
        } else {
            Ok(())
        }
    }
}

impl EmergencyStore for &Memory {
    async fn load(&self, provider: &str) -> Result<Option<Emergency>, DependencyError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.check()?;
        let stored = self.stored.lock().unwrap();
        Ok(stored.iter().find(|e| e.provider == provider).cloned())
    }

    async fn save(&self, emergency: &Emergency) -> Result<(), DependencyError> {
        self.check()?;
        let mut stored = self.stored.lock().unwrap();
        stored.retain(|e| e.provider != emergency.provider);
        stored.push(emergency.clone());
        Ok(())
    }

    async fn remove(&self, provider: &str) -> Result<Option<Emergency>, DependencyError> {
        self.check()?;
        let mut stored = self.stored.lock().unwrap();
        let index = stored.iter().position(|e| e.provider == provider);
        Ok(index.map(|index| stored.remove(index)))
    }

    async fn list(&self) -> Result<Vec<Emergency>, DependencyError> {
        self.check()?;
        Ok(self.stored.lock().unwrap().clone())
    }
}

const HOUR: Duration = Duration::from_secs(3600);

async fn on(store: &Memory, clock: &FixedClock, duration: Duration) -> Emergency {
    switch_on(
        &store,
        "whop",
        duration,
        "ops",
        "whop is down",
        (&clock).now(),
    )
    .await
    .unwrap()
}

#[test]
fn durations_read_as_the_cli_takes_them() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_duration("1h"), Ok(HOUR));
    assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
    assert_eq!(parse_duration("1d"), Ok(MAX_DURATION));
    for bad in [
        "",
        "0h",
        "1",
        "h",
        "1x",
        "25h",
        "-1h",
        "99999999999999999999d",
    ] {
        assert_eq!(
            parse_duration(bad),
            Err(EmergencyError::InvalidDuration(bad.to_owned())),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_switch_is_on_until_it_expires_whatever_the_store_still_holds() {
    let store = Memory::default();
    let clock = FixedClock::new();
    let switch = EmergencySwitch::new(&store, &clock, Duration::ZERO);
    let emergency = on(&store, &clock, HOUR).await;

    assert_eq!(switch.active("whop").await, Some(emergency.clone()));
    assert_eq!(switch.active("stripe").await, None);
    clock.advance(3599);
    assert!(switch.active("whop").await.is_some());

    clock.advance(1);
    assert_eq!(switch.active("whop").await, None);
    // The item is still stored (TTL deletes late); only the read says it is over.
    assert_eq!((&store).load("whop").await.unwrap(), Some(emergency));
}

#[tokio::test]
async fn switching_on_needs_a_reason_an_operator_and_a_bounded_duration() {
    let memory = Memory::default();
    let store = &memory;
    let now = Utc::now();
    let refused = |duration, by, reason| switch_on(&store, "whop", duration, by, reason, now);

    assert_eq!(
        refused(HOUR, "ops", " ").await,
        Err(EmergencyError::MissingReason)
    );
    assert_eq!(
        refused(HOUR, "", "down").await,
        Err(EmergencyError::MissingOperator)
    );
    assert!(matches!(
        refused(MAX_DURATION + Duration::from_secs(1), "ops", "down").await,
        Err(EmergencyError::InvalidDuration(_))
    ));
    assert!(memory.stored.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_read_is_reused_for_the_ttl_so_off_takes_effect_within_one_ttl() {
    let store = Memory::default();
    let clock = FixedClock::new();
    let switch = EmergencySwitch::new(&store, &clock, Duration::from_secs(30));
    on(&store, &clock, HOUR).await;
    assert!(switch.active("whop").await.is_some());

    switch_off(&&store, "whop").await.unwrap();
    clock.advance(29);
    assert!(switch.active("whop").await.is_some(), "within the TTL");
    assert_eq!(store.loads.load(Ordering::Relaxed), 1);

    clock.advance(1);
    assert_eq!(switch.active("whop").await, None);
    assert_eq!(store.loads.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn an_unreadable_store_keeps_the_last_switch_read_and_is_off_without_one() {
    let store = Memory::default();
    let clock = FixedClock::new();
    let switch = EmergencySwitch::new(&store, &clock, Duration::ZERO);
    on(&store, &clock, HOUR).await;
    assert!(switch.active("whop").await.is_some());

    store.down.store(true, Ordering::Relaxed);

    assert!(switch.active("whop").await.is_some());
    assert_eq!(switch.active("stripe").await, None);
    clock.advance(3600);
    assert_eq!(switch.active("whop").await, None, "expired even so");
}

#[tokio::test]
async fn switching_off_says_what_was_on() {
    let store = Memory::default();
    let clock = FixedClock::new();
    let emergency = on(&store, &clock, HOUR).await;

    assert_eq!(switch_off(&&store, "whop").await, Ok(Some(emergency)));
    assert_eq!(switch_off(&&store, "whop").await, Ok(None));
}

fn view(at: DateTime<Utc>) -> MembershipView {
    let mut state = MembershipState::empty("mem_1", Source::Whop);
    state.version = Some(Version::new(at, "evt_1"));
    MembershipView {
        state,
        open_signals: Vec::new(),
    }
}

#[test]
fn a_stale_read_says_so_with_the_age_of_its_newest_fact() {
    let now = Utc::now();
    let marked =
        serde_json::to_value(Marked::of(view(now - TimeDelta::seconds(90)), true, now)).unwrap();

    assert_eq!(marked["id"], "mem_1");
    assert_eq!(marked["stale"], true);
    assert_eq!(marked["stale_reason"], "emergency_mode");
    assert_eq!(marked["age_secs"], 90);
}

#[test]
fn a_fresh_read_is_the_view_alone() {
    let now = Utc::now();
    let plain = serde_json::to_value(view(now)).unwrap();

    let marked = serde_json::to_value(Marked::of(view(now), false, now)).unwrap();

    assert_eq!(marked, plain);
}

#[tokio::test]
async fn a_page_is_stale_when_a_membership_of_a_switched_off_provider_is_on_it() {
    let store = Memory::default();
    let clock = FixedClock::new();
    let switch = EmergencySwitch::new(&store, &clock, Duration::ZERO);
    let page = || UserMemberships {
        user_id: "user_1".into(),
        memberships: vec![view((&clock).now())],
        next: None,
    };
    assert!(!switch.mark_page(page()).await.stale);

    on(&store, &clock, HOUR).await;
    let marked = switch.mark_page(page()).await;

    assert!(marked.stale);
    assert!(marked.memberships[0].stale);
    assert_eq!(marked.memberships[0].age_secs, Some(0));
}
