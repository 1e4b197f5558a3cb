//! The notifier's digest jobs and the hourly run, over the in-memory fakes of the notify tests.

use super::*;
use crate::domain::companies::settings::Digest;
use crate::domain::notify::digest::{DigestJob, enqueue_due};
use crate::domain::notify::notifier::Counts;
use crate::domain::ports::NotificationQueue;
use crate::domain::state::model::{PaymentFacts, PaymentStatus};
use crate::domain::state::store::record_and_upkeep;

const COMPANY: &str = "biz_1";
const OWNER: &str = "owner@example.com";
const OPS: &str = "ops@example.com";

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A failed payment of `amount` USD for a member named `name`: opens `at_risk`.
fn failed_payment(id: &str, name: &str, amount: Option<&str>) -> Observation {
    let mut observation = observation(600, id, "past_due");
    observation.membership.contact.name = Some(name.into());
    observation.payment = Some(PaymentFacts {
        id: format!("pay_{id}"),
        status: PaymentStatus::Failed,
        amount: amount.map(Into::into),
        currency: Some("usd".into()),
        failure_reason: None,
    });
    observation
}

/// The notifier with three members at risk in [`COMPANY`] (mem_1 without an amount, mem_2 at
/// 50 USD, mem_3 at 9.50 USD; mem_2's name needs escaping in HTML), a digest at 8:00 Paris time due at `due_at`, and the clock there.
async fn digest_notifier(due_at: DateTime<Utc>) -> TestNotifier {
    let (notifier, _) = super::notifier(&[("evt_1", "active"), ("evt_2", "past_due")]).await;
    for (id, name, amount) in [
        ("mem_1", "Ada", None),
        ("mem_2", "<b>Bo</b>", Some("50.00")),
        ("mem_3", "Cy", Some("9.5")),
    ] {
        let observation = failed_payment(&format!("evt_{id}"), name, amount);
        record_and_upkeep(&notifier.state, id, Source::Whop, &observation)
            .await
            .unwrap();
    }
    let settings = CompanySettings {
        recipients: vec![OWNER.into(), OPS.into()],
        digest: Some(Digest {
            hour: 8,
            time_zone: "Europe/Paris".into(),
        }),
        ..CompanySettings::default()
    };
    notifier
        .settings
        .0
        .lock()
        .unwrap()
        .insert(COMPANY.into(), settings);
    notifier
        .settings
        .1
        .lock()
        .unwrap()
        .insert(COMPANY.into(), due_at);
    *notifier.clock.0.lock().unwrap() = due_at;
    notifier
}

fn job(due_at: DateTime<Utc>) -> String {
    serde_json::to_string(&Job::Digest(DigestJob {
        company_id: COMPANY.into(),
        due_at,
    }))
    .unwrap()
}

fn next_at(notifier: &TestNotifier) -> Option<DateTime<Utc>> {
    notifier.settings.1.lock().unwrap().get(COMPANY).copied()
}

#[tokio::test]
async fn a_digest_job_sends_each_recipient_one_digest_largest_amount_first_and_advances_a_day() {
    let due = utc("2026-03-02T07:00:00Z");
    let notifier = digest_notifier(due).await;

    let counts = notifier.process(&job(due)).await.unwrap();

    assert_eq!(counts.sent, 2);
    let sent = notifier.mailer.sent.lock().unwrap().clone();
    let recipients: Vec<&str> = sent.iter().map(|e| e.to[0].as_str()).collect();
    assert_eq!(recipients, [OWNER, OPS]);
    for email in &sent {
        assert_eq!(email.subject, "Your daily churn digest");
        assert!(
            email.headers.is_empty(),
            "no unsubscribe: it is the creator's"
        );
        assert!(
            email.text.contains("2026-03-02: 3 at risk"),
            "{}",
            email.text
        );
        let order: Vec<usize> = ["<b>Bo</b> (mem_2)", "Cy (mem_3)", "Ada (mem_1)"]
            .iter()
            .map(|row| email.text.find(row).unwrap())
            .collect();
        assert!(order.is_sorted(), "{}", email.text);
        assert!(email.text.contains("50.00 USD") && email.text.contains("9.50 USD"));
        assert!(email.html.contains("&lt;b&gt;Bo&lt;") && !email.html.contains("<b>Bo"));
        assert!(email.html.contains("50.00 USD") && email.html.contains("Ada"));
    }
    assert_ne!(sent[0].idempotency_key, sent[1].idempotency_key);
    assert_eq!(next_at(&notifier), Some(utc("2026-03-03T07:00:00Z")));
}

