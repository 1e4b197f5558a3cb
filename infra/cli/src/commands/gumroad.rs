//! `churnsaver gumroad`: a company's Gumroad connection, through the stack's routes with a
//! creator's session (`churnsaver::gumroad`).

use std::process::ExitCode;
use std::time::Duration;

use churnsaver::gumroad::{Creator, Waiting, describe, http};
use clap::{Args, Subcommand};

use super::creator::SessionArgs;

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
    #[command(flatten)]
    session: SessionArgs,
}

impl CreatorArgs {
    async fn creator(self) -> anyhow::Result<Creator> {
        self.session
            .creator(Some(self.company), "churnsaver gumroad")
            .await
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
                creator.company_id.as_deref().unwrap_or_default()
            );
        }
        GumroadCommand::Status { creator } => {
            let creator = creator.creator().await?;
            match creator.status(&http).await? {
                Some(connection) => println!("{}", describe(&connection)),
                None => {
                    println!(
                        "company {}: not connected to Gumroad",
                        creator.company_id.as_deref().unwrap_or_default()
                    );
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
