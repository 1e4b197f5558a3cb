//! What the message providers' clients share (`docs/providers.md`, "Messages"): one call with
//! the API key (re-read once on a 401), a failed call turned into the notification port's
//! [`SendError`], and a log line that names the message and the recipient only by fingerprints.

use std::sync::Arc;

use crate::domain::fingerprint;
use crate::domain::ports::{SendError, Sent};
use crate::providers::client::{
    ApiKeySource, CallReport, ClientError, KeyUnavailable, call_with_key,
};

/// Why a message call failed, before it becomes a [`SendError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Call(#[from] ClientError),
    #[error("the API key is unavailable: {0}")]
    Key(#[from] KeyUnavailable),
}

/// The port's view of a failure: a 4xx other than 401, 408, 409 and 429 is refused for good with
/// the provider's code (`http_<status>` when it gave none); anything else may pass on a later
/// attempt of the job, not before the provider's `Retry-After` when it sent one.
pub fn send_error(provider: &'static str, error: CallError) -> SendError {
    let unavailable = |reason: String, retry_after| SendError::Unavailable {
        provider,
        reason,
        retry_after,
    };
    match error {
        CallError::Call(ClientError::Provider { status, code, .. })
            if (400..500).contains(&status) && !matches!(status, 401 | 408 | 409 | 429) =>
        {
            SendError::Refused {
                provider,
                code: code.unwrap_or_else(|| format!("http_{status}")),
            }
        }
        CallError::Call(ClientError::Provider { status, .. }) => {
            unavailable(format!("http_{status}"), None)
        }
        CallError::Call(ClientError::RateLimited { retry_after, .. }) => {
            unavailable("rate_limited".into(), retry_after)
        }
        // Only the stable code: a transport error's detail may name the host or the cause at length.
        CallError::Call(other) => unavailable(other.code().into(), None),
        CallError::Key(_) => unavailable("api_key_unavailable".into(), None),
    }
}

/// Sends one message: `call` with the provider's key (once more with a re-read key after a 401)
/// returns the provider's message id and the call's report. Logs the outcome with the
/// fingerprints of `idempotency_key` and `recipient`, never the recipient, subject or body.
pub async fn send<K, F, Fut>(
    provider: &'static str,
    keys: &impl ApiKeySource<K>,
    idempotency_key: &str,
    recipient: &str,
    call: F,
) -> Result<Sent, SendError>
where
    F: Fn(Arc<K>) -> Fut,
    Fut: Future<Output = (Result<String, ClientError>, CallReport)>,
{
    let message = fingerprint(idempotency_key.as_bytes());
    let to = fingerprint(recipient.as_bytes());
    let result = call_with_key(keys, provider, |key| {
        let call = call(key);
        let (message, to) = (&message, &to);
        async move {
            let (result, report) = call.await;
            tracing::info!(
                provider,
                message = %message,
                to = %to,
                attempts = report.attempts,
                waited_ms = u64::try_from(report.waited.as_millis()).unwrap_or(u64::MAX),
                outcome = report.outcome,
                "message provider call"
            );
            result
        }
    })
    .await
    .map_err(|error: CallError| send_error(provider, error));
    match &result {
        Ok(id) => {
            tracing::info!(provider, message = %message, to = %to, provider_id = %id, "message sent")
        }
        Err(error) => {
            tracing::warn!(provider, message = %message, to = %to, %error, "message not sent")
        }
    }
    result.map(|message_id| Sent {
        provider,
        message_id,
    })
}

/// The text of a header value the provider sent, if it is printable.
pub(crate) fn header_text<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// A provider's code or field name as a stable code for a record: only `[A-Za-z0-9._-]`, at most
/// 100 characters, and nothing that looks like an address (`None` then).
pub(crate) fn stable_code(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| value.to_owned())
}

#[cfg(test)]
pub(crate) mod tests;
