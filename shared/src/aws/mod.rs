//! Implementations of [`crate::domain::ports`] over AWS (DynamoDB, SQS, Secrets Manager) and HTTP.

// A company's GA4 property (`domain::analytics`).
pub mod analytics;
pub mod breaker;
pub mod claims;
pub mod company_items;
pub mod connections;
pub mod contradictions;
pub mod creators;
pub mod dynamo;
pub mod emergency;
pub mod http;
// KDP report uploads: jobs and the uploads' bucket.
pub mod ingest;
pub mod item;
pub mod known_companies;
pub mod limits;
pub mod maintenance;
pub mod notify;
pub mod sales;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
pub mod sqs;
pub mod state;
pub mod suppression;
pub mod sync;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::domain::ports::DependencyError;

/// The output of a conditional write, `None` when only its condition failed (the write was not
/// applied, which callers expect as a normal outcome), or the classified error.
pub(crate) fn applied<T, E, R>(
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, DependencyError>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error
                .as_service_error()
                .and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(error) => Err(dependency_error(&error)),
    }
}

/// Classifies an AWS SDK error without leaking request details.
pub(crate) fn dependency_error<E, R>(error: &SdkError<E, R>) -> DependencyError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match error {
        SdkError::TimeoutError(_) => DependencyError::Timeout,
        SdkError::DispatchFailure(failure) => {
            DependencyError::Unreachable(if failure.is_timeout() {
                "timed out connecting".to_owned()
            } else {
                "connection failed".to_owned()
            })
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            match code {
                "ResourceNotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist" => DependencyError::NotFound,
                "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" => {
                    DependencyError::AccessDenied
                }
                other => DependencyError::Other(other.to_owned()),
            }
        }
        other => DependencyError::Other(
            other
                .as_service_error()
                .and_then(ProvideErrorMetadata::code)
                .unwrap_or("request failed")
                .to_owned(),
        ),
    }
}
