//! Resend's e-mail events (`docs/providers.md`, "Resend webhooks"): what a verified delivery says
//! about its recipients. `email.bounced` with `bounce.type` `Permanent` (a hard bounce) and
//! `email.complained` suppress the recipients; every other kind, and a transient or undetermined
//! bounce, does not.

use serde::Deserialize;

use crate::domain::notify::suppression::Feedback;
use crate::domain::ports::SuppressionReason;
use crate::domain::webhooks::event::NormaliseError;

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Data,
}

#[derive(Deserialize, Default)]
struct Data {
    #[serde(default)]
    to: Recipients,
    #[serde(default)]
    bounce: Option<Bounce>,
}

/// `to` is a list in events; a lone string is taken as a list of one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Recipients {
    Many(Vec<String>),
    One(String),
}

impl Default for Recipients {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

#[derive(Deserialize)]
struct Bounce {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// The event's kind and what it means for its recipients.
///
/// # Errors
/// [`NormaliseError::InvalidJson`] when the body is not an event envelope (`{type, data}`).
pub fn feedback(raw: &[u8]) -> Result<(String, Feedback), NormaliseError> {
    let envelope: Envelope = serde_json::from_slice(raw)
        .map_err(|error| NormaliseError::InvalidJson(error.to_string()))?;
    let reason = match envelope.kind.as_str() {
        "email.complained" => Some(SuppressionReason::Complained),
        "email.bounced"
            if envelope
                .data
                .bounce
                .and_then(|bounce| bounce.kind)
                .is_some_and(|kind| kind.eq_ignore_ascii_case("permanent")) =>
        {
            Some(SuppressionReason::Bounced)
        }
        _ => None,
    };
    let recipients = match envelope.data.to {
        Recipients::Many(list) => list,
        Recipients::One(one) => vec![one],
    };
    Ok((envelope.kind, Feedback { reason, recipients }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> Option<SuppressionReason> {
        feedback(body.as_bytes()).unwrap().1.reason
    }

    #[test]
    fn complaints_and_hard_bounces_suppress_and_nothing_else_does() {
        let to = r#""to":["ann@example.com"]"#;
        assert_eq!(
            reason(&format!(r#"{{"type":"email.complained","data":{{{to}}}}}"#)),
            Some(SuppressionReason::Complained)
        );
        assert_eq!(
            reason(&format!(
                r#"{{"type":"email.bounced","data":{{{to},"bounce":{{"type":"Permanent","subType":"General"}}}}}}"#
            )),
            Some(SuppressionReason::Bounced)
        );
        for body in [
            format!(
                r#"{{"type":"email.bounced","data":{{{to},"bounce":{{"type":"Transient"}}}}}}"#
            ),
            format!(r#"{{"type":"email.bounced","data":{{{to}}}}}"#),
            format!(r#"{{"type":"email.delivered","data":{{{to}}}}}"#),
            r#"{"type":"domain.updated","data":{"id":"d_1"}}"#.to_owned(),
        ] {
            assert_eq!(reason(&body), None, "{body}");
        }
    }

    #[test]
    fn recipients_are_read_from_a_list_or_a_string() {
        let (kind, list) =
            feedback(br#"{"type":"email.complained","data":{"to":["a@x.io","b@x.io"]}}"#).unwrap();
        assert_eq!(kind, "email.complained");
        assert_eq!(list.recipients, ["a@x.io", "b@x.io"]);
        let (_, one) = feedback(br#"{"type":"email.complained","data":{"to":"a@x.io"}}"#).unwrap();
        assert_eq!(one.recipients, ["a@x.io"]);
        assert!(feedback(b"[]").is_err());
    }
}
