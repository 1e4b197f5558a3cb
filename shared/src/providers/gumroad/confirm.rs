//! Confirming Gumroad's pings before the processor trusts them (`docs/providers.md`, "Gumroad";
//! `docs/architecture.md`, "Gumroad"). A ping has no signature, so a money-relevant one is read
//! back from Gumroad's API with the connection's token ([`Connector::with_token`]: a 401 refreshes
//! once, then `needs_reconnect`), through the `gumroad` service's breaker and shared rate limit:
//!
//! - `sale` (a recurring charge too), `refund`, `dispute`, `dispute_won`: `GET /v2/sales/{sale_id}`.
//!   Not found, another seller, product or subscription: contradicted; a `refund` of a sale that is
//!   not refunded (in full or in part), a `dispute` of one not disputed (or charged back), a
//!   `dispute_won` of one whose dispute is not won: contradicted. A `sale` of a sale refunded since
//!   is still a sale that happened (its refund ping orders after it).
//! - `cancellation`, `subscription_ended`, `subscription_restarted`, `subscription_updated`:
//!   `GET /v2/subscribers/{subscription_id}`. Not found (another seller's subscriber is not found
//!   with this token) or another product: contradicted; a `cancellation` of a subscriber with no
//!   cancellation (status `pending_cancellation` or `cancelled`, or a cancellation time), a
//!   `subscription_ended` of one whose status grants access, a `subscription_restarted` of one whose
//!   status is ended: contradicted.
//!
//! Gumroad unavailable (5xx, a timeout, the breaker open, the rate limit spent) or the connection
//! needing a reconnect: [`ConfirmError::Unavailable`], so the message is retried, never applied
//! unconfirmed. A `test=true` ping observes as nothing, so the processor never asks.

use serde_json::Value;

use super::connect::{ConnectError, Connector};
use crate::domain::ports::{
    Clock, ConfirmError, Confirmation, ConnectionStore, EventConfirmer, SecretSource,
};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::{EventKind, QueuedEvent};
use crate::providers::client::Admission;

/// What a ping is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Sale,
    Refund,
    Dispute,
    DisputeWon,
    Cancellation,
    Ended,
    Restarted,
    Updated,
}

impl Check {
    fn of(kind: &EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::GumroadSale => Self::Sale,
            EventKind::GumroadRefund => Self::Refund,
            EventKind::GumroadDispute => Self::Dispute,
            EventKind::GumroadDisputeWon => Self::DisputeWon,
            EventKind::GumroadCancellation => Self::Cancellation,
            EventKind::GumroadSubscriptionEnded => Self::Ended,
            EventKind::GumroadSubscriptionRestarted => Self::Restarted,
            EventKind::GumroadSubscriptionUpdated => Self::Updated,
            _ => return None,
        })
    }

    fn reads_sale(self) -> bool {
        matches!(
            self,
            Self::Sale | Self::Refund | Self::Dispute | Self::DisputeWon
        )
    }
}

/// The ids a ping names, as the processor queued them.
#[derive(Debug, Clone, Copy, Default)]
struct Named<'a> {
    seller_id: &'a str,
    product_id: Option<&'a str>,
    subscription_id: Option<&'a str>,
}

/// A field of Gumroad's record as text (ids may come as numbers).
fn text<'a>(record: &'a Value, field: &str) -> Option<std::borrow::Cow<'a, str>> {
    match record.get(field)? {
        Value::String(text) if !text.is_empty() => Some(text.as_str().into()),
        Value::Number(number) => Some(number.to_string().into()),
        _ => None,
    }
}

/// A flag of Gumroad's record (`true`, `"true"`).
fn flag(record: &Value, field: &str) -> bool {
    match record.get(field) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(value)) => value == "true",
        _ => false,
    }
}

/// Whether `field` of the record, when present, differs from what the ping named.
fn differs(record: &Value, field: &str, named: Option<&str>) -> bool {
    matches!((text(record, field), named), (Some(api), Some(ping)) if api != ping)
}

