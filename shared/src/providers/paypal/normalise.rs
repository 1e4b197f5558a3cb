//! PayPal's webhook envelope → [`crate::domain::webhooks::event::Event`].
//!
//! `{id: "WH-…", event_type, create_time, resource_type, resource: {…}}`. The subscription
//! (`I-…`, the membership) is `resource.id` for `BILLING.SUBSCRIPTION.*` and
//! `resource.billing_agreement_id` for a sale (`PAYMENT.SALE.*`), whose own id is the payment.
//! A refund (`PAYMENT.SALE.REFUNDED`) names only its `sale_id`.

use crate::domain::json::{self, Field};
use crate::domain::webhooks::Verified;
use crate::domain::webhooks::event::{
    NormaliseError, Subject, body_id_and_kind, field_time, header_time,
};
use crate::providers::Parts;

/// `id`, `event_type`, `create_time` (else the transmission time).
pub(crate) fn normalise<'a>(
    verified: &Verified<'_>,
    raw: &'a str,
) -> Result<Parts<'a>, NormaliseError> {
    let mut envelope = PayPalEnvelope::default();
    crate::providers::parse(raw, &mut envelope)?;
    let (event_id, kind) = body_id_and_kind(envelope.id, envelope.kind)?;
    let occurred_at = match field_time(&envelope.create_time, "create_time")? {
        Some(time) => time,
        None => header_time(verified)?,
    };
    let resource = envelope.resource;
    let mut subject = Subject::default();
    if kind.starts_with("BILLING.SUBSCRIPTION.") {
        subject.subscription_id = resource.id.into_id();
        subject.plan_id = resource.plan_id.into_id();
        subject.customer_id = resource.subscriber.payer_id.into_id();
    } else if kind.starts_with("PAYMENT.SALE.") {
        subject.subscription_id = resource.billing_agreement_id.into_id();
        subject.payment_id = resource.sale_id.into_id().or_else(|| resource.id.into_id());
    }
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

json::lenient_object! {
    /// The event.
    struct PayPalEnvelope / PayPalEnvelopeKey {
        "id" => id: Field,
        "event_type" => kind: Field,
        "create_time" => create_time: Field,
        "resource" => resource: PayPalResource,
    }
}

json::lenient_object! {
    /// A subscription, a sale or a refund: the ids ingest reads.
    struct PayPalResource / PayPalResourceKey {
        "id" => id: Field,
        "billing_agreement_id" => billing_agreement_id: Field,
        "sale_id" => sale_id: Field,
        "plan_id" => plan_id: Field,
        "subscriber" => subscriber: PayPalSubscriber,
    }
}

json::lenient_object! {
    /// `resource.subscriber`.
    struct PayPalSubscriber / PayPalSubscriberKey {
        "payer_id" => payer_id: Field,
    }
}
