use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::TimeZone;

use super::summary::summarize;
use super::*;
use crate::domain::creators::plan::{FixedPlan, PlanRequired, Tier};
use crate::domain::ports::AccessCheckError;
use crate::domain::state::memory::MemoryStateStore;
use crate::domain::state::model::{
    MembershipFacts, Observation, PaymentFacts, PaymentStatus, Version,
};
use crate::domain::state::store::{SignalIndex, StoredMembership, record_and_upkeep};
use crate::domain::webhooks::Source;

// ---------------------------------------------------------------- histories

fn day(n: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + n * 86_400, 0).unwrap()
}

/// An event of membership `id` on day `n`.
fn event(id: &str, n: i64, facts: MembershipFacts, payment: Option<PaymentFacts>) -> Observation {
    Observation {
        version: Version::new(day(n), format!("evt_{id}_{n}")),
        kind: "test".into(),
        membership: MembershipFacts {
            company_id: Some("biz_1".into()),
            user_id: Some(format!("user_{id}")),
            ..facts
        },
        payment,
    }
}

fn status(status: &str) -> MembershipFacts {
    MembershipFacts {
        status: Some(status.into()),
        ..MembershipFacts::default()
    }
}

fn paid(id: &str, n: i64, outcome: PaymentStatus, amount: &str, currency: &str) -> Observation {
    event(
        id,
        n,
        MembershipFacts::default(),
        Some(PaymentFacts {
            id: format!("pay_{id}"),
            status: outcome,
            amount: Some(amount.into()),
            currency: Some(currency.into()),
            failure_reason: (outcome == PaymentStatus::Failed).then(|| "card_declined".into()),
        }),
    )
}

fn stored(id: &str, observations: Vec<Observation>) -> StoredMembership {
    StoredMembership {
        membership_id: format!("mem_{id}"),
        provider: Source::Whop,
        user_id: Some(format!("user_{id}")),
        company_id: Some("biz_1".to_owned()),
        indexed: SignalIndex::new(),
        base: None,
        observations,
        revision: 1,
    }
}

/// Seven memberships of `biz_1` whose figures for days 0–30 are worked out by hand below.
fn company() -> Vec<StoredMembership> {
    use PaymentStatus::{Failed, Succeeded};
    vec![
        // a: active before the period, a payment of 29.00 usd fails on day 5: at risk.
        stored(
            "a",
            vec![
                event("a", -10, status("active"), None),
                paid("a", 5, Failed, "29.00", "usd"),
            ],
        ),
        // b: 10.50 usd fails on day 3 and is collected on day 4: recovered.
        stored(
            "b",
            vec![
                event("b", -10, status("active"), None),
                paid("b", 3, Failed, "10.50", "usd"),
                paid("b", 4, Succeeded, "10.50", "usd"),
            ],
        ),
        // c: the same in eur, 5.00, days 6 and 8.
        stored(
            "c",
            vec![
                event("c", -10, status("active"), None),
                paid("c", 6, Failed, "5.00", "eur"),
                paid("c", 8, Succeeded, "5.00", "eur"),
            ],
        ),
        // d: active before the period, churns on day 10.
        stored(
            "d",
            vec![
                event("d", -10, status("active"), None),
                event("d", 10, status("canceled"), None),
            ],
        ),
        // e: joins on day 2 (not active at the start), churns on day 12.
        stored(
            "e",
            vec![
                event("e", 2, status("active"), None),
                event("e", 12, status("expired"), None),
            ],
        ),
        // f: churned before the period.
        stored(
            "f",
            vec![
                event("f", -20, status("active"), None),
                event("f", -15, status("canceled"), None),
            ],
        ),
        // g: 1.25 usd fails on day 20: at risk.
        stored(
            "g",
            vec![
                event("g", -10, status("active"), None),
                paid("g", 20, Failed, "1.25", "usd"),
            ],
        ),
    ]
}

fn period() -> Period {
    Period {
        since: day(0),
        until: day(30),
    }
}

fn kinds(
    at_risk: usize,
    cancel: usize,
    churned: usize,
    recovered: usize,
) -> BTreeMap<SignalKind, usize> {
    BTreeMap::from([
        (SignalKind::AtRisk, at_risk),
        (SignalKind::CancelScheduled, cancel),
        (SignalKind::Churned, churned),
        (SignalKind::Recovered, recovered),
    ])
}

