//! The policy around every authentication attempt, as the auth routes and the authorizer apply
//! it. A presented credential is verified first and admitted when valid, whatever its source IP
//! did: many users share an address (NAT, carrier NAT, a proxy), so one of them guessing must not
//! lock the others out. A failure that looks like guessing (a malformed token, a forged MAC, an
//! unknown key or token) counts against its IP, with its reason and the token's fingerprint; once
//! the IP is over its limit such failures are answered [`Throttled`] (without another write). A
//! failure an honest client meets (an expired credential) and a failure on our side (a
//! dependency) are never counted.

use std::time::{Duration, Instant};

use super::limits::{AuthLimiter, Throttled};
use super::sessions::SessionError;
use crate::domain::fingerprint;
use crate::domain::metrics::{Metrics, Unit, catalogue as names};
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
        let started = Instant::now();
        let verified = operation(token).await;
        let verify_time = started.elapsed();
        let result = match verified {
            Ok(value) => Ok(value),
            Err(error) => Err(self.weigh(ip, token, error).await),
        };
        report(result.as_ref().err(), Some(verify_time));
        result
    }

    /// The refusal of `error`, counted against `ip` when it looks like guessing.
    async fn weigh<E: Failure>(&self, ip: &str, token: &str, error: E) -> Refusal<E> {
        if !error.looks_like_guessing() {
            return Refusal::Refused(error);
        }
        if let Err(throttled) = self.check(ip) {
            return Refusal::Throttled(throttled);
        }
        let reason = error.reason_code();
        self.refuse(ip, reason, Some(token), error).await
    }

    /// [`attempt`](Self::attempt) on the session token `ip` presented; none is
    /// [`SessionError::Missing`], not counted.
    pub async fn with_session<T>(
        &self,
        ip: &str,
        token: Option<&str>,
        operation: impl AsyncFnOnce(&str) -> Result<T, SessionError>,
    ) -> Result<T, Refusal<SessionError>> {
        let Some(token) = token else {
            let refusal = Refusal::Refused(SessionError::Missing);
            report(Some(&refusal), None);
            return Err(refusal);
        };
        self.attempt(ip, token, operation).await
    }
}

/// The reason code of a refusal (`throttled` for a throttled address).
fn reason<E: Failure>(refusal: &Refusal<E>) -> &'static str {
    match refusal {
        Refusal::Throttled(_) => "throttled",
        Refusal::Refused(error) => error.reason_code(),
    }
}

/// One attempt's metrics: `auth_attempts`, `auth_successes` or `auth_failures` (also by
/// `reason`), and the verification's time when a credential was verified.
fn report<E: Failure>(refusal: Option<&Refusal<E>>, verify_time: Option<Duration>) {
    attempt_metrics(refusal, verify_time).emit();
}

fn attempt_metrics<E: Failure>(
    refusal: Option<&Refusal<E>>,
    verify_time: Option<Duration>,
) -> Metrics {
    let mut metrics = Metrics::new("auth");
    if let Some(refusal) = refusal {
        metrics = metrics.breakdown(
            [("reason", reason(refusal).to_owned())],
            &[names::AUTH_FAILURES],
        );
    }
    metrics
        .count(names::AUTH_ATTEMPTS, 1)
        .count(names::AUTH_SUCCESSES, u64::from(refusal.is_none()))
        .count(names::AUTH_FAILURES, u64::from(refusal.is_some()));
    if let Some(time) = verify_time {
        metrics.record(
            names::AUTH_VERIFY_TIME,
            Unit::Milliseconds,
            time.as_secs_f64() * 1000.0,
        );
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::catalogue::undeclared;

    #[test]
    fn a_refusal_counts_a_failure_by_its_reason_and_a_success_its_verify_time() {
        let refused = Refusal::Refused(SessionError::Expired);
        let failure = attempt_metrics(Some(&refused), None).to_emf(0);
        let success =
            attempt_metrics::<SessionError>(None, Some(Duration::from_millis(4))).to_emf(0);

        assert_eq!(undeclared(&failure), Vec::<String>::new());
        assert_eq!(undeclared(&success), Vec::<String>::new());
        assert_eq!(failure["reason"], "session_expired");
        assert_eq!(
            (
                failure["auth_attempts"].as_f64(),
                failure["auth_failures"].as_f64()
            ),
            (Some(1.0), Some(1.0))
        );
        assert_eq!(
            failure["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            serde_json::json!([["function", "reason"]])
        );
        assert_eq!(success["auth_successes"], 1.0);
        assert_eq!(success["auth_failures"], 0.0);
        assert_eq!(success["auth_verify_time"], 4.0);
        assert_eq!(success.get("reason"), None);
    }
}
