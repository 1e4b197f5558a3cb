use super::*;
use proptest::prelude::*;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_366_400 + seconds, 0).unwrap()
}

fn membership(seconds: i64, id: &str, kind: &str, facts: MembershipFacts) -> Observation {
    Observation {
        version: Version::new(at(seconds), id),
        kind: kind.to_owned(),
        membership: facts,
        payment: None,
    }
}

fn status(status: &str) -> MembershipFacts {
    MembershipFacts {
        status: Some(status.to_owned()),
        ..MembershipFacts::default()
    }
}

fn activated(seconds: i64, id: &str) -> Observation {
    membership(
        seconds,
        id,
        "membership.activated",
        MembershipFacts {
            valid: Some(true),
            user_id: Some("user_1".into()),
            ..status("active")
        },
    )
}

fn deactivated(seconds: i64, id: &str) -> Observation {
    membership(
        seconds,
        id,
        "membership.deactivated",
        MembershipFacts {
            valid: Some(false),
            ..status("canceled")
        },
    )
}

fn cancel_at_period_end(seconds: i64, id: &str, set: bool) -> Observation {
    membership(
        seconds,
        id,
        "membership.cancel_at_period_end_changed",
        MembershipFacts {
            cancel_at_period_end: Some(set),
            ..status("active")
        },
    )
}

fn payment(seconds: i64, id: &str, payment: &str, outcome: PaymentStatus) -> Observation {
    Observation {
        version: Version::new(at(seconds), id),
        kind: "payment".into(),
        membership: MembershipFacts::default(),
        payment: Some(PaymentFacts {
            id: payment.into(),
            status: outcome,
            amount: Some("29.00".into()),
            currency: Some("usd".into()),
            failure_reason: (outcome == PaymentStatus::Failed).then(|| "card_declined".into()),
        }),
    }
}

fn fold(observations: &[Observation]) -> MembershipState {
    MembershipState::empty("mem_1", Source::Whop).fold(observations)
}

fn kinds(state: &MembershipState) -> Vec<SignalKind> {
    let mut kinds = state.open_signals();
    kinds.sort();
    kinds
}

fn closed(state: &MembershipState, kind: SignalKind) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    state
        .signals
        .iter()
        .filter(|s| s.kind == kind && !s.is_open())
        .map(|s| (s.started_at, s.ended_at.unwrap()))
        .collect()
}

#[test]
fn versions_encode_in_their_own_order() {
    let a = Version::new(at(0), "b");
    let b = Version::new(at(0), "c");
    let c = Version::new(at(0) + chrono::Duration::milliseconds(1), "a");
    let d = Version::new(at(10_000_000), "a");
    for (x, y) in [(&a, &b), (&b, &c), (&c, &d)] {
        assert!(x < y);
        assert!(x.encode() < y.encode(), "{x} < {y}");
    }
    assert_eq!(Version::decode(&c.encode()), Some(c));
    assert_eq!(Version::decode("garbage"), None);
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Version>(&json).unwrap(), d);
}

#[test]
fn activation_is_healthy_with_no_signal() {
    let state = fold(&[activated(0, "e1")]);
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.valid, Some(true));
    assert_eq!(state.user_id.as_deref(), Some("user_1"));
    assert!(state.signals.is_empty());
    assert_eq!(state.version, Some(Version::new(at(0), "e1")));
    assert_eq!(state.observations, 1);
}

#[test]
fn failed_payment_opens_at_risk_and_success_recovers() {
    let failed = fold(&[
        activated(0, "e1"),
        payment(10, "e2", "pay_1", PaymentStatus::Failed),
    ]);
    assert_eq!(kinds(&failed), vec![SignalKind::AtRisk]);
    let signal = failed.open_signal(SignalKind::AtRisk).unwrap();
    assert_eq!(
        (signal.started_at, signal.started_by.as_str()),
        (at(10), "e2")
    );
    assert_eq!(
        failed.last_payment.as_ref().map(|p| p.status),
        Some(PaymentStatus::Failed)
    );
    assert_eq!(
        failed.payments[0].failure_reason.as_deref(),
        Some("card_declined")
    );

    let recovered = fold(&[
        activated(0, "e1"),
        payment(10, "e2", "pay_1", PaymentStatus::Failed),
        payment(20, "e3", "pay_2", PaymentStatus::Succeeded),
    ]);
    assert_eq!(kinds(&recovered), vec![SignalKind::Recovered]);
    assert_eq!(
        closed(&recovered, SignalKind::AtRisk),
        vec![(at(10), at(20))]
    );
    assert_eq!(
        recovered
            .open_signal(SignalKind::Recovered)
            .unwrap()
            .started_at,
        at(20)
    );
    assert_eq!(recovered.payments.len(), 2);
    assert_eq!(recovered.payments[0].id, "pay_2");
}

