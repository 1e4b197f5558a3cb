//! `churnsaver`: the operator CLI.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use churnsaver::local::{LocalOptions, LocalStack};
use churnsaver::moto::MotoServer;
use clap::{Parser, Subcommand};
use shared::Config;

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
    Local {
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:3000")]
        bind: SocketAddr,
        /// Prefix of every local resource name.
        #[arg(long, default_value = "churnsaver-local")]
        stack_name: String,
        /// Use an emulator that is already running instead of starting one.
        #[arg(long)]
        endpoint: Option<String>,
        /// The SAM template.
        #[arg(long)]
        template: Option<PathBuf>,
        /// Template parameter override, e.g. `--param WhopApiBaseUrl=http://127.0.0.1:8080`.
        #[arg(long = "param", value_parser = parse_parameter)]
        parameters: Vec<(String, String)>,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the current environment exactly as a function does at cold start.
    Check,
}

fn parse_parameter(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not Name=Value"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => Ok(config_check()),
        Command::Local {
            bind,
            stack_name,
            endpoint,
            template,
            parameters,
        } => {
            shared::telemetry::init();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| {
                    runtime.block_on(local(LocalOptions {
                        template: template.unwrap_or_else(churnsaver::template_path),
                        stack_name,
                        bind,
                        endpoint: endpoint.unwrap_or_default(),
                        parameters: parameters.into_iter().collect::<BTreeMap<_, _>>(),
                        background: true,
                    }))
                })
                .map(|()| ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

fn config_check() -> ExitCode {
    match Config::from_env() {
        Ok(config) => {
            println!(
                "configuration is valid (stage {}, app {})",
                config.stage, config.whop_app_id
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("{} configuration problem(s):", error.problems.len());
            for problem in &error.problems {
                println!(
                    "  ✗ {}: {}\n      fix: {}",
                    problem.var, problem.problem, problem.fix
                );
            }
            ExitCode::FAILURE
        }
    }
}

async fn local(mut options: LocalOptions) -> anyhow::Result<()> {
    let mut moto = if options.endpoint.is_empty() {
        let server = tokio::task::spawn_blocking(MotoServer::start).await??;
        options.endpoint = server.endpoint();
        Some(server)
    } else {
        None
    };
    let stack = LocalStack::start(options.clone())
        .await
        .context("starting the local stack")?;
    print_summary(&stack, &options, moto.as_ref());

    wait_for_stop_signal().await?;
    eprintln!("stopping…");
    stack.shutdown().await;
    if let Some(server) = moto.as_mut() {
        server.stop();
    }
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| anyhow!("installing the SIGTERM handler: {e}"))?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

fn print_summary(stack: &LocalStack, options: &LocalOptions, moto: Option<&MotoServer>) {
    let base = stack.base_url();
    let emulator = moto.map_or_else(String::new, |m| format!(", pid {}", m.pid()));
    println!(
        "Churn Saver local stack `{}` from {}",
        options.stack_name,
        options.template.display()
    );
    println!("  AWS emulator  {}{emulator}", options.endpoint);
    println!("  HTTP API      {base}");
    for served in &stack.routes {
        let auth = served
            .route
            .authorizer
            .as_deref()
            .map_or_else(String::new, |a| format!("  [{a}]"));
        println!(
            "    {:<7}{base}{:<26} → {}{auth}",
            served.route.method, served.route.path, served.handler
        );
    }
    println!("  Queue workers");
    for worker in &stack.workers {
        let failures = if worker.report_batch_item_failures {
            ", ReportBatchItemFailures"
        } else {
            ""
        };
        println!(
            "    {} → {} (batch {}{failures})",
            worker.queue, worker.function, worker.batch_size
        );
    }
    println!("  Schedules");
    for schedule in &stack.schedules {
        println!(
            "    {} → {} every {:?} with {}",
            schedule.name, schedule.function, schedule.every, schedule.input
        );
    }
    let skipped: Vec<String> = stack
        .provisioned
        .not_emulated
        .iter()
        .map(|(id, kind)| format!("{id} ({kind})"))
        .collect();
    println!("  Not emulated  {}", skipped.join(", "));
    println!();
    println!("Ready: curl {base}/health/db");
    println!(
        "AWS CLI/SDK against the emulator: AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        options.endpoint
    );
    println!("Ctrl-C stops the stack and the emulator.");
}
