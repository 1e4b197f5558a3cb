//! Size of a membership's state item, and so the write units each event costs, over two years of a
//! monthly membership, measured on the emulator through the real processor and DynamoDB adapter.
//!
//!     cargo run -p churnsaver --example state_item_size
//!
//! DynamoDB bills a write by the larger of the item's size before and after, in 1 KB units; the
//! size is the sum of attribute name and value lengths.

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use churnsaver::local::{LocalOptions, LocalStack};
use churnsaver::moto::MotoServer;
use shared::aws::item::item_size;
use shared::domain::state::store::{STATE_SK, membership_pk};

const MEMBERSHIP: &str = "mem_4HtR8wLq2ZcV1n";

/// One Whop v1 event of the simulated membership, queued as ingest queues it.
fn event(index: usize, day: i64, kind: &str, data: &str) -> String {
    let at = chrono::DateTime::from_timestamp(1_767_225_600 + day * 86_400, 0)
        .unwrap_or_default()
        .to_rfc3339();
    format!(
        r#"{{"provider":"whop","event_id":"msg_2yJ8cQk5VbN1rT7wXa4Z{index:04}","kind":"{kind}","subject":{{"membership_id":"{MEMBERSHIP}","user_id":"user_9aQ1fN3bXk2Lp","company_id":"biz_7mKp2XyQ9sTa3e","product_id":"prod_8Gf4Ls1PqZ6wHy","plan_id":"plan_3Jd7Vn2KxB9eMs","payment_id":"pay_8JkL2mN4p{index:04}"}},"occurred_at":"{at}","received_at":"{at}","raw":{{"type":"{kind}","data":{data}}}}}"#
    )
}

/// Two years: each month a payment is created and succeeds; every fourth month the first attempt
/// fails and a retry three days later succeeds; in month 11 cancellation is scheduled and undone.
fn history() -> Vec<String> {
    let mut events = Vec::new();
    let membership = format!(
        r#"{{"id":"{MEMBERSHIP}","status":"active","cancel_at_period_end":false,"renewal_period_start":"2026-01-01T00:00:00Z","renewal_period_end":"2026-02-01T00:00:00Z"}}"#
    );
    events.push(event(0, 0, "membership.activated", &membership));
    for month in 0..24 {
        let day = month * 30;
        let payment = r#"{"total":29.0,"currency":"usd","membership":{"status":"active"}}"#;
        events.push(event(events.len(), day, "payment.created", payment));
        if month % 4 == 3 {
            let failed = r#"{"total":29.0,"currency":"usd","failure_message":"card_declined","membership":{"status":"past_due"}}"#;
            events.push(event(events.len(), day, "payment.failed", failed));
            events.push(event(events.len(), day + 3, "payment.succeeded", payment));
        } else {
            events.push(event(events.len(), day, "payment.succeeded", payment));
        }
        if month == 11 {
            let scheduled = membership.replace(
                "\"cancel_at_period_end\":false",
                "\"cancel_at_period_end\":true",
            );
            events.push(event(
                events.len(),
                day + 10,
                "membership.cancel_at_period_end_changed",
                &scheduled,
            ));
            events.push(event(
                events.len(),
                day + 20,
                "membership.cancel_at_period_end_changed",
                &membership,
            ));
        }
    }
    events
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::edge::telemetry::init();
    let mut moto = tokio::task::spawn_blocking(MotoServer::start).await??;
    let stack = LocalStack::start(LocalOptions {
        template: churnsaver::template_path(),
        stack_name: format!("size{}", std::process::id()),
        bind: "127.0.0.1:0".parse()?,
        endpoint: moto.endpoint(),
        parameters: Default::default(),
        background: false,
    })
    .await?;
    let app = &stack.app;
    let processor = shared::edge::deps::processor::processor(app);
    let mut previous = 0;
    let mut previous_observations = 0;
    let mut units = Vec::new();
    let mut compactions = 0;
    println!("event  observations  item bytes  write units");
    for (index, body) in history().iter().enumerate() {
        processor.process(body, 1).await.context("processing")?;
        let item = app
            .dynamodb
            .get_item()
            .table_name(&app.config.tables.state)
            .key("pk", AttributeValue::S(membership_pk(MEMBERSHIP)))
            .key("sk", AttributeValue::S(STATE_SK.to_owned()))
            .send()
            .await?
            .item
            .context("no item")?;
        let size = item_size(&item);
        let observations = item.keys().filter(|k| k.starts_with("o#")).count();
        // The event's write saw one more observation than before; fewer means a compaction
        // followed it, billed at the larger item (the one it shrank).
        let billed = previous.max(size).div_ceil(1024);
        units.push(billed);
        if observations <= previous_observations {
            compactions += 1;
            units.push(previous.max(size).div_ceil(1024));
        }
        previous_observations = observations;
        if index % 6 == 0 || index + 1 == history().len() {
            println!("{index:>5}  {observations:>12}  {size:>10}  {billed:>11}");
        }
        previous = size;
    }
    let events = history().len();
    let total: usize = units.iter().sum();
    println!(
        "{events} events: {} writes ({compactions} of them compactions), {total} write units: \
         {:.2} requests and {:.2} write units per event (max {} per write)",
        units.len(),
        units.len() as f64 / events as f64,
        total as f64 / events as f64,
        units.iter().max().unwrap_or(&0)
    );
    stack.shutdown().await;
    moto.stop();
    Ok(())
}
