//! The ingestion routes' logic: ask for an upload, show a job, list the caller's companies' jobs.
//! Every route checks the company first (`companies::authorize`, the cached access check).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    IngestError, IngestionJob, JobId, JobStatus, PENDING_TTL, PLATFORM_KDP, UPLOAD_URL_TTL,
    sanitise_file_name, unavailable, valid_company,
};
use crate::domain::companies;
use crate::domain::ports::{
    AccessLevel, CompanyAccess, IngestionStore, KnownCompanies, ReportObjects, UploadUrl,
};
use crate::domain::state::Viewer;

/// Jobs a page lists unless `limit` says otherwise, and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// A new job and where its file goes.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub job: IngestionJob,
    pub upload: UploadUrl,
}

/// A page of jobs, newest first; `next` is the `after` of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct JobPage {
    pub jobs: Vec<IngestionJob>,
    pub next: Option<String>,
}

/// The company of an ingestion route, checked: a valid id the user administers.
async fn authorized(
    access: &impl CompanyAccess,
    user_id: &str,
    company_id: &str,
) -> Result<(), IngestError> {
    if !valid_company(company_id) {
        return Err(IngestError::InvalidCompany);
    }
    companies::authorize(access, Viewer::User(user_id), company_id).await?;
    Ok(())
}

/// `POST /ingestions/kdp?company_id=`: a `pending` job of `file_name` (`size` bytes, at most
/// `max_bytes`) and a presigned PUT of exactly that size, valid for [`UPLOAD_URL_TTL`].
#[allow(clippy::too_many_arguments)]
pub async fn request_upload(
    store: &impl IngestionStore,
    objects: &impl ReportObjects,
    access: &impl CompanyAccess,
    user_id: &str,
    company_id: &str,
    file_name: &str,
    size: u64,
    max_bytes: u64,
    now: DateTime<Utc>,
) -> Result<Upload, IngestError> {
    authorized(access, user_id, company_id).await?;
    let file_name = sanitise_file_name(file_name).ok_or(IngestError::InvalidFileName)?;
    if size == 0 || size > max_bytes {
        return Err(IngestError::InvalidSize { max: max_bytes });
    }
    let id = JobId::new(company_id);
    let job = IngestionJob {
        job_id: id.to_string(),
        company_id: company_id.to_owned(),
        platform: PLATFORM_KDP.to_owned(),
        file_name,
        size,
        status: JobStatus::Pending,
        created_by: user_id.to_owned(),
        created_at: now,
        updated_at: now,
        attempts: 0,
        lease_until: None,
        ended_at: None,
        rows_read: 0,
        sales_written: 0,
        duplicates_skipped: 0,
        rows_rejected: 0,
        rejected: Vec::new(),
        failure: None,
    };
    let upload = objects
        .upload_url(&job.object_key(), size, UPLOAD_URL_TTL)
        .await
        .map_err(|e| unavailable(&e))?;
    let expires_at = now + chrono::Duration::from_std(PENDING_TTL).unwrap_or_default();
    store
        .create(&job, expires_at)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Upload { job, upload })
}

/// `GET /ingestions/{id}`: the job, when the user administers its company.
pub async fn show_job(
    store: &impl IngestionStore,
    access: &impl CompanyAccess,
    user_id: &str,
    job_id: &str,
) -> Result<IngestionJob, IngestError> {
    let id = JobId::parse(job_id).ok_or(IngestError::InvalidJobId)?;
    authorized(access, user_id, &id.company_id).await?;
    store
        .job(&id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or(IngestError::NotFound)
}

/// `GET /ingestions?company_id=&limit=&after=`: the jobs of `company_id`, or without it of every
/// known company the user administers (a company whose check is unavailable is left out, failing
/// closed), newest first. `after` is the previous page's `next`.
pub async fn list_jobs(
    store: &impl IngestionStore,
    known: &impl KnownCompanies,
    access: &impl CompanyAccess,
    user_id: &str,
    company_id: Option<&str>,
    limit: Option<&str>,
    after: Option<&str>,
) -> Result<JobPage, IngestError> {
    let limit = match limit {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or(IngestError::InvalidQuery(
                "`limit` must be a number from 1 to 100",
            ))?,
    };
    let after = after
        .map(|cursor| {
            (cursor.len() == 32 && cursor.bytes().all(|b| b.is_ascii_hexdigit()))
                .then_some(cursor)
                .ok_or(IngestError::InvalidQuery(
                    "`after` must be a page's `next` as given",
                ))
        })
        .transpose()?;
    let companies = match company_id {
        Some(company_id) => {
            authorized(access, user_id, company_id).await?;
            vec![company_id.to_owned()]
        }
        None => administered(known, access, user_id).await?,
    };
    let mut jobs = Vec::new();
    for company_id in &companies {
        jobs.extend(
            store
                .jobs(company_id, after, limit + 1)
                .await
                .map_err(|e| unavailable(&e))?,
        );
    }
    // Ids' time-ordered parts sort every company's jobs together.
    jobs.sort_by(|a, b| b.id_part().cmp(a.id_part()));
    let more = jobs.len() > limit;
    jobs.truncate(limit);
    let next = more
        .then(|| jobs.last().map(|job| job.id_part().to_owned()))
        .flatten();
    Ok(JobPage { jobs, next })
}

/// The known companies `user_id` administers.
async fn administered(
    known: &impl KnownCompanies,
    access: &impl CompanyAccess,
    user_id: &str,
) -> Result<Vec<String>, IngestError> {
    let mut companies = Vec::new();
    for company in known.known_companies().await.map_err(|e| unavailable(&e))? {
        if !valid_company(&company.company_id) {
            continue;
        }
        match access.access_level(user_id, &company.company_id).await {
            Ok(AccessLevel::Admin) => companies.push(company.company_id),
            Ok(AccessLevel::Customer | AccessLevel::NoAccess) => {}
            Err(error) => {
                tracing::warn!(%error, "an access check for the ingestion listing is unavailable");
            }
        }
    }
    Ok(companies)
}
