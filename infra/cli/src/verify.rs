//! `churnsaver verify`: the post-deployment check of a stack (the local one or a deployed one),
//! through its public routes and the AWS resources its functions use.
//!
//! Checks, in order: the four health endpoints (the detailed three with a session of the first of
//! `OPERATOR_USER_IDS`, opened with the signing key and revoked after); DynamoDB (every table active), SQS (every queue
//! answers, with its depth), Secrets Manager (every configured secret described); a signed test
//! webhook of [`VERIFICATION_KIND`] followed to `PROCESSED` in `webhook-events`; the processor's
//! metrics for it; an auth round trip with a session of a synthetic user, revoked after. What a
//! check creates it removes (the test claim, the session), pass or fail.

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use aws_sdk_dynamodb::types::{AttributeValue, TableStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::App;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::claims::ClaimRecord;
use shared::domain::webhooks::event::VERIFICATION_KIND;

use crate::webhook::{WhopScheme, sign_headers};

/// One check's outcome.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    /// What was seen, or why it failed.
    pub result: Result<String, String>,
    pub took: Duration,
}

/// Every check of one run.
#[derive(Debug, Default)]
pub struct Verification {
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.result.is_ok())
    }

    /// The names of the failed checks.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|check| check.result.is_err())
            .map(|check| check.name)
            .collect()
    }

    /// The checks as a table: name, result, time, detail.
    pub fn table(&self) -> String {
        let mut out = format!("{:<16} {:<6} {:>8}  DETAIL\n", "CHECK", "RESULT", "TIME");
        for check in &self.checks {
            let (result, detail) = match &check.result {
                Ok(detail) => ("ok", detail.as_str()),
                Err(reason) => ("FAILED", reason.as_str()),
            };
            let _ = writeln!(
                out,
                "{:<16} {:<6} {:>6}ms  {detail}",
                check.name,
                result,
                check.took.as_millis()
            );
        }
        let failed = self.failed();
        let _ = if failed.is_empty() {
            writeln!(out, "all {} checks passed", self.checks.len())
        } else {
            writeln!(out, "failed: {}", failed.join(", "))
        };
        out
    }

    async fn run(
        &mut self,
        name: &'static str,
        check: impl Future<Output = anyhow::Result<String>>,
    ) {
        let started = Instant::now();
        let result = check.await.map_err(|error| format!("{error:#}"));
        self.checks.push(Check {
            name,
            result,
            took: started.elapsed(),
        });
    }
}

/// How long the test webhook may take to reach `PROCESSED`.
pub const DEFAULT_PROCESSING_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs every check against the stack `app` is configured for, whose HTTP API is at `base_url`.
pub async fn verify(app: &App, base_url: &str, processing_timeout: Duration) -> Verification {
    let base_url = base_url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut verification = Verification::default();
    verification
        .run("health", health(&http, base_url, "/health", None))
        .await;
    let operator = OperatorSession::open(app).await;
    for (name, path) in [
        ("health/db", "/health/db"),
        ("health/external", "/health/external"),
        ("health/webhooks", "/health/webhooks"),
    ] {
        let check = async {
            let token = operator.token.as_deref().map_err(|e| anyhow!("{e}"))?;
            health(&http, base_url, path, Some(token)).await
        };
        verification.run(name, check).await;
    }
    operator.close(app).await;
    verification.run("dynamodb", dynamodb(app)).await;
    verification.run("sqs", sqs(app)).await;
    verification.run("secrets", secrets(app)).await;
    let mut latency = None;
    verification
        .run(
            "webhook",
            webhook(app, &http, base_url, processing_timeout, &mut latency),
        )
        .await;
    verification
        .run("metrics", async { metrics(latency) })
        .await;
    verification.run("auth", auth(app, &http, base_url)).await;
    verification
}

/// A session of the stack's first operator, for the detailed health routes.
struct OperatorSession {
    token: Result<String, String>,
}

