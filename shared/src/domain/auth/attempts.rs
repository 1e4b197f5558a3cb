//! The policy around every authentication attempt, as the auth routes and the authorizer apply
//! it. A presented credential is verified first and admitted when valid, whatever its source IP
//! did: many users share an address (NAT, carrier NAT, a proxy), so one of them guessing must not
//! lock the others out. A failure that looks like guessing (a malformed token, a forged MAC, an
//! unknown key or token) counts against its IP, with its reason and the token's fingerprint; once
//! the IP is over its limit such failures are answered [`Throttled`] (without another write). A
//! failure an honest client meets (an expired credential) and a failure on our side (a
//! dependency) are never counted.

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
    /// Refused for this reason (counted when it looked like guessing).
    #[error("{0}")]
    Refused(E),
}

/// A credential's refusal, as the attempt policy weighs it.
pub trait Failure {
    /// Stable code for logs and the failure count.
    fn reason_code(&self) -> &'static str;
    /// Whether the presenter looks like it is guessing (counted against its IP), rather than an
    /// honest client with a stale credential or a failure of ours.
    fn looks_like_guessing(&self) -> bool;
}

impl Failure for SessionError {
    fn reason_code(&self) -> &'static str {
        Self::reason_code(self)
    }

    fn looks_like_guessing(&self) -> bool {
        Self::looks_like_guessing(self)
    }
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

    /// Runs `operation` (the verification) on the credential `ip` presented: its success is
    /// admitted even from a throttled IP; a failure that looks like guessing is
    /// [`Refusal::Throttled`] from a throttled IP (not counted again), else counted; any other
    /// failure is returned as it is.
    pub async fn attempt<T, E: Failure>(
        &self,
        ip: &str,
        token: &str,
        operation: impl AsyncFnOnce(&str) -> Result<T, E>,
    ) -> Result<T, Refusal<E>> {
        let error = match operation(token).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !error.looks_like_guessing() {
            return Err(Refusal::Refused(error));
        }
        if let Err(throttled) = self.check(ip) {
            return Err(Refusal::Throttled(throttled));
        }
        let reason = error.reason_code();
        Err(self.refuse(ip, reason, Some(token), error).await)
    }

    /// [`attempt`](Self::attempt) on the session token `ip` presented; none is
    /// [`SessionError::Missing`], not counted.
    pub async fn with_session<T>(
        &self,
        ip: &str,
        token: Option<&str>,
        operation: impl AsyncFnOnce(&str) -> Result<T, SessionError>,
    ) -> Result<T, Refusal<SessionError>> {
        let token = token.ok_or(Refusal::Refused(SessionError::Missing))?;
        self.attempt(ip, token, operation).await
    }
}
