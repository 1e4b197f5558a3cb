//! Health checks: liveness, DynamoDB, the events queue and its DLQ, the provider APIs and their
//! circuit breakers.
//!
//! Each check names what it checked and, on failure, why; a report fails when any check fails, and
//! the HTTP layer answers 503 so load balancers and alarms see it. A provider whose emergency mode
//! is on is `degraded` (not probed, not failed): the report is `degraded` and answers 200.

use crate::domain::ports::BreakerStore;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::breaker::{BreakerView, SharedBreaker};
use crate::domain::emergency::{self, Emergency, EmergencySwitch};
use crate::domain::ports::{
    Clock, DependencyError, EmergencyStore, EndpointProbe, QueueProbe, TableProbe,
};
use crate::edge::config::{Config, Provider, ProviderApis, Queues, Stage, Tables};

/// How long a provider API gets to answer the reachability probe.
pub const PROVIDER_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Failed,
    /// Working as the operators decided, not as normal (a provider in emergency mode).
    Degraded,
    /// Not configured in this deployment: neither healthy nor failing.
    Unconfigured,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Why the check failed (safe to show: no secrets, no internal addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Check-specific facts (queue depth, table status, HTTP status…).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl CheckResult {
    fn new(name: impl Into<String>, status: CheckStatus) -> Self {
        Self {
            name: name.into(),
            status,
            latency_ms: None,
            error: None,
            details: Map::new(),
        }
    }

    fn failed(name: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            ..Self::new(name, CheckStatus::Failed)
        }
    }

    fn detail(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_owned(), value);
        self
    }

    fn latency(mut self, elapsed: Duration) -> Self {
        // Microsecond precision is plenty and keeps the JSON short.
        self.latency_ms = Some((elapsed.as_secs_f64() * 1e6).round() / 1e3);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    Ok,
    Failed,
    /// No check failed and at least one is degraded.
    Degraded,
}

/// A set of checks; failed when any of them failed, else degraded when any is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: OverallStatus,
    pub checks: Vec<CheckResult>,
}

impl HealthReport {
    pub fn from_checks(checks: Vec<CheckResult>) -> Self {
        let any = |status| checks.iter().any(|c| c.status == status);
        let status = if any(CheckStatus::Failed) {
            OverallStatus::Failed
        } else if any(CheckStatus::Degraded) {
            OverallStatus::Degraded
        } else {
            OverallStatus::Ok
        };
        Self { status, checks }
    }

    /// 200 when healthy or degraded, 503 when any check failed.
    pub fn http_status(&self) -> StatusCode {
        match self.status {
            OverallStatus::Ok | OverallStatus::Degraded => StatusCode::OK,
            OverallStatus::Failed => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The names of the failed checks.
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .map(|c| c.name.as_str())
            .collect()
    }
}

/// `GET /health`: the process is up; no dependency is touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Liveness {
    pub status: OverallStatus,
    pub service: &'static str,
    pub version: &'static str,
    pub stage: Stage,
}

pub fn liveness(config: &Config) -> Liveness {
    Liveness {
        status: OverallStatus::Ok,
        service: "churnsaver",
        version: env!("CARGO_PKG_VERSION"),
        stage: config.stage,
    }
}

async fn timed<T, F: Future<Output = T>>(future: F) -> (T, Duration) {
    let started = Instant::now();
    let output = future.await;
    (output, started.elapsed())
}

fn describe(error: &DependencyError) -> String {
    match error {
        DependencyError::NotFound => "does not exist".to_owned(),
        other => other.to_string(),
    }
}

/// `GET /health/db`: every table exists and is `ACTIVE`, with the round-trip time of each check.
pub async fn check_tables<P: TableProbe>(probe: &P, tables: &Tables) -> HealthReport {
    let checks = tables.named().map(|(name, table)| async move {
        let name = format!("table:{name}");
        let (result, elapsed) = timed(probe.describe_table(table)).await;
        match result {
            Ok(status) if status.status == "ACTIVE" => {
                CheckResult::new(name, CheckStatus::Ok).latency(elapsed)
            }
            Ok(status) => {
                CheckResult::failed(name, format!("table is {}", status.status)).latency(elapsed)
            }
            Err(error) => CheckResult::failed(name, describe(&error)).latency(elapsed),
        }
    });
    HealthReport::from_checks(join_all(checks).await)
}

