use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::notifier::{MemberUnsubscribe, Notifier, NotifyError, Sender};
use super::render::{MessageContext, render};
use super::unsubscribe::UnsubscribeTokens;
use super::*;
use crate::domain::creators::plan::PlanSettings;
use crate::domain::ports::{
    Claim, Clock, DependencyError, Email, Mailer, NoAnalytics, NotificationClaims, SendError, Sent,
    SettingsStore, StateStore, SuppressionList, SuppressionReason, TextMessage, TextSender,
    VersionStage,
};
use crate::domain::secret::tests::{FixedClock, Staged};
use crate::domain::state::memory::MemoryStateStore;
use crate::domain::state::model::{MemberContact, MembershipFacts, Observation, Version};

const MANAGE_URL: &str = "https://whop.com/orders/mem_1/manage";

/// A URL as the HTML part shows it (`/` escaped too).
fn html_escaped(url: &str) -> String {
    url.replace('/', "&#x2f;")
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_772_366_400 + seconds, 0).unwrap()
}

fn observation(seconds: i64, id: &str, status: &str) -> Observation {
    Observation {
        version: Version::new(at(seconds), id),
        kind: "membership.updated".into(),
        membership: MembershipFacts {
            company_id: Some("biz_1".into()),
            status: Some(status.into()),
            contact: MemberContact {
                email: Some("member@example.com".into()),
                name: Some("Ada".into()),
                manage_url: Some(MANAGE_URL.into()),
                ..MemberContact::default()
            },
            ..MembershipFacts::default()
        },
        payment: None,
    }
}

async fn recorded(store: &MemoryStateStore, events: &[(&str, &str)]) -> Option<NotificationJob> {
    let mut job = None;
    for (i, (id, status)) in events.iter().enumerate() {
        let observation = observation(i as i64 * 60, id, status);
        let recorded = store
            .record("mem_1", Source::Whop, &observation)
            .await
            .unwrap();
        job = NotificationJob::of_event(recorded.item().unwrap(), id);
    }
    job
}

fn settings(immediate: bool, member_messages: bool) -> CompanySettings {
    CompanySettings {
        recipients: vec!["owner@example.com".into(), "ops@example.com".into()],
        immediate,
        member_messages,
        ..CompanySettings::default()
    }
}

#[tokio::test]
async fn an_event_that_changes_no_signal_makes_no_job_and_one_that_does_names_each_change() {
    let store = MemoryStateStore::new();
    assert_eq!(recorded(&store, &[("e1", "active")]).await, None);
    let job = recorded(&store, &[("e2", "past_due")]).await.unwrap();
    assert_eq!(job.company_id.as_deref(), Some("biz_1"));
    assert_eq!(
        job.changes,
        vec![SignalChange {
            signal: SignalKind::AtRisk,
            change: Change::Opened,
            started_at: at(0),
        }]
    );
    let job = recorded(&store, &[("e3", "active")]).await.unwrap();
    let mut changes: Vec<_> = job.changes.iter().map(|c| (c.signal, c.change)).collect();
    changes.sort_by_key(|(s, _)| *s);
    assert_eq!(
        changes,
        vec![
            (SignalKind::AtRisk, Change::Closed),
            (SignalKind::Recovered, Change::Opened)
        ]
    );
    assert!(!serde_json::to_string(&job).unwrap().contains("example.com"));
}

#[tokio::test]
async fn the_plan_alerts_each_recipient_and_writes_to_the_member_only_when_turned_on() {
    let store = MemoryStateStore::new();
    let job = recorded(&store, &[("e1", "past_due")]).await.unwrap();
    let state = store.membership("mem_1").await.unwrap().unwrap().state();
    let names = |planned: Vec<Planned>| -> Vec<(&'static str, String)> {
        planned
            .into_iter()
            .map(|p| (p.template.name(), p.recipient))
            .collect()
    };
    assert_eq!(
        names(plan(&job, &settings(true, false), &state)),
        vec![
            ("creator_alert_at_risk", "owner@example.com".to_owned()),
            ("creator_alert_at_risk", "ops@example.com".to_owned()),
        ]
    );
    assert_eq!(
        names(plan(&job, &settings(false, true), &state)),
        vec![("member_payment_failed", "member@example.com".to_owned())]
    );
    let mut only_churn = settings(true, false);
    only_churn.signals = vec![SignalKind::Churned];
    assert!(plan(&job, &only_churn, &state).is_empty());
}

