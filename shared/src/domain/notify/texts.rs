//! Texts to a company's alert phones (`docs/architecture.md`, "Notifications"): sent through the
//! [`TextSender`] port (Twilio) when one is configured; without one, each planned text is recorded
//! as refused with [`TEXTS_NOT_CONFIGURED`], so the job succeeds and nothing retries it.
//!
//! A number that answered STOP is refused by Twilio with [`OPTED_OUT`] (21610): the notifier then
//! adds it to the suppression list, so it is not tried again.

use crate::domain::ports::{SendError, Sent, TextMessage, TextSender};

/// The refusal code of a text when the deployment has no text provider.
pub const TEXTS_NOT_CONFIGURED: &str = "texts_not_configured";
/// The provider name such a refusal is recorded under.
pub const TEXT_PROVIDER: &str = "twilio";
/// Twilio's refusal of a number that opted out (answered STOP).
pub const OPTED_OUT: &str = "21610";

/// Whether a refusal means the number opted out.
pub fn is_opt_out(error_code: &str) -> bool {
    error_code == OPTED_OUT
}

/// An optional text provider: none refuses every text with [`TEXTS_NOT_CONFIGURED`].
impl<T: TextSender> TextSender for Option<T> {
    async fn send_text(&self, message: &TextMessage) -> Result<Sent, SendError> {
        match self {
            Some(sender) => sender.send_text(message).await,
            None => Err(SendError::Refused {
                provider: TEXT_PROVIDER,
                code: TEXTS_NOT_CONFIGURED.to_owned(),
            }),
        }
    }
}
