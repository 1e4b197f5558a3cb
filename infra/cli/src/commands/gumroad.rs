//! `churnsaver gumroad`: a company's Gumroad connection, through the stack's routes with a
//! creator's session (`churnsaver::gumroad`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use churnsaver::gumroad::{Creator, Waiting, describe, http};
use churnsaver::target::{self, LocalStackState};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum GumroadCommand {
    /// Connect the company's Gumroad account: prints the connected seller, the resource
    /// subscriptions registered and the initial sync. The local stack's stand-in approves at
    /// once; a real Gumroad's authorization page is printed to open, and the command waits for
    /// the connection.
    Connect {
        #[command(flatten)]
        creator: CreatorArgs,
        /// Seconds to wait for an authorization page opened by hand.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// The company's connection.
    Status {
        #[command(flatten)]
        creator: CreatorArgs,
    },
    /// Remove the company's connection: its resource subscriptions at Gumroad, its tokens.
    Disconnect {
        #[command(flatten)]
        creator: CreatorArgs,
    },
}

#[derive(Debug, Args)]
pub struct CreatorArgs {
    /// The company to connect (one the creator administers).
    #[arg(long)]
    company: String,
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

impl CreatorArgs {
    async fn creator(self) -> anyhow::Result<Creator> {
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
                    user_agent: Some("churnsaver gumroad".to_owned()),
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
            company_id: self.company,
        })
    }
}

pub async fn run(command: GumroadCommand) -> anyhow::Result<ExitCode> {
    let http = http()?;
    match command {
        GumroadCommand::Connect { creator, wait_secs } => {
            let creator = creator.creator().await?;
            let waiting = Waiting {
                timeout: Duration::from_secs(wait_secs),
                every: Duration::from_secs(2),
            };
            let connection = creator
                .connect(&http, waiting, |url| {
                    println!("open Gumroad's authorization page and approve:\n  {url}");
                    println!("waiting up to {wait_secs} s for the connection…");
                })
                .await?;
            println!("connected: {}", describe(&connection));
            println!(
                "the initial sync runs with the next scheduled Gumroad sync, or now: churnsaver sync start --provider gumroad --company {}",
                creator.company_id
            );
        }
        GumroadCommand::Status { creator } => {
            let creator = creator.creator().await?;
            match creator.status(&http).await? {
                Some(connection) => println!("{}", describe(&connection)),
                None => {
                    println!("company {}: not connected to Gumroad", creator.company_id);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        GumroadCommand::Disconnect { creator } => {
            let creator = creator.creator().await?;
            let connection = creator.disconnect(&http).await?;
            println!("disconnected: {}", describe(&connection));
        }
    }
    Ok(ExitCode::SUCCESS)
}
