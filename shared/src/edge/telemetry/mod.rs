//! Logging setup and error reporting.
//!
//! The log lines are `lambda_runtime`'s default subscriber's: with the template's
//! `LoggingConfig: {LogFormat: JSON}` every line is JSON, and the runtime's per-invocation span puts
//! the Lambda `requestId` on each of them. `AWS_LAMBDA_LOG_LEVEL` wins over `RUST_LOG`.
//!
//! Error reporting (README "Error reporting") is a [`Reporter`] layer beside the log lines: off
//! until [`Reporter::start`] finds a sink configured (Sentry, an OTLP collector), so with neither
//! it reads no secret, builds no client and only checks an event's level. Started, it turns each
//! ERROR event into a scrubbed [`report::Report`], queues it per sink, and [`Reporter::finish`]
//! sends the queue when the invocation's work is done, before the answer goes back to Lambda
//! (which freezes the process in between invocations), within [`FLUSH_TIMEOUT`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use lambda_runtime::tracing::subscriber::{self, Layer, layer::Context, prelude::*};
use secrecy::SecretString;
use tracing::{Level, Subscriber};

use crate::App;
use crate::domain::ports::{DependencyError, SecretSource, VersionStage};
use crate::edge::config::ReportingSettings;

mod otlp;
pub mod report;
mod sentry;

/// The longest an invocation waits for its reports to be sent.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// The most reports a sink queues in one invocation; later ones are dropped.
pub const MAX_QUEUED: usize = 100;

/// Installs the global subscriber (the log lines and the [`Reporter`], off until started); call
/// once, first thing in `main`.
pub fn init() -> Reporter {
    use subscriber::filter::{EnvFilter, LevelFilter};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let reporter = Reporter::default();
    let installed = subscriber::registry()
        .with(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
        )
        .with(json.then(|| {
            subscriber::fmt::layer()
                .with_target(false)
                .without_time()
                .json()
        }))
        .with((!json).then(|| subscriber::fmt::layer().with_target(false).without_time()))
        .with(reporter.clone())
        .try_init();
    if installed.is_err() {
        tracing::warn!("a global subscriber was already installed; errors are not reported");
    }
    reporter
}

