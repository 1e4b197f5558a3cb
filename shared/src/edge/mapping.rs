//! Domain errors as callers see them: each domain error maps to one [`ApiError`] (status, code,
//! message, and `Retry-After` where throttled).

use crate::domain::auth::attempts::Refusal;
use crate::domain::auth::limits::Throttled;
use crate::domain::auth::sessions::SessionError;
use crate::domain::state::ReadError;
use crate::edge::error::ApiError;

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Dependency(_) => Self::DependencyUnavailable {
                dependency: "sessions",
            },
            other => Self::Unauthorized {
                code: other.reason_code(),
                message: other.to_string(),
            },
        }
    }
}

impl From<crate::domain::auth::oidc::SignInError> for ApiError {
    /// Ours or Google's failure: 503; an identity linked to another user: 409; a broken or
    /// foreign flow: 400; an ID token refused: 401. The code is the error's reason code.
    fn from(error: crate::domain::auth::oidc::SignInError) -> Self {
        use crate::domain::auth::oidc::SignInError as E;
        let (code, message) = (error.reason_code(), error.to_string());
        match error {
            _ if error.is_unavailable() => Self::Unavailable { code, message },
            E::LinkedElsewhere => Self::Conflict { code, message },
            E::FlowMissing
            | E::FlowInvalid
            | E::FlowExpired
            | E::StateMismatch
            | E::StateReplayed
            | E::MissingCode
            | E::LinkSessionMissing => Self::BadRequest { code, message },
            _ => Self::Unauthorized { code, message },
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> Self {
        Self::Throttled {
            retry_after_secs: throttled.retry_after_secs,
        }
    }
}

impl<E: Into<Self>> From<Refusal<E>> for ApiError {
    fn from(refusal: Refusal<E>) -> Self {
        match refusal {
            Refusal::Throttled(throttled) => throttled.into(),
            Refusal::Refused(error) => error.into(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::InvalidId { .. } => Self::BadRequest {
                code: "invalid_id",
                message: error.to_string(),
            },
            ReadError::InvalidLimit => Self::BadRequest {
                code: "invalid_limit",
                message: error.to_string(),
            },
            ReadError::Forbidden => Self::Forbidden,
            ReadError::NotFound => Self::NotFound { what: "membership" },
            ReadError::Unavailable => Self::DependencyUnavailable {
                dependency: "state table",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::domain::ports::DependencyError;

    #[test]
    fn session_errors_map_to_401_with_their_code_and_outages_to_503() {
        let error: ApiError = SessionError::Expired.into();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error.code(), "session_expired");
        let error: ApiError = SessionError::Dependency(DependencyError::Timeout).into();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn throttled_becomes_a_429_with_its_retry_after() {
        let error: ApiError = Throttled {
            retry_after_secs: 42,
        }
        .into();
        assert_eq!(
            error,
            ApiError::Throttled {
                retry_after_secs: 42
            }
        );
        assert_eq!(error.status().as_u16(), 429);
    }

    #[test]
    fn a_refusal_is_its_throttle_or_its_error() {
        let throttled: Refusal<SessionError> = Throttled {
            retry_after_secs: 7,
        }
        .into();
        assert_eq!(
            ApiError::from(throttled),
            ApiError::Throttled {
                retry_after_secs: 7
            }
        );
        assert_eq!(
            ApiError::from(Refusal::Refused(SessionError::Revoked)),
            ApiError::from(SessionError::Revoked)
        );
    }

    #[test]
    fn read_errors_keep_their_status_code_and_message() {
        let cases = [
            (
                ReadError::InvalidId { what: "after" },
                400,
                "invalid_id",
                "`after` must be 1–128 printable ASCII characters",
            ),
            (
                ReadError::InvalidLimit,
                400,
                "invalid_limit",
                "`limit` must be 1–100",
            ),
            (ReadError::Forbidden, 403, "forbidden", "not allowed"),
            (
                ReadError::NotFound,
                404,
                "not_found",
                "membership not found",
            ),
            (
                ReadError::Unavailable,
                503,
                "dependency_unavailable",
                "state table is unavailable; retry later",
            ),
        ];
        for (error, status, code, message) in cases {
            let shown = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.status().as_u16(), status, "{api:?}");
            assert_eq!(api.code(), code);
            assert_eq!(api.to_string(), message);
            assert_eq!(shown, message);
        }
    }
}
