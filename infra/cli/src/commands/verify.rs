//! `churnsaver verify`: the post-deployment check.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use churnsaver::target::{self, LocalStackState};
use churnsaver::verify::{DEFAULT_PROCESSING_TIMEOUT, verify};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The stack's HTTP API base URL; the running local stack's by default. A deployed stack
    /// also needs its function environment exported (as for `dlq`).
    #[arg(long)]
    url: Option<String>,
    /// Seconds the test webhook may take to reach PROCESSED.
    #[arg(long, default_value_t = DEFAULT_PROCESSING_TIMEOUT.as_secs())]
    timeout_secs: u64,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let url = match args.url {
        Some(url) => url,
        None => {
            LocalStackState::read()
                .context("pass --url for a deployed stack")?
                .base_url
        }
    };
    let verification = verify(&app, &url, Duration::from_secs(args.timeout_secs)).await;
    print!("{}", verification.table());
    Ok(if verification.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
