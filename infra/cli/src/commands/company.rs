//! `churnsaver company`: a company's creator view for operators, the data of
//! `GET /companies/{company_id}/memberships?signal=…` and `…/summary` as tables. Operators read the
//! state table directly, so no provider access check is made.

use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::target;
use clap::{Args, Subcommand};
use shared::aws::state::DynamoState;
use shared::domain::companies::access::NoAccessCheck;
use shared::domain::companies::rows::MembershipRow;
use shared::domain::companies::summary::{ByCurrency, ByKind, Summary};
use shared::domain::companies::{self, MembershipsQuery, SummaryQuery};
use shared::domain::ports::SystemClock;
use shared::domain::state::Viewer;

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// The company's memberships with an open signal (at_risk unless `--signal` says), most
    /// recent signal first, every page.
    AtRisk(AtRiskArgs),
    /// The company's figures for a period (last 30 days unless `--since`/`--until` say).
    Summary(SummaryArgs),
}

#[derive(Debug, Args)]
pub struct AtRiskArgs {
    company_id: String,
    /// at_risk, cancel_scheduled, churned or recovered.
    #[arg(long, default_value = "at_risk")]
    signal: String,
    /// Print the route's JSON pages instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    company_id: String,
    /// RFC 3339 start of the period (inclusive).
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 end of the period (exclusive); now by default.
    #[arg(long)]
    until: Option<String>,
    /// Print the route's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: CompanyCommand) -> anyhow::Result<ExitCode> {
    let app = target::connect().await?;
    let store = DynamoState::of(&app);
    match command {
        CompanyCommand::AtRisk(args) => at_risk(&store, &args).await,
        CompanyCommand::Summary(args) => summary(&store, &args).await,
    }
}

async fn at_risk(store: &DynamoState, args: &AtRiskArgs) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = MembershipsQuery {
            signal: Some(&args.signal),
            limit: Some("100"),
            after: after.as_deref(),
        };
        let page = companies::company_memberships(
            &NoAccessCheck,
            store,
            Viewer::Operator,
            &args.company_id,
            query,
        )
        .await
        .map_err(|e| anyhow!("listing {}: {e}", args.company_id))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&page)?);
        }
        rows.extend(page.memberships);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if !args.json {
        print!("{}", rows_table(&rows));
        println!(
            "{} membership(s) of {} with {} open",
            rows.len(),
            args.company_id,
            args.signal
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// The rows as an aligned table.
pub fn rows_table(rows: &[MembershipRow]) -> String {
    let header = [
        "MEMBERSHIP",
        "USER",
        "NAME",
        "EMAIL",
        "STATUS",
        "SIGNAL SINCE",
        "LAST PAYMENT",
        "AMOUNT",
        "FAILURE",
    ]
    .map(str::to_owned);
    let body = rows.iter().map(|row| {
        let payment = row.last_payment.as_ref();
        [
            row.id.clone(),
            or_dash(row.user.id.as_deref()).to_owned(),
            or_dash(row.user.name.as_deref()).to_owned(),
            or_dash(row.user.email.as_deref()).to_owned(),
            or_dash(row.status.as_deref()).to_owned(),
            row.signal
                .map_or_else(|| "-".to_owned(), |s| s.started_at.to_rfc3339()),
            payment.map_or_else(
                || "-".to_owned(),
                |p| format!("{:?} {}", p.outcome, p.at.to_rfc3339()).to_lowercase(),
            ),
            payment
                .and_then(|p| {
                    Some(format!(
                        "{} {}",
                        p.amount.as_deref()?,
                        p.currency.as_deref()?
                    ))
                })
                .unwrap_or_else(|| "-".to_owned()),
            or_dash(payment.and_then(|p| p.failure_reason.as_deref())).to_owned(),
        ]
    });
    let lines: Vec<_> = std::iter::once(header).chain(body).collect();
    table(&lines)
}

/// Columns padded to their widest cell, two spaces apart.
fn table<const N: usize>(lines: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for line in lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

async fn summary(store: &DynamoState, args: &SummaryArgs) -> anyhow::Result<ExitCode> {
    let summary = companies::company_summary(
        &NoAccessCheck,
        store,
        &SystemClock,
        Viewer::Operator,
        &args.company_id,
        SummaryQuery {
            since: args.since.as_deref(),
            until: args.until.as_deref(),
        },
    )
    .await
    .map_err(|e| anyhow!("summarizing {}: {e}", args.company_id))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary_table(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary as a table of figures.
pub fn summary_table(summary: &Summary) -> String {
    let kinds = |counts: &ByKind| {
        counts
            .iter()
            .map(|(kind, count)| format!("{}={count}", kind.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let money = |amounts: &ByCurrency, without: usize| {
        let mut parts: Vec<String> = amounts
            .iter()
            .map(|(currency, amount)| format!("{amount} {currency}"))
            .collect();
        if parts.is_empty() {
            parts.push("0".to_owned());
        }
        if without > 0 {
            parts.push(format!("(+{without} without an amount)"));
        }
        parts.join(", ")
    };
    let churn = &summary.churn;
    let rate = churn
        .rate
        .map_or_else(|| "-".to_owned(), |rate| format!("{:.2}%", rate * 100.0));
    let lines = vec![
        ["company".to_owned(), summary.company_id.clone()],
        [
            "period".to_owned(),
            format!(
                "{} – {}",
                summary.period.since.to_rfc3339(),
                summary.period.until.to_rfc3339()
            ),
        ],
        [
            "memberships".to_owned(),
            format!(
                "{}{}",
                summary.memberships,
                if summary.truncated {
                    " (truncated)"
                } else {
                    ""
                }
            ),
        ],
        ["open signals".to_owned(), kinds(&summary.open_signals)],
        ["opened in period".to_owned(), kinds(&summary.opened)],
        ["closed in period".to_owned(), kinds(&summary.closed)],
        [
            "revenue at risk".to_owned(),
            money(&summary.revenue_at_risk, summary.at_risk_without_amount),
        ],
        [
            "revenue recovered".to_owned(),
            money(&summary.revenue_recovered, summary.recovered_without_amount),
        ],
        [
            "churn rate".to_owned(),
            format!(
                "{rate} ({} of {} active at the start)",
                churn.churned, churn.active_at_start
            ),
        ],
    ];
    table(&lines)
}
