//! `churnsaver sync`: reconcile runs against Whop's API, a company's Gumroad connection, or a
//! company's Stripe account.

use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::target;
use clap::Subcommand;
use shared::domain::ports::SyncStore;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Start a reconcile of the configured company's (`WHOP_COMPANY_ID`) memberships and follow it to the end (the
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
        /// `whop` (default), `gumroad`: a run over the company's Gumroad connection (its
        /// products, subscribers and sales), or `stripe`: a run over the company's Stripe
        /// account (its subscriptions; one of `STRIPE_SYNC_COMPANIES`). Both need `--company`.
        /// Or `paypal`: the PayPal subscriptions stored for `PAYPAL_COMPANY_ID`, each re-read
        /// from PayPal (`--company`, if given, must be that company).
        #[arg(long, default_value = "whop")]
        provider: String,
        /// The company whose Gumroad connection or Stripe account to sync.
        #[arg(long)]
        company: Option<String>,
    },
    /// The latest runs, or one run.
    Status {
        run_id: Option<String>,
        /// How many runs to list.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: usize,
    },
}

pub async fn run(command: SyncCommand) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let syncer = shared::edge::deps::sync::syncer(&app)?;
    match command {
        SyncCommand::Start {
            since,
            user,
            no_wait,
            provider,
            company,
        } => {
            let since = since
                .as_deref()
                .map(|text| {
                    shared::domain::time::parse_time_str(text)
                        .ok_or_else(|| anyhow!("`{text}` is not an RFC 3339 time or Unix seconds"))
                })
                .transpose()?;
            let scope = match provider.as_str() {
                "whop" => syncer.scope(user, since)?,
                "gumroad" => gumroad_scope(&app, company, user, since).await?,
                "stripe" => stripe_scope(&app, company, user.as_deref(), since)?,
                "paypal" => paypal_scope(&app, company, user.as_deref(), since)?,
                other => {
                    return Err(anyhow!(
                        "`{other}` cannot be synced; `whop`, `gumroad`, `stripe` or `paypal`"
                    ));
                }
            };
            let run = syncer.start(scope, "cli".into()).await?;
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

/// The scope of a Gumroad run of `company`'s connection, which must be active.
async fn gumroad_scope(
    app: &shared::App,
    company: Option<String>,
    user: Option<String>,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<shared::domain::sync::Scope> {
    use shared::domain::ports::ConnectionStore;
    let company = company.ok_or_else(|| anyhow!("`--provider gumroad` needs `--company`"))?;
    if user.is_some() || since.is_some() {
        return Err(anyhow!(
            "a Gumroad run covers the whole connection: no `--user` or `--since`"
        ));
    }
    let store = shared::aws::connections::DynamoConnections::of(app);
    let connection = store
        .get(&company)
        .await?
        .ok_or_else(|| anyhow!("`{company}` has no Gumroad connection"))?;
    if connection.status != shared::domain::connections::ConnectionStatus::Active {
        return Err(anyhow!(
            "`{company}`'s Gumroad connection needs to be made again"
        ));
    }
    Ok(shared::domain::sync::Scope::gumroad(
        company,
        connection.seller_id,
    ))
}

/// The scope of a Stripe run of `company`'s account, which must be one of `STRIPE_SYNC_COMPANIES`.
fn stripe_scope(
    app: &shared::App,
    company: Option<String>,
    user: Option<&str>,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<shared::domain::sync::Scope> {
    let company = company.ok_or_else(|| anyhow!("`--provider stripe` needs `--company`"))?;
    if user.is_some() || since.is_some() {
        return Err(anyhow!(
            "a Stripe run covers the company's whole account: no `--user` or `--since`"
        ));
    }
    let settings = app
        .config
        .stripe_sync
        .as_ref()
        .ok_or_else(|| anyhow!("Stripe reconcile is off: STRIPE_SYNC_COMPANIES is not set"))?;
    if !settings.covers(&company) {
        return Err(anyhow!(
            "`{company}` is not one of STRIPE_SYNC_COMPANIES ({})",
            settings.companies.join(", ")
        ));
    }
    Ok(shared::domain::sync::Scope::stripe(company))
}

/// The scope of a PayPal run: the subscriptions stored for `PAYPAL_COMPANY_ID` (the only
/// company PayPal's subscriptions belong to), when PayPal reconcile is on.
fn paypal_scope(
    app: &shared::App,
    company: Option<String>,
    user: Option<&str>,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<shared::domain::sync::Scope> {
    if user.is_some() || since.is_some() {
        return Err(anyhow!(
            "a PayPal run covers every stored PayPal subscription: no `--user` or `--since`"
        ));
    }
    let scope = shared::edge::deps::sync::paypal_scopes(app)
        .pop()
        .ok_or_else(|| {
            anyhow!(
                "PayPal reconcile is off: it needs PAYPAL_COMPANY_ID, PAYPAL_CLIENT_ID and \
                 PAYPAL_CLIENT_SECRET_ID"
            )
        })?;
    match company {
        Some(company) if company != scope.company_id => Err(anyhow!(
            "`{company}` is not PAYPAL_COMPANY_ID ({})",
            scope.company_id
        )),
        _ => Ok(scope),
    }
}