/// `GET /health/webhooks`: the events queue is reachable and its dead-letter queue is empty.
pub async fn check_queues<P: QueueProbe>(probe: &P, queues: &Queues) -> HealthReport {
    let ((events, events_elapsed), (dlq, dlq_elapsed)) = futures_util::join!(
        timed(probe.queue_depth(&queues.events)),
        timed(probe.queue_depth(&queues.events_dlq)),
    );
    let events = match events {
        Ok(depth) => {
            CheckResult::new("queue:events", CheckStatus::Ok).detail("depth", json!(depth))
        }
        Err(error) => CheckResult::failed("queue:events", describe(&error)),
    }
    .latency(events_elapsed);
    let dlq = match dlq {
        Ok(depth) => {
            let dead = depth.visible + depth.in_flight + depth.delayed;
            let check = if dead == 0 {
                CheckResult::new("queue:events_dlq", CheckStatus::Ok)
            } else {
                CheckResult::failed(
                    "queue:events_dlq",
                    format!("{dead} dead message(s); inspect with `churnsaver dlq peek`"),
                )
            };
            check.detail("depth", json!(depth))
        }
        Err(error) => CheckResult::failed("queue:events_dlq", describe(&error)),
    }
    .latency(dlq_elapsed);
    HealthReport::from_checks(vec![events, dlq])
}

/// `GET /health/external`: each configured provider API answers (any status below 500 means the
/// API is up; authentication is not part of reachability). Unconfigured providers are listed as
/// such and do not fail the report. A provider in `emergencies` is not probed (its calls are
/// switched off): it is degraded, with the reason and until when.
pub async fn check_providers<P: EndpointProbe>(
    probe: &P,
    apis: &ProviderApis,
    timeout: Duration,
    emergencies: &[Emergency],
) -> HealthReport {
    let checks = Provider::ALL.map(|provider| async move {
        let name = format!("provider:{}", provider.as_str());
        if let Some(on) = emergencies.iter().find(|e| e.provider == provider.as_str()) {
            return emergency_check(name, on);
        }
        let Some(url) = apis.base_url(provider) else {
            return CheckResult::new(name, CheckStatus::Unconfigured);
        };
        let (result, elapsed) = timed(probe.probe(url, timeout)).await;
        match result {
            Ok(status) if status < 500 => CheckResult::new(name, CheckStatus::Ok),
            Ok(status) => CheckResult::failed(name, format!("answered HTTP {status}")),
            Err(error) => CheckResult::failed(name, describe(&error)),
        }
        .detail("url", json!(url.as_str()))
        .latency(elapsed)
    });
    HealthReport::from_checks(join_all(checks).await)
}

/// A provider in emergency mode: degraded, why and until when (who switched it and their note
/// stay out of this unauthenticated report; `churnsaver emergency status` shows them).
fn emergency_check(name: String, on: &Emergency) -> CheckResult {
    let until = on.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    CheckResult::new(name, CheckStatus::Degraded)
        .detail("reason", json!(emergency::REASON))
        .detail("until", json!(until))
        .detail(
            "message",
            json!(format!(
                "emergency mode: calls to {} are switched off until {until}; stored state is served marked stale",
                on.provider
            )),
        )
}

/// The providers whose emergency mode is on, as `switch` reads them (cached).
pub async fn active_emergencies<S: EmergencyStore, C: Clock>(
    switch: &EmergencySwitch<S, C>,
) -> Vec<Emergency> {
    let mut active = Vec::new();
    for provider in Provider::ALL {
        active.extend(switch.active(provider.as_str()).await);
    }
    active
}

/// One check per stored breaker (`breaker:<name>`) with its state, since, failures and open-until.
/// An open breaker fails: calls to that provider are being refused. One whose recovery timeout has
/// passed is ok: the next call probes, and a breaker stays stored as open until some call comes.
pub async fn check_breakers<S: BreakerStore, C: Clock>(
    breakers: &SharedBreaker<S, C>,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    match breakers.status().await {
        Ok(stored) => stored
            .into_iter()
            .map(|(name, view)| breaker_check(&name, &view, now))
            .collect(),
        Err(error) => vec![CheckResult::failed(
            "breakers",
            format!("the breaker store cannot be read: {}", describe(&error)),
        )],
    }
}

fn breaker_check(name: &str, view: &BreakerView, now: DateTime<Utc>) -> CheckResult {
    let check = format!("breaker:{name}");
    let check = match view.open_until {
        Some(until) if view.state == "open" && now < until => CheckResult::failed(
            check,
            format!(
                "circuit open for {name} until {}: calls to {name} are refused; close it early with `churnsaver breaker reset {name}`",
                until.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        ),
        _ => CheckResult::new(check, CheckStatus::Ok),
    };
    check
        .detail("state", json!(view.state))
        .detail("since", json!(view.since))
        .detail("failures", json!(view.failures))
        .detail("open_until", json!(view.open_until))
}

/// `GET /health/external`: [`check_providers`] and [`check_breakers`] in one report.
pub async fn check_external<P: EndpointProbe, S: BreakerStore, C: Clock>(
    probe: &P,
    apis: &ProviderApis,
    timeout: Duration,
    breakers: &SharedBreaker<S, C>,
    emergencies: &[Emergency],
    now: DateTime<Utc>,
) -> HealthReport {
    let (providers, breakers) = futures_util::join!(
        check_providers(probe, apis, timeout, emergencies),
        check_breakers(breakers, now)
    );
    let mut checks = providers.checks;
    checks.extend(breakers);
    HealthReport::from_checks(checks)
}

#[cfg(test)]
mod tests;
