//! KDP report uploads over AWS (`docs/architecture.md`, "KDP uploads"): the jobs in the `state`
//! table ([`DynamoIngestions`]: pk `INGESTIONS#<company id>`, sk `JOB#<id part>`, the job's
//! fields through `serde_dynamo`, `expires_at` while `pending`) and the uploads' bucket
//! ([`S3Reports`]: presigned PUTs signed with the object's `Content-Length`, size-checked reads).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, SecondsFormat, Utc};

use super::item::{Item, from_item, get, key, n, s, to_item};
use super::{applied, dependency_error};
use crate::domain::ingest::{IngestionJob, JobId, JobStatus};
use crate::domain::ports::{
    DependencyError, IngestionStore, ReportObjects, StoredObject, UploadUrl,
};

/// The partition of a company's jobs.
pub fn jobs_pk(company_id: &str) -> String {
    format!("INGESTIONS#{company_id}")
}

fn job_key(company_id: &str, part: &str) -> Item {
    key(jobs_pk(company_id), format!("JOB#{part}"))
}

/// A time as the claim writes and compares it (fixed width, so text order is time order).
fn stamp(time: DateTime<Utc>) -> AttributeValue {
    s(time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Ingestion jobs in the state table.
#[derive(Debug, Clone)]
pub struct DynamoIngestions {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl DynamoIngestions {
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }

    fn item(job: &IngestionJob) -> Result<Item, DependencyError> {
        let mut item = to_item(job, "ingestion job")?;
        item.extend(job_key(&job.company_id, job.id_part()));
        Ok(item)
    }
}

impl IngestionStore for DynamoIngestions {
    async fn create(
        &self,
        job: &IngestionJob,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        let mut item = Self::item(job)?;
        item.insert("expires_at".to_owned(), n(expires_at.timestamp()));
        if super::item::put_new(&self.client, &self.table, item).await? {
            Ok(())
        } else {
            Err(DependencyError::Other("the job id is taken".to_owned()))
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<IngestionJob>, DependencyError> {
        get(&self.client, &self.table, job_key(&id.company_id, &id.part))
            .await?
            .map(|item| from_item(item, "state"))
            .transpose()
    }

    async fn jobs(
        &self,
        company_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<IngestionJob>, DependencyError> {
        let (condition, bound) = match before {
            Some(part) => ("pk = :pk AND sk < :bound", format!("JOB#{part}")),
            None => ("pk = :pk AND begins_with(sk, :bound)", "JOB#".to_owned()),
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(jobs_pk(company_id)))
            .expression_attribute_values(":bound", s(bound))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item(item, "state"))
            .collect()
    }

    async fn claim(
        &self,
        id: &JobId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<IngestionJob>, DependencyError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(job_key(&id.company_id, &id.part)))
            .update_expression(
                "SET #status = :parsing, attempts = if_not_exists(attempts, :zero) + :one, \
                 lease_until = :until, updated_at = :now REMOVE expires_at",
            )
            .condition_expression(
                "attribute_exists(pk) AND (#status = :pending OR \
                 (#status = :parsing AND lease_until < :now))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":parsing", s(JobStatus::Parsing.as_str()))
            .expression_attribute_values(":pending", s(JobStatus::Pending.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":until", stamp(until))
            .expression_attribute_values(":now", stamp(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        applied(update)?
            .and_then(|output| output.attributes)
            .map(|item| from_item(item, "state"))
            .transpose()
    }

    async fn finish(&self, job: &IngestionJob) -> Result<bool, DependencyError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(job)?))
            .condition_expression("#status = :parsing AND attempts = :attempts")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":parsing", s(JobStatus::Parsing.as_str()))
            .expression_attribute_values(":attempts", n(job.attempts))
            .send()
            .await;
        Ok(applied(put)?.is_some())
    }
}

/// The uploads' bucket.
#[derive(Debug, Clone)]
pub struct S3Reports {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

fn s3_error<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> DependencyError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error,
{
    match error {
        aws_sdk_s3::error::SdkError::TimeoutError(_) => DependencyError::Timeout,
        aws_sdk_s3::error::SdkError::DispatchFailure(_) => {
            DependencyError::Unreachable("connection failed".to_owned())
        }
        other => DependencyError::Other(
            other
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                .unwrap_or("S3 request failed")
                .to_owned(),
        ),
    }
}

impl ReportObjects for S3Reports {
    async fn upload_url(
        &self,
        key: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<UploadUrl, DependencyError> {
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|e| DependencyError::Other(e.to_string()))?;
        let length = i64::try_from(size).map_err(|e| DependencyError::Other(e.to_string()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length)
            .presigned(presigning)
            .await
            .map_err(|e| s3_error(&e))?;
        let mut headers: Vec<(String, String)> = request
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        {
            headers.push(("content-length".to_owned(), size.to_string()));
        }
        Ok(UploadUrl {
            method: request.method().to_owned(),
            url: request.uri().to_owned(),
            headers,
            expires_at: Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or_default(),
        })
    }

    async fn read(&self, key: &str, max_bytes: u64) -> Result<StoredObject, DependencyError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(StoredObject::Missing);
            }
            Err(error) => return Err(s3_error(&error)),
        };
        let size = output
            .content_length()
            .and_then(|length| u64::try_from(length).ok())
            .unwrap_or(0);
        if size > max_bytes {
            return Ok(StoredObject::TooLarge(size));
        }
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| DependencyError::Other(format!("reading the upload: {e}")))?
            .into_bytes();
        // The length said is checked above; the body read is checked too.
        if bytes.len() as u64 > max_bytes {
            return Ok(StoredObject::TooLarge(bytes.len() as u64));
        }
        Ok(StoredObject::Bytes(bytes.to_vec()))
    }
}
