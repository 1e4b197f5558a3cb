//! `POST /sync` at the edge: reading the request body, and sync's errors as callers see them.

use crate::domain::sync::worker::{SyncError, SyncRequest};
use crate::edge::error::ApiError;

/// The largest `POST /sync` body read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// The request body: empty (sync all of the caller's memberships) or a JSON object.
pub fn parse_sync_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<SyncRequest, ApiError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_REQUEST_BYTES,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SyncRequest::default());
    }
    if let Some(content_type) = content_type
        && !content_type
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "invalid_sync_request",
        message: format!("the body is not a sync request: {e}"),
    })
}

/// The HTTP answer for `POST /sync`.
impl From<&SyncError> for ApiError {
    fn from(error: &SyncError) -> Self {
        match error {
            SyncError::Unconfigured(_) => Self::DependencyUnavailable {
                dependency: "whop_api",
            },
            SyncError::InProgress { run_id } => Self::Conflict {
                code: "sync_in_progress",
                message: format!("run {run_id} is syncing these memberships"),
            },
            SyncError::TooSoon { retry_after } => Self::Throttled {
                retry_after_secs: retry_after.as_secs().max(1),
            },
            SyncError::NotFound => Self::NotFound { what: "membership" },
            SyncError::UnknownCompany => Self::NotFound { what: "company" },
            SyncError::BadRequest(message) => Self::BadRequest {
                code: "invalid_sync_request",
                message: message.clone(),
            },
            SyncError::Api(error) => match error.retry_after() {
                Some(after) => Self::Throttled {
                    retry_after_secs: after.as_secs().max(1),
                },
                None => Self::DependencyUnavailable {
                    dependency: "whop_api",
                },
            },
            SyncError::Store(_) => Self::DependencyUnavailable {
                dependency: "dynamodb",
            },
            SyncError::Queue(_) => Self::DependencyUnavailable { dependency: "sqs" },
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        Self::from(&error)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::ports::DependencyError;

    #[test]
    fn sync_requests_parse_strictly() {
        assert!(
            parse_sync_request(None, b"")
                .unwrap()
                .membership_id
                .is_none()
        );
        let request = parse_sync_request(
            Some("application/json; charset=utf-8"),
            br#"{"provider":"whop","since":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(request.since.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert!(matches!(
            parse_sync_request(Some("text/plain"), b"{}"),
            Err(ApiError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            parse_sync_request(None, br#"{"membership":"x"}"#),
            Err(ApiError::BadRequest { .. })
        ));
        assert!(matches!(
            parse_sync_request(None, &[b' '; 9_000]),
            Err(ApiError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn sync_errors_keep_their_answers() {
        let cases = [
            (SyncError::Unconfigured("x"), 503, "dependency_unavailable"),
            (
                SyncError::InProgress {
                    run_id: "run_1".into(),
                },
                409,
                "sync_in_progress",
            ),
            (
                SyncError::TooSoon {
                    retry_after: Duration::ZERO,
                },
                429,
                "throttled",
            ),
            (SyncError::NotFound, 404, "not_found"),
            (
                SyncError::BadRequest("bad".into()),
                400,
                "invalid_sync_request",
            ),
            (
                SyncError::Store(DependencyError::Timeout),
                503,
                "dependency_unavailable",
            ),
            (
                SyncError::Queue(DependencyError::Timeout),
                503,
                "dependency_unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status().as_u16(), status, "{api:?}");
            assert_eq!(api.code(), code);
        }
        let too_soon = ApiError::from(SyncError::TooSoon {
            retry_after: Duration::ZERO,
        });
        assert_eq!(
            too_soon,
            ApiError::Throttled {
                retry_after_secs: 1
            }
        );
        let in_progress = ApiError::from(SyncError::InProgress {
            run_id: "run_1".into(),
        });
        assert_eq!(
            in_progress.to_string(),
            "run run_1 is syncing these memberships"
        );
    }
}