#[test]
fn the_idempotency_key_changes_with_each_part_and_with_nothing_else() {
    let change = SignalChange {
        signal: SignalKind::AtRisk,
        change: Change::Opened,
        started_at: at(0),
    };
    let key = idempotency_key(
        "mem_1",
        &change,
        "a@example.com",
        Template::MemberPaymentFailed,
    );
    assert_eq!(key.len(), 64);
    assert_eq!(
        key,
        idempotency_key(
            "mem_1",
            &change,
            "A@example.com",
            Template::MemberPaymentFailed
        )
    );
    let later = SignalChange {
        started_at: at(1),
        ..change
    };
    for other in [
        idempotency_key(
            "mem_2",
            &change,
            "a@example.com",
            Template::MemberPaymentFailed,
        ),
        idempotency_key(
            "mem_1",
            &later,
            "a@example.com",
            Template::MemberPaymentFailed,
        ),
        idempotency_key(
            "mem_1",
            &change,
            "b@example.com",
            Template::MemberPaymentFailed,
        ),
        idempotency_key("mem_1", &change, "a@example.com", Template::MemberWinBack),
    ] {
        assert_ne!(key, other);
    }
}

#[test]
fn every_template_renders_html_and_text_and_escapes_what_it_shows() {
    // The digest renders from a listing (`tests::digest`).
    for template in Template::ALL
        .into_iter()
        .filter(|t| *t != Template::CreatorDigest)
    {
        let context = MessageContext {
            membership_id: "mem_1".into(),
            company_id: Some("biz_1".into()),
            member_name: Some("<b>Ada</b>".into()),
            signal: match template {
                Template::CreatorAlert(signal) => signal,
                _ => SignalKind::AtRisk,
            },
            started_at: "2026-03-01 12:00 UTC".into(),
            manage_url: Some(MANAGE_URL.into()),
            sender_name: "Acme".into(),
        };
        let rendered = render(template, &context).unwrap();
        assert!(!rendered.subject.is_empty(), "{}", template.name());
        assert!(
            rendered.html.contains("&lt;b&gt;Ada&lt;"),
            "{}",
            template.name()
        );
        assert!(!rendered.html.contains("<b>Ada"), "{}", template.name());
        assert!(rendered.text.contains("<b>Ada</b>"), "{}", template.name());
        if template == Template::MemberPaymentFailed {
            assert!(rendered.html.contains(&html_escaped(MANAGE_URL)));
            assert!(rendered.text.contains(MANAGE_URL));
        }
    }
}

#[derive(Default)]
struct Claims(Mutex<HashMap<String, (String, DateTime<Utc>)>>);

impl NotificationClaims for Claims {
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, DependencyError> {
        let mut claims = self.0.lock().unwrap();
        let resumed = match claims.get(key) {
            None => false,
            Some((status, since)) if status == "sending" => {
                if *since + chrono::Duration::from_std(lease).unwrap() > now {
                    return Ok(Claim::InFlight);
                }
                true
            }
            Some(_) => return Ok(Claim::Finished),
        };
        claims.insert(key.to_owned(), ("sending".into(), now));
        Ok(Claim::Won { resumed })
    }

    async fn record(
        &self,
        key: &str,
        delivery: &Delivery,
        at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), (delivery.status().to_owned(), at));
        Ok(())
    }
}

/// Answers each send with the next scripted result (`Ok` when the script is empty), keeping every
/// e-mail it was given.
#[derive(Default)]
struct ScriptedMailer {
    script: Mutex<Vec<Result<(), SendError>>>,
    sent: Mutex<Vec<Email>>,
}

impl Mailer for ScriptedMailer {
    async fn send_email(&self, email: &Email) -> Result<Sent, SendError> {
        self.sent.lock().unwrap().push(email.clone());
        let next = self.script.lock().unwrap().pop().unwrap_or(Ok(()));
        next.map(|()| Sent {
            provider: "test",
            message_id: format!("msg_{}", email.idempotency_key),
        })
    }
}

