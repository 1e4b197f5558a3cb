//! `churnsaver breaker`: the provider calls' circuit breakers.

use std::process::ExitCode;

use churnsaver::target;
use clap::Subcommand;
use shared::aws::breaker::DynamoBreakers;

#[derive(Debug, Subcommand)]
pub enum BreakerCommand {
    /// One line per stored breaker: name, state, since, failures, open until.
    Status,
    /// Close a provider's breaker now (after the provider recovered) and print its new state.
    Reset {
        /// The provider: whop, stripe, gumroad or paypal.
        name: String,
    },
}

pub async fn run(command: BreakerCommand) -> anyhow::Result<ExitCode> {
    match command {
        BreakerCommand::Status => {
            let app = target::connect().await?;
            let store = DynamoBreakers::of(&app);
            for line in churnsaver::breaker::status(&store).await? {
                println!("{line}");
            }
        }
        BreakerCommand::Reset { name } => {
            // Refused before reaching for a stack: a typo must not look like a stack problem.
            let provider = churnsaver::breaker::provider(&name)?;
            let app = target::connect().await?;
            let store = DynamoBreakers::of(&app);
            let line =
                churnsaver::breaker::reset(&store, shared::domain::ports::SystemClock, provider)
                    .await?;
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
