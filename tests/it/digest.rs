//! The daily digest on the local stack: three members put at risk by signed Whop webhooks, the
//! maintenance function's hourly digest run over the settings' `digest_due` index, and the notify
//! function's handler sending through the stand-in mail API.

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use shared::aws::company_items::DynamoCompanyItems;
use shared::domain::companies::settings::{CompanySettings, Digest};
use shared::domain::notify::Job;
use shared::domain::notify::digest::{DigestJob, next_digest_at};
use shared::domain::ports::{DigestSchedule, SettingsStore};
use shared::edge::deps::maintenance::MaintenanceDeps;
use shared::edge::deps::notify::NotifyDeps;

use crate::helpers::{RequestLog, start_stack};
use crate::notify::{COMPANY, deliver, jobs, mail, notify, ops, sorted};

const OWNER: &str = "owner@example.com";
const OPS: &str = "ops@example.com";
const ZONE: &str = "America/New_York";

/// The company's next digest as stored.
async fn next_at(items: &DynamoCompanyItems) -> DateTime<Utc> {
    items
        .digest_settings(COMPANY)
        .await
        .unwrap()
        .unwrap()
        .1
        .unwrap()
}

#[tokio::test]
async fn a_company_with_three_members_at_risk_gets_one_digest_per_recipient_listing_them_at_its_hour()
 {
    let stack = start_stack().await;
    // A digest two hours from now, New York time; no immediate alert.
    let zone: Tz = ZONE.parse().unwrap();
    let hour = u8::try_from((Utc::now().with_timezone(&zone).hour() + 2) % 24).unwrap();
    let digest = Digest {
        hour,
        time_zone: ZONE.into(),
    };
    let settings = CompanySettings {
        recipients: vec![OWNER.into(), OPS.into()],
        digest: Some(digest.clone()),
        ..CompanySettings::default()
    };
    let items = DynamoCompanyItems::of(&stack.app);
    items
        .put_company_settings(COMPANY, &settings)
        .await
        .unwrap();
    let due = next_at(&items).await;
    assert_eq!(due.with_timezone(&zone).hour(), u32::from(hour));
    assert!(due > Utc::now());

    deliver(
        &stack,
        &[
            ("evt_d1_active", 0, "membership.activated", "mem_d1"),
            ("evt_d2_active", 0, "membership.activated", "mem_d2"),
            ("evt_d3_active", 0, "membership.activated", "mem_d3"),
            ("evt_d1_failed", 1, "payment.failed", "mem_d1"),
            ("evt_d2_failed", 2, "payment.failed", "mem_d2"),
            ("evt_d3_failed", 3, "payment.failed", "mem_d3"),
        ],
    )
    .await;
    // The signal jobs the processor enqueued (no immediate alerts: nothing to send).
    let notify_deps = Arc::new(NotifyDeps::build(Arc::clone(&stack.app)));
    assert!(notify(&notify_deps, &jobs(&stack).await).await.is_empty());
    assert!(mail(&stack).is_empty());

    let requests = RequestLog::default();
    let maintenance = MaintenanceDeps::build(requests.app(&stack.app));
    // An hour before: nothing due.
    let before = maintenance.run_digests(due - Duration::hours(1)).await;
    assert_eq!(before.unwrap().enqueued, 0);
    assert!(jobs(&stack).await.is_empty());
    let empty_run = requests.take();
    // At the hour: one job.
    let at_hour = maintenance.run_digests(due).await;
    assert_eq!(at_hour.unwrap().enqueued, 1);
    let due_run = requests.take();
    let digest_jobs = jobs(&stack).await;
    assert_eq!(digest_jobs.len(), 1);
    let job: Job = serde_json::from_str(digest_jobs[0].body().unwrap()).unwrap();
    assert_eq!(
        job,
        Job::Digest(DigestJob {
            company_id: COMPANY.into(),
            due_at: due
        })
    );
    // The hourly run: one Query per index partition, one SendMessage per due company.
    assert_eq!(
        sorted(empty_run.clone()),
        ops(&[("Query", 4)]),
        "{empty_run:?}"
    );
    assert_eq!(
        sorted(due_run.clone()),
        ops(&[("Query", 4), ("SendMessage", 1)]),
        "{due_run:?}"
    );

    // The job, twice: one digest per recipient.
    let deps = Arc::new(NotifyDeps::build(requests.app(&stack.app)));
    assert!(notify(&deps, &digest_jobs).await.is_empty());
    let first = requests.take();
    assert!(notify(&deps, &digest_jobs).await.is_empty());
    let again = requests.take();

    let messages = mail(&stack);
    let mut recipients: Vec<String> = messages.iter().map(|m| m.to.join(",")).collect();
    recipients.sort();
    assert_eq!(recipients, [OPS, OWNER]);
    for message in &messages {
        assert_eq!(message.subject, "Your daily churn digest");
        assert!(message.text.contains(": 3 at risk."), "{}", message.text);
        for member in ["mem_d1", "mem_d2", "mem_d3"] {
            assert!(
                message
                    .text
                    .contains(&format!("Ann Member ({member}): at risk since"))
            );
        }
        assert!(message.text.contains("29.00 USD"), "{}", message.text);
    }
    // Advanced by one day, at the same local hour.
    let advanced = next_at(&items).await;
    assert_eq!(Some(advanced), next_digest_at(&digest, due));
    assert_eq!(
        advanced.with_timezone(&zone).date_naive(),
        due.with_timezone(&zone).date_naive().succ_opt().unwrap()
    );
    assert_eq!(advanced.with_timezone(&zone).hour(), u32::from(hour));

    // A digest job (cold): the settings (GetItem), the open signals (a Query per chosen signal),
    // per recipient the claim (PutItem), suppression check (GetItem) and outcome (UpdateItem),
    // the advance (UpdateItem); the cold start reads the mail provider's key and the
    // suppression hash key, the emergency switch and the breaker.
    assert_eq!(
        sorted(first.clone()),
        ops(&[
            ("GetItem", 5),
            ("GetSecretValue", 2),
            ("PutItem", 2),
            ("Query", 4),
            ("UpdateItem", 3)
        ]),
        "{first:?}"
    );
    // Delivered again: the settings say it is done.
    assert_eq!(sorted(again.clone()), ops(&[("GetItem", 1)]), "{again:?}");
    stack.shutdown().await;
}
