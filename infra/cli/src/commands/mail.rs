//! `churnsaver mail`: the messages the local stack's stand-in mail API captured.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::fake_mail::{CapturedEmail, mail_dir, read_messages};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// One line per captured message, oldest first: id, recipient count, subject, the .html file.
    List {
        /// Where the messages are (default: every local stack's, under .tools/mail).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// One message: its headers, its text part, and the .html file to open.
    Show {
        id: String,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Every message under `root` and its stack directories, oldest first, with its directory.
fn messages(root: Option<PathBuf>) -> anyhow::Result<Vec<(PathBuf, CapturedEmail)>> {
    let root = root.unwrap_or_else(mail_dir);
    let mut dirs = vec![root.clone()];
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    let mut found = Vec::new();
    for dir in dirs {
        for (modified, message) in read_messages(&dir)? {
            found.push((modified, dir.clone(), message));
        }
    }
    found.sort_by_key(|(modified, _, _)| *modified);
    Ok(found
        .into_iter()
        .map(|(_, dir, message)| (dir, message))
        .collect())
}

pub async fn run(command: MailCommand) -> anyhow::Result<ExitCode> {
    match command {
        MailCommand::List { dir } => {
            for (dir, message) in messages(dir)? {
                println!(
                    "{}  to:{}  {}  {}",
                    message.id,
                    message.to.len(),
                    message.subject,
                    dir.join(format!("{}.html", message.id)).display()
                );
            }
        }
        MailCommand::Show { id, dir } => {
            let (dir, message) = messages(dir)?
                .into_iter()
                .find(|(_, m)| m.id == id)
                .ok_or_else(|| anyhow!("no captured message {id} (see `churnsaver mail list`)"))?;
            println!("From: {}", message.from);
            println!("To: {}", message.to.join(", "));
            if let Some(reply_to) = &message.reply_to {
                println!("Reply-To: {reply_to}");
            }
            println!("Subject: {}", message.subject);
            for (name, value) in &message.headers {
                println!("{name}: {value}");
            }
            if let Some(key) = &message.idempotency_key {
                println!("Idempotency-Key: {key}");
            }
            println!(
                "HTML: {}",
                dir.join(format!("{}.html", message.id)).display()
            );
            println!();
            println!("{}", message.text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