#[derive(Default)]
struct Suppressions(Mutex<Vec<String>>);

impl SuppressionList for Suppressions {
    async fn is_suppressed(&self, address: &str) -> Result<bool, DependencyError> {
        Ok(self.0.lock().unwrap().iter().any(|a| a == address))
    }

    async fn suppress(
        &self,
        address: &str,
        _reason: SuppressionReason,
    ) -> Result<(), DependencyError> {
        self.0.lock().unwrap().push(address.to_owned());
        Ok(())
    }
}

/// Settings, and each company's next digest (set by the tests).
#[derive(Default)]
struct Settings(
    Mutex<HashMap<String, CompanySettings>>,
    Mutex<HashMap<String, DateTime<Utc>>>,
);

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

impl crate::domain::ports::DigestSchedule for Settings {
    async fn due_digests(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::domain::ports::DueDigest>, DependencyError> {
        let mut due: Vec<_> = (self.1.lock().unwrap().iter())
            .filter(|(_, at)| **at <= now)
            .map(|(id, at)| crate::domain::ports::DueDigest {
                company_id: id.clone(),
                due_at: *at,
            })
            .collect();
        due.sort_by(|a, b| a.company_id.cmp(&b.company_id));
        due.truncate(limit);
        Ok(due)
    }

    async fn digest_settings(
        &self,
        id: &str,
    ) -> Result<Option<crate::domain::ports::DigestSettings>, DependencyError> {
        let next_at = self.1.lock().unwrap().get(id).copied();
        Ok(self.company_settings(id).await?.map(|s| (s, next_at)))
    }

    async fn advance_digest(
        &self,
        id: &str,
        due_at: DateTime<Utc>,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let mut next = self.1.lock().unwrap();
        let moved = next.get(id) == Some(&due_at);
        if moved {
            next.insert(id.to_owned(), next_at);
        }
        Ok(moved)
    }
}

struct SteppingClock(Mutex<DateTime<Utc>>);

impl Clock for SteppingClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

type TestNotifier = Notifier<
    Claims,
    MemoryStateStore,
    Settings,
    ScriptedMailer,
    Suppressions,
    SteppingClock,
    &'static Staged,
    &'static FixedClock,
    Option<ScriptedTexts>,
>;

/// Answers each text with the next scripted result (`Ok` when the script is empty), keeping every
/// text it was given.
#[derive(Default)]
struct ScriptedTexts {
    script: Mutex<Vec<Result<(), SendError>>>,
    sent: Mutex<Vec<TextMessage>>,
}

impl TextSender for ScriptedTexts {
    async fn send_text(&self, message: &TextMessage) -> Result<Sent, SendError> {
        self.sent.lock().unwrap().push(message.clone());
        let next = self.script.lock().unwrap().pop().unwrap_or(Ok(()));
        next.map(|()| Sent {
            provider: "twilio",
            message_id: format!("SM{}", &message.idempotency_key[..8]),
        })
    }
}

/// Unsubscribe tokens over a fixed key, for the life of the test process.
fn member_unsubscribe() -> MemberUnsubscribe<&'static Staged, &'static FixedClock> {
    let staged: &'static Staged = Box::leak(Box::default());
    staged.set(VersionStage::Current, "v1", &"a".repeat(64));
    MemberUnsubscribe {
        base: url::Url::parse("https://api.example.com").unwrap(),
        tokens: UnsubscribeTokens::new(
            staged,
            Box::leak(Box::new(FixedClock::new())),
            "unsubscribe",
            Duration::from_secs(60),
            Duration::from_secs(30 * 86_400),
        ),
    }
}

async fn notifier(events: &[(&str, &str)]) -> (TestNotifier, NotificationJob) {
    let state = MemoryStateStore::new();
    let job = recorded(&state, events).await.unwrap();
    let settings = Settings::default();
    settings
        .put_company_settings("biz_1", &settings_with_both())
        .await
        .unwrap();
    let notifier = Notifier {
        claims: Claims::default(),
        state,
        settings,
        mailer: ScriptedMailer::default(),
        suppressions: Suppressions::default(),
        clock: SteppingClock(Mutex::new(at(3600))),
        sender: Sender {
            from_email: "alerts@example.com".into(),
            default_name: "Churn Saver".into(),
        },
        unsubscribe: member_unsubscribe(),
        texts: Some(ScriptedTexts::default()),
        plans: PlanSettings::default(),
        analytics: NoAnalytics,
    };
    (notifier, job)
}

fn settings_with_both() -> CompanySettings {
    CompanySettings {
        recipients: vec!["owner@example.com".into()],
        ..settings(true, true)
    }
}

#[tokio::test]
async fn a_job_done_twice_sends_each_message_once_with_its_key() {
    let (notifier, job) = notifier(&[("e1", "past_due")]).await;
    let first = notifier.handle(&job).await.unwrap();
    assert_eq!(first.sent, 2);
    let again = notifier.handle(&job).await.unwrap();
    assert_eq!((again.sent, again.already_done), (0, 2));
    let sent = notifier.mailer.sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].to, vec!["owner@example.com".to_owned()]);
    assert_eq!(sent[0].from, "Churn Saver <alerts@example.com>");
    assert_eq!(sent[1].to, vec!["member@example.com".to_owned()]);
    assert!(sent[1].html.contains(&html_escaped(MANAGE_URL)));
    assert!(sent[1].text.contains(MANAGE_URL));
    assert!(
        sent[0].headers.is_empty(),
        "a creator alert has no unsubscribe"
    );
    let names: Vec<&str> = sent[1].headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["List-Unsubscribe", "List-Unsubscribe-Post"]);
    assert!(
        sent[1].headers[0]
            .1
            .starts_with("<https://api.example.com/unsubscribe?")
    );
    assert_ne!(sent[0].idempotency_key, sent[1].idempotency_key);
}

