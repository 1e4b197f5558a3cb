//! A Gumroad ping → one [`Event`] (`docs/providers.md`, "Gumroad"). Gumroad signs nothing, so a
//! ping is admitted by its URL's token, which leads to one connection ([`PingRoute`]); this module
//! then checks what the body says against it and names the event:
//!
//! - `resource_name` is required (our `post_url` is only registered through resource
//!   subscriptions, which always send it).
//! - The sale family (`sale`, `refund`, `dispute`, `dispute_won`) needs `sale_id` and
//!   `seller_id`, which must be the connection's; the subscription family (`cancellation`,
//!   `subscription_*`) needs `subscription_id` and carries no seller, so its `seller_id`, when
//!   present, must match.
//! - The event id, which deduplicates deliveries, is `<resource>:<sale or subscription id>`, then
//!   `@<unix seconds>` of the event's own time field when it has one (`sale_timestamp`,
//!   `cancelled_at`, `ended_at`, `restarted_at`, `effective_as_of`): a retried delivery is the same
//!   event, a recurring charge or a second cancellation of the same subscription another.

use chrono::{DateTime, Utc};

use super::form::Form;
use crate::domain::connections::{PingRoute, hash_matches, hash_token, is_token_shaped};
use crate::domain::json::Id;
use crate::domain::ports::{ClaimStore, ConnectionStore, Publisher};
use crate::domain::time::parse_time_str;
use crate::domain::webhooks::Source;
use crate::domain::webhooks::event::{Event, EventKind, NormaliseError, Subject};
use crate::domain::webhooks::ingest::{Accepted, IngestError, claim_and_enqueue};

/// Why a ping is refused before it is claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    #[error(transparent)]
    Malformed(#[from] NormaliseError),
    #[error("the ping's seller is not the connected account")]
    SellerMismatch,
}

/// The resources of the sale family: the payload of a purchase.
const SALE_FAMILY: [&str; 4] = ["sale", "refund", "dispute", "dispute_won"];

/// The time field that makes each resource's event distinct.
fn time_field(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "sale" | "refund" | "dispute" | "dispute_won" => "sale_timestamp",
        "cancellation" => "cancelled_at",
        "subscription_ended" => "ended_at",
        "subscription_restarted" => "restarted_at",
        "subscription_updated" => "effective_as_of",
        _ => return None,
    })
}

/// The event a ping is, checked against the connection its token leads to. `raw` is
/// [`Form::to_json`] of `form`.
pub fn normalise<'a>(
    form: &Form,
    route: &PingRoute,
    raw: &'a str,
    received_at: DateTime<Utc>,
) -> Result<Event<'a>, PingError> {
    let resource = form
        .text("resource_name")
        .ok_or(NormaliseError::MissingField("resource_name"))?;
    let sale_family = SALE_FAMILY.contains(&resource);
    let seller = form.text("seller_id");
    if sale_family && seller.is_none() {
        return Err(NormaliseError::MissingField("seller_id").into());
    }
    if seller.is_some_and(|seller| seller != route.seller_id) {
        return Err(PingError::SellerMismatch);
    }
    let id_field = if sale_family {
        "sale_id"
    } else {
        "subscription_id"
    };
    let id = form
        .text(id_field)
        .ok_or(NormaliseError::MissingField(id_field))?;
    let occurred = match time_field(resource).map(|field| (field, form.text(field))) {
        Some((field, Some(text))) => {
            Some(parse_time_str(text).ok_or(NormaliseError::InvalidTimestamp(field))?)
        }
        _ => None,
    };
    let event_id = match occurred {
        Some(at) => format!("{resource}:{id}@{}", at.timestamp()),
        None => format!("{resource}:{id}"),
    };
    let id_of = |field: &str| form.text(field).map(Id::from);
    let subject = Subject {
        membership_id: id_of("subscription_id"),
        subscription_id: id_of("subscription_id"),
        payment_id: if sale_family {
            Some(Id::from(id))
        } else {
            None
        },
        product_id: id_of("product_id"),
        user_id: id_of("purchaser_id").or_else(|| id_of("user_id")),
        company_id: Some(Id::from(route.company_id.as_str())),
        ..Subject::default()
    };
    Ok(Event {
        source: Source::Gumroad,
        event_id,
        kind: EventKind::parse(Source::Gumroad, resource),
        subject,
        occurred_at: occurred.unwrap_or(received_at),
        received_at,
        raw,
    })
}

/// Accepts `application/x-www-form-urlencoded` with any parameters.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), IngestError> {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(IngestError::NotForm)
    }
}

/// What receiving a ping needs from the world.
pub struct PingDeps<'a, T, K, P> {
    pub connections: &'a T,
    pub claims: &'a K,
    pub publisher: &'a P,
    pub events_queue_url: &'a str,
}