fn money(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(c, a)| ((*c).to_owned(), (*a).to_owned()))
        .collect()
}

// ---------------------------------------------------------------- summary

/// The figures of [`company`] for `period`.
fn company_summary_of(period: Period) -> Summary {
    let known: Vec<_> = company()
        .iter()
        .map(summary::KnownMembership::from)
        .collect();
    summarize("biz_1", &known, period)
}

#[test]
fn the_summary_matches_the_hand_computed_figures() {
    let summary = company_summary_of(period());

    assert_eq!(summary.memberships, 7);
    // Open now: a, g at risk; d, e, f churned; b, c recovered.
    assert_eq!(summary.open_signals, kinds(2, 0, 3, 2));
    // Started in the period: at risk a(5) b(3) c(6) g(20); churned d(10) e(12); recovered b, c.
    assert_eq!(summary.opened, kinds(4, 0, 2, 2));
    // Ended in the period: b's and c's at-risk signals.
    assert_eq!(summary.closed, kinds(2, 0, 0, 0));
    // 29.00 + 1.25 usd.
    assert_eq!(summary.revenue_at_risk, money(&[("usd", "30.25")]));
    assert_eq!(summary.at_risk_without_amount, 0);
    assert_eq!(
        summary.revenue_recovered,
        money(&[("eur", "5.00"), ("usd", "10.50")])
    );
    assert_eq!(summary.recovered_without_amount, 0);
    // Active at day 0: a, b, c, d, g (e joined later, f had churned); of those d churned.
    assert_eq!(summary.churn.active_at_start, 5);
    assert_eq!(summary.churn.churned, 1);
    assert_eq!(summary.churn.rate, Some(0.2));
}

#[test]
fn a_stale_summary_says_so_with_the_age_of_the_newest_fact_of_its_memberships() {
    let summary = company_summary_of(period());
    // g's failed payment on day 20 is the newest fact of the seven.
    assert_eq!(summary.provenance.providers, BTreeSet::from([Source::Whop]));
    assert_eq!(summary.provenance.as_of, Some(day(20)));
    let plain = serde_json::to_value(&summary).unwrap();
    assert!(plain.get("provenance").is_none(), "{plain}");

    let marked = serde_json::to_value(Marked::of(summary, true, day(21))).unwrap();

    assert_eq!(marked["stale"], true);
    assert_eq!(marked["stale_reason"], "emergency_mode");
    assert_eq!(marked["age_secs"], 86_400);
    assert_eq!(marked["open_signals"], plain["open_signals"]);
}

#[test]
fn figures_outside_the_period_do_not_count() {
    // Days 9–11: only d's churn falls in it; open signals and revenue at risk are as of now.
    let summary = company_summary_of(Period {
        since: day(9),
        until: day(11),
    });
    assert_eq!(summary.opened, kinds(0, 0, 1, 0));
    assert_eq!(summary.closed, kinds(0, 0, 0, 0));
    assert!(summary.revenue_recovered.is_empty());
    assert_eq!(summary.revenue_at_risk, money(&[("usd", "30.25")]));
    // Active at day 9: a, b, c, d, e, g; d churned.
    assert_eq!(
        (summary.churn.active_at_start, summary.churn.churned),
        (6, 1)
    );
}

#[test]
fn amounts_sum_exactly_in_the_currencys_units() {
    use PaymentStatus::Failed;
    let members = [
        ("0.10", "usd"),
        ("0.20", "usd"),
        ("1000", "jpy"),
        ("2.5", "USD"),
        ("x", "usd"),
    ];
    let known: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, (amount, currency))| {
            let id = format!("m{i}");
            summary::KnownMembership::from(&stored(
                &id,
                vec![
                    event(&id, -1, status("active"), None),
                    paid(&id, 1, Failed, amount, currency),
                ],
            ))
        })
        .collect();
    let summary = summarize("biz_1", &known, period());
    // 0.10 + 0.20 + 2.50 exactly (no float drift); an unreadable amount is counted apart.
    assert_eq!(
        summary.revenue_at_risk,
        money(&[("jpy", "1000"), ("usd", "2.80")])
    );
    assert_eq!(summary.at_risk_without_amount, 1);
}

#[test]
fn no_membership_active_at_the_start_gives_no_rate() {
    let summary = summarize("biz_1", &[], period());
    assert_eq!(summary.churn.rate, None);
    assert_eq!(summary.open_signals, kinds(0, 0, 0, 0));
}

