//! `churnsaver`: the operator CLI.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use churnsaver::dlq::{self, WorkQueue};
use churnsaver::local::{LocalOptions, LocalStack};
use churnsaver::moto::MotoServer;
use churnsaver::target::{self, LocalStackState};
use churnsaver::webhook::{self, WhopScheme};
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
}

#[derive(Debug, Subcommand)]
enum SyncCommand {
    /// Start a reconcile of the configured company's memberships and follow it to the end (the
    /// stack's sync-jobs worker works the pages).
    Start {
        /// Only memberships created after this time (RFC 3339 or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only this user's memberships.
        #[arg(long)]
        user: Option<String>,
        /// Print the run id and return without following it.
        #[arg(long)]
        no_wait: bool,
    },
    /// The latest runs, or one run.
    Status {
        run_id: Option<String>,
        /// How many runs to list.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: usize,
    },
}

#[derive(Debug, Subcommand)]
enum BreakerCommand {
    /// One line per stored breaker: name, state, since, failures, open until.
    Status,
    /// Close a provider's breaker now (after the provider recovered) and print its new state.
    Reset {
        /// The provider: whop, stripe, gumroad or paypal.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Rotate now: the four rotation steps, as the rotation function runs them. Tokens signed
    /// with the previous key keep verifying until the next rotation.
    Rotate {
        /// The `ClientRequestToken` (new version id) of an interrupted rotation to finish; a
        /// fresh one by default.
        #[arg(long)]
        token: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List a user's live sessions.
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke every session of a user.
    Revoke {
        #[arg(long)]
        user: String,
    },
    /// Open a session for a user without a Whop token and print its token (for the local stack
    /// and operators: needs the same AWS access the auth function has).
    Create {
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Print a membership's state and signals as JSON (what `GET /memberships/{id}` answers).
    Show { membership_id: String },
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
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

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Print the headers a real sender would send for a body, one `Name: value` per line.
    Sign {
        #[arg(long)]
        provider: String,
        #[arg(long)]
        secret: String,
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
        /// A signing secret; repeat for several (rotation).
        #[arg(long = "secret", required = true)]
        secrets: Vec<String>,
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
        Command::Webhook { command } => webhook(command),
        Command::Dlq { command } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(dead_letters(command))),
        Command::Sessions { command } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(sessions(command))),
        Command::State {
            command: StateCommand::Show { membership_id },
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(state_show(&membership_id))),
        Command::Keys {
            command: KeysCommand::Rotate { token },
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(keys_rotate(token))),
        Command::Sync { command } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(sync(command))),
        Command::Breaker { command } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(breakers(command))),
        Command::Local {
            bind,
            stack_name,
            endpoint,
            template,
            parameters,
        } => {
            shared::edge::telemetry::init();
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

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn webhook(command: WebhookCommand) -> anyhow::Result<ExitCode> {
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
            let id = id.unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
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
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(send(&sample, provider.as_deref(), url, id))
        }
    }
}