#[tokio::test]
async fn a_claim_left_sending_is_resent_with_the_same_key_only_after_its_lease() {
    let (notifier, job) = notifier(&[("e1", "past_due")]).await;
    let planned = plan(
        &job,
        &settings_with_both(),
        &notifier
            .state
            .membership("mem_1")
            .await
            .unwrap()
            .unwrap()
            .state(),
    );
    // A delivery claimed the creator alert, sent it and crashed before recording.
    notifier
        .claims
        .claim(&planned[0].key, at(3600), notifier::CLAIM_LEASE)
        .await
        .unwrap();
    assert_eq!(notifier.handle(&job).await, Err(NotifyError::InFlight));
    *notifier.clock.0.lock().unwrap() = at(3600) + chrono::Duration::seconds(121);
    let counts = notifier.handle(&job).await.unwrap();
    assert_eq!((counts.sent, counts.already_done), (1, 1));
    let sent = notifier.mailer.sent.lock().unwrap();
    let alerts: Vec<_> = sent
        .iter()
        .filter(|e| e.idempotency_key == planned[0].key)
        .collect();
    assert_eq!(alerts.len(), 1);
}

#[tokio::test]
async fn a_refusal_is_recorded_and_the_job_succeeds_while_an_outage_fails_it() {
    let (notifier, job) = notifier(&[("e1", "past_due")]).await;
    *notifier.mailer.script.lock().unwrap() = vec![
        Err(SendError::Unavailable {
            provider: "test",
            reason: "HTTP 503".into(),
            retry_after: None,
        }),
        Err(SendError::Refused {
            provider: "test",
            code: "validation_error".into(),
        }),
    ];
    let result = notifier.handle(&job).await;
    assert!(matches!(result, Err(NotifyError::Unavailable(_))));
    assert!(!result.unwrap_err().is_permanent());
    let claims = notifier.claims.0.lock().unwrap();
    let statuses: Vec<&str> = {
        let mut s: Vec<&str> = claims.values().map(|(s, _)| s.as_str()).collect();
        s.sort_unstable();
        s
    };
    assert_eq!(statuses, vec!["refused", "sending"]);
}

