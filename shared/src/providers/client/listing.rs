//! A failed listing call as sync sees it ([`MembershipSourceError`]): the same for every provider
//! whose listing goes through the [`ResilientClient`](super::ResilientClient).

use super::ClientError;
use crate::domain::ports::{MembershipSourceError, SourceFailure};

/// 429 waits for the provider; 5xx, timeouts, an open breaker or a spent budget are tried later;
/// an emergency switch suspends the run; a refused credential (401, coded `unauthorized`) or
/// request (other 4xx), or a body over the size cap, fails the run; a 2xx body that could not be
/// read (coded `malformed`) is put off and asked again.
pub fn listing_error(
    error: ClientError,
    unauthorized: &'static str,
    malformed: &'static str,
) -> MembershipSourceError {
    let message = error.to_string();
    let (failure, code) = match error {
        ClientError::RateLimited { retry_after, .. } => {
            (SourceFailure::RateLimited { retry_after }, "rate_limited")
        }
        ClientError::EmergencyMode { .. } => {
            (SourceFailure::Suspended, crate::domain::emergency::REASON)
        }
        ClientError::Provider { status: 401, .. } => (SourceFailure::Refused, unauthorized),
        ClientError::Provider { status, .. } if status < 500 => {
            (SourceFailure::Refused, "provider_refused")
        }
        ClientError::Decode { .. } => (SourceFailure::Unavailable, malformed),
        ClientError::ResponseTooLarge { .. } => (SourceFailure::Refused, error.code()),
        other => (SourceFailure::Unavailable, other.code()),
    };
    MembershipSourceError::new(failure, code, message)
}