/// The reason the sale Gumroad answered contradicts the ping, if it does.
fn check_sale(check: Check, named: Named<'_>, sale: &Value) -> Option<&'static str> {
    if differs(sale, "seller_id", Some(named.seller_id)) {
        return Some("seller_mismatch");
    }
    if differs(sale, "product_id", named.product_id) {
        return Some("product_mismatch");
    }
    if differs(sale, "subscription_id", named.subscription_id) {
        return Some("subscription_mismatch");
    }
    match check {
        Check::Refund if !flag(sale, "refunded") && !flag(sale, "partially_refunded") => {
            Some("sale_not_refunded")
        }
        Check::Dispute if !flag(sale, "disputed") && !flag(sale, "chargedback") => {
            Some("sale_not_disputed")
        }
        Check::DisputeWon if !flag(sale, "dispute_won") => Some("dispute_not_won"),
        _ => None,
    }
}

/// The subscriber statuses that end access.
const ENDED: [&str; 3] = [
    "cancelled",
    "failed_payment",
    "fixed_subscription_period_ended",
];

/// The reason the subscriber Gumroad answered contradicts the ping, if it does.
fn check_subscriber(check: Check, named: Named<'_>, subscriber: &Value) -> Option<&'static str> {
    if differs(subscriber, "product_id", named.product_id) {
        return Some("product_mismatch");
    }
    let status = text(subscriber, "status").unwrap_or_default();
    let ended = ENDED.contains(&status.as_ref());
    match check {
        Check::Cancellation
            if !matches!(status.as_ref(), "pending_cancellation" | "cancelled")
                && text(subscriber, "user_requested_cancellation_at").is_none()
                && text(subscriber, "cancelled_at").is_none() =>
        {
            Some("subscriber_not_cancelled")
        }
        Check::Ended if !ended => Some("subscriber_not_ended"),
        Check::Restarted if ended || status.is_empty() => Some("subscriber_not_restarted"),
        _ => None,
    }
}

/// Confirms Gumroad's pings over its connections.
pub struct GumroadConfirmer<A, S, C, T> {
    pub connector: Connector<A, S, C, T>,
}

impl<A: Admission, S: SecretSource, C: Clock, T: ConnectionStore> GumroadConfirmer<A, S, C, T> {
    async fn confirm_ping(
        &self,
        event: &QueuedEvent,
        check: Check,
    ) -> Result<Confirmation, ConfirmError> {
        let subject = &event.subject;
        let Some(company) = subject.company_id.as_deref() else {
            return Ok(Confirmation::Contradicted("no_connection"));
        };
        let connection = match self.connector.connection(company).await {
            Ok(connection) => connection,
            Err(ConnectError::NotConnected) => {
                return Ok(Confirmation::Contradicted("not_connected"));
            }
            Err(error) => return Err(unconfirmed(error)),
        };
        let (path, id, key) = if check.reads_sale() {
            ("/v2/sales", subject.payment_id.as_deref(), "sale")
        } else {
            (
                "/v2/subscribers",
                subject.subscription_id.as_deref(),
                "subscriber",
            )
        };
        let Some(id) = id else {
            return Ok(Confirmation::Contradicted("no_id"));
        };
        let api = &self.connector.api;
        let record = match self
            .connector
            .with_token(&connection, |token| async move {
                api.record(&token, path, id, key).await
            })
            .await
        {
            Ok(record) => record,
            // Gumroad's refusal of the id with a token it accepts: no such record of this seller.
            Err(ConnectError::Refused(_)) => {
                return Ok(Confirmation::Contradicted(if check.reads_sale() {
                    "sale_not_found"
                } else {
                    "subscriber_not_found"
                }));
            }
            Err(error) => return Err(unconfirmed(error)),
        };
        let named = Named {
            seller_id: &connection.seller_id,
            product_id: subject.product_id.as_deref(),
            subscription_id: subject.subscription_id.as_deref(),
        };
        let reason = if check.reads_sale() {
            check_sale(check, named, &record)
        } else {
            check_subscriber(check, named, &record)
        };
        Ok(reason.map_or(Confirmation::Confirmed, Confirmation::Contradicted))
    }
}

/// A failure to confirm: retryable.
fn unconfirmed(error: ConnectError) -> ConfirmError {
    match error {
        ConnectError::Dependency(error) => ConfirmError::Dependency(error),
        ConnectError::Unavailable(code) => ConfirmError::Unavailable(code),
        other => ConfirmError::Unavailable(other.reason_code().to_owned()),
    }
}

impl<A: Admission, S: SecretSource, C: Clock, T: ConnectionStore> EventConfirmer
    for GumroadConfirmer<A, S, C, T>
{
    async fn confirm(&self, event: &QueuedEvent) -> Result<Confirmation, ConfirmError> {
        if event.provider != Source::Gumroad {
            return Ok(Confirmation::Unneeded);
        }
        match Check::of(&event.event_kind()) {
            Some(check) => self.confirm_ping(event, check).await,
            None => Ok(Confirmation::Unneeded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NAMED: Named<'static> = Named {
        seller_id: "seller_1",
        product_id: Some("prod_1"),
        subscription_id: Some("sub_1"),
    };

    #[test]
    fn a_sale_of_the_seller_product_and_subscription_is_confirmed_and_any_other_is_not() {
        let sale = json!({"id": "s1", "seller_id": "seller_1", "product_id": "prod_1",
            "subscription_id": "sub_1", "refunded": false});
        assert_eq!(check_sale(Check::Sale, NAMED, &sale), None);
        for (field, reason) in [
            ("seller_id", "seller_mismatch"),
            ("product_id", "product_mismatch"),
            ("subscription_id", "subscription_mismatch"),
        ] {
            let mut other = sale.clone();
            other[field] = json!("someone_else");
            assert_eq!(check_sale(Check::Sale, NAMED, &other), Some(reason));
        }
        // Fields Gumroad leaves out are not held against the ping.
        assert_eq!(check_sale(Check::Sale, NAMED, &json!({"id": "s1"})), None);
    }

    #[test]
    fn refunds_and_disputes_need_the_sales_flags() {
        let sale = |flags: Value| {
            let mut sale = json!({"id": "s1", "seller_id": "seller_1"});
            for (k, v) in flags.as_object().into_iter().flatten() {
                sale[k] = v.clone();
            }
            sale
        };
        let cases = [
            (
                Check::Refund,
                json!({"refunded": false}),
                Some("sale_not_refunded"),
            ),
            (Check::Refund, json!({"refunded": true}), None),
            (Check::Refund, json!({"partially_refunded": "true"}), None),
            (Check::Dispute, json!({}), Some("sale_not_disputed")),
            (Check::Dispute, json!({"disputed": true}), None),
            (Check::Dispute, json!({"chargedback": true}), None),
            (
                Check::DisputeWon,
                json!({"disputed": true}),
                Some("dispute_not_won"),
            ),
            (Check::DisputeWon, json!({"dispute_won": true}), None),
            (Check::Sale, json!({"refunded": true}), None),
        ];
        for (check, flags, reason) in cases {
            assert_eq!(
                check_sale(check, NAMED, &sale(flags.clone())),
                reason,
                "{check:?} {flags}"
            );
        }
    }

    #[test]
    fn subscription_pings_need_the_subscribers_status_to_agree() {
        let subscriber =
            |status: &str| json!({"id": "sub_1", "product_id": "prod_1", "status": status});
        let cases = [
            (Check::Cancellation, "pending_cancellation", None),
            (Check::Cancellation, "cancelled", None),
            (
                Check::Cancellation,
                "alive",
                Some("subscriber_not_cancelled"),
            ),
            (Check::Ended, "cancelled", None),
            (Check::Ended, "failed_payment", None),
            (Check::Ended, "fixed_subscription_period_ended", None),
            (Check::Ended, "alive", Some("subscriber_not_ended")),
            (
                Check::Ended,
                "pending_cancellation",
                Some("subscriber_not_ended"),
            ),
            (Check::Restarted, "alive", None),
            (
                Check::Restarted,
                "cancelled",
                Some("subscriber_not_restarted"),
            ),
            (Check::Updated, "alive", None),
        ];
        for (check, status, reason) in cases {
            assert_eq!(
                check_subscriber(check, NAMED, &subscriber(status)),
                reason,
                "{check:?} {status}"
            );
        }
        let mut requested = subscriber("alive");
        requested["user_requested_cancellation_at"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(
            check_subscriber(Check::Cancellation, NAMED, &requested),
            None
        );
        let mut moved = subscriber("alive");
        moved["product_id"] = json!("prod_2");
        assert_eq!(
            check_subscriber(Check::Updated, NAMED, &moved),
            Some("product_mismatch")
        );
    }
}
