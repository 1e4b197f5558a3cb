//! `churnsaver kdp …` (README "Amazon KDP", "Uploading reports"): a KDP report uploaded through
//! the stack's ingestion routes with a creator's session. `upload` asks `POST /ingestions/kdp` for
//! a job and its presigned PUT, sends the file there with the headers the URL was signed with,
//! and reads `GET /ingestions/{id}` until the job has ended; `status` shows a job or lists them.

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use shared::domain::ingest::JobId;

use crate::creator::{Creator, Waiting, answer};

impl Creator {
    /// `POST /ingestions/kdp`: a `pending` job of `file_name` (`size` bytes) and its `upload`.
    pub async fn request_upload(
        &self,
        http: &reqwest::Client,
        file_name: &str,
        size: u64,
    ) -> anyhow::Result<Value> {
        let body = json!({"file_name": file_name, "size": size});
        let response = self
            .send(http, reqwest::Method::POST, "/ingestions/kdp", Some(&body))
            .await?;
        answer(response).await
    }

    /// `GET /ingestions/{id}`: the job.
    pub async fn job(&self, http: &reqwest::Client, job_id: &str) -> anyhow::Result<Value> {
        let id = JobId::parse(job_id).ok_or_else(|| anyhow!("{job_id} is not a job id"))?;
        let response = self
            .send(
                http,
                reqwest::Method::GET,
                &format!("/ingestions/{id}"),
                None,
            )
            .await?;
        answer(response).await
    }

    /// `GET /ingestions?limit=`: the newest `limit` jobs (of the company, or of every company the
    /// creator administers) and `next`.
    pub async fn jobs(&self, http: &reqwest::Client, limit: u8) -> anyhow::Result<Value> {
        let path = format!("/ingestions?limit={limit}");
        let response = self.send(http, reqwest::Method::GET, &path, None).await?;
        answer(response).await
    }

    /// Uploads `body` as `file_name` and waits for its job to end: the job as it ended.
    pub async fn upload(
        &self,
        http: &reqwest::Client,
        file_name: &str,
        body: Vec<u8>,
        waiting: Waiting,
    ) -> anyhow::Result<Value> {
        let size = u64::try_from(body.len()).context("the file's size")?;
        let asked = self.request_upload(http, file_name, size).await?;
        let job_id = asked["job"]["job_id"]
            .as_str()
            .ok_or_else(|| anyhow!("the stack's answer names no job"))?
            .to_owned();
        put(http, &asked["upload"], body).await?;
        let deadline = tokio::time::Instant::now() + waiting.timeout;
        loop {
            let job = self.job(http, &job_id).await?;
            if ended(&job) {
                return Ok(job);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "job {job_id} still {} after {} s: `churnsaver kdp status {job_id}` shows it later",
                    field(&job, "status"),
                    waiting.timeout.as_secs()
                );
            }
            tokio::time::sleep(waiting.every).await;
        }
    }
}

/// PUTs `body` to an upload's presigned URL with the headers it was signed with (the length is
/// the body's). Errors leave the URL out: its query is a signature.
async fn put(http: &reqwest::Client, upload: &Value, body: Vec<u8>) -> anyhow::Result<()> {
    let url = upload["url"]
        .as_str()
        .ok_or_else(|| anyhow!("the stack's answer has no upload URL"))?;
    let mut request = http.put(url);
    for pair in upload["headers"].as_array().map_or(&[][..], Vec::as_slice) {
        if let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str())
            && !name.eq_ignore_ascii_case("content-length")
        {
            request = request.header(name, value);
        }
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow!("uploading the file: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        bail!("the upload was refused: {status}");
    }
    Ok(())
}

/// Whether the job has ended (`completed` or `failed`).
pub fn ended(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("completed" | "failed"))
}

/// Whether the job failed.
pub fn failed(job: &Value) -> bool {
    job["status"] == "failed"
}

fn field(job: &Value, name: &str) -> String {
    match &job[name] {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A job on one line: its outcome and counts, or why it failed, or its status.
pub fn summary(job: &Value) -> String {
    let id = field(job, "job_id");
    match job["status"].as_str() {
        Some("completed") => format!(
            "job {id} completed: {} rows read, {} sales written, {} duplicates skipped, {} rows rejected",
            field(job, "rows_read"),
            field(job, "sales_written"),
            field(job, "duplicates_skipped"),
            field(job, "rows_rejected"),
        ),
        Some("failed") => format!(
            "job {id} failed: {} ({})",
            field(&job["failure"], "reason"),
            field(&job["failure"], "code"),
        ),
        _ => format!(
            "job {id} {}: {}",
            field(job, "status"),
            field(job, "file_name")
        ),
    }
}

/// A job as `upload` and `status JOB` print it: the [`summary`], then each rejected row kept
/// (sheet, row, reason) and how many more there were.
pub fn describe(job: &Value) -> String {
    let mut text = summary(job);
    let kept = job["rejected"].as_array().map_or(&[][..], Vec::as_slice);
    for row in kept {
        text.push_str(&format!(
            "\n  rejected: {} row {}: {}",
            field(row, "sheet"),
            field(row, "row"),
            field(row, "reason")
        ));
    }
    let all = job["rows_rejected"].as_u64().unwrap_or(0);
    let more = all.saturating_sub(u64::try_from(kept.len()).unwrap_or(u64::MAX));
    if more > 0 {
        text.push_str(&format!("\n  and {more} more rejected rows"));
    }
    text
}
