//! The ingest function's dependencies (`functions/ingest`): for its routes the job table, the
//! uploads' bucket, the cached Whop access check and the creator routes' per-user limit; for its
//! queue the [`Ingestor`] over the same table and bucket, the KDP report reader, the sales store
//! and the `notifications` queue.

use std::sync::Arc;

use crate::App;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::ingest::{DynamoIngestions, S3Reports};
use crate::aws::notify::SqsNotifications;
use crate::aws::sales::DynamoSales;
use crate::domain::ingest::{Ingestor, RejectedRow, Report};
use crate::domain::ports::{ReportReader, SystemClock};
use crate::edge::deps::state::{AppAccess, company_access};
use crate::providers::kdp;

/// The ingest function's runner of jobs.
pub type AppIngestor = Ingestor<
    DynamoIngestions,
    S3Reports,
    KdpReader,
    DynamoSales,
    Option<SqsNotifications>,
    SystemClock,
>;

/// Built once per cold start.
pub struct IngestDeps {
    pub jobs: DynamoIngestions,
    /// `INGESTIONS_BUCKET`'s bucket; none turns the routes and the runs off.
    pub objects: Option<S3Reports>,
    pub access: AppAccess,
    pub known: DynamoCompanyItems,
    /// The creator routes' per-user limit (`CREATOR_RATE_LIMIT_*`).
    pub creator_limiter: crate::edge::deps::auth::Limiter,
    pub ingestor: Option<AppIngestor>,
    pub max_upload_bytes: u64,
}

impl IngestDeps {
    pub fn build(app: Arc<App>) -> Self {
        let jobs = DynamoIngestions::of(&app);
        let objects = app.config.ingest.bucket.clone().map(|bucket| S3Reports {
            client: app.s3.clone(),
            bucket,
        });
        let max_upload_bytes = app.config.ingest.max_upload_bytes;
        let ingestor = objects.clone().map(|objects| Ingestor {
            store: jobs.clone(),
            objects,
            reader: KdpReader,
            sales: DynamoSales::of(&app),
            notifications: super::processor::notification_queue(&app),
            clock: SystemClock,
            max_bytes: max_upload_bytes,
        });
        let emergency = Arc::new(super::sync::emergency_switch(&app));
        Self {
            jobs,
            objects,
            known: DynamoCompanyItems::of(&app),
            creator_limiter: crate::domain::auth::limits::AuthLimiter::new(
                crate::aws::limits::DynamoFailureCounter::of(&app),
                SystemClock,
                app.config.creator_limits,
            ),
            access: company_access(app, emergency),
            ingestor,
            max_upload_bytes,
        }
    }
}

/// The KDP report reader ([`kdp::parse_report`]) as the domain's [`ReportReader`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KdpReader;

impl ReportReader for KdpReader {
    fn read(&self, file_name: &str, bytes: &[u8], company_id: &str) -> Result<Report, String> {
        let parsed = kdp::parse_report(file_name, bytes, company_id).map_err(|e| e.to_string())?;
        Ok(Report {
            rows_read: parsed.rows_read,
            sales: parsed.sales,
            rejected: parsed
                .rejected
                .into_iter()
                .map(|row| RejectedRow {
                    sheet: row.sheet,
                    row: row.row,
                    reason: row.reason,
                })
                .collect(),
            rejected_count: parsed.rejected_count,
        })
    }
}
