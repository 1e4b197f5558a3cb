#![recursion_limit = "256"]

//! The ingest function. Two triggers: the ingestion routes (HTTP API, authorized) and the
//! `ingestions` queue, which carries the uploads' bucket's object-created events.
//!
//! - `POST /ingestions/kdp?company_id=` with `{"file_name", "size"}` → 201 with the `pending`
//!   job and its presigned upload (`upload.method`, `upload.url`, `upload.headers`).
//! - `GET /ingestions/{id}` → the job.
//! - `GET /ingestions?company_id=&limit=&after=` → the jobs, newest first, and `next`.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lambda_http::request::LambdaRequest;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::ApiError;
use shared::domain::ingest::{self, IngestionJob, JobPage, RunOutcome};
use shared::domain::metrics::Metrics;
use shared::domain::metrics::catalogue as names;
use shared::domain::ports::{Clock, SystemClock};
pub use shared::edge::deps::ingest::IngestDeps;
use shared::edge::error::EventError;

pub fn router(deps: Arc<IngestDeps>) -> Router {
    Router::new()
        .route("/ingestions/kdp", post(request_upload))
        .route("/ingestions/{id}", get(show))
        .route("/ingestions", get(list))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&deps),
            per_user_limit,
        ))
        .fallback(shared::edge::http::route_not_found)
        .with_state(deps)
}

/// The creator routes' per-user limit, as the state function applies it.
async fn per_user_limit(
    State(deps): State<Arc<IngestDeps>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    let user_id = user(request.extensions())?;
    deps.creator_limiter.admit_user(user_id).await?;
    Ok(next.run(request).await)
}

fn user(extensions: &Extensions) -> Result<&str, ApiError> {
    shared::edge::http::authorizer_field(extensions, "user_id").ok_or(ApiError::Forbidden)
}

fn off() -> ApiError {
    ApiError::Unavailable {
        code: "ingestions_off",
        message: "report uploads are not configured on this deployment".to_owned(),
    }
}

fn bad_request(code: &'static str, message: String) -> ApiError {
    ApiError::BadRequest { code, message }
}

#[derive(Debug, Deserialize)]
pub struct CompanyQuery {
    company_id: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UploadRequest {
    file_name: String,
    size: u64,
}

async fn request_upload(
    State(deps): State<Arc<IngestDeps>>,
    extensions: Extensions,
    params: Result<Query<CompanyQuery>, QueryRejection>,
    body: Result<Json<UploadRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let user_id = user(&extensions)?;
    let params = shared::edge::http::query(params)?;
    let company_id = params.company_id.ok_or_else(|| {
        bad_request(
            "missing_company_id",
            "`company_id` is required: the company the report's sales belong to".to_owned(),
        )
    })?;
    let Json(body) = body.map_err(|e| bad_request("invalid_body", e.body_text()))?;
    let objects = deps.objects.as_ref().ok_or_else(off)?;
    let upload = ingest::request_upload(
        &deps.jobs,
        objects,
        &deps.access,
        user_id,
        &company_id,
        &body.file_name,
        body.size,
        deps.max_upload_bytes,
        SystemClock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(upload)).into_response())
}

async fn show(
    State(deps): State<Arc<IngestDeps>>,
    extensions: Extensions,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<IngestionJob>, ApiError> {
    let Path(id) = id.map_err(|e| bad_request("invalid_job_id", e.body_text()))?;
    let job = ingest::show_job(&deps.jobs, &deps.access, user(&extensions)?, &id).await?;
    Ok(Json(job))
}

async fn list(
    State(deps): State<Arc<IngestDeps>>,
    extensions: Extensions,
    params: Result<Query<CompanyQuery>, QueryRejection>,
) -> Result<Json<JobPage>, ApiError> {
    let params = shared::edge::http::query(params)?;
    let page = ingest::list_jobs(
        &deps.jobs,
        &deps.known,
        &deps.access,
        user(&extensions)?,
        params.company_id.as_deref(),
        params.limit.as_deref(),
        params.after.as_deref(),
    )
    .await?;
    Ok(Json(page))
}

/// What invoked the function, told apart by the payload's shape.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway HTTP API request (it has a `requestContext`).
    Http(Box<LambdaRequest>),
    /// A batch from the `ingestions` queue (it has `Records`).
    Uploads(SqsEvent),
}

