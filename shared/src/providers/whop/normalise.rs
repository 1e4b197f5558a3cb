//! Whop's webhook envelopes (API v1 and legacy v5/v2) → [`crate::domain::webhooks::event::Event`].

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::domain::json::{self, Field, Id};
use crate::domain::webhooks::event::{NormaliseError, Subject, field_time, header_id, header_time};
use crate::domain::webhooks::{Scheme, Verified};
use crate::providers::Parts;

/// - Standard Webhooks scheme (API v1): id = `webhook-id` header, else body `id`; kind = `type`
///   (or a legacy `action`); time = `timestamp`, else `created_at`, else the header time.
/// - Legacy schemes (v5/v2): kind = `action`; time = the header time; id = `whop_` + 32 hex of
///   SHA-256(body), so a redelivery keeps its id even when re-signed.
pub(crate) fn normalise<'a>(
    verified: &Verified<'_>,
    raw: &'a str,
) -> Result<Parts<'a>, NormaliseError> {
    let mut envelope = WhopEnvelope::default();
    crate::providers::parse(raw, &mut envelope)?;
    let standard = verified.scheme == Scheme::StandardWebhooks;
    let event_id = if standard {
        header_id(verified)
            .or_else(|| envelope.id.into_str().map(Cow::into_owned))
            .ok_or(NormaliseError::MissingEventId)?
    } else {
        legacy_event_id(raw)
    };
    // The v1 envelope names it `type`, the legacy one `action`; take either from either scheme.
    let (first, second) = if standard {
        (envelope.kind, envelope.action)
    } else {
        (envelope.action, envelope.kind)
    };
    let kind = first
        .into_str()
        .or_else(|| second.into_str())
        .ok_or(NormaliseError::MissingEventType)?;
    let occurred_at = if standard {
        match field_time(&envelope.timestamp, "timestamp")? {
            Some(time) => time,
            None => match field_time(&envelope.created_at, "created_at")? {
                Some(time) => time,
                None => header_time(verified)?,
            },
        }
    } else {
        header_time(verified)?
    };

    // Chosen by reference, each kept id built once.
    let data = &envelope.data;
    let resource = whop_resource(&kind);
    let main = |of: Resource| data.id.id().filter(|_| resource == of);
    let subject = Subject {
        membership_id: first_id([
            main(Resource::Membership),
            data.membership.id(),
            data.membership_id.id(),
        ]),
        payment_id: first_id([
            main(Resource::Payment),
            data.payment.id(),
            data.payment_id.id(),
        ]),
        invoice_id: main(Resource::Invoice).map(Id::from),
        user_id: first_id([data.user.id(), data.user_id.id()]),
        product_id: first_id([data.product.id(), data.product_id.id()]),
        plan_id: first_id([data.plan.id(), data.plan_id.id()]),
        company_id: first_id([
            data.company.id(),
            data.company_id.id(),
            envelope.company_id.id(),
            envelope.company.id(),
        ]),
        ..Subject::default()
    };
    Ok(Parts {
        event_id,
        kind,
        subject,
        occurred_at,
    })
}

/// `whop_` + the first 16 bytes (32 hex digits) of SHA-256(body). The body alone, not the
/// signature's timestamp: a sender that re-signs each retry with a new `t` (and the bare form,
/// whose timestamp is not signed at all) must still map a redelivery to the same id. Two
/// byte-identical legacy bodies describe the same state, so merging them loses nothing.
/// The first id present, owned.
fn first_id<const N: usize>(ids: [Option<&str>; N]) -> Option<Id> {
    ids.into_iter().flatten().next().map(Id::from)
}

fn legacy_event_id(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(raw.as_bytes());
    let mut id = String::with_capacity(37);
    id.push_str("whop_");
    for byte in digest.iter().take(16) {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

/// What an event's main object is, which decides the subject field its `id` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Membership,
    Payment,
    Invoice,
    Unknown,
}

/// From the event name: the first dotted segment, app-webhook spellings included.
fn whop_resource(kind: &str) -> Resource {
    let name = kind.strip_prefix("app_").unwrap_or(kind);
    let name = name.strip_prefix("app.").unwrap_or(name);
    // The delimiters are ASCII, so a byte search finds the same split as a `char` one.
    let segment_len = name
        .bytes()
        .position(|byte| byte == b'.' || byte == b'_')
        .unwrap_or(name.len());
    let segment = name.get(..segment_len).unwrap_or_default();
    // `payment.*`, but not `payout_*`/`payment_method.*`-like families.
    let exact = name.as_bytes().get(segment.len()).copied();
    match (segment, exact) {
        ("membership", Some(b'.' | b'_')) => Resource::Membership,
        ("payment", Some(b'.')) => Resource::Payment,
        ("payment", Some(b'_')) if kind.starts_with("app.") => Resource::Payment,
        ("invoice", Some(b'.')) => Resource::Invoice,
        _ => Resource::Unknown,
    }
}

json::lenient_object! {
    /// `{id, api_version, type, timestamp | created_at, company_id, data}` (API v1) and
    /// `{action, api_version, data, company}` (legacy v5/v2).
    struct WhopEnvelope / WhopEnvelopeKey {
        "id" => id: Field,
        "type" => kind: Field,
        "action" => action: Field,
        "timestamp" => timestamp: Field,
        "created_at" => created_at: Field,
        "company_id" => company_id: Field,
        "company" => company: Field,
        "data" => data: WhopData,
    }
}

json::lenient_object! {
    /// A Whop resource: v1 nests related objects (`user: {id, …}`), v5 flattens them (`user_id`).
    struct WhopData / WhopDataKey {
        "id" => id: Field,
        "membership" => membership: Field,
        "membership_id" => membership_id: Field,
        "payment" => payment: Field,
        "payment_id" => payment_id: Field,
        "user" => user: Field,
        "user_id" => user_id: Field,
        "company" => company: Field,
        "company_id" => company_id: Field,
        "product" => product: Field,
        "product_id" => product_id: Field,
        "plan" => plan: Field,
        "plan_id" => plan_id: Field,
    }
}