// ---------------------------------------------------------------- settings

#[test]
fn settings_report_every_problem_at_once() {
    let body = br#"{
        "recipients": ["ops@example.com", "not-an-address", "OPS@example.com", 7],
        "signals": ["at_risk", "lost"],
        "immediate": "yes",
        "digest": {"hour": 24, "time_zone": "Mars/Olympus"},
        "member_messages": true,
        "sender_name": "Acme <support>",
        "reply_to": "nobody",
        "colour": "blue"
    }"#;
    let problems = settings::parse(body).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "colour",
            "recipients[1]",
            "recipients[2]",
            "recipients[3]",
            "signals[1]",
            "immediate",
            "digest.hour",
            "digest.time_zone",
            "sender_name",
            "reply_to",
        ]
    );
    assert!(
        problems
            .iter()
            .all(|p| !p.problem.is_empty() && !p.fix.is_empty())
    );
}

#[test]
fn valid_settings_read_back_and_missing_fields_take_the_defaults() {
    let body =
        br#"{"recipients": ["ops@example.com"], "digest": {"hour": 8, "time_zone": "Europe/Paris"},
        "sender_name": "Acme Support", "reply_to": "support@example.com"}"#;
    let parsed = settings::parse(body).unwrap();
    assert_eq!(
        parsed,
        settings::CompanySettings {
            recipients: vec!["ops@example.com".into()],
            digest: Some(settings::Digest {
                hour: 8,
                time_zone: "Europe/Paris".into()
            }),
            sender_name: Some("Acme Support".into()),
            reply_to: Some("support@example.com".into()),
            ..settings::CompanySettings::default()
        }
    );
    assert!(
        !parsed.member_messages,
        "member messages are off by default"
    );
    assert_eq!(parsed.signals, SignalKind::ALL);
    assert_eq!(
        settings::parse(b"{}"),
        Ok(settings::CompanySettings::default())
    );
}

#[test]
fn alerts_without_recipients_and_non_objects_are_refused() {
    let problems = settings::parse(br#"{"immediate": true}"#).unwrap_err();
    assert_eq!(problems[0].field, "recipients");
    for body in [&b"[]"[..], b"not json"] {
        let problems = settings::parse(body).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "");
    }
}

// ---------------------------------------------------------------- routes' logic

/// The in-memory state store (its company and signal indexes) holding `memberships`, each
/// observation recorded the way the processor records it.
async fn listings(memberships: Vec<StoredMembership>) -> MemoryStateStore {
    let store = MemoryStateStore::new();
    for membership in memberships {
        for observation in &membership.observations {
            record_and_upkeep(
                &store,
                &membership.membership_id,
                membership.provider,
                observation,
            )
            .await
            .unwrap();
        }
    }
    store
}

/// Who administers what; `None` is the provider being down.
struct Access(Option<BTreeMap<&'static str, AccessLevel>>);

impl CompanyAccess for Access {
    async fn access_level(&self, user_id: &str, _: &str) -> Result<AccessLevel, AccessCheckError> {
        let known = self
            .0
            .as_ref()
            .ok_or(AccessCheckError::Unavailable("down".into()))?;
        Ok(known.get(user_id).copied().unwrap_or(AccessLevel::NoAccess))
    }
}

fn access() -> Access {
    Access(Some(BTreeMap::from([
        ("admin", AccessLevel::Admin),
        ("customer", AccessLevel::Customer),
    ])))
}

#[derive(Default)]
struct Settings(Mutex<BTreeMap<String, CompanySettings>>);

impl SettingsStore for Settings {
    async fn company_settings(&self, id: &str) -> Result<Option<CompanySettings>, DependencyError> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }

    async fn put_company_settings(
        &self,
        id: &str,
        settings: &CompanySettings,
    ) -> Result<(), DependencyError> {
        self.0
            .lock()
            .unwrap()
            .insert(id.to_owned(), settings.clone());
        Ok(())
    }
}

fn signal(kind: &str) -> MembershipsQuery<'_> {
    MembershipsQuery {
        signal: Some(kind),
        ..MembershipsQuery::default()
    }
}

fn ids(page: &CompanyMembershipsPage) -> Vec<&str> {
    page.memberships.iter().map(|row| row.id.as_str()).collect()
}