impl Trigger {
    pub fn classify(payload: Value) -> Result<Self, EventError> {
        let malformed = |e: serde_json::Error| EventError::Malformed(e.to_string());
        if payload.get("requestContext").is_some() {
            serde_json::from_value(payload)
                .map(|r| Self::Http(Box::new(r)))
                .map_err(malformed)
        } else {
            serde_json::from_value(payload)
                .map(Self::Uploads)
                .map_err(malformed)
        }
    }
}

pub async fn handle(deps: Arc<IngestDeps>, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    let to_value =
        |value: serde_json::Result<Value>| value.map_err(|e| EventError::Malformed(e.to_string()));
    match Trigger::classify(event.payload)? {
        Trigger::Http(request) => {
            let response =
                shared::edge::http::serve_api_gateway_event(router(deps), *request).await;
            to_value(serde_json::to_value(&response))
        }
        Trigger::Uploads(batch) => {
            let mut failed = Vec::new();
            for record in &batch.records {
                if !run_record(&deps, record.body.as_deref().unwrap_or_default()).await {
                    failed.extend(record.message_id.clone());
                }
            }
            to_value(serde_json::to_value(shared::edge::runtime::batch_failures(
                failed,
            )))
        }
    }
}

/// An S3 notification as the queue carries it: `Records[].s3.object.key` (URL-encoded), or S3's
/// `s3:TestEvent` when the notification is configured.
#[derive(Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records", default)]
    records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
struct S3Record {
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Object {
    key: String,
}

/// Runs the jobs of one message's objects: `false` fails the message (retried), which only a
/// dependency failure (or ingestions unconfigured) does. A message that is no S3 notification, or
/// names no job, is dropped with a metric.
async fn run_record(deps: &IngestDeps, body: &str) -> bool {
    let Some(ingestor) = deps.ingestor.as_ref() else {
        tracing::error!("an upload event arrived but INGESTIONS_BUCKET is not set");
        return false;
    };
    let keys: Vec<Option<String>> = match serde_json::from_str::<S3Notification>(body) {
        Ok(notification) => notification
            .records
            .into_iter()
            .map(|record| ingest::decode_event_key(&record.s3.object.key))
            .collect(),
        Err(error) => {
            tracing::warn!(
                category = ?error.classify(),
                "an ingestions message is not an S3 notification; dropped"
            );
            Vec::new()
        }
    };
    let mut ok = true;
    let mut metrics = Metrics::new("ingest");
    let (mut ended, mut unknown) = (0, 0);
    for key in keys {
        let outcome = match key {
            Some(key) => ingestor.run(&key).await,
            None => Ok(RunOutcome::UnknownObject),
        };
        match outcome {
            Ok(RunOutcome::Ended(job)) => {
                ended += 1;
                tracing::info!(job.id = %job.job_id, job.status = job.status.as_str(),
                    rows_read = job.rows_read, sales_written = job.sales_written,
                    failure = job.failure.as_ref().map(|f| f.code.as_str()), "ingestion ended");
            }
            Ok(RunOutcome::UnknownObject) => {
                unknown += 1;
                tracing::warn!(
                    code = "unknown_upload",
                    "an uploaded object names no ingestion job; dropped"
                );
            }
            Ok(outcome) => tracing::info!(?outcome, "the upload's job was not run again"),
            Err(error) => {
                tracing::error!(%error, "an ingestion failed on a dependency; retried");
                ok = false;
            }
        }
    }
    metrics
        .count(names::INGESTIONS_ENDED, ended)
        .count(names::UNKNOWN_UPLOADS, unknown);
    metrics.emit();
    ok
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tells_requests_from_upload_batches() {
        assert!(matches!(
            Trigger::classify(json!({"Records": []})),
            Ok(Trigger::Uploads(_))
        ));
    }
}