#[tokio::test]
async fn a_suppressed_address_gets_nothing_and_its_claim_says_so() {
    let (notifier, job) = notifier(&[("e1", "past_due")]).await;
    notifier
        .suppressions
        .suppress("member@example.com", SuppressionReason::Unsubscribed)
        .await
        .unwrap();
    let counts = notifier.handle(&job).await.unwrap();
    assert_eq!((counts.sent, counts.suppressed), (1, 1));
    let sent = notifier.mailer.sent.lock().unwrap();
    assert!(
        sent.iter()
            .all(|e| e.to != vec!["member@example.com".to_owned()])
    );
}

#[tokio::test]
async fn a_company_without_settings_or_a_job_without_a_company_reads_no_membership() {
    let (notifier, mut job) = notifier(&[("e1", "past_due")]).await;
    job.company_id = Some("biz_other".into());
    assert_eq!(notifier.handle(&job).await, Ok(Default::default()));
    job.company_id = None;
    assert_eq!(notifier.handle(&job).await, Ok(Default::default()));
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_undecodable_job_is_permanent() {
    let (notifier, _) = notifier(&[("e1", "past_due")]).await;
    let error = notifier.process("{not json").await.unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(error.code(), "undecodable_job");
}

// Texts to the alert phones.

const PHONE: &str = "+14155550123";

/// [`notifier`] over a past-due event, with `at_risk` urgent and [`PHONE`] as the alert phone.
async fn texting_notifier() -> (TestNotifier, NotificationJob) {
    let (notifier, job) = notifier(&[("e1", "past_due")]).await;
    let settings = CompanySettings {
        alert_phones: vec![PHONE.into()],
        urgent_signals: vec![SignalKind::AtRisk],
        ..settings_with_both()
    };
    notifier
        .settings
        .put_company_settings("biz_1", &settings)
        .await
        .unwrap();
    (notifier, job)
}

fn texts_sent(notifier: &TestNotifier) -> Vec<TextMessage> {
    notifier
        .texts
        .as_ref()
        .unwrap()
        .sent
        .lock()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn only_urgent_signals_are_texted_and_churned_and_cancel_scheduled_are_urgent_by_default() {
    let (notifier, _) = notifier(&[("e1", "past_due")]).await;
    let state = notifier
        .state
        .membership("mem_1")
        .await
        .unwrap()
        .unwrap()
        .state();
    let settings = CompanySettings {
        alert_phones: vec![PHONE.into()],
        ..CompanySettings::default()
    };
    let change = |signal| SignalChange {
        signal,
        change: Change::Opened,
        started_at: at(0),
    };
    let job = NotificationJob {
        membership_id: "mem_1".into(),
        provider: Source::Whop,
        company_id: Some("biz_1".into()),
        changes: SignalKind::ALL.into_iter().map(change).collect(),
    };
    let planned = plan(&job, &settings, &state);
    let texted: Vec<Template> = planned.iter().map(|p| p.template).collect();
    assert_eq!(
        texted,
        [
            Template::CreatorText(SignalKind::CancelScheduled),
            Template::CreatorText(SignalKind::Churned)
        ]
    );
    assert!(planned.iter().all(|p| p.recipient == PHONE));
}

#[tokio::test]
async fn an_urgent_signal_is_texted_once_in_plain_text_with_the_first_name_only() {
    let (notifier, job) = texting_notifier().await;
    let first = notifier.handle(&job).await.unwrap();
    assert_eq!(first.sent, 3, "creator alert, member e-mail, text");
    let again = notifier.handle(&job).await.unwrap();
    assert_eq!((again.sent, again.already_done), (0, 3));
    let texts = texts_sent(&notifier);
    let [text] = &texts[..] else {
        panic!("{texts:?}")
    };
    assert_eq!(text.to, PHONE);
    assert!(text.body.contains("Ada"), "{}", text.body);
    assert!(text.body.contains("is at risk"), "{}", text.body);
    assert!(!text.body.contains('@') && !text.body.contains("http"));
    assert!(text.body.chars().count() <= 160, "{}", text.body);
    let emails = notifier.mailer.sent.lock().unwrap();
    assert!(
        emails
            .iter()
            .all(|e| e.idempotency_key != text.idempotency_key)
    );
}

#[tokio::test]
async fn without_a_text_provider_a_text_is_refused_as_not_configured_and_the_job_succeeds() {
    let (mut notifier, job) = texting_notifier().await;
    notifier.texts = None;
    let counts = notifier.handle(&job).await.unwrap();
    assert_eq!((counts.sent, counts.refused), (2, 1));
    let statuses: Vec<String> = notifier
        .claims
        .0
        .lock()
        .unwrap()
        .values()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "refused").count(), 1);
    assert_eq!(texts::TEXTS_NOT_CONFIGURED, "texts_not_configured");
}

