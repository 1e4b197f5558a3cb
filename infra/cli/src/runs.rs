//! Sync runs as the CLI shows them, and following one to its end.

use shared::domain::ports::SyncStore;
use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::sync::SyncRun;

/// How often a followed run is re-read.
const POLL: Duration = Duration::from_secs(1);

/// A run that is neither finished nor moving: no page or pause for longer than its lease, so its
/// chain of jobs was lost (the sync-jobs DLQ holds the page; `dlq redrive --queue sync-jobs`
/// resumes it).
pub fn is_stalled(run: &SyncRun, now: DateTime<Utc>) -> bool {
    !run.status.is_finished()
        && run.paused_until.is_none_or(|until| until < now)
        && now - run.updated_at > shared::domain::sync::worker::LEASE
}

/// One line: id, status, pages, counts, and why it paused or failed.
pub fn describe(run: &SyncRun) -> String {
    let counts = run.counts;
    let status = if is_stalled(run, Utc::now()) {
        "stalled"
    } else {
        run.status.as_str()
    };
    let mut line = format!(
        "{}  {:<9}  pages={}  seen={}  drifted={}  unchanged={}  newer_locally={}  skipped={}  started={}  trigger={}",
        run.run_id,
        status,
        run.pages,
        counts.seen,
        counts.drifted,
        counts.unchanged,
        counts.newer_locally,
        counts.skipped,
        run.started_at.to_rfc3339(),
        run.trigger,
    );
    if let Some(finished) = run.finished_at {
        let took = (finished - run.started_at).num_milliseconds() as f64 / 1000.0;
        line.push_str(&format!("  took={took:.1}s"));
    }
    if let Some(until) = run.paused_until {
        line.push_str(&format!("  paused_until={}", until.to_rfc3339()));
    }
    if let Some(error) = &run.last_error {
        line.push_str(&format!("  last_error={error}"));
    }
    line
}

/// Re-reads `run_id` until it ends or stalls ([`is_stalled`]), with a progress line on a terminal
/// (plain lines otherwise).
pub async fn follow<R: SyncStore>(runs: &R, run_id: &str) -> anyhow::Result<SyncRun> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let mut last_pages = None;
    loop {
        let run = runs
            .run(run_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run `{run_id}` disappeared"))?;
        let message = format!(
            "{} · page {} · {} memberships · {} drifted",
            run.status.as_str(),
            run.pages,
            run.counts.seen,
            run.counts.drifted
        );
        match &bar {
            Some(bar) => bar.set_message(message),
            None if last_pages != Some(run.pages) => eprintln!("{message}"),
            None => {}
        }
        last_pages = Some(run.pages);
        if run.status.is_finished() || is_stalled(&run, Utc::now()) {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Ok(run);
        }
        tokio::time::sleep(POLL).await;
    }
}
