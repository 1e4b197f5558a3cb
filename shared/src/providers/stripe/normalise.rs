//! Stripe's webhook envelope → [`crate::domain::webhooks::event::Event`].

use crate::domain::json::{self, Field};
use crate::domain::webhooks::Verified;
use crate::domain::webhooks::event::{
    NormaliseError, Subject, body_id_and_kind, field_time, header_time,
};
use crate::providers::Parts;

/// `id`, `type`, `created` (else the header time); thin (`v2.core.event`) events are rejected.
pub(crate) fn normalise<'a>(
    verified: &Verified<'_>,
    raw: &'a str,
) -> Result<Parts<'a>, NormaliseError> {
    let mut envelope = StripeEnvelope::default();
    crate::providers::parse(raw, &mut envelope)?;
    match envelope.object.into_str().as_deref() {
        None | Some("event") => {}
        Some("v2.core.event") => {
            return Err(NormaliseError::UnsupportedEnvelope("stripe_thin_event"));
        }
        Some(_) => return Err(NormaliseError::UnsupportedEnvelope("stripe_object")),
    }
    let (event_id, kind) = body_id_and_kind(envelope.id, envelope.kind)?;
    let occurred_at = match field_time(&envelope.created, "created")? {
        Some(time) => time,
        None => header_time(verified)?,
    };

    let object = envelope.data.object;
    let resource = stripe_resource(&kind)
        .or_else(|| stripe_resource_from_object(object.object.as_str()))
        .unwrap_or(Resource::Unknown);
    let mut subject = Subject::default();
    let id = object.id;
    match resource {
        Resource::Subscription => subject.subscription_id = id.into_id(),
        Resource::Invoice => subject.invoice_id = id.into_id(),
        Resource::Payment => subject.payment_id = id.into_id(),
        Resource::Customer => subject.customer_id = id.into_id(),
        Resource::Charge => subject.payment_id = id.into_id(),
        Resource::Dispute => subject.payment_id = object.charge.into_id(),
        Resource::Unknown => {}
    }
    // Where there is a payment intent, it is the payment: what `payment_intent.*` events name.
    if resource != Resource::Payment
        && let Some(payment_intent) = object.payment_intent.into_id()
    {
        subject.payment_id = Some(payment_intent);
    }
    subject.customer_id = subject.customer_id.or_else(|| object.customer.into_id());
    subject.subscription_id = subject
        .subscription_id
        .or_else(|| object.subscription.into_id())
        .or_else(|| object.parent.subscription_details.subscription.into_id());
    subject.invoice_id = subject.invoice_id.or_else(|| object.invoice.into_id());
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

/// What an event's main object is, which decides the subject field its `id` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Payment,
    Invoice,
    Subscription,
    Customer,
    Charge,
    Dispute,
    Unknown,
}

fn stripe_resource(kind: &str) -> Option<Resource> {
    let resource = if kind.starts_with("customer.subscription.") {
        Resource::Subscription
    } else if kind.starts_with("invoice.") {
        Resource::Invoice
    } else if kind.starts_with("payment_intent.") {
        Resource::Payment
    } else if kind.starts_with("charge.dispute.") {
        Resource::Dispute
    } else if kind.starts_with("charge.") {
        Resource::Charge
    } else {
        return None;
    };
    Some(resource)
}

/// For kinds we do not list: Stripe names the object's type in `data.object.object`.
fn stripe_resource_from_object(object: Option<&str>) -> Option<Resource> {
    match object? {
        "subscription" => Some(Resource::Subscription),
        "invoice" => Some(Resource::Invoice),
        "payment_intent" => Some(Resource::Payment),
        "charge" => Some(Resource::Charge),
        "dispute" => Some(Resource::Dispute),
        "customer" => Some(Resource::Customer),
        _ => None,
    }
}

// --- the borrowed envelope ---------------------------------------------------------------------

json::lenient_object! {
    /// `{id: "evt_…", object: "event", type, created, data: {object: {…}}}`.
    struct StripeEnvelope / StripeEnvelopeKey {
        "id" => id: Field,
        "object" => object: Field,
        "type" => kind: Field,
        "created" => created: Field,
        "data" => data: StripeData,
    }
}

json::lenient_object! {
    /// The event's `data`.
    struct StripeData / StripeDataKey {
        "object" => object: StripeObject,
    }
}

json::lenient_object! {
    /// The object the event is about. Its ids may be strings or expanded objects; [`Field`]
    /// reads both.
    struct StripeObject / StripeObjectKey {
        "id" => id: Field,
        "object" => object: Field,
        "customer" => customer: Field,
        "subscription" => subscription: Field,
        "invoice" => invoice: Field,
        "payment_intent" => payment_intent: Field,
        "charge" => charge: Field,
        "parent" => parent: StripeInvoiceParent,
    }
}

json::lenient_object! {
    /// Invoices since API 2025-03-31 (basil) name their subscription in
    /// `parent.subscription_details.subscription`.
    struct StripeInvoiceParent / StripeInvoiceParentKey {
        "subscription_details" => subscription_details: StripeSubscriptionDetails,
    }
}

json::lenient_object! {
    /// `parent.subscription_details`.
    struct StripeSubscriptionDetails / StripeSubscriptionDetailsKey {
        "subscription" => subscription: Field,
    }
}