#[tokio::test]
async fn an_admin_lists_each_signal_most_recent_first() {
    let store = listings(company()).await;
    let admin = Viewer::User("admin");
    let at_risk = company_memberships(&access(), &store, admin, "biz_1", signal("at_risk"))
        .await
        .unwrap();
    assert_eq!(ids(&at_risk), ["mem_g", "mem_a"]);
    let row = &at_risk.memberships[1];
    assert_eq!(
        row.signal.map(|s| (s.kind, s.started_at)),
        Some((SignalKind::AtRisk, day(5)))
    );
    let payment = row.last_payment.as_ref().unwrap();
    assert_eq!(
        (
            payment.outcome,
            payment.amount.as_deref(),
            payment.currency.as_deref(),
            payment.failure_reason.as_deref()
        ),
        (
            PaymentStatus::Failed,
            Some("29.00"),
            Some("usd"),
            Some("card_declined")
        )
    );
    assert_eq!(row.user.id.as_deref(), Some("user_a"));

    let churned = company_memberships(&access(), &store, admin, "biz_1", signal("churned"))
        .await
        .unwrap();
    assert_eq!(ids(&churned), ["mem_e", "mem_d", "mem_f"]);
    let recovered = company_memberships(&access(), &store, admin, "biz_1", signal("recovered"))
        .await
        .unwrap();
    assert_eq!(ids(&recovered), ["mem_c", "mem_b"]);

    // Without a signal: every membership, by id, paged.
    let query = MembershipsQuery {
        limit: Some("4"),
        ..MembershipsQuery::default()
    };
    let first = company_memberships(&access(), &store, admin, "biz_1", query)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["mem_a", "mem_b", "mem_c", "mem_d"]);
    let query = MembershipsQuery {
        limit: Some("4"),
        after: first.next.as_deref(),
        ..MembershipsQuery::default()
    };
    let second = company_memberships(&access(), &store, admin, "biz_1", query)
        .await
        .unwrap();
    assert_eq!(
        (ids(&second), second.next.clone()),
        (vec!["mem_e", "mem_f", "mem_g"], None)
    );
}

#[tokio::test]
async fn only_admins_get_in_and_an_outage_refuses() {
    let store = listings(company()).await;
    for user in ["customer", "stranger"] {
        let refused = company_memberships(
            &access(),
            &store,
            Viewer::User(user),
            "biz_1",
            signal("at_risk"),
        )
        .await;
        assert_eq!(refused, Err(CompanyError::NotCompanyAdmin), "{user}");
    }
    let down = Access(None);
    let refused = company_memberships(
        &down,
        &store,
        Viewer::User("admin"),
        "biz_1",
        signal("at_risk"),
    )
    .await;
    assert_eq!(refused, Err(CompanyError::AccessCheckUnavailable));
    // Operators read without the check.
    let page = company_memberships(
        &access::NoAccessCheck,
        &store,
        Viewer::Operator,
        "biz_1",
        signal("at_risk"),
    )
    .await;
    assert_eq!(page.map(|p| p.memberships.len()), Ok(2));
}

#[tokio::test]
async fn bad_query_parameters_name_every_field() {
    let store = listings(company()).await;
    let query = MembershipsQuery {
        signal: Some("lost"),
        limit: Some("0"),
        after: Some("a#b"),
    };
    let Err(CompanyError::InvalidQuery(problems)) =
        company_memberships(&access(), &store, Viewer::User("admin"), "biz_1", query).await
    else {
        panic!("expected invalid query");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["signal", "limit", "after"]);

    let at = |now| {
        parse_period(
            SummaryQuery {
                since: Some("yesterday"),
                until: Some("2026-13-01"),
            },
            now,
        )
    };
    let fields: Vec<String> = at(day(0))
        .unwrap_err()
        .into_iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(fields, ["until", "since"]);
    let backwards = SummaryQuery {
        since: Some("2026-03-02T00:00:00Z"),
        until: Some("2026-03-01T00:00:00Z"),
    };
    assert_eq!(
        parse_period(backwards, day(0)).unwrap_err()[0].field,
        "since"
    );
    assert_eq!(
        parse_period(SummaryQuery::default(), day(30)),
        Ok(Period {
            since: day(0),
            until: day(30)
        })
    );
    let bad_id = company_memberships(
        &access(),
        &store,
        Viewer::User("admin"),
        "biz#1",
        signal("at_risk"),
    )
    .await;
    assert!(matches!(bad_id, Err(CompanyError::InvalidId(_))));
}