#[test]
fn past_due_status_is_at_risk_until_active_again() {
    let state = fold(&[
        activated(0, "e1"),
        membership(
            10,
            "e2",
            "customer.subscription.updated",
            status("past_due"),
        ),
    ]);
    assert_eq!(kinds(&state), vec![SignalKind::AtRisk]);
    assert_eq!(state.valid, Some(true), "past_due still has access");
    let state = fold(&[
        activated(0, "e1"),
        membership(
            10,
            "e2",
            "customer.subscription.updated",
            status("past_due"),
        ),
        membership(20, "e3", "customer.subscription.updated", status("active")),
    ]);
    assert_eq!(kinds(&state), vec![SignalKind::Recovered]);
    assert_eq!(closed(&state, SignalKind::AtRisk), vec![(at(10), at(20))]);
}

#[test]
fn unpaid_is_at_risk() {
    let state = fold(&[membership(
        0,
        "e1",
        "customer.subscription.updated",
        status("unpaid"),
    )]);
    assert_eq!(kinds(&state), vec![SignalKind::AtRisk]);
}

#[test]
fn an_active_status_after_a_failed_payment_clears_the_failure() {
    let state = fold(&[
        activated(0, "e1"),
        payment(10, "e2", "pay_1", PaymentStatus::Failed),
        membership(20, "e3", "membership.activated", status("active")),
    ]);
    assert_eq!(kinds(&state), vec![SignalKind::Recovered]);
    assert_eq!(
        state.last_payment.as_ref().map(|p| p.status),
        Some(PaymentStatus::Succeeded)
    );
}

#[test]
fn cancel_at_period_end_opens_and_clears_cancel_scheduled() {
    let scheduled = fold(&[activated(0, "e1"), cancel_at_period_end(10, "e2", true)]);
    assert_eq!(kinds(&scheduled), vec![SignalKind::CancelScheduled]);
    assert!(scheduled.cancel_at_period_end);
    let undone = fold(&[
        activated(0, "e1"),
        cancel_at_period_end(10, "e2", true),
        cancel_at_period_end(20, "e3", false),
    ]);
    assert!(kinds(&undone).is_empty());
    assert_eq!(
        closed(&undone, SignalKind::CancelScheduled),
        vec![(at(10), at(20))]
    );
}

#[test]
fn canceling_status_is_cancel_scheduled() {
    let state = fold(&[membership(
        0,
        "e1",
        "membership.activated",
        status("canceling"),
    )]);
    assert_eq!(kinds(&state), vec![SignalKind::CancelScheduled]);
}

#[test]
fn deactivation_churns_and_ends_the_other_signals() {
    let state = fold(&[
        activated(0, "e1"),
        cancel_at_period_end(10, "e2", true),
        payment(20, "e3", "pay_1", PaymentStatus::Failed),
        deactivated(30, "e4"),
    ]);
    assert_eq!(kinds(&state), vec![SignalKind::Churned]);
    assert_eq!(
        closed(&state, SignalKind::CancelScheduled),
        vec![(at(10), at(30))]
    );
    assert_eq!(closed(&state, SignalKind::AtRisk), vec![(at(20), at(30))]);
    assert_eq!(
        state.open_signal(SignalKind::Churned).unwrap().started_by,
        "e4"
    );
}

