//! The HTTP mapping of webhook ingest's domain errors.

use crate::ApiError;
use crate::domain::webhooks::ingest::{IngestError, MAX_BODY_BYTES};

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::UnknownProvider(_) => Self::NotFound {
                what: "webhook provider",
            },
            IngestError::UnknownWebhookToken => Self::NotFound {
                what: "webhook token",
            },
            IngestError::SellerMismatch => Self::Refused {
                code: "seller_mismatch",
                message: error.to_string(),
            },
            IngestError::NotForm => Self::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            },
            IngestError::TooLarge => Self::PayloadTooLarge {
                limit_bytes: MAX_BODY_BYTES,
            },
            IngestError::UnsupportedMediaType => Self::UnsupportedMediaType {
                expected: "application/json",
            },
            IngestError::Rejected(ref reason) => Self::Unauthorized {
                code: reason.reason_code(),
                message: error.to_string(),
            },
            IngestError::Malformed(ref reason) => Self::BadRequest {
                code: reason.reason_code(),
                message: error.to_string(),
            },
            IngestError::InProgress { .. } => Self::Conflict {
                code: "in_progress",
                message: error.to_string(),
            },
            IngestError::Dependency { dependency, .. } => {
                Self::DependencyUnavailable { dependency }
            }
        }
    }
}
