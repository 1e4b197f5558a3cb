//! How close a full reconcile comes to the provider's rate limit: 10,000 memberships from the
//! stand-in Whop API limited to 20 requests per 10 s (a sliding window, the strictest reading),
//! synced through the sync function's handler, its page jobs worked from the emulator's
//! `sync-jobs` queue by two pollers (the template's MaximumConcurrency).
//!
//!     cargo run --release -p churnsaver --example sync_rate [-- MEMBERSHIPS]
//!
//! Prints the wall time against the lower bound the limit allows (pages ÷ rate), the 429s the API
//! sent, and the pages that failed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use churnsaver::fake_whop::{COMPANY_ID, FakeWhop, FakeWhopOptions};
use churnsaver::functions::invoker;
use churnsaver::local::{LocalOptions, LocalStack, poll_queue, queue_workers};
use churnsaver::moto::MotoServer;
use shared::domain::sync::RunStatus;

const RATE_REQUESTS: usize = 20;
const RATE_WINDOW: Duration = Duration::from_secs(10);
const POLLERS: usize = 2;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let memberships: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()
        .context("MEMBERSHIPS must be a number")?
        .unwrap_or(10_000);
    let mut moto = tokio::task::spawn_blocking(MotoServer::start).await??;
    let whop = FakeWhop::start(FakeWhopOptions {
        rate_limit: Some((RATE_REQUESTS, RATE_WINDOW)),
        ..FakeWhopOptions::default()
    })
    .await?;
    whop.seed(memberships);
    let stack = LocalStack::start(LocalOptions {
        template: churnsaver::template_path(),
        stack_name: format!("rate{}", std::process::id()),
        bind: "127.0.0.1:0".parse()?,
        endpoint: moto.endpoint(),
        parameters: BTreeMap::from([
            ("WhopApiBaseUrl".to_owned(), whop.base_url()),
            ("WhopCompanyId".to_owned(), COMPANY_ID.to_owned()),
        ]),
        background: false,
    })
    .await?;
    let app = Arc::clone(&stack.app);
    let key_secret = app
        .config
        .secrets
        .whop_api_key
        .clone()
        .context("the stack has no Whop API key secret")?;
    app.secrets_manager
        .put_secret_value()
        .secret_id(key_secret)
        .secret_string(
            serde_json::json!({"api_key": churnsaver::fake_whop::LOCAL_API_KEY}).to_string(),
        )
        .send()
        .await?;

    // The sync function as one warm instance runs it, fed by the queue like its event source.
    let state = Arc::new(sync::SyncDeps::build(Arc::clone(&app)));
    let worker = queue_workers(&stack.provisioned)?
        .into_iter()
        .find(|w| w.function == "sync")
        .context("the template has no sync-jobs worker")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut pollers = Vec::new();
    for _ in 0..POLLERS {
        pollers.push(tokio::spawn(poll_queue(
            app.sqs.clone(),
            worker.clone(),
            invoker(Arc::clone(&state), sync::handle),
            stopped.clone(),
        )));
    }

    let syncer = shared::edge::deps::sync::syncer(&app)?;
    let rate = RATE_REQUESTS as f64 / RATE_WINDOW.as_secs_f64();
    // First into an empty store (every membership is written), then again with the store in
    // step (nothing to write): the second shows the pacing alone.
    for label in ["first sync, empty store", "re-sync, store in step"] {
        let before = whop.counts();
        let started = Instant::now();
        let run = syncer
            .start(syncer.scope(None, None)?, "measurement".into())
            .await?;
        let run = churnsaver::runs::follow(&syncer.runs, &run.run_id).await?;
        let wall = started.elapsed().as_secs_f64();
        let after = whop.counts();
        let bound = run.pages as f64 / rate;
        println!("== {label}");
        println!("{}", churnsaver::runs::describe(&run));
        println!(
            "memberships {memberships}, pages {}, API requests {}, 429s received {}",
            run.pages,
            after.requests - before.requests,
            after.rate_limited - before.rate_limited
        );
        println!(
            "wall {wall:.1} s, lower bound {bound:.1} s (pages ÷ {rate} req/s), ratio {:.3}",
            wall / bound
        );
        println!(
            "failed pages: {}",
            if run.status == RunStatus::Completed {
                "0 (run completed)".to_owned()
            } else {
                format!("run {}", run.status.as_str())
            }
        );
    }
    let _ = stop.send(true);
    for poller in pollers {
        poller.await?;
    }
    let dead_lettered = app
        .sqs
        .get_queue_attributes()
        .queue_url(&app.config.queues.sync_jobs_dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .cloned()
        })
        .unwrap_or_default();
    println!("sync-jobs DLQ: {dead_lettered} message(s)");
    stack.shutdown().await;
    moto.stop();
    Ok(())
}
