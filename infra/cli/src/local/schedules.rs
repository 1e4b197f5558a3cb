//! The template's schedules, each firing its function with its `Input` at its rate.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use tokio::sync::watch;

use super::provision::Provisioned;
use crate::functions::Invoker;
use crate::template::EventDef;

/// A schedule the stack fires.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSchedule {
    pub function: String,
    pub name: String,
    pub every: Duration,
    pub input: Value,
}

/// The schedules of the template.
pub fn schedules(provisioned: &Provisioned) -> anyhow::Result<Vec<LocalSchedule>> {
    provisioned
        .events()
        .filter_map(|(function, event)| {
            let EventDef::Schedule {
                name,
                expression,
                input,
            } = event
            else {
                return None;
            };
            Some(
                parse_rate(expression)
                    .with_context(|| format!("{}.{name}", function.logical_id))
                    .map(|every| LocalSchedule {
                        function: function.handler.clone(),
                        name: name.clone(),
                        every,
                        input: input.clone(),
                    }),
            )
        })
        .collect()
}

/// Parses `rate(N minute|minutes|hour|hours|day|days)`. `cron(…)` is refused by name: the local
/// stack fires rates only, and says so rather than silently never firing.
pub fn parse_rate(expression: &str) -> anyhow::Result<Duration> {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| anyhow!("`{expression}`: the local stack fires rate(…) schedules only"))?;
    let (count, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow!("`{expression}` is not rate(N unit)"))?;
    let count: u64 = count
        .parse()
        .with_context(|| format!("`{expression}`: bad count"))?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        other => bail!("`{expression}`: unknown unit {other}"),
    };
    if count == 0 {
        bail!("`{expression}`: the rate must be positive");
    }
    Ok(Duration::from_secs(count * seconds))
}

pub(super) async fn fire_schedule(
    schedule: LocalSchedule,
    invoke: Invoker,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + schedule.every, schedule.every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match invoke(schedule.input.clone()).await {
            Ok(_) => {
                tracing::info!(schedule = %schedule.name, "schedule {} fired {}", schedule.name, schedule.function)
            }
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, %error, "schedule {} failed: {error}", schedule.name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_expressions() {
        assert_eq!(
            parse_rate("rate(15 minutes)").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            parse_rate("rate(1 hour)").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_rate("rate(6 hours)").unwrap(),
            Duration::from_secs(21_600)
        );
        for bad in [
            "cron(0 12 * * ? *)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(five minutes)",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