async fn send(
    sample: &std::path::Path,
    provider: Option<&str>,
    url: Option<String>,
    id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (source, body) = webhook::load_sample(sample, provider)?;
    let state = LocalStackState::read()?;
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
    let id = id.unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let headers = webhook::sign_headers(source, &secret, &body, &id, now(), WhopScheme::Standard)?;
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

async fn sessions(command: SessionsCommand) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let sessions = shared::aws::sessions::session_service(&app);
    match command {
        SessionsCommand::List { user } => {
            let live = sessions
                .list_user(&user)
                .await
                .map_err(|e| anyhow!("listing the sessions of {user}: {e}"))?;
            for session in &live {
                println!(
                    "{}  created={}  last_seen={}  expires={}  ip={}  agent={}",
                    session.id,
                    unix(session.created_at),
                    unix(session.last_seen),
                    unix(session.expires_at),
                    session.ip.as_deref().unwrap_or("-"),
                    session.user_agent.as_deref().unwrap_or("-"),
                );
            }
            println!("{} live session(s) of {user}", live.len());
        }
        SessionsCommand::Revoke { user } => {
            let revoked = sessions
                .revoke_user(&user)
                .await
                .map_err(|e| anyhow!("revoking the sessions of {user}: {e}"))?;
            println!("revoked {revoked} live session(s) of {user}");
        }
        SessionsCommand::Create { user } => {
            let client = shared::domain::auth::sessions::Client {
                ip: None,
                user_agent: Some("churnsaver sessions create".to_owned()),
            };
            let issued = sessions
                .create(&user, &client)
                .await
                .map_err(|e| anyhow!("creating a session for {user}: {e}"))?;
            println!("{}", secrecy::ExposeSecret::expose_secret(&issued.token));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unix(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339())
}

async fn state_show(membership_id: &str) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let store = shared::aws::state::DynamoState::of(&app);
    match shared::domain::state::membership(
        &store,
        membership_id,
        shared::domain::state::Viewer::Operator,
    )
    .await
    {
        Ok(view) => {
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(shared::ApiError::NotFound { .. }) => {
            eprintln!("no membership {membership_id}");
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(anyhow!("reading membership {membership_id}: {error}")),
    }
}

async fn keys_rotate(token: Option<uuid::Uuid>) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let secret_id = app
        .config
        .secrets
        .session_keys
        .as_deref()
        .ok_or_else(|| anyhow!("the stack has no SESSION_KEYS_SECRET_ID"))?;
    // Every step is idempotent on the token, so rerunning with it resumes where a failure stopped.
    let token = token.unwrap_or_else(uuid::Uuid::new_v4).to_string();
    let rotated = shared::domain::auth::rotation::rotate(&app.secrets_manager, secret_id, &token)
        .await
        .with_context(|| {
            format!("rotating {secret_id} (to resume: churnsaver keys rotate --token {token})")
        })?;
    println!(
        "rotated {secret_id}: new kid {} (version {}), previous kid {}",
        rotated.kid,
        rotated.version_id,
        rotated.previous_kid.as_deref().unwrap_or("none")
    );
    Ok(ExitCode::SUCCESS)
}

async fn sync(command: SyncCommand) -> anyhow::Result<ExitCode> {
    use shared::domain::ports::SyncStore;

    let app = target::connect().await?;
    let syncer = shared::aws::sync::syncer(&app)?;
    match command {
        SyncCommand::Start {
            since,
            user,
            no_wait,
        } => {
            let since = since
                .as_deref()
                .map(|text| {
                    shared::domain::time::parse_time_str(text)
                        .ok_or_else(|| anyhow!("`{text}` is not an RFC 3339 time or Unix seconds"))
                })
                .transpose()?;
            let run = syncer
                .start(syncer.scope(user, since), "cli".into())
                .await?;
            println!("started {}", run.run_id);
            if no_wait {
                return Ok(ExitCode::SUCCESS);
            }
            let run = churnsaver::runs::follow(&syncer.runs, &run.run_id).await?;
            println!("{}", churnsaver::runs::describe(&run));
            Ok(
                if run.status == shared::domain::sync::RunStatus::Completed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        SyncCommand::Status { run_id, count } => {
            let runs = match run_id {
                Some(run_id) => vec![
                    syncer
                        .runs
                        .run(&run_id)
                        .await?
                        .ok_or_else(|| anyhow!("no run `{run_id}`"))?,
                ],
                None => syncer.runs.recent_runs(count).await?,
            };
            if runs.is_empty() {
                println!("no sync runs yet");
            }
            for run in &runs {
                println!("{}", churnsaver::runs::describe(run));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn breakers(command: BreakerCommand) -> anyhow::Result<ExitCode> {
    match command {
        BreakerCommand::Status => {
            let app = target::connect().await?;
            let store = shared::aws::breaker::DynamoBreakers::of(&app);
            for line in churnsaver::breaker::status(&store).await? {
                println!("{line}");
            }
        }
        BreakerCommand::Reset { name } => {
            // Refused before reaching for a stack: a typo must not look like a stack problem.
            let provider = churnsaver::breaker::provider(&name)?;
            let app = target::connect().await?;
            let store = shared::aws::breaker::DynamoBreakers::of(&app);
            let line =
                churnsaver::breaker::reset(&store, shared::domain::ports::SystemClock, provider)
                    .await?;
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn dead_letters(command: DlqCommand) -> anyhow::Result<ExitCode> {
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
    let state = LocalStackState {
        base_url: stack.base_url(),
        endpoint: options.endpoint.clone(),
        stack_name: options.stack_name.clone(),
        webhook_secrets_id: stack.app.config.secrets.webhook_secrets.clone(),
        environment: stack.environment.clone(),
    };
    let state_path = churnsaver::local::state_file();
    state.write_to(&state_path)?;

    wait_for_stop_signal().await?;
    eprintln!("stopping…");
    stack.shutdown().await;
    let _ = std::fs::remove_file(&state_path);
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
    if let Some(whop) = &stack.whop {
        println!(
            "  Whop API      {} (a local stand-in with {} memberships of {})",
            whop.base_url(),
            churnsaver::local::LOCAL_WHOP_MEMBERSHIPS,
            churnsaver::fake_whop::COMPANY_ID
        );
    }
    println!();
    println!("Ready: curl {base}/health/db");
    println!(
        "Send a signed sample webhook: cargo churnsaver webhook send events/apigw-webhook-whop.json"
    );
    println!("Read its state: cargo churnsaver state show mem_4HtR8wLq2ZcV1n");
    println!(
        "  or over HTTP with a session: TOKEN=$(cargo churnsaver sessions create --user user_9aQ1fN3bXk2Lp) && curl -H \"Authorization: Bearer $TOKEN\" {base}/memberships/mem_4HtR8wLq2ZcV1n"
    );
    if stack.whop.is_some() {
        println!("Reconcile with the Whop API: cargo churnsaver sync start");
    }
    println!(
        "AWS CLI/SDK against the emulator: AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        options.endpoint
    );
    println!("Ctrl-C stops the stack and the emulator.");
}
