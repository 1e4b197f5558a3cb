//! A PayPal refund's subscription (`docs/providers.md`, PayPal): `PAYMENT.SALE.REFUNDED` carries a
//! refund `{id, sale_id, state, amount}` that names no subscription, so the processor asks
//! PayPal for the refunded sale (`GET /v1/payments/sale/{sale_id}`), whose
//! `billing_agreement_id` is the subscription, before the event is observed
//! ([`crate::domain::ports::EventConfirmer::resolve`]). The refund is then the sale's payment,
//! refunded (its id is the sale's, as the sale's own webhook and the reconcile stored it).

use serde::Deserialize;

use super::online::{PayPalApi, TokenError};
use super::sync::is_subscription_id;
use crate::domain::ports::{Clock, ConfirmError, SecretSource};
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::{EventKind, QueuedEvent};
use crate::providers::client::Admission;

/// The refunded sale, as far as it is read: its subscription.
#[derive(Deserialize)]
struct Sale {
    #[serde(default)]
    billing_agreement_id: Option<String>,
}

/// Whether `id` may be a sale id in a path: PayPal's are letters and digits.
fn is_sale_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn unavailable(error: &TokenError) -> ConfirmError {
    let code = match error {
        TokenError::Secret(_) => "paypal_secret_unavailable",
        TokenError::Grant(error) => error.code(),
    };
    ConfirmError::Unavailable(code.to_owned())
}

/// `event` with its subscription, when it is a PayPal refund that names none: read from the
/// refunded sale. `None` for any other event, and for a sale PayPal does not know or that
/// belongs to no subscription (the refund is then ignored as `no_membership`).
///
/// # Errors
/// PayPal could not be asked now (retryable: the message is delivered again).
pub async fn resolve<A: Admission, S: SecretSource, C: Clock + Clone>(
    api: &PayPalApi<A, S, C>,
    event: &QueuedEvent,
) -> Result<Option<QueuedEvent>, ConfirmError> {
    if event.provider != Source::PayPal
        || event.event_kind() != EventKind::PayPalSaleRefunded
        || event.subject.subscription_id.is_some()
    {
        return Ok(None);
    }
    let Some(sale_id) = event
        .subject
        .payment_id
        .as_deref()
        .filter(|id| is_sale_id(id))
    else {
        return Ok(None);
    };
    let Some(body) = api
        .get(&format!("/v1/payments/sale/{sale_id}"))
        .await
        .map_err(|error| unavailable(&error))?
    else {
        tracing::info!(
            code = "paypal_sale_unknown",
            "PayPal does not know the refunded sale"
        );
        return Ok(None);
    };
    let sale: Sale = serde_json::from_slice(&body)
        .map_err(|_| ConfirmError::Unavailable("paypal_malformed_sale".to_owned()))?;
    let Some(subscription) = sale
        .billing_agreement_id
        .filter(|id| is_subscription_id(id))
    else {
        return Ok(None);
    };
    let mut resolved = event.clone();
    resolved.subject.subscription_id = Some(subscription.into());
    Ok(Some(resolved))
}
