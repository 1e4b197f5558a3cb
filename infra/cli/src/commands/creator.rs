//! The session a creator's command calls the stack with (`churnsaver gumroad`, `churnsaver kdp`):
//! `--user` (a session opened on the stack) or `--token`, and `--url`.

use anyhow::{Context, anyhow};
use churnsaver::creator::Creator;
use churnsaver::target::{self, LocalStackState};
use clap::Args;

#[derive(Debug, Args)]
pub struct SessionArgs {
    /// The creator (a Whop user id): a session of theirs is opened on the stack (the same AWS
    /// access as `sessions create`).
    #[arg(long, conflicts_with = "token", required_unless_present = "token")]
    user: Option<String>,
    /// A session token of the creator, instead of `--user`.
    #[arg(long, env = "CHURNSAVER_SESSION_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The stack's HTTP API base URL; the running local stack's by default.
    #[arg(long)]
    url: Option<String>,
}

impl SessionArgs {
    /// The creator calling for `company_id`; `agent` names the command in the session it opens.
    pub async fn creator(self, company_id: Option<String>, agent: &str) -> anyhow::Result<Creator> {
        let base_url = match self.url {
            Some(url) => url,
            None => {
                LocalStackState::read()
                    .context("pass --url for a deployed stack")?
                    .base_url
            }
        };
        let token = match (self.token, self.user) {
            (Some(token), _) => token,
            (None, Some(user)) => {
                let app = target::connect().await?;
                let client = shared::domain::auth::sessions::Client {
                    ip: None,
                    user_agent: Some(agent.to_owned()),
                };
                let issued = shared::edge::deps::auth::session_service(&app)
                    .create(&user, &client)
                    .await
                    .map_err(|e| anyhow!("opening a session for {user}: {e}"))?;
                secrecy::ExposeSecret::expose_secret(&issued.token).to_owned()
            }
            (None, None) => return Err(anyhow!("pass --user or --token")),
        };
        Ok(Creator {
            base_url,
            token,
            company_id,
        })
    }
}
