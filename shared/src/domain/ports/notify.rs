//! The ports of notifications: sending an e-mail or a text message through a provider (Resend,
//! SendGrid, Twilio), and the suppression list checked before every send.
//!
//! Messages carry personal data (addresses, numbers, bodies): their `Debug` shows none of it.

use std::future::Future;
use std::time::Duration;

use super::DependencyError;

/// One e-mail, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// The same for every attempt at this message (the provider's `Idempotency-Key`).
    pub idempotency_key: String,
    /// `Name <address>` or an address.
    pub from: String,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Extra headers, e.g. `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("idempotency_key", &self.idempotency_key)
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

/// One text message, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct TextMessage {
    /// The same for every attempt at this message.
    pub idempotency_key: String,
    /// E.164.
    pub to: String,
    pub body: String,
}

impl std::fmt::Debug for TextMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextMessage")
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub provider: &'static str,
    /// The provider's id of the message.
    pub message_id: String,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Refused for good (an invalid address, an opted-out number, a 4xx other than 401, 408, 409
    /// and 429): recorded and not retried. `code` is the provider's stable code, never content.
    #[error("{provider} refused the message: {code}")]
    Refused {
        provider: &'static str,
        code: String,
    },
    /// Not sent now (429, 5xx, a timeout, an open breaker, emergency mode): the job is retried,
    /// not before `retry_after` when the provider said.
    #[error("{provider} unavailable: {reason}")]
    Unavailable {
        provider: &'static str,
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// An e-mail provider.
pub trait Mailer: Send + Sync {
    fn send_email(&self, email: &Email) -> impl Future<Output = Result<Sent, SendError>> + Send;
}

/// A text-message provider.
pub trait TextSender: Send + Sync {
    fn send_text(
        &self,
        message: &TextMessage,
    ) -> impl Future<Output = Result<Sent, SendError>> + Send;
}

/// Why an address stopped getting messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// The one-click unsubscribe link.
    Unsubscribed,
    /// The provider reported a hard bounce.
    Bounced,
    /// The recipient marked a message as spam.
    Complained,
    /// The number opted out of texts (answered STOP; Twilio refuses with 21610).
    OptedOut,
}

/// Addresses (or numbers) never to message again, checked before every send.
pub trait SuppressionList: Send + Sync {
    fn is_suppressed(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<bool, DependencyError>> + Send;

    fn suppress(
        &self,
        address: &str,
        reason: SuppressionReason,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;
}