#[tokio::test]
async fn a_number_twilio_reports_opted_out_is_added_to_the_suppression_list() {
    let (notifier, job) = texting_notifier().await;
    *notifier.texts.as_ref().unwrap().script.lock().unwrap() = vec![Err(SendError::Refused {
        provider: "twilio",
        code: "21610".into(),
    })];
    let counts = notifier.handle(&job).await.unwrap();
    assert_eq!(counts.refused, 1);
    assert!(notifier.suppressions.is_suppressed(PHONE).await.unwrap());
}

#[tokio::test]
async fn a_suppressed_number_is_not_texted() {
    let (notifier, job) = texting_notifier().await;
    notifier
        .suppressions
        .suppress(PHONE, SuppressionReason::OptedOut)
        .await
        .unwrap();
    let counts = notifier.handle(&job).await.unwrap();
    assert_eq!(counts.suppressed, 1);
    assert!(texts_sent(&notifier).is_empty());
}

// Mails about a company: the settings-change confirmation and the welcome.

fn change(minute: i64, previous: &[&str], recipients: &[&str]) -> company::SettingsChange {
    company::SettingsChange {
        company_id: "biz_1".into(),
        changed_at: at(minute * 60),
        previous_recipients: previous.iter().map(|r| (*r).to_owned()).collect(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
    }
}

#[test]
fn the_first_save_with_recipients_welcomes_each_with_a_key_independent_of_time() {
    let first = company::plan_settings_change(&change(0, &[], &["a@example.com", "b@example.com"]));
    assert!(first.iter().all(|m| m.template == Template::Welcome));
    assert_eq!(first.len(), 2);
    let later = company::plan_settings_change(&change(90, &[], &["a@example.com"]));
    assert_eq!(
        later[0].key, first[0].key,
        "the same recipient, the same welcome"
    );
    assert_ne!(first[0].key, first[1].key);
}

#[test]
fn a_later_save_confirms_to_the_previous_and_the_new_recipients_once_each() {
    let planned = company::plan_settings_change(&change(
        5,
        &["a@example.com", "b@example.com"],
        &["B@example.com", "c@example.com"],
    ));
    let recipients: Vec<&str> = planned.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(
        recipients,
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    assert!(
        planned
            .iter()
            .all(|m| m.template == Template::SettingsUpdated)
    );
    let again = company::plan_settings_change(&change(6, &["a@example.com"], &["a@example.com"]));
    assert_ne!(
        again[0].key, planned[0].key,
        "another change, another confirmation"
    );
}

#[test]
fn company_mails_render_html_and_text_with_the_settings_or_the_run() {
    let context = render::CompanyContext {
        company_id: "biz_<1>".into(),
        at: "2026-03-01 12:00 UTC".into(),
        sender_name: "Acme".into(),
        settings: Some(CompanySettings {
            recipients: vec!["a@example.com".into()],
            immediate: true,
            ..CompanySettings::default()
        }),
        sync: Some(sync_end(false)),
        ingestion: None,
    };
    for template in Template::COMPANY {
        let rendered = render::render_company(template, &context).unwrap();
        assert!(!rendered.subject.is_empty());
        assert!(
            rendered.html.contains("biz_&lt;1&gt;"),
            "{}",
            template.name()
        );
        assert!(rendered.text.contains("biz_<1>"), "{}", template.name());
        let shows = match template {
            Template::SyncCompleted | Template::SyncFailed => "run_1",
            _ => "at_risk",
        };
        assert!(rendered.text.contains(shows), "{}", template.name());
        assert!(
            !rendered.text.contains("a@example.com"),
            "{}",
            template.name()
        );
    }
}

#[tokio::test]
async fn a_settings_change_job_sends_each_confirmation_once() {
    let (notifier, _) = notifier(&[("e1", "past_due")]).await;
    let body = serde_json::to_string(&Job::SettingsChanged(change(
        5,
        &["owner@example.com"],
        &["ops@example.com"],
    )))
    .unwrap();
    assert!(body.contains(r#""kind":"settings_changed""#), "{body}");
    let first = notifier.process(&body).await.unwrap();
    assert_eq!(first.sent, 2);
    let again = notifier.process(&body).await.unwrap();
    assert_eq!((again.sent, again.already_done), (0, 2));
    let sent = notifier.mailer.sent.lock().unwrap();
    let to: Vec<&str> = sent.iter().map(|e| e.to[0].as_str()).collect();
    assert_eq!(to, ["owner@example.com", "ops@example.com"]);
    assert!(sent.iter().all(|e| e.headers.is_empty()));
    assert_eq!(
        sent[0].subject,
        "Your Churn Saver notification settings changed"
    );
}

#[derive(Default)]
struct Queue(Mutex<Vec<Job>>);

impl crate::domain::ports::NotificationQueue for Queue {
    async fn enqueue(&self, job: &Job) -> Result<(), DependencyError> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_save_enqueues_a_confirmation_only_when_someone_is_or_was_told() {
    let queue = Queue::default();
    let nobody = CompanySettings::default();
    company::settings_saved(&queue, "biz_1", None, &nobody, at(0)).await;
    assert!(queue.0.lock().unwrap().is_empty());
    let told = settings(true, false);
    company::settings_saved(&queue, "biz_1", None, &told, at(0)).await;
    company::settings_saved(&queue, "biz_1", Some(&told), &nobody, at(60)).await;
    let jobs = queue.0.lock().unwrap();
    let [Job::SettingsChanged(first), Job::SettingsChanged(second)] = &jobs[..] else {
        panic!("{jobs:?}")
    };
    assert!(first.previous_recipients.is_empty());
    assert_eq!(first.recipients, told.recipients);
    assert_eq!(second.previous_recipients, told.recipients);
    assert!(second.recipients.is_empty());
}

fn sync_end(completed: bool) -> company::SyncEnd {
    company::SyncEnd {
        company_id: "biz_1".into(),
        run_id: "run_1".into(),
        trigger: "cli".into(),
        completed,
        error: (!completed).then(|| "gave_up_http_503".into()),
        ended_at: at(0),
        seen: 40,
        drifted: 3,
    }
}

#[test]
fn a_failed_run_is_told_always_a_completed_one_only_when_someone_started_it() {
    let recipients = vec!["a@example.com".to_owned()];
    let failed = company::plan_sync_end(&sync_end(false), &recipients);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].template, Template::SyncFailed);
    let completed = company::plan_sync_end(&sync_end(true), &recipients);
    assert_eq!(completed[0].template, Template::SyncCompleted);
    let scheduled = company::SyncEnd {
        trigger: "schedule".into(),
        ..sync_end(true)
    };
    assert!(company::plan_sync_end(&scheduled, &recipients).is_empty());
    let scheduled_failure = company::SyncEnd {
        trigger: "schedule".into(),
        ..sync_end(false)
    };
    assert_eq!(
        company::plan_sync_end(&scheduled_failure, &recipients).len(),
        1
    );
}

#[tokio::test]
async fn a_sync_end_job_tells_each_recipient_once() {
    let (notifier, _) = notifier(&[("e1", "past_due")]).await;
    let body = serde_json::to_string(&Job::SyncEnded(sync_end(false))).unwrap();
    let first = notifier.process(&body).await.unwrap();
    let again = notifier.process(&body).await.unwrap();
    assert_eq!((first.sent, again.already_done), (1, 1));
    let sent = notifier.mailer.sent.lock().unwrap();
    assert_eq!(sent[0].to, ["owner@example.com"]);
    assert_eq!(sent[0].subject, "A sync of your memberships failed");
    assert!(sent[0].text.contains("gave_up_http_503"));
}
mod digest;