#[tokio::test]
async fn the_summary_route_reads_every_page_of_the_company() {
    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            day(30)
        }
    }
    let mut memberships = company();
    memberships.push(StoredMembership {
        base: None,
        ..stored(
            "other",
            vec![Observation {
                membership: MembershipFacts {
                    company_id: Some("biz_2".into()),
                    ..status("past_due")
                },
                ..event("other", 1, MembershipFacts::default(), None)
            }],
        )
    });
    let store = listings(memberships).await;
    let summary = company_summary(
        &access(),
        &store,
        &Fixed,
        Viewer::User("admin"),
        "biz_1",
        SummaryQuery::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary, company_summary_of(period()));
    assert!(!summary.truncated);
}

#[tokio::test]
async fn settings_default_then_store_what_an_admin_puts() {
    let store = Settings::default();
    let admin = Viewer::User("admin");
    assert_eq!(
        company_settings(&access(), &store, admin, "biz_1").await,
        Ok(CompanySettings::default())
    );
    let body = br#"{"recipients": ["ops@example.com"], "immediate": true}"#;
    let saved = put(&store, Tier::Free, admin, body).await.unwrap();
    assert_eq!(
        company_settings(&access(), &store, admin, "biz_1").await,
        Ok(saved)
    );
    let refused = put(&store, Tier::Free, Viewer::User("customer"), body).await;
    assert_eq!(refused, Err(CompanyError::NotCompanyAdmin));
    let invalid = put(&store, Tier::Free, admin, br#"{"immediate": 1}"#).await;
    assert!(matches!(invalid, Err(CompanyError::InvalidSettings(p)) if p.len() == 1));
}

/// `PUT /companies/biz_1/settings` by `viewer` on the `tier` plan.
async fn put(
    store: &Settings,
    tier: Tier,
    viewer: Viewer<'_>,
    body: &[u8],
) -> Result<CompanySettings, CompanyError> {
    put_company_settings(&access(), &FixedPlan(tier), store, viewer, "biz_1", body).await
}

#[tokio::test]
async fn member_messages_need_a_paid_plan_and_operators_are_not_asked() {
    let store = Settings::default();
    let admin = Viewer::User("admin");
    let body = br#"{"member_messages": true}"#;
    assert_eq!(
        put(&store, Tier::Free, admin, body).await,
        Err(CompanyError::PlanRequired(PlanRequired {
            what: "member messages",
            tier: Tier::Free,
            needed: Tier::Starter,
        }))
    );
    assert_eq!(
        company_settings(&access(), &store, admin, "biz_1").await,
        Ok(CompanySettings::default()),
        "a refused change stores nothing"
    );
    let saved = put(&store, Tier::Starter, admin, body).await.unwrap();
    assert!(saved.member_messages);
    // The notifier asks this creator's plan again before each member message.
    assert_eq!(saved.member_messages_by.as_deref(), Some("admin"));
    let off = br#"{"member_messages": false}"#;
    let saved = put(&store, Tier::Free, admin, off).await.unwrap();
    assert_eq!(saved.member_messages_by, None);
    let by_operator = put(&store, Tier::Free, Viewer::Operator, body)
        .await
        .unwrap();
    assert_eq!(by_operator.member_messages_by, None);
    // A body cannot name who turned them on.
    let named = br#"{"member_messages": true, "member_messages_by": "someone_paid"}"#;
    assert!(matches!(
        put(&store, Tier::Free, admin, named).await,
        Err(CompanyError::InvalidSettings(_))
    ));
}

#[test]
fn alert_phones_are_normalised_to_e164_and_every_bad_one_is_reported() {
    let parsed = settings::parse(
        br#"{"alert_phones": ["+1 415-555 0123", "+33 6 12 34 56 78"], "urgent_signals": ["churned"]}"#,
    )
    .unwrap();
    assert_eq!(parsed.alert_phones, ["+14155550123", "+33612345678"]);
    assert_eq!(parsed.urgent_signals, [SignalKind::Churned]);
    assert_eq!(
        settings::parse(b"{}").unwrap().urgent_signals,
        settings::DEFAULT_URGENT_SIGNALS
    );
    let problems = settings::parse(
        br#"{"alert_phones": ["0612345678", "+14155550123", "+1 415 555 0123", 7], "urgent_signals": ["soon"]}"#,
    )
    .unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "alert_phones[0]",
            "alert_phones[2]",
            "alert_phones[3]",
            "urgent_signals[0]"
        ]
    );
}
