//! Gumroad's ping bodies on arbitrary bytes: the form parser, then the ping's normalisation
//! against a fixed connection.
//!
//! Properties:
//! - never panics;
//! - on `Ok`, `Form::to_json()` is a JSON object, and a normalised event's message reads back as
//!   a `QueuedEvent` with the same id, kind and company.

#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use shared::domain::connections::PingRoute;
use shared::domain::webhooks::event::QueuedEvent;
use shared::providers::gumroad::{form, ping};

fuzz_target!(|body: &[u8]| {
    let Ok(form) = form::parse(body) else {
        return;
    };
    let raw = form.to_json();
    let value: serde_json::Value = serde_json::from_str(&raw).expect("the form's JSON parses");
    assert!(value.is_object());
    let route = PingRoute {
        company_id: "biz_fuzz".into(),
        seller_id: "seller_fuzz".into(),
        token_hash: "h".into(),
    };
    if let Ok(event) = ping::normalise(&form, &route, &raw, DateTime::UNIX_EPOCH) {
        let queued: QueuedEvent =
            serde_json::from_str(&event.to_message()).expect("the message reads back");
        assert_eq!(queued.event_id, event.event_id);
        assert_eq!(queued.kind, event.kind.as_str());
        assert_eq!(queued.subject.company_id.as_deref(), Some("biz_fuzz"));
    }
});
