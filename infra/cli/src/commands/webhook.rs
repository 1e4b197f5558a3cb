//! `churnsaver webhook`: sign, verify and send webhook deliveries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use churnsaver::target::LocalStackState;
use churnsaver::webhook::{self, WhopScheme};
use clap::Subcommand;

/// The environment variable signing secrets are read from (several separated by commas).
pub const SECRET_ENV: &str = "CHURNSAVER_WEBHOOK_SECRET";

/// Where the signing secrets come from: `--secret` (visible to every user in `ps` and kept in
/// shell history), `--secret-stdin`, else [`SECRET_ENV`].
#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    /// A signing secret; repeat for several (rotation). Other users see it in `ps` and the shell
    /// keeps it in its history: prefer CHURNSAVER_WEBHOOK_SECRET or --secret-stdin.
    #[arg(long = "secret")]
    secrets: Vec<String>,
    /// Read the signing secrets from standard input, one per line.
    #[arg(long, conflicts_with = "secrets")]
    secret_stdin: bool,
}

impl SecretArgs {
    /// The secrets, from the first source given: `--secret`, `--secret-stdin`, the environment.
    fn resolve(self) -> anyhow::Result<Vec<String>> {
        let secrets = if !self.secrets.is_empty() {
            self.secrets
        } else if self.secret_stdin {
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                .context("reading the signing secrets from standard input")?;
            lines(&input, '\n')
        } else {
            std::env::var(SECRET_ENV)
                .map(|value| lines(&value, ','))
                .unwrap_or_default()
        };
        if secrets.is_empty() {
            anyhow::bail!(
                "no signing secret: set {SECRET_ENV}, pipe it with --secret-stdin, or pass --secret"
            );
        }
        Ok(secrets)
    }
}

/// The non-empty, trimmed parts of `text` split on `separator`.
fn lines(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Print the headers a real sender would send for a body, one `Name: value` per line.
    Sign {
        #[arg(long)]
        provider: String,
        /// The signing secret (one).
        #[command(flatten)]
        secret: SecretArgs,
        #[arg(long)]
        body_file: PathBuf,
        /// The `webhook-id` (Whop and Standard Webhooks); a fresh `msg_…` by default.
        #[arg(long)]
        id: Option<String>,
        /// Unix seconds; now by default.
        #[arg(long)]
        timestamp: Option<i64>,
        /// Whop only: which of Whop's schemes to sign with.
        #[arg(long, value_enum, default_value = "standard")]
        whop_scheme: WhopScheme,
    },
    /// Verify a delivery: prints `valid` (exit 0) or `invalid: <reason_code>` (exit 1).
    Verify {
        #[arg(long)]
        provider: String,
        /// The signing secrets (several during a rotation).
        #[command(flatten)]
        secrets: SecretArgs,
        /// A received header as `Name: value`; repeat for each.
        #[arg(long = "header")]
        headers: Vec<String>,
        #[arg(long)]
        body_file: PathBuf,
        /// Unix seconds to verify as of; now by default.
        #[arg(long)]
        now: Option<i64>,
        /// Accept Whop's bare `x-whop-signature: <hex>` form.
        #[arg(long)]
        accept_whop_bare: bool,
    },
    /// Sign a sample (an `events/` webhook request or a raw JSON body) with the running local
    /// stack's secret and post it, printing the status and body.
    Send {
        sample: PathBuf,
        #[arg(long)]
        provider: Option<String>,
        /// Where to post; the local stack's `/webhooks/{provider}` by default.
        #[arg(long)]
        url: Option<String>,
        /// The `webhook-id` to send (reuse one to see deduplication).
        #[arg(long)]
        id: Option<String>,
    },
}

pub async fn run(command: WebhookCommand) -> anyhow::Result<ExitCode> {
    match command {
        WebhookCommand::Sign {
            provider,
            secret,
            body_file,
            id,
            timestamp,
            whop_scheme,
        } => {
            let source = webhook::parse_source(&provider)?;
            let body = webhook::require_file(&body_file)?;
            let [secret] = <[String; 1]>::try_from(secret.resolve()?)
                .map_err(|all| anyhow!("sign with one secret, not {}", all.len()))?;
            let id = id.unwrap_or_else(fresh_id);
            for (name, value) in webhook::sign_headers(
                source,
                &secret,
                &body,
                &id,
                timestamp.unwrap_or_else(now),
                whop_scheme,
            )? {
                println!("{name}: {value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        WebhookCommand::Verify {
            provider,
            secrets,
            headers,
            body_file,
            now: at,
            accept_whop_bare,
        } => {
            let source = webhook::parse_source(&provider)?;
            let body = webhook::require_file(&body_file)?;
            let secrets = secrets.resolve()?;
            match webhook::verify_delivery(
                source,
                &secrets,
                &headers,
                &body,
                at.unwrap_or_else(now),
                accept_whop_bare,
            )? {
                Ok(()) => {
                    println!("valid");
                    Ok(ExitCode::SUCCESS)
                }
                Err(reason) => {
                    println!("invalid: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        WebhookCommand::Send {
            sample,
            provider,
            url,
            id,
        } => send(&sample, provider.as_deref(), url, id).await,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fresh `webhook-id`.
fn fresh_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

async fn send(
    sample: &Path,
    provider: Option<&str>,
    url: Option<String>,
    id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (source, body) = webhook::load_sample(sample, provider)?;
    let state = LocalStackState::read()?;
    let id = id.unwrap_or_else(fresh_id);
    // PayPal signs with its certificate's key: the local stand-in's test key.
    let headers = if source == shared::domain::webhooks::Source::PayPal {
        webhook::paypal_local_headers(&state.environment, &body, &id).await?
    } else {
        let secrets_id = state.webhook_secrets_id.as_deref().ok_or_else(|| {
            anyhow!(
                "{} lacks webhook_secrets_id",
                churnsaver::local::state_file().display()
            )
        })?;
        let sdk = churnsaver::local::emulator_sdk_config(&state.endpoint).await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret =
            churnsaver::local::first_webhook_secret(&secrets, secrets_id, source.as_str()).await?;
        webhook::sign_headers(source, &secret, &body, &id, now(), WhopScheme::Standard)?
    };
    let url = url.unwrap_or_else(|| format!("{}/webhooks/{source}", state.base_url));
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    println!("{status}");
    println!("{}", response.text().await?);
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
