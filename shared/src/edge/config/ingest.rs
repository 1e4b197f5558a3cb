//! KDP report uploads' variables: `INGESTIONS_BUCKET` (the uploads' bucket; the ingestion routes
//! answer 503 `ingestions_off` without it) and `INGEST_MAX_UPLOAD_BYTES` (the size cap, 1 byte to
//! 100 MiB, default 50 MiB).

use super::reader::Reader;
use crate::domain::ingest::DEFAULT_MAX_UPLOAD_BYTES;

/// How uploads are taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestSettings {
    pub bucket: Option<String>,
    pub max_upload_bytes: u64,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>) -> IngestSettings {
    IngestSettings {
        bucket: env.optional("INGESTIONS_BUCKET"),
        max_upload_bytes: env.number_in(
            "INGEST_MAX_UPLOAD_BYTES",
            1..=100 * 1024 * 1024,
            DEFAULT_MAX_UPLOAD_BYTES,
            "set the largest report upload in bytes, at most 104857600, or unset it for 52428800",
        ),
    }
}
