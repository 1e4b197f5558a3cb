//! The policy around every authentication attempt, as the auth routes and the authorizer apply
//! it: a throttled source IP is refused before any verification work; a credential the presenter
//! got wrong counts against its IP (with its reason and the token's fingerprint), and once the IP
//! is over its limit the answer is [`Throttled`] rather than the refusal; a failure on our side
//! (a dependency) is never counted.

use super::limits::{AuthLimiter, Throttled};
use super::sessions::SessionError;
use crate::domain::fingerprint;
use crate::domain::ports::{Clock, FailureCounter};

/// An attempt that did not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal<E> {
    /// The source IP is over its failure limit.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    /// Refused for this reason (counted when it was the presenter's fault).
    #[error("{0}")]
    Refused(E),
}

impl<F: FailureCounter, C: Clock> AuthLimiter<F, C> {
    /// Counts a failed authentication of `ip` for `reason` (with the presented token's
    /// fingerprint): [`Refusal::Throttled`] past the limit, else `error`.
    pub async fn refuse<E>(
        &self,
        ip: &str,
        reason: &'static str,
        token: Option<&str>,
        error: E,
    ) -> Refusal<E> {
        let token_fp = token.map(|t| fingerprint(t.as_bytes()));
        match self.failed(ip, reason, token_fp.as_deref()).await {
            Some(throttled) => Refusal::Throttled(throttled),
            None => Refusal::Refused(error),
        }
    }

    /// Runs `operation` on the session token `ip` presented: refused at once when the IP is
    /// throttled or presented none; a token `operation` refuses counts against the IP.
    pub async fn with_session<T>(
        &self,
        ip: &str,
        token: Option<&str>,
        operation: impl AsyncFnOnce(&str) -> Result<T, SessionError>,
    ) -> Result<T, Refusal<SessionError>> {
        self.check(ip)?;
        let token = token.ok_or(Refusal::Refused(SessionError::Missing))?;
        match operation(token).await {
            Ok(value) => Ok(value),
            Err(error) if error.is_credential_failure() => {
                let reason = error.reason_code();
                Err(self.refuse(ip, reason, Some(token), error).await)
            }
            Err(error) => Err(Refusal::Refused(error)),
        }
    }
}
