//! `churnsaver local`: the whole stack on this machine until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use churnsaver::local::{LocalOptions, LocalStack};
use churnsaver::moto::MotoServer;
use churnsaver::target::LocalStackState;
use clap::Args;

#[derive(Debug, Args)]
pub struct LocalArgs {
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
}

fn parse_parameter(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not Name=Value"))
}

pub async fn run(args: LocalArgs) -> anyhow::Result<ExitCode> {
    let reporter = shared::edge::telemetry::init();
    local(
        reporter,
        LocalOptions {
            template: args.template.unwrap_or_else(churnsaver::template_path),
            stack_name: args.stack_name,
            bind: args.bind,
            endpoint: args.endpoint.unwrap_or_default(),
            parameters: args.parameters.into_iter().collect::<BTreeMap<_, _>>(),
            background: true,
        },
    )
    .await
    .map(|()| ExitCode::SUCCESS)
}

async fn local(
    reporter: shared::edge::telemetry::Reporter,
    mut options: LocalOptions,
) -> anyhow::Result<()> {
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
    // Error reporting (README "Error reporting"), when `--param` configures a sink: the local
    // functions share this process, so their reports go out every second rather than per
    // invocation.
    reporter.start_for(&stack.app).await;
    if reporter.is_on() {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                reporter.flush().await;
            }
        });
    }
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