#[tokio::test]
async fn a_digest_job_delivered_again_sends_nothing_more_before_or_after_the_advance() {
    let due = utc("2026-03-02T07:00:00Z");
    let notifier = digest_notifier(due).await;
    notifier.process(&job(due)).await.unwrap();

    // Redelivered after the advance: the next digest is no longer this one.
    assert_eq!(
        notifier.process(&job(due)).await.unwrap(),
        Counts::default()
    );
    // Redelivered as if the first delivery stopped before its advance: the claims are finished.
    notifier
        .settings
        .1
        .lock()
        .unwrap()
        .insert(COMPANY.into(), due);
    let again = notifier.process(&job(due)).await.unwrap();

    assert_eq!((again.sent, again.already_done), (0, 2));
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 2);
    assert_eq!(next_at(&notifier), Some(utc("2026-03-03T07:00:00Z")));
}

#[tokio::test]
async fn a_company_with_no_open_signal_gets_no_digest_but_advances_and_one_turned_off_neither() {
    let due = utc("2026-03-02T07:00:00Z");
    let notifier = digest_notifier(due).await;
    notifier
        .settings
        .0
        .lock()
        .unwrap()
        .get_mut(COMPANY)
        .unwrap()
        .signals = vec![SignalKind::Churned];

    assert_eq!(
        notifier.process(&job(due)).await.unwrap(),
        Counts::default()
    );
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
    assert_eq!(next_at(&notifier), Some(utc("2026-03-03T07:00:00Z")));

    let off = digest_notifier(due).await;
    off.settings
        .0
        .lock()
        .unwrap()
        .get_mut(COMPANY)
        .unwrap()
        .digest = None;
    assert_eq!(off.process(&job(due)).await.unwrap(), Counts::default());
    assert!(off.mailer.sent.lock().unwrap().is_empty());
    assert_eq!(next_at(&off), Some(due));
}

#[tokio::test]
async fn a_provider_outage_fails_the_digest_job_without_advancing_it() {
    let due = utc("2026-03-02T07:00:00Z");
    let notifier = digest_notifier(due).await;
    notifier
        .mailer
        .script
        .lock()
        .unwrap()
        .push(Err(SendError::Unavailable {
            provider: "test",
            reason: "503".into(),
            retry_after: None,
        }));

    let error = notifier.process(&job(due)).await.unwrap_err();

    assert_eq!(error.code(), "provider_unavailable");
    assert_eq!(next_at(&notifier), Some(due));
}

#[derive(Default)]
struct Queue(Mutex<Vec<Job>>);

impl NotificationQueue for Queue {
    async fn enqueue(&self, job: &Job) -> Result<(), DependencyError> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

#[tokio::test]
async fn the_hourly_run_enqueues_a_company_from_its_hour_on_until_its_digest_advances() {
    let due = utc("2026-03-02T07:00:00Z");
    let settings = Settings::default();
    settings.1.lock().unwrap().insert(COMPANY.into(), due);
    let queue = Queue::default();

    let before = enqueue_due(&settings, &queue, due - chrono::Duration::hours(1)).await;
    assert_eq!(before.unwrap().enqueued, 0);
    let at_hour = enqueue_due(&settings, &queue, due).await;
    assert_eq!(at_hour.unwrap().enqueued, 1);
    // A run missed: the next one still finds it.
    let later = enqueue_due(&settings, &queue, due + chrono::Duration::hours(3)).await;
    assert_eq!(later.unwrap().enqueued, 1);

    let expected = Job::Digest(DigestJob {
        company_id: COMPANY.into(),
        due_at: due,
    });
    assert_eq!(*queue.0.lock().unwrap(), [expected.clone(), expected]);
}
