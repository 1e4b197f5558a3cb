//! The HTTP mapping of the ingestion routes' errors ([`IngestError`]), with stable codes.

use crate::ApiError;
use crate::domain::ingest::IngestError;

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        let message = error.to_string();
        match error {
            IngestError::InvalidFileName => Self::BadRequest {
                code: "invalid_file_name",
                message,
            },
            IngestError::InvalidSize { .. } => Self::BadRequest {
                code: "invalid_size",
                message,
            },
            IngestError::InvalidCompany => Self::BadRequest {
                code: "invalid_company_id",
                message,
            },
            IngestError::InvalidJobId => Self::BadRequest {
                code: "invalid_job_id",
                message,
            },
            IngestError::InvalidQuery(_) => Self::BadRequest {
                code: "invalid_query",
                message,
            },
            IngestError::NotFound => Self::NotFound {
                what: "ingestion job",
            },
            IngestError::Company(error) => error.into(),
            IngestError::Unavailable => Self::Unavailable {
                code: "ingestions_unavailable",
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::companies::CompanyError;

    #[test]
    fn each_ingestion_error_has_its_status_and_code() {
        for (error, status, code) in [
            (IngestError::InvalidFileName, 400, "invalid_file_name"),
            (IngestError::InvalidSize { max: 1 }, 400, "invalid_size"),
            (IngestError::InvalidCompany, 400, "invalid_company_id"),
            (IngestError::InvalidJobId, 400, "invalid_job_id"),
            (IngestError::InvalidQuery("x"), 400, "invalid_query"),
            (IngestError::NotFound, 404, "not_found"),
            (
                IngestError::Company(CompanyError::NotCompanyAdmin),
                403,
                "not_company_admin",
            ),
            (IngestError::Unavailable, 503, "ingestions_unavailable"),
        ] {
            let api = ApiError::from(error);
            assert_eq!((api.status().as_u16(), api.code()), (status, code), "{api}");
        }
    }
}
