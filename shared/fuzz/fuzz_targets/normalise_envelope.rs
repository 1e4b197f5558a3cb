//! `normalise` on arbitrary bytes, for every (source, scheme) pair.
//!
//! Input: the first byte picks the verified headers (a message id or none, and one of a few fixed
//! header timestamps); the rest is the body, as is (so JSON seeds and a JSON dictionary work).
//!
//! Properties:
//! - never panics;
//! - on `Ok`, `Event::to_message()` is JSON (`serde_json::Value`), unless the body nests deeper
//!   than `serde_json`'s recursion limit leaves room for (see [`MAX_RAW_DEPTH`]): then the parse may
//!   only fail with "recursion limit exceeded";
//! - on `Ok`, the message reads back as a `QueuedEvent` equal to the event (provider, id, kind,
//!   subject, times, and `raw` equal to the body parsed on its own).
//!
//! Known findings (the second property fails on them): see `README.md`.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use shared::domain::webhooks::event::{Event, QueuedEvent};
use shared::providers::normalise;
use shared::domain::webhooks::{Scheme, Source, Verified};

const SCHEMES: [Scheme; 4] = [
    Scheme::StandardWebhooks,
    Scheme::WhopLegacy,
    Scheme::WhopBare,
    Scheme::Stripe,
];

/// `webhook-id` values a sender could send (visible ASCII), and none.
const MESSAGE_IDS: [Option<&str>; 4] = [
    None,
    Some("msg_2Lh9KQ6qJ8bW4Zr0"),
    Some(""),
    Some("msg_\"quoted\"\\back/slash"),
];

/// Header timestamps: seconds, milliseconds, and the edges `header_time` must refuse or take.
const TIMESTAMPS: [i64; 4] = [1_700_000_000, 1_700_000_000_123, 0, -1];

/// `serde_json`'s parser (recursion limit 128) takes at most 127 nested arrays/objects; the message
/// object is one of them, so the embedded body may nest 126 deep and still parse (measured: a body
/// 126 deep parses inside the message, one 127 deep fails with "recursion limit exceeded").
const MAX_RAW_DEPTH: usize = 126;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let message_id = MESSAGE_IDS[usize::from(selector & 0x03)];
    let timestamp = TIMESTAMPS[usize::from((selector >> 2) & 0x03)];
    let received_at =
        DateTime::<Utc>::from_timestamp(1_700_000_100, 0).expect("a valid receive time");
    for source in Source::ALL {
        for scheme in SCHEMES {
            let verified = Verified {
                scheme,
                timestamp,
                message_id,
            };
            if let Ok(event) = normalise(source, &verified, body, received_at) {
                check(&event, body);
            }
        }
    }
});

fn check(event: &Event<'_>, body: &[u8]) {
    let message = event.to_message();
    let depth = max_depth(body);
    let queued: QueuedEvent = match serde_json::from_str(&message) {
        Ok(queued) => queued,
        Err(error) if depth > MAX_RAW_DEPTH => {
            assert!(
                error.to_string().starts_with("recursion limit exceeded"),
                "a body nested {depth} deep gave a message that does not parse for another reason: \
                 {error}\nmessage: {message}",
            );
            return;
        }
        Err(error) => panic!("the message does not read back as a QueuedEvent: {error}\nmessage: {message}"),
    };
    assert_eq!(
        queued.provider, event.source,
        "provider\nmessage: {message}"
    );
    assert_eq!(
        queued.event_id, event.event_id,
        "event_id\nmessage: {message}"
    );
    assert_eq!(queued.kind, event.kind.as_str(), "kind\nmessage: {message}");
    assert_eq!(
        queued.event_kind(),
        event.kind,
        "kind read back\nmessage: {message}"
    );
    assert_eq!(queued.subject, event.subject, "subject\nmessage: {message}");
    assert_eq!(
        queued.occurred_at, event.occurred_at,
        "occurred_at\nmessage: {message}"
    );
    assert_eq!(
        queued.received_at, event.received_at,
        "received_at\nmessage: {message}"
    );
    assert!(!queued.raw.get().is_empty(), "raw\nmessage: {message}");
}

/// The deepest nesting of arrays and objects in `json` (strings skipped).
fn max_depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
