//! `churnsaver maintenance`: the maintenance function's tasks, run from here.

use std::process::ExitCode;

use churnsaver::target;
use clap::Subcommand;
use shared::domain::maintenance::Task;
use shared::edge::deps::maintenance::maintenance;

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Run the scheduled maintenance now (the same tasks and bounds as the function) and print
    /// its summary; exits 1 if a task failed.
    Run {
        /// Only this task: stuck-ingests, stalled-runs, expired-items or queues-and-secrets.
        #[arg(long, value_parser = parse_task)]
        task: Option<Task>,
    },
}

fn parse_task(name: &str) -> Result<Task, String> {
    Task::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Task::ALL.iter().map(|task| task.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

pub async fn run(command: MaintenanceCommand) -> anyhow::Result<ExitCode> {
    let MaintenanceCommand::Run { task } = command;
    let app = target::connect().await?;
    let tasks = task.map_or_else(|| Task::ALL.to_vec(), |task| vec![task]);
    let until = shared::edge::deps::maintenance::budget_until(0, chrono::Utc::now());
    let summary = maintenance(&app).run(&tasks, until).await;
    for report in &summary.reports {
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        println!("{:<20} {}", report.task.as_str(), counts.join(" "));
        if report.bounded {
            println!("{:<20} stopped at its bound; the next run goes on", "");
        }
        if let Some(error) = &report.error {
            println!("{:<20} FAILED: {error}", "");
        }
    }
    Ok(if summary.failed().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
