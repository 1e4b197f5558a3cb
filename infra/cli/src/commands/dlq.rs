//! `churnsaver dlq`: the work queues' dead-letter queues.

use std::process::ExitCode;

use churnsaver::dlq::{self, WorkQueue};
use churnsaver::target;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead-lettered messages without consuming them: they stay in the DLQ, visible.
    Peek {
        /// The queue whose DLQ to read.
        #[arg(long, value_enum, default_value = "events")]
        queue: WorkQueue,
        /// How many messages to show at most.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: usize,
    },
    /// Move dead-lettered messages back to their queue; each leaves the DLQ only once sent.
    Redrive {
        /// The queue whose DLQ to drain into it.
        #[arg(long, value_enum, default_value = "events")]
        queue: WorkQueue,
        /// Move at most this many (all by default).
        #[arg(long)]
        max: Option<usize>,
    },
}

pub async fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let queues = &app.config.queues;
    match command {
        DlqCommand::Peek { queue, count } => {
            let dlq_url = queue.dead_letter_url(queues);
            let messages = dlq::peek(&app.sqs, dlq_url, count).await?;
            for message in &messages {
                let sent_at = message
                    .sent_at
                    .map_or_else(|| "-".to_owned(), |at| at.to_rfc3339());
                println!(
                    "{}  provider={}  kind={}  event_id={}  receives={}  sent={sent_at}",
                    message.message_id,
                    message.provider,
                    message.kind,
                    message.event_id,
                    message.receive_count
                );
            }
            println!("{} message(s) shown from {dlq_url}", messages.len());
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Redrive { queue, max } => {
            let dlq_url = queue.dead_letter_url(queues);
            let source_url = queue.url(queues);
            let report = dlq::redrive(&app.sqs, dlq_url, source_url, max).await?;
            println!(
                "moved {} message(s) from {dlq_url} to {source_url}",
                report.moved
            );
            if report.failed == 0 {
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "failed {} message(s), left in the DLQ: {}",
                report.failed,
                report.failure.as_deref().unwrap_or("no reason given")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