/// `POST /webhooks/gumroad/{token}` with a form body within the limit: a token of the wrong shape
/// is refused with no request; the body is decoded before anything is read; then one read of the
/// token's route (its stored hash compared in constant time), the seller checked, and the event
/// claimed and enqueued ([`claim_and_enqueue`]): three AWS requests for an accepted ping, one for
/// a refused token, none for a malformed body.
pub async fn receive<T: ConnectionStore, K: ClaimStore, P: Publisher>(
    deps: &PingDeps<'_, T, K, P>,
    token: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    if !is_token_shaped(token) {
        return Err(IngestError::UnknownWebhookToken);
    }
    let form = super::form::parse(body)?;
    let hash = hash_token(token);
    let route = deps
        .connections
        .ping_route(&hash)
        .await
        .map_err(|error| IngestError::Dependency {
            dependency: "connections",
            detail: error.to_string(),
        })?
        .filter(|route| hash_matches(&hash, &route.token_hash))
        .ok_or(IngestError::UnknownWebhookToken)?;
    let raw = form.to_json();
    let event = normalise(&form, &route, &raw, now).map_err(|error| match error {
        PingError::Malformed(error) => IngestError::Malformed(error),
        PingError::SellerMismatch => IngestError::SellerMismatch,
    })?;
    claim_and_enqueue(
        deps.claims,
        deps.publisher,
        deps.events_queue_url,
        event,
        body,
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::super::form::parse;
    use super::*;

    fn route() -> PingRoute {
        PingRoute {
            company_id: "biz_1".into(),
            seller_id: "seller_1".into(),
            token_hash: "h".into(),
        }
    }

    fn event(body: &str) -> Result<(EventKind, String, Subject, DateTime<Utc>), PingError> {
        let form = parse(body.as_bytes()).map_err(PingError::from)?;
        let raw = form.to_json();
        normalise(&form, &route(), &raw, DateTime::UNIX_EPOCH)
            .map(|e| (e.kind, e.event_id, e.subject, e.occurred_at))
    }

    #[test]
    fn a_sale_is_named_by_its_sale_id_and_time_and_lands_in_the_connections_company() {
        let (kind, id, subject, at) = event(
            "resource_name=sale&seller_id=seller_1&sale_id=s1&subscription_id=sub1&product_id=p1&purchaser_id=u1&sale_timestamp=2025-01-02T03:04:05Z",
        )
        .unwrap();
        assert_eq!(kind, EventKind::GumroadSale);
        assert_eq!(id, "sale:s1@1735787045");
        assert_eq!(subject.company_id.as_deref(), Some("biz_1"));
        assert_eq!(subject.membership_id.as_deref(), Some("sub1"));
        assert_eq!(subject.payment_id.as_deref(), Some("s1"));
        assert_eq!(subject.user_id.as_deref(), Some("u1"));
        assert_eq!(at.timestamp(), 1_735_787_045);
    }

    #[test]
    fn a_cancellation_is_named_by_its_subscription_and_cancel_time() {
        let (kind, id, _, _) = event(
            "resource_name=cancellation&subscription_id=sub1&cancelled=true&cancelled_at=2025-01-02T03:04:05Z&user_id=u1",
        )
        .unwrap();
        assert_eq!(kind, EventKind::GumroadCancellation);
        assert_eq!(id, "cancellation:sub1@1735787045");
    }

    #[test]
    fn a_refund_of_a_sale_is_another_event_than_the_sale() {
        let body = "seller_id=seller_1&sale_id=s1&sale_timestamp=2025-01-02T03:04:05Z";
        let (_, sale, ..) = event(&format!("resource_name=sale&{body}")).unwrap();
        let (kind, refund, ..) = event(&format!("resource_name=refund&{body}")).unwrap();
        assert_eq!(kind, EventKind::GumroadRefund);
        assert_ne!(sale, refund);
    }

    #[test]
    fn another_sellers_ping_is_refused() {
        for body in [
            "resource_name=sale&seller_id=seller_2&sale_id=s1",
            "resource_name=cancellation&seller_id=seller_2&subscription_id=sub1",
        ] {
            assert_eq!(
                event(body).unwrap_err(),
                PingError::SellerMismatch,
                "{body}"
            );
        }
    }

    #[test]
    fn missing_fields_and_bad_times_are_named() {
        let missing = |field| PingError::Malformed(NormaliseError::MissingField(field));
        assert_eq!(event("sale_id=s1").unwrap_err(), missing("resource_name"));
        assert_eq!(
            event("resource_name=sale&sale_id=s1").unwrap_err(),
            missing("seller_id")
        );
        assert_eq!(
            event("resource_name=sale&seller_id=seller_1").unwrap_err(),
            missing("sale_id")
        );
        assert_eq!(
            event("resource_name=subscription_ended").unwrap_err(),
            missing("subscription_id")
        );
        assert_eq!(
            event("resource_name=subscription_ended&subscription_id=x&ended_at=soon").unwrap_err(),
            PingError::Malformed(NormaliseError::InvalidTimestamp("ended_at"))
        );
    }
}
