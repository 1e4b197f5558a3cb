//! Errors callers see: each maps to a precise HTTP status and a stable snake_case code, rendered as
//! `{"error": {"code": "…", "message": "…"}}`. Internal causes are logged where they happen and are
//! never part of the body.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::domain::companies::FieldProblem;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `code` says how.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 400: fields of the request are invalid; `problems` lists every one (field, problem, fix).
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        problems: Vec<FieldProblem>,
    },
    /// 401: a bad signature or token; `code` is the reason.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 402: the caller's plan does not allow this (`plan_required`); a higher plan would.
    #[error("{message}")]
    PaymentRequired { code: &'static str, message: String },
    /// 403: authenticated, but not allowed.
    #[error("not allowed")]
    Forbidden,
    /// 403 with a code saying why (e.g. `not_company_admin`).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// 404: no such resource.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 404: no route for this method and path.
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    /// 409: the same work is in progress elsewhere; retry later.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: the body is over the limit.
    #[error("body larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    /// 415: the content type is not one this route takes.
    #[error("content type must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// 429: throttled; retry after the given number of seconds.
    #[error("too many requests; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// 503: a dependency is down; the caller should retry.
    #[error("{dependency} is unavailable; retry later")]
    DependencyUnavailable { dependency: &'static str },
    /// 503 with a code naming the dependency (e.g. `access_check_unavailable`).
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 500: a bug or an unexpected state; details are in the logs only.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } | Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::DependencyUnavailable { .. } | Self::Unavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Invalid { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::PaymentRequired { code, .. }
            | Self::Refused { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Forbidden => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::RouteNotFound { .. } => "route_not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Throttled { .. } => "throttled",
            Self::DependencyUnavailable { .. } => "dependency_unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The JSON error body of every route.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub code: &'a str,
    pub message: String,
    /// Every problem with the request's fields, when it has several ([`ApiError::Invalid`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<&'a [FieldProblem]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                problems: match &self {
                    Self::Invalid { problems, .. } => Some(problems),
                    _ => None,
                },
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::Throttled { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// Errors of the event-triggered functions (SQS, schedules, rotation), reported to the Lambda
/// runtime as a `Diagnostic` whose `error_type` says whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event cannot be understood; retrying will not help.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// A dependency failed; a retry may succeed.
    #[error("{dependency} failed: {detail}")]
    Dependency {
        dependency: &'static str,
        detail: String,
    },
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(error: EventError) -> Self {
        let error_type = match &error {
            EventError::Malformed(_) => "NonRetryable",
            EventError::Dependency { .. } => "Retryable",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn render(error: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, retry_after, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn renders_the_stable_json_error_body() {
        let (status, _, body) = render(ApiError::BadRequest {
            code: "invalid_json",
            message: "body is not JSON".into(),
        })
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "invalid_json", "message": "body is not JSON"}})
        );
    }

    #[tokio::test]
    async fn throttled_carries_retry_after() {
        let (status, retry_after, body) = render(ApiError::Throttled {
            retry_after_secs: 30,
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after.as_deref(), Some("30"));
        assert_eq!(body["error"]["code"], "throttled");
    }

    #[test]
    fn every_variant_has_its_precise_status() {
        let cases = [
            (ApiError::Forbidden, 403),
            (ApiError::NotFound { what: "membership" }, 404),
            (
                ApiError::Conflict {
                    code: "in_progress",
                    message: String::new(),
                },
                409,
            ),
            (ApiError::PayloadTooLarge { limit_bytes: 1 }, 413),
            (
                ApiError::UnsupportedMediaType {
                    expected: "application/json",
                },
                415,
            ),
            (
                ApiError::Invalid {
                    code: "invalid_query",
                    message: String::new(),
                    problems: Vec::new(),
                },
                400,
            ),
            (
                ApiError::Refused {
                    code: "not_company_admin",
                    message: String::new(),
                },
                403,
            ),
            (
                ApiError::Unavailable {
                    code: "access_check_unavailable",
                    message: String::new(),
                },
                503,
            ),
            (ApiError::DependencyUnavailable { dependency: "sqs" }, 503),
            (ApiError::Internal, 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn event_errors_say_whether_a_retry_helps() {
        let diagnostic: lambda_runtime::Diagnostic = EventError::Malformed("x".into()).into();
        assert_eq!(diagnostic.error_type, "NonRetryable");
        let diagnostic: lambda_runtime::Diagnostic = EventError::Dependency {
            dependency: "dynamodb",
            detail: "timeout".into(),
        }
        .into();
        assert_eq!(diagnostic.error_type, "Retryable");
    }
}