#[test]
fn each_ended_status_churns() {
    for ended in ["canceled", "expired", "incomplete_expired"] {
        let state = fold(&[activated(0, "e1"), membership(10, "e2", "x", status(ended))]);
        assert_eq!(kinds(&state), vec![SignalKind::Churned], "{ended}");
        assert_eq!(state.valid, Some(false));
    }
    let went_invalid = fold(&[
        activated(0, "e1"),
        membership(
            10,
            "e2",
            "membership.went_invalid",
            MembershipFacts {
                valid: Some(false),
                ..MembershipFacts::default()
            },
        ),
    ]);
    assert_eq!(kinds(&went_invalid), vec![SignalKind::Churned]);
}

#[test]
fn reactivation_after_churn_recovers_and_a_new_risk_ends_recovery() {
    let back = fold(&[
        activated(0, "e1"),
        deactivated(10, "e2"),
        activated(20, "e3"),
    ]);
    assert_eq!(kinds(&back), vec![SignalKind::Recovered]);
    assert_eq!(closed(&back, SignalKind::Churned), vec![(at(10), at(20))]);

    let again = fold(&[
        activated(0, "e1"),
        deactivated(10, "e2"),
        activated(20, "e3"),
        payment(30, "e4", "pay_9", PaymentStatus::Failed),
    ]);
    assert_eq!(kinds(&again), vec![SignalKind::AtRisk]);
    assert_eq!(
        closed(&again, SignalKind::Recovered),
        vec![(at(20), at(30))]
    );
}

#[test]
fn churn_from_risk_is_not_a_recovery() {
    let state = fold(&[
        payment(0, "e1", "pay_1", PaymentStatus::Failed),
        deactivated(10, "e2"),
    ]);
    assert_eq!(kinds(&state), vec![SignalKind::Churned]);
    assert!(closed(&state, SignalKind::Recovered).is_empty());
}

#[test]
fn refunds_and_pending_payments_do_not_move_signals() {
    let state = fold(&[
        activated(0, "e1"),
        payment(10, "e2", "pay_1", PaymentStatus::Pending),
        payment(20, "e3", "pay_1", PaymentStatus::Succeeded),
        payment(30, "e4", "pay_1", PaymentStatus::Refunded),
    ]);
    assert!(state.signals.is_empty());
    assert_eq!(state.payments.len(), 1);
    assert_eq!(state.payments[0].status, PaymentStatus::Refunded);
    assert_eq!(state.payments[0].amount.as_deref(), Some("29.00"));
    assert_eq!(
        state.last_payment.as_ref().map(|p| p.status),
        Some(PaymentStatus::Succeeded)
    );
}

#[test]
fn silent_fields_keep_their_earlier_values() {
    let state = fold(&[
        activated(0, "e1"),
        membership(
            10,
            "e2",
            "membership.cancel_at_period_end_changed",
            MembershipFacts {
                cancel_at_period_end: Some(true),
                ..MembershipFacts::default()
            },
        ),
    ]);
    assert_eq!(state.status.as_deref(), Some("active"));
    assert_eq!(state.user_id.as_deref(), Some("user_1"));
    assert!(state.cancel_at_period_end);
}

#[test]
fn fold_skips_what_the_base_already_holds() {
    let events = [
        activated(0, "e1"),
        payment(10, "e2", "pay_1", PaymentStatus::Failed),
    ];
    let base = fold(&events[..1]);
    assert_eq!(base.clone().fold(&events), fold(&events));
    assert_eq!(base.fold(&events).observations, 2);
}

#[test]
fn payments_and_closed_signals_are_capped() {
    let mut events = vec![activated(0, "e0")];
    for i in 1..=40 {
        let outcome = if i % 2 == 1 {
            PaymentStatus::Failed
        } else {
            PaymentStatus::Succeeded
        };
        events.push(payment(
            i * 10,
            &format!("e{i:02}"),
            &format!("pay_{i}"),
            outcome,
        ));
    }
    let state = fold(&events);
    assert_eq!(state.payments.len(), MAX_PAYMENTS);
    assert_eq!(state.payments[0].id, "pay_40");
    assert_eq!(kinds(&state), vec![SignalKind::Recovered]);
    assert_eq!(state.signals.len(), 1 + MAX_CLOSED_SIGNALS);
    // Newest closed first.
    assert!(state.signals[1].ended_at >= state.signals[2].ended_at);
}

