//! `churnsaver kdp`: KDP report uploads and their jobs, through the stack's ingestion routes with a
//! creator's session (`churnsaver::kdp`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use churnsaver::creator::{Waiting, http};
use churnsaver::kdp::{describe, failed, summary};
use clap::Subcommand;

use super::creator::SessionArgs;

#[derive(Debug, Subcommand)]
pub enum KdpCommand {
    /// Upload a KDP report (XLSX or CSV) and wait for its job: prints the rows read, sales
    /// written, duplicates skipped and rows rejected, or why the job failed (exit 1).
    Upload {
        /// The report file.
        file: PathBuf,
        /// The company the report is for (one the creator administers).
        #[arg(long)]
        company: String,
        #[command(flatten)]
        session: SessionArgs,
        /// Seconds to wait for the job to end.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
    },
    /// One job (JOB), or the newest jobs of the company (of every company the creator
    /// administers without `--company`).
    Status {
        /// A job id, as `upload` prints it.
        job: Option<String>,
        /// List only this company's jobs.
        #[arg(long, conflicts_with = "job")]
        company: Option<String>,
        /// How many jobs to list (1–100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=100))]
        limit: u8,
        #[command(flatten)]
        session: SessionArgs,
    },
}

pub async fn run(command: KdpCommand) -> anyhow::Result<ExitCode> {
    let http = http()?;
    match command {
        KdpCommand::Upload {
            file,
            company,
            session,
            wait_secs,
        } => {
            let file_name = file
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or_else(|| anyhow!("{} names no file", file.display()))?
                .to_owned();
            let body =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let creator = session.creator(Some(company), "churnsaver kdp").await?;
            let waiting = Waiting {
                timeout: Duration::from_secs(wait_secs),
                every: Duration::from_secs(1),
            };
            let job = creator.upload(&http, &file_name, body, waiting).await?;
            println!("{}", describe(&job));
            if failed(&job) {
                return Ok(ExitCode::FAILURE);
            }
        }
        KdpCommand::Status {
            job,
            company,
            limit,
            session,
        } => {
            let creator = session.creator(company, "churnsaver kdp").await?;
            match job {
                Some(job_id) => println!("{}", describe(&creator.job(&http, &job_id).await?)),
                None => {
                    let page = creator.jobs(&http, limit).await?;
                    let jobs = page["jobs"].as_array().map_or(&[][..], Vec::as_slice);
                    if jobs.is_empty() {
                        println!("no jobs");
                    }
                    for job in jobs {
                        println!("{}", summary(job));
                    }
                    if !page["next"].is_null() {
                        println!("(newest {limit} shown; pass --limit for more)");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
