//! The HTTP mapping of the Gumroad connection routes' errors.

use crate::ApiError;
use crate::domain::connections::state::StateError;
use crate::providers::gumroad::connect::ConnectError;

impl From<ConnectError> for ApiError {
    fn from(error: ConnectError) -> Self {
        let code = error.reason_code();
        let message = error.to_string();
        match error {
            ConnectError::State(StateError::Invalid | StateError::Expired)
            | ConnectError::MissingCode
            | ConnectError::CodeRejected => Self::BadRequest { code, message },
            ConnectError::State(StateError::Mismatch) | ConnectError::ProviderDenied(_) => {
                Self::Refused { code, message }
            }
            ConnectError::State(StateError::Replayed) | ConnectError::NeedsReconnect => {
                Self::Conflict { code, message }
            }
            ConnectError::NotConnected => Self::NotFound {
                what: "Gumroad connection",
            },
            ConnectError::State(StateError::Dependency(_))
            | ConnectError::Refused(_)
            | ConnectError::Unavailable(_)
            | ConnectError::Seal(_)
            | ConnectError::Dependency(_) => {
                tracing::error!(connection.reason = code, %message, "a Gumroad connection route failed: {message}");
                Self::Unavailable {
                    code,
                    message: "Gumroad connections are unavailable; retry later".to_owned(),
                }
            }
        }
    }
}