#[test]
fn observations_round_trip_compactly() {
    let observation = payment(10, "e2", "pay_1", PaymentStatus::Failed);
    let json = serde_json::to_string(&observation).unwrap();
    assert!(!json.contains("\"m\""), "empty facts are omitted: {json}");
    assert_eq!(
        serde_json::from_str::<Observation>(&json).unwrap(),
        observation
    );
    let state = fold(&[activated(0, "e1"), observation]);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(
        serde_json::from_str::<MembershipState>(&json).unwrap(),
        state
    );
}

/// One of a small vocabulary of events, so random sequences hit every transition.
fn arbitrary_observation() -> impl Strategy<Value = (i64, u8, u8)> {
    (0..50i64, 0..9u8, 0..4u8)
}

fn build(index: usize, (seconds, what, payment_id): (i64, u8, u8)) -> Observation {
    let id = format!("evt_{index:03}");
    let payment_id = format!("pay_{payment_id}");
    match what {
        0 => activated(seconds, &id),
        1 => deactivated(seconds, &id),
        2 => cancel_at_period_end(seconds, &id, true),
        3 => cancel_at_period_end(seconds, &id, false),
        4 => payment(seconds, &id, &payment_id, PaymentStatus::Failed),
        5 => payment(seconds, &id, &payment_id, PaymentStatus::Succeeded),
        6 => payment(seconds, &id, &payment_id, PaymentStatus::Refunded),
        7 => membership(
            seconds,
            &id,
            "customer.subscription.updated",
            status("past_due"),
        ),
        _ => membership(
            seconds,
            &id,
            "customer.subscription.updated",
            status("canceling"),
        ),
    }
}

/// An oracle independent of [`MembershipState::apply`]: each field is what the provider-ordered
/// history last stated, and each signal is read off the conditions of successive prefixes, every
/// prefix computed from scratch. It shares no code with the incremental fold.
mod oracle {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Conditions {
        churned: bool,
        at_risk: bool,
        cancel_scheduled: bool,
    }