/// Why a sink could not start (the others still do).
#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    #[error("the {0} secret cannot be read: {1}")]
    Secret(&'static str, DependencyError),
    #[error("the {0} secret has no value")]
    NoSecret(&'static str),
    #[error("the Sentry DSN is not valid: {0}")]
    Dsn(String),
    #[error("the OTLP headers secret is not {{\"<header>\": \"<value>\", …}}: {0}")]
    Headers(&'static str),
    #[error("no HTTP client: {0}")]
    Http(String),
}

/// What every report names: the function and the stage.
#[derive(Debug, Clone)]
struct Resource {
    function: String,
    stage: &'static str,
}

/// Reports waiting for the end of the invocation, at most [`MAX_QUEUED`].
struct Outbox<T>(Mutex<Vec<T>>);

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<T> Outbox<T> {
    fn push(&self, item: T) {
        let mut queue = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() < MAX_QUEUED {
            queue.push(item);
        }
    }

    fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The started sinks.
struct Sinks {
    http: reqwest::Client,
    resource: Resource,
    sentry: Option<sentry::SentrySink>,
    otlp: Option<otlp::OtlpSink>,
}

/// The error-reporting layer: a no-op until [`start`](Self::start)ed with a sink. Clones share
/// the sinks, so the runtime glue keeps one to [`finish`](Self::finish) invocations with.
#[derive(Clone, Default)]
pub struct Reporter {
    sinks: Arc<OnceLock<Sinks>>,
}

impl Reporter {
    /// Whether a sink started.
    pub fn is_on(&self) -> bool {
        self.sinks.get().is_some()
    }

    /// Starts the sinks `app`'s configuration names; a sink that cannot start is logged and left
    /// off. Does nothing (no secret read, no client built) when none is configured.
    pub async fn start_for(&self, app: &App) {
        let settings = &app.config.reporting;
        if !settings.is_on() {
            return;
        }
        let http = match app.http() {
            Ok(http) => http.clone(),
            Err(error) => {
                let problem = ReportingError::Http(error.to_owned());
                tracing::error!(%problem, "error reporting is off: {problem}");
                return;
            }
        };
        let problems = self
            .start(
                settings,
                app.config.stage.as_str(),
                &app.secrets_manager,
                http,
            )
            .await;
        for problem in problems {
            tracing::error!(%problem, "an error-reporting sink is off: {problem}");
        }
    }

    /// Starts the sinks of `settings`, reading their secrets from `secrets` (only those
    /// configured); returns why any of them could not start. Once only: a started reporter keeps
    /// its sinks.
    pub async fn start(
        &self,
        settings: &ReportingSettings,
        stage: &'static str,
        secrets: &impl SecretSource,
        http: reqwest::Client,
    ) -> Vec<ReportingError> {
        let resource = Resource {
            function: settings.function.clone(),
            stage,
        };
        let mut problems = Vec::new();
        let mut sentry = None;
        if let Some(secret_id) = &settings.sentry_dsn_secret {
            match read_secret(secrets, secret_id, "Sentry DSN").await {
                Ok(dsn) => match sentry::SentrySink::new(&dsn, &resource) {
                    Ok(sink) => sentry = Some(sink),
                    Err(problem) => problems.push(problem),
                },
                Err(problem) => problems.push(problem),
            }
        }
        let mut otlp = None;
        if let Some(settings) = &settings.otlp {
            let headers = match &settings.headers_secret {
                Some(secret_id) => read_secret(secrets, secret_id, "OTLP headers")
                    .await
                    .map(Some),
                None => Ok(None),
            };
            match headers
                .and_then(|headers| otlp::OtlpSink::new(&settings.endpoint, headers.as_ref()))
            {
                Ok(sink) => otlp = Some(sink),
                Err(problem) => problems.push(problem),
            }
        }
        if sentry.is_some() || otlp.is_some() {
            // A reporter starts once; a second start keeps the first sinks.
            let _ = self.sinks.set(Sinks {
                http,
                resource,
                sentry,
                otlp,
            });
        }
        problems
    }

    /// Sends the queued reports, waiting at most [`FLUSH_TIMEOUT`]; returns at once when off.
    pub async fn flush(&self) {
        let Some(sinks) = self.sinks.get() else {
            return;
        };
        let send = async {
            if let Some(sentry) = &sinks.sentry {
                sentry.send(&sinks.http).await;
            }
            if let Some(otlp) = &sinks.otlp {
                otlp.send(&sinks.http, &sinks.resource).await;
            }
        };
        if tokio::time::timeout(FLUSH_TIMEOUT, send).await.is_err() {
            tracing::warn!("error reports not sent within {FLUSH_TIMEOUT:?}; dropped");
        }
    }

    /// Runs one invocation's `work`, then [`flush`](Self::flush)es. A panic in `work` is reported
    /// (when on), flushed, and carried on to the runtime, which answers with its diagnostic.
    pub async fn finish<T>(&self, work: impl Future<Output = T>) -> T {
        let outcome = AssertUnwindSafe(work).catch_unwind().await;
        if outcome.is_err() && self.is_on() {
            tracing::error!(code = "panic", "the handler panicked");
        }
        self.flush().await;
        match outcome {
            Ok(value) => value,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

/// Sends `request`; a failure is logged at WARN (so it is not reported in turn) and the reports
/// it carried are dropped.
async fn post(request: reqwest::RequestBuilder, sink: &'static str) {
    let result = request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    if let Err(error) = result {
        tracing::warn!(
            status = error.status().map(|s| s.as_u16()),
            "an error report to {sink} failed"
        );
    }
}

async fn read_secret(
    secrets: &impl SecretSource,
    secret_id: &str,
    which: &'static str,
) -> Result<SecretString, ReportingError> {
    match secrets
        .secret_version(secret_id, VersionStage::Current)
        .await
    {
        Ok(Some(version)) => Ok(version.value),
        Ok(None) => Err(ReportingError::NoSecret(which)),
        Err(error) => Err(ReportingError::Secret(which, error)),
    }
}

impl<S: Subscriber> Layer<S> for Reporter {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(sinks) = self.sinks.get() else {
            return;
        };
        let report = report::Report::from_event(event);
        if let Some(sentry) = &sinks.sentry {
            sentry.capture(&report, &sinks.resource);
        }
        if let Some(otlp) = &sinks.otlp {
            otlp.capture(report);
        }
    }
}
