//! `churnsaver`: the operator CLI.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::breaker::BreakerCommand;
use commands::company::CompanyCommand;
use commands::config::ConfigCommand;
use commands::dlq::DlqCommand;
use commands::emergency::EmergencyCommand;
use commands::keys::KeysCommand;
use commands::local::LocalArgs;
use commands::mail::MailCommand;
use commands::maintenance::MaintenanceCommand;
use commands::sessions::SessionsCommand;
use commands::state::StateCommand;
use commands::sync::SyncCommand;
use commands::verify::VerifyArgs;
use commands::webhook::WebhookCommand;
use tokio::runtime::Runtime;

use commands::gumroad::GumroadCommand;
use commands::kdp::KdpCommand;

#[derive(Debug, Parser)]
#[command(name = "churnsaver", version, about = "Churn Saver operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole stack on this machine: the AWS emulator (moto), every HTTP route, the queue
    /// workers and the schedules, all from infra/template.yaml.
    Local(LocalArgs),
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Webhook signature tools.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Dead-letter queues: the exported deployed stack's (when STATE_TABLE is set), else the
    /// running local stack's.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// The e-mails the local stack's stand-in mail API captured.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Sessions of the same stack as `dlq`.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Membership state, from the same stack as `dlq`.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Session signing keys, of the same stack as `dlq`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Reconcile with Whop's API, on the same stack as `dlq`.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Circuit breakers of the provider calls, of the same stack as `dlq`.
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Emergency mode: switch a provider's API calls off and on, on the same stack as `dlq`.
    Emergency {
        #[command(subcommand)]
        command: EmergencyCommand,
    },
    /// Scheduled maintenance, run now on the same stack as `dlq`.
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Post-deployment verification of the same stack as `dlq` (its HTTP API at --url, or the
    /// local stack's): health, AWS resources, a test webhook to PROCESSED, metrics, an auth
    /// round trip. A table of checks; exit 0 only if all pass.
    Verify(VerifyArgs),
    /// A company's creator view (at-risk members, figures), of the same stack as `dlq`; no
    /// provider access check (operators read the table).
    Company {
        #[command(subcommand)]
        command: CompanyCommand,
    },

    /// A company's Gumroad connection, through the routes of the stack at --url (the running
    /// local stack's by default) with a creator's session.
    Gumroad {
        #[command(subcommand)]
        command: GumroadCommand,
    },
    /// KDP report uploads and their jobs, through the routes of the stack at --url (the running
    /// local stack's by default) with a creator's session.
    Kdp {
        #[command(subcommand)]
        command: KdpCommand,
    },
}

impl Command {
    /// The runtime the command runs on: the local stack serves, polls and fires schedules at
    /// once on a multi-thread runtime; every other command is one task on the current thread.
    fn runtime(&self) -> std::io::Result<Runtime> {
        let mut builder = match self {
            Self::Local(_) => tokio::runtime::Builder::new_multi_thread(),
            _ => tokio::runtime::Builder::new_current_thread(),
        };
        builder.enable_all().build()
    }

    async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Local(args) => commands::local::run(args).await,
            Self::Config { command } => Ok(commands::config::run(&command)),
            Self::Webhook { command } => commands::webhook::run(command).await,
            Self::Dlq { command } => commands::dlq::run(command).await,
            Self::Mail { command } => commands::mail::run(command).await,
            Self::Sessions { command } => commands::sessions::run(command).await,
            Self::State { command } => commands::state::run(command).await,
            Self::Keys { command } => commands::keys::run(command).await,
            Self::Sync { command } => commands::sync::run(command).await,
            Self::Breaker { command } => commands::breaker::run(command).await,
            Self::Emergency { command } => commands::emergency::run(command).await,
            Self::Maintenance { command } => commands::maintenance::run(command).await,
            Self::Verify(args) => commands::verify::run(args).await,
            Self::Company { command } => commands::company::run(command).await,

            Self::Gumroad { command } => commands::gumroad::run(command).await,
            Self::Kdp { command } => commands::kdp::run(command).await,
        }
    }
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    let result = command
        .runtime()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(command.run()));
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}