    fn last<'a, T>(
        history: &[&'a Observation],
        field: impl Fn(&'a Observation) -> Option<T>,
    ) -> Option<T> {
        history.iter().rev().find_map(|o| field(o))
    }

    fn implied_valid(o: &Observation) -> Option<bool> {
        o.membership.valid.or(match o.membership.status.as_deref() {
            Some("trialing" | "active" | "past_due" | "canceling" | "unpaid") => Some(true),
            Some("canceled" | "expired" | "incomplete_expired" | "completed") => Some(false),
            _ => None,
        })
    }

    /// The latest succeeded-or-failed payment event; a failed one counts as collected once a later
    /// event without a payment reports a healthy status (at that event's time).
    fn last_payment(history: &[&Observation]) -> Option<PaymentOutcome> {
        let (index, facts) = history.iter().enumerate().rev().find_map(|(i, o)| {
            o.payment
                .as_ref()
                .filter(|p| matches!(p.status, PaymentStatus::Succeeded | PaymentStatus::Failed))
                .map(|p| (i, p))
        })?;
        let mut outcome = PaymentOutcome {
            payment_id: facts.id.clone(),
            status: facts.status,
            at: history[index].version.at,
        };
        if outcome.status == PaymentStatus::Failed
            && let Some(healed) = history[index + 1..].iter().find(|o| {
                o.payment.is_none()
                    && matches!(o.membership.status.as_deref(), Some("active" | "trialing"))
            })
        {
            outcome.status = PaymentStatus::Succeeded;
            outcome.at = healed.version.at;
        }
        Some(outcome)
    }

    fn conditions(history: &[&Observation]) -> Conditions {
        let status = last(history, |o| o.membership.status.as_deref());
        let valid = last(history, implied_valid);
        let cancel = last(history, |o| o.membership.cancel_at_period_end).unwrap_or(false);
        let churned = valid == Some(false)
            || matches!(status, Some("canceled" | "expired" | "incomplete_expired"));
        let failing = last_payment(history).is_some_and(|p| p.status == PaymentStatus::Failed);
        Conditions {
            churned,
            at_risk: !churned && (matches!(status, Some("past_due" | "unpaid")) || failing),
            cancel_scheduled: !churned && (cancel || status == Some("canceling")),
        }
    }

    fn payments(history: &[&Observation]) -> Vec<Payment> {
        let mut ids: Vec<&str> = Vec::new();
        for o in history.iter().rev() {
            if let Some(p) = &o.payment
                && !ids.contains(&p.id.as_str())
            {
                ids.push(&p.id);
            }
        }
        ids.into_iter()
            .take(MAX_PAYMENTS)
            .map(|id| {
                let events: Vec<(&Observation, &PaymentFacts)> = history
                    .iter()
                    .filter_map(|o| o.payment.as_ref().filter(|p| p.id == id).map(|p| (*o, p)))
                    .collect();
                let (newest, facts) = events[events.len() - 1];
                Payment {
                    id: id.to_owned(),
                    status: facts.status,
                    amount: events.iter().rev().find_map(|(_, p)| p.amount.clone()),
                    currency: events.iter().rev().find_map(|(_, p)| p.currency.clone()),
                    failure_reason: events
                        .iter()
                        .rev()
                        .filter(|(_, p)| p.status == PaymentStatus::Failed)
                        .find_map(|(_, p)| p.failure_reason.clone()),
                    updated_at: newest.version.at,
                }
            })
            .collect()
    }

    fn open(signals: &mut Vec<Signal>, kind: SignalKind, o: &Observation) {
        if !signals
            .iter()
            .any(|s| s.kind == kind && s.ended_at.is_none())
        {
            signals.push(Signal {
                kind,
                started_at: o.version.at,
                started_by: o.version.event_id.clone(),
                ended_at: None,
                ended_by: None,
            });
        }
    }

    fn close(signals: &mut [Signal], kind: SignalKind, o: &Observation) {
        if let Some(s) = signals
            .iter_mut()
            .find(|s| s.kind == kind && s.ended_at.is_none())
        {
            s.ended_at = Some(o.version.at);
            s.ended_by = Some(o.version.event_id.clone());
        }
    }

    fn signals(history: &[&Observation]) -> Vec<Signal> {
        let troubled = |c: Conditions| c.at_risk || c.churned;
        let mut signals: Vec<Signal> = Vec::new();
        for (step, o) in history.iter().enumerate() {
            let before = conditions(&history[..step]);
            let after = conditions(&history[..=step]);
            for (kind, was, is) in [
                (SignalKind::AtRisk, before.at_risk, after.at_risk),
                (
                    SignalKind::CancelScheduled,
                    before.cancel_scheduled,
                    after.cancel_scheduled,
                ),
                (SignalKind::Churned, before.churned, after.churned),
            ] {
                if !was && is {
                    open(&mut signals, kind, o);
                } else if was && !is {
                    close(&mut signals, kind, o);
                }
            }
            let newly_troubled =
                (after.at_risk && !before.at_risk) || (after.churned && !before.churned);
            if troubled(after) && newly_troubled {
                close(&mut signals, SignalKind::Recovered, o);
            }
            if troubled(before) && !troubled(after) {
                open(&mut signals, SignalKind::Recovered, o);
            }
        }
        // Open ones by kind, then closed ones newest first; at most MAX_CLOSED_SIGNALS closed.
        let (mut opened, mut closed): (Vec<Signal>, Vec<Signal>) =
            signals.into_iter().partition(|s| s.ended_at.is_none());
        opened.sort_by_key(|s| s.kind);
        closed.sort_by(|a, b| {
            (&b.ended_at, &b.ended_by, &b.started_at, &b.started_by)
                .cmp(&(&a.ended_at, &a.ended_by, &a.started_at, &a.started_by))
                .then(a.kind.cmp(&b.kind))
        });
        closed.truncate(MAX_CLOSED_SIGNALS);
        opened.extend(closed);
        opened
    }

    /// The state the provider's order of `delivered` gives, each distinct event once.
    pub fn replay(id: &str, provider: Source, delivered: &[Observation]) -> MembershipState {
        let mut history: Vec<&Observation> = Vec::new();
        for o in delivered {
            if !history.iter().any(|h| h.version == o.version) {
                history.push(o);
            }
        }
        history.sort_by(|a, b| {
            (a.version.at, &a.version.event_id).cmp(&(b.version.at, &b.version.event_id))
        });
        let text = |f: fn(&MembershipFacts) -> Option<&String>| {
            last(&history, |o| f(&o.membership).cloned())
        };
        MembershipState {
            id: id.to_owned(),
            provider,
            user_id: text(|m| m.user_id.as_ref()),
            company_id: text(|m| m.company_id.as_ref()),
            product_id: text(|m| m.product_id.as_ref()),
            plan_id: text(|m| m.plan_id.as_ref()),
            status: text(|m| m.status.as_ref()),
            valid: last(&history, implied_valid),
            cancel_at_period_end: last(&history, |o| o.membership.cancel_at_period_end)
                .unwrap_or(false),
            renewal_period_start: last(&history, |o| o.membership.renewal_period_start),
            renewal_period_end: last(&history, |o| o.membership.renewal_period_end),
            last_payment: last_payment(&history),
            payments: payments(&history),
            signals: signals(&history),
            version: history.last().map(|o| o.version.clone()),
            observations: history.len() as u64,
            contact: MemberContact::default(),
        }
    }
}

proptest! {
    /// The promise: whatever order and duplication the queue delivers, the state equals the
    /// independent oracle's replay of each distinct event once in the provider's order.
    #[test]
    fn any_permutation_with_duplicates_gives_the_same_state(
        raw in prop::collection::vec(arbitrary_observation(), 1..24),
        shuffle_seed in any::<u64>(),
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        split in any::<prop::sample::Index>(),
    ) {
        let events: Vec<Observation> =
            raw.into_iter().enumerate().map(|(i, e)| build(i, e)).collect();
        let mut delivered = events.clone();
        for index in &duplicates {
            delivered.push(index.get(&events).clone());
        }
        let mut rng = shuffle_seed;
        for i in (1..delivered.len()).rev() {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from(rng >> 33).unwrap() % (i + 1);
            delivered.swap(i, j);
        }
        let expected = oracle::replay("mem_1", Source::Whop, &delivered);
        prop_assert_eq!(&fold(&delivered), &expected);

        // Folding a prefix into a base and the rest on top (compaction) changes nothing.
        let mut in_order = events;
        in_order.sort_by(|a, b| a.version.cmp(&b.version));
        let cut = split.index(in_order.len());
        let base = fold(&in_order[..cut]);
        prop_assert_eq!(&base.fold(&delivered), &expected);
    }
}

#[test]
fn contact_details_fold_newest_first_and_stay_out_of_the_state_json_and_debug() {
    let with_contact = |seconds, id: &str, email: Option<&str>, name: Option<&str>| {
        let mut observation = activated(seconds, id);
        observation.membership.contact = MemberContact {
            email: email.map(str::to_owned),
            name: name.map(str::to_owned),
            ..MemberContact::default()
        };
        observation
    };
    let state = fold(&[
        with_contact(2, "e2", Some("new@example.com"), None),
        with_contact(1, "e1", Some("old@example.com"), Some("Jane Doe")),
    ]);
    assert_eq!(state.contact.email.as_deref(), Some("new@example.com"));
    assert_eq!(state.contact.name.as_deref(), Some("Jane Doe"));
    let json = serde_json::to_string(&state).unwrap();
    let debug = format!("{state:?}");
    for shown in [json, debug] {
        assert!(
            !shown.contains("example.com") && !shown.contains("Jane"),
            "{shown}"
        );
    }
    assert!(format!("{:?}", state.contact).contains(&crate::domain::fingerprint(b"Jane Doe")));
    // Stored observations carry it under short names.
    let stored = serde_json::to_value(with_contact(1, "e1", Some("a@example.com"), None)).unwrap();
    assert_eq!(stored["m"]["ct"], serde_json::json!({"e": "a@example.com"}));
}
