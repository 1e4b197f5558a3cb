//! `churnsaver keys`: the session signing keys.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use churnsaver::target;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate now: the four rotation steps, as the rotation function runs them. Tokens signed
    /// with the previous key keep verifying until the next rotation.
    Rotate {
        /// The `ClientRequestToken` (new version id) of an interrupted rotation to finish; a
        /// fresh one by default.
        #[arg(long)]
        token: Option<uuid::Uuid>,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Rotate { token } => rotate(token).await,
    }
}

async fn rotate(token: Option<uuid::Uuid>) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let secret_id = app
        .config
        .secrets
        .session_keys
        .as_deref()
        .ok_or_else(|| anyhow!("the stack has no SESSION_KEYS_SECRET_ID"))?;
    // Every step is idempotent on the token, so rerunning with it resumes where a failure stopped.
    let token = token.unwrap_or_else(uuid::Uuid::new_v4).to_string();
    let rotated = shared::domain::auth::rotation::rotate(&app.secrets_manager, secret_id, &token)
        .await
        .with_context(|| {
            format!("rotating {secret_id} (to resume: churnsaver keys rotate --token {token})")
        })?;
    println!(
        "rotated {secret_id}: new kid {} (version {}), previous kid {}",
        rotated.kid,
        rotated.version_id,
        rotated.previous_kid.as_deref().unwrap_or("none")
    );
    Ok(ExitCode::SUCCESS)
}
