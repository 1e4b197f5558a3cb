//! The notification settings (`docs/architecture.md`, "Notifications").

use url::Url;

use super::Stage;
use super::reader::Reader;
use crate::domain::companies::settings::is_email;

/// The sender name when neither the company nor `FROM_NAME` sets one.
pub const DEFAULT_FROM_NAME: &str = "Churn Saver";

/// Where notification jobs go and who messages are from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// `NOTIFICATIONS_QUEUE_URL`: the jobs the processor enqueues when an event opens or closes a
    /// signal. Required in prod; without it the processor enqueues none.
    pub queue: Option<String>,
    /// `NOTIFICATIONS_DLQ_URL`: jobs that failed `maxReceiveCount` times.
    pub dlq: Option<String>,
    /// `FROM_EMAIL`: the sender address (a domain verified at the provider). Required in prod.
    pub from_email: Option<String>,
    /// `FROM_NAME` (at most 64 characters, default `Churn Saver`): the sender name when the
    /// company set none.
    pub from_name: String,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    /// The notification settings; every problem recorded. `None` only with a problem recorded.
    pub(super) fn notify_settings(&mut self, stage: Stage) -> NotifySettings {
        let queue = self.optional("NOTIFICATIONS_QUEUE_URL");
        let dlq = self.optional("NOTIFICATIONS_DLQ_URL");
        for (var, value) in [
            ("NOTIFICATIONS_QUEUE_URL", &queue),
            ("NOTIFICATIONS_DLQ_URL", &dlq),
        ] {
            if let Some(value) = value
                && Url::parse(value).is_err()
            {
                self.problem(
                    var,
                    format!("`{value}` is not a URL"),
                    "use the queue URL (`!Ref` of the queue), not its name or ARN",
                );
            }
        }
        let from_email = self.optional("FROM_EMAIL");
        if let Some(address) = &from_email
            && !is_email(address)
        {
            self.problem(
                "FROM_EMAIL",
                format!("`{address}` is not an e-mail address"),
                "set the bare sender address, e.g. alerts@example.com (the name goes in FROM_NAME)",
            );
        }
        let from_name = self
            .optional("FROM_NAME")
            .unwrap_or_else(|| DEFAULT_FROM_NAME.to_owned());
        if from_name.chars().count() > 64 || from_name.contains(['<', '>', '"', '\r', '\n']) {
            self.problem(
                "FROM_NAME",
                "is longer than 64 characters or holds <, >, \" or a line break",
                "set a plain name of at most 64 characters, or unset it for Churn Saver",
            );
        }
        // The chosen e-mail provider's key is checked with the message providers' settings.
        if stage == Stage::Prod {
            for (var, value, fix) in [
                (
                    "NOTIFICATIONS_QUEUE_URL",
                    &queue,
                    "set it to the notifications queue URL",
                ),
                (
                    "FROM_EMAIL",
                    &from_email,
                    "set it to an address of a domain verified at Resend",
                ),
            ] {
                if value.is_none() {
                    self.problem(var, "is required in prod", fix);
                }
            }
        }
        NotifySettings {
            queue,
            dlq,
            from_email,
            from_name,
        }
    }
}
