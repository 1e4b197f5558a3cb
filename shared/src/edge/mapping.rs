//! Domain errors as callers see them: each domain error maps to one [`ApiError`] (status, code,
//! message, and `Retry-After` where throttled).

use crate::domain::auth::attempts::Refusal;
use crate::domain::auth::limits::Throttled;
use crate::domain::auth::sessions::SessionError;
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
}