impl OperatorSession {
    async fn open(app: &App) -> Self {
        let token = match app.config.operator_user_ids.first() {
            None => Err(
                "no operator: set OPERATOR_USER_IDS (the template's OperatorUserIds) to reach the detailed health routes"
                    .to_owned(),
            ),
            Some(operator) => {
                let client = shared::domain::auth::sessions::Client {
                    ip: None,
                    user_agent: Some("churnsaver verify".to_owned()),
                };
                shared::edge::deps::auth::session_service(app)
                    .create(operator, &client)
                    .await
                    .map(|issued| secrecy::ExposeSecret::expose_secret(&issued.token).to_owned())
                    .map_err(|e| format!("opening an operator session: {e}"))
            }
        };
        Self { token }
    }

    /// Revokes the session (only this one: the operator may hold others).
    async fn close(self, app: &App) {
        if let Ok(token) = self.token
            && let Err(error) = shared::edge::deps::auth::session_service(app)
                .revoke(&token)
                .await
        {
            tracing::warn!(%error, "revoking verify's operator session failed; it expires by itself");
        }
    }
}

async fn health(
    http: &reqwest::Client,
    base_url: &str,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<String> {
    let mut request = http.get(format!("{base_url}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let reported = body["status"].as_str().unwrap_or("-").to_owned();
    ensure!(status.is_success(), "HTTP {status}, status {reported}");
    Ok(format!("HTTP {}, status {reported}", status.as_u16()))
}

async fn dynamodb(app: &App) -> anyhow::Result<String> {
    for (name, table) in app.config.tables.named() {
        let described = app
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "table {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        let status = described.table().and_then(|t| t.table_status());
        ensure!(
            status == Some(&TableStatus::Active),
            "table {name} is {status:?}"
        );
    }
    Ok(format!("{} tables active", app.config.tables.named().len()))
}

async fn sqs(app: &App) -> anyhow::Result<String> {
    let queues = &app.config.queues;
    let mut depths = Vec::new();
    for (name, url) in [
        ("events", &queues.events),
        ("events-dlq", &queues.events_dlq),
        ("sync-jobs", &queues.sync_jobs),
        ("sync-jobs-dlq", &queues.sync_jobs_dlq),
    ] {
        let attributes = app
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "queue {name}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        let depth = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .map_or("?", String::as_str)
            .to_owned();
        depths.push(format!("{name}={depth}"));
    }
    Ok(format!("depths {}", depths.join(" ")))
}

async fn secrets(app: &App) -> anyhow::Result<String> {
    let ids = &app.config.secrets;
    let mut described = 0;
    for (name, id) in [
        ("webhook secrets", &ids.webhook_secrets),
        ("session keys", &ids.session_keys),
        ("whop api key", &ids.whop_api_key),
    ] {
        let Some(id) = id else { continue };
        app.secrets_manager
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "{name}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                )
            })?;
        described += 1;
    }
    ensure!(described > 0, "no secret configured");
    Ok(format!("{described} secrets described"))
}

/// Posts a signed test webhook and follows its claim to `PROCESSED`; the claim is deleted after,
/// whatever happened. `latency` gets the processor's recorded latency.
async fn webhook(
    app: &App,
    http: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
    latency: &mut Option<i64>,
) -> anyhow::Result<String> {
    let id = format!("msg_verify_{}", uuid::Uuid::new_v4().simple());
    let pk = ClaimRecord::key(Source::Whop.as_str(), &id);
    let result = post_and_follow(app, http, base_url, &id, &pk, timeout, latency).await;
    let deleted = app
        .dynamodb
        .delete_item()
        .table_name(&app.config.tables.webhook_events)
        .key("pk", AttributeValue::S(pk.clone()))
        .send()
        .await;
    match (result, deleted) {
        (Ok(detail), Ok(_)) => Ok(detail),
        (Ok(_), Err(error)) => Err(anyhow!(
            "the test claim {pk} could not be deleted: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(error)
        )),
        (Err(error), _) => Err(error),
    }
}

async fn post_and_follow(
    app: &App,
    http: &reqwest::Client,
    base_url: &str,
    id: &str,
    pk: &str,
    timeout: Duration,
    latency: &mut Option<i64>,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now();
    let body = json!({
        "id": id, "api_version": "v1", "type": VERIFICATION_KIND,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {},
    })
    .to_string();
    let secret = crate::local::webhook_secret(app, Source::Whop.as_str()).await?;
    let headers = sign_headers(
        Source::Whop,
        &secret,
        body.as_bytes(),
        id,
        now.timestamp(),
        WhopScheme::Standard,
    )?;
    let mut request = http
        .post(format!("{base_url}/webhooks/whop"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let started = Instant::now();
    let response = request.send().await.context("posting the test webhook")?;
    let status = response.status();
    if status.as_u16() != 202 {
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        bail!(
            "POST /webhooks/whop answered {status} ({})",
            answer["error"]["code"].as_str().unwrap_or("-")
        );
    }
    loop {
        let item = app
            .dynamodb
            .get_item()
            .table_name(&app.config.tables.webhook_events)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "reading {pk}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?
            .item
            .unwrap_or_default();
        let status = item.get("status").and_then(|s| s.as_s().ok());
        if status.is_some_and(|s| s == "PROCESSED") {
            *latency = item
                .get("latency_ms")
                .and_then(|n| n.as_n().ok())
                .and_then(|n| n.parse().ok());
            return Ok(format!(
                "202, PROCESSED after {} ms",
                started.elapsed().as_millis()
            ));
        }
        if started.elapsed() > timeout {
            bail!(
                "202, but {pk} is {} after {} s (is the processor consuming the events queue?)",
                status.map_or("missing", String::as_str),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What is checked of metrics: the processor recorded the test event's latency on its claim, the
/// figure its EMF line for the batch is computed with. The EMF lines themselves go to the
/// functions' logs (CloudWatch Logs), which this command does not read.
fn metrics(latency: Option<i64>) -> anyhow::Result<String> {
    let latency =
        latency.ok_or_else(|| anyhow!("no processing latency recorded for the test webhook"))?;
    Ok(format!(
        "processor recorded latency_ms={latency} for the test webhook"
    ))
}

/// A session for a synthetic user, checked and revoked through `/auth/session`; every session of
/// that user is revoked after, whatever happened.
async fn auth(app: &App, http: &reqwest::Client, base_url: &str) -> anyhow::Result<String> {
    let user = format!("user_verify_{}", uuid::Uuid::new_v4().simple());
    let sessions = shared::edge::deps::auth::session_service(app);
    let result = async {
        let client = shared::domain::auth::sessions::Client {
            ip: None,
            user_agent: Some("churnsaver verify".to_owned()),
        };
        let issued = sessions
            .create(&user, &client)
            .await
            .map_err(|e| anyhow!("creating a session: {e}"))?;
        let token = secrecy::ExposeSecret::expose_secret(&issued.token).to_owned();
        let url = format!("{base_url}/auth/session");
        let checked = http.get(&url).bearer_auth(&token).send().await?;
        let status = checked.status();
        let body: Value = checked.json().await.unwrap_or(Value::Null);
        ensure!(
            status.is_success() && body["user_id"] == user.as_str(),
            "GET /auth/session answered {status} ({})",
            body["error"]["code"].as_str().unwrap_or("another user")
        );
        let revoked = http.delete(&url).bearer_auth(&token).send().await?.status();
        ensure!(
            revoked.as_u16() == 204,
            "DELETE /auth/session answered {revoked}"
        );
        let live = sessions
            .list_user(&user)
            .await
            .map_err(|e| anyhow!("listing the sessions: {e}"))?;
        ensure!(
            live.is_empty(),
            "{} session(s) still live after DELETE",
            live.len()
        );
        Ok("session created, read back, revoked".to_owned())
    }
    .await;
    let cleanup = sessions.revoke_user(&user).await;
    match (result, cleanup) {
        (Ok(detail), Ok(_)) => Ok(detail),
        (Ok(_), Err(error)) => Err(anyhow!("revoking the synthetic user's sessions: {error}")),
        (Err(error), _) => Err(error),
    }
}
