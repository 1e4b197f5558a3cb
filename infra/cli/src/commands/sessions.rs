//! `churnsaver sessions`: users' sessions.

use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::target;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions.
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke every session of a user.
    Revoke {
        #[arg(long)]
        user: String,
    },
    /// Open a session for a user without a Whop token and print its token (for the local stack
    /// and operators: needs the same AWS access the auth function has).
    Create {
        #[arg(long)]
        user: String,
    },
}

pub async fn run(command: SessionsCommand) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let sessions = shared::edge::deps::auth::session_service(&app);
    match command {
        SessionsCommand::List { user } => {
            let live = sessions
                .list_user(&user)
                .await
                .map_err(|e| anyhow!("listing the sessions of {user}: {e}"))?;
            for session in &live {
                println!(
                    "{}  created={}  last_seen={}  expires={}  ip={}  agent={}",
                    session.id,
                    unix(session.created_at),
                    unix(session.last_seen),
                    unix(session.expires_at),
                    session.ip.as_deref().unwrap_or("-"),
                    session.user_agent.as_deref().unwrap_or("-"),
                );
            }
            println!("{} live session(s) of {user}", live.len());
        }
        SessionsCommand::Revoke { user } => {
            let revoked = sessions
                .revoke_user(&user)
                .await
                .map_err(|e| anyhow!("revoking the sessions of {user}: {e}"))?;
            println!("revoked {revoked} live session(s) of {user}");
        }
        SessionsCommand::Create { user } => {
            let client = shared::domain::auth::sessions::Client {
                ip: None,
                user_agent: Some("churnsaver sessions create".to_owned()),
            };
            let issued = sessions
                .create(&user, &client)
                .await
                .map_err(|e| anyhow!("creating a session for {user}: {e}"))?;
            println!("{}", secrecy::ExposeSecret::expose_secret(&issued.token));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unix(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339())
}
