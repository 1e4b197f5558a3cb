//! `churnsaver emergency`: switch a provider's API calls off for a while and back on, without a
//! redeploy (README "Emergency mode"). The switch is an item in the stack's state table; the
//! functions read it through a cache of `EMERGENCY_CACHE_SECS` (30 s unless set).

use std::process::ExitCode;

use anyhow::anyhow;
use churnsaver::target;
use clap::Subcommand;
use shared::aws::emergency::DynamoEmergencies;
use shared::domain::emergency::{self, parse_duration};
use shared::domain::ports::{Clock, EmergencyStore, SystemClock};
use shared::edge::config::Provider;

#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// Switch a provider's API calls off: calls are refused before they are sent, sync pages
    /// wait, state reads are marked stale, /health/external says degraded; webhooks go on.
    On {
        /// The provider: whop, stripe, gumroad or paypal.
        provider: String,
        /// How long, at most 24h (e.g. 30m, 1h, 2h30m); switching on again replaces it.
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, for the next operator (recorded on the switch).
        #[arg(long)]
        reason: String,
        /// Who switches it (recorded on the switch).
        #[arg(long, env = "USER")]
        by: String,
    },
    /// Switch a provider's API calls back on now.
    Off {
        /// The provider: whop, stripe, gumroad or paypal.
        provider: String,
    },
    /// Every stored switch: provider, on or expired, since, until, by and reason.
    Status,
}

/// `name` as a provider, refused before reaching for a stack (a typo must not look like a stack
/// problem).
fn provider(name: &str) -> anyhow::Result<Provider> {
    Provider::parse(name)
        .ok_or_else(|| anyhow!("`{name}` is not a provider; one of: whop, stripe, gumroad, paypal"))
}

pub async fn run(command: EmergencyCommand) -> anyhow::Result<ExitCode> {
    match command {
        EmergencyCommand::On {
            provider: name,
            duration,
            reason,
            by,
        } => {
            let provider = provider(&name)?;
            let duration = parse_duration(&duration)?;
            let app = target::connect().await?;
            let store = DynamoEmergencies::of(&app);
            let now = SystemClock.now();
            let on = emergency::switch_on(&store, provider.as_str(), duration, &by, &reason, now)
                .await?;
            println!("{}", on.line(now));
            println!(
                "the functions pick it up within {} s (EMERGENCY_CACHE_SECS)",
                app.config.emergency_cache_ttl.as_secs()
            );
        }
        EmergencyCommand::Off { provider: name } => {
            let provider = provider(&name)?;
            let app = target::connect().await?;
            let store = DynamoEmergencies::of(&app);
            match emergency::switch_off(&store, provider.as_str()).await? {
                Some(was) => println!("switched off: {}", was.line(SystemClock.now())),
                None => println!("{name}: no emergency switch was stored"),
            }
            println!(
                "{name}'s calls resume within {} s (EMERGENCY_CACHE_SECS); deferred sync pages come back within their deferral",
                app.config.emergency_cache_ttl.as_secs()
            );
        }
        EmergencyCommand::Status => {
            let app = target::connect().await?;
            let stored = DynamoEmergencies::of(&app)
                .list()
                .await
                .map_err(|e| anyhow!("listing the emergency switches: {e}"))?;
            if stored.is_empty() {
                println!("no emergency switch stored: every provider's calls are on");
            }
            let now = SystemClock.now();
            for emergency in stored {
                println!("{}", emergency.line(now));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: EmergencyCommand,
    }

    #[test]
    fn on_takes_a_duration_a_reason_and_who() {
        let cli = Cli::try_parse_from([
            "emergency",
            "on",
            "whop",
            "--for",
            "1h",
            "--reason",
            "whop 5xx",
            "--by",
            "ana",
        ])
        .unwrap();

        assert!(matches!(
            cli.command,
            EmergencyCommand::On { ref provider, ref duration, ref reason, ref by }
                if provider == "whop" && duration == "1h" && reason == "whop 5xx" && by == "ana"
        ));
    }

    #[test]
    fn on_without_a_reason_is_refused() {
        assert!(
            Cli::try_parse_from(["emergency", "on", "whop", "--for", "1h", "--by", "ana"]).is_err()
        );
    }

    #[test]
    fn names_must_be_providers() {
        assert_eq!(provider("whop").unwrap(), Provider::Whop);
        assert_eq!(
            provider("whop-api").unwrap_err().to_string(),
            "`whop-api` is not a provider; one of: whop, stripe, gumroad, paypal"
        );
    }
}
