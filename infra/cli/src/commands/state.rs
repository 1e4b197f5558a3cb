//! `churnsaver state`: membership state as the API shows it.

use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::target;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print a membership's state and signals as JSON (what `GET /memberships/{id}` answers).
    Show { membership_id: String },
}

pub async fn run(command: StateCommand) -> anyhow::Result<ExitCode> {
    match command {
        StateCommand::Show { membership_id } => show(&membership_id).await,
    }
}

async fn show(membership_id: &str) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let store = shared::aws::state::DynamoState::of(&app);
    match shared::domain::state::membership(
        &store,
        membership_id,
        shared::domain::state::Viewer::Operator,
    )
    .await
    {
        Ok(view) => {
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(shared::domain::state::ReadError::NotFound) => {
            eprintln!("no membership {membership_id}");
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(anyhow!("reading membership {membership_id}: {error}")),
    }
}
