//! `churnsaver config`: the functions' configuration, checked as at cold start.

use std::process::ExitCode;

use clap::Subcommand;
use shared::Config;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the current environment exactly as a function does at cold start.
    Check,
}

pub fn run(command: &ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::Check => check(),
    }
}

fn check() -> ExitCode {
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
