//! One ERROR event as it leaves the process: read from the `tracing` event field by field and
//! scrubbed on the way (README "Error reporting"), the same for every sink.
//!
//! Kept: the message and free-text fields with e-mail addresses, `+`-prefixed phone numbers,
//! URL query strings and long token-like words masked, each cut to [`MAX_TEXT`] characters; ids
//! (`*.id`, `*.pk`) and codes (`code`, `*.reason`) as they are when they look like ids; numbers and
//! booleans. Dropped: every field whose name speaks of a person, a credential or a payload
//! ([`DROPPED`]).

use std::fmt;
use std::time::SystemTime;

use tracing::field::{Field, Visit};

/// The most characters a text (message or field) keeps.
pub const MAX_TEXT: usize = 512;
/// Name fragments of the fields never sent: people, credentials, payloads.
pub const DROPPED: [&str; 17] = [
    "email",
    "mail",
    "phone",
    "user",
    "name",
    "address",
    "ip",
    "token",
    "secret",
    "key",
    "password",
    "authorization",
    "cookie",
    "header",
    "body",
    "payload",
    "raw",
];
/// Words this long or longer made of letters and digits are taken for credentials.
const TOKEN_LEN: usize = 24;

/// A field's value as reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One scrubbed ERROR event.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub time: SystemTime,
    /// The module that logged it (`tracing`'s target).
    pub target: String,
    pub message: String,
    /// The event's `code` or `*.reason` field, when it looks like a code.
    pub code: Option<String>,
    /// The other fields kept, in the order they were logged.
    pub fields: Vec<(String, Value)>,
}

impl Report {
    /// The scrubbed report of `event`.
    pub fn from_event(event: &tracing::Event<'_>) -> Self {
        let mut report = Self {
            time: SystemTime::now(),
            target: event.metadata().target().to_owned(),
            message: String::new(),
            code: None,
            fields: Vec::new(),
        };
        event.record(&mut report);
        report
    }

    fn keep(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            if let Value::Text(text) = value {
                self.message = scrub_text(&text);
            }
            return;
        }
        if DROPPED.iter().any(|fragment| name.contains(fragment)) {
            return;
        }
        let value = match value {
            Value::Text(text) => {
                let is_code = name == "code" || name == "reason" || name.ends_with(".reason");
                let is_id = name.ends_with(".id") || name.ends_with(".pk") || name == "id";
                if (is_code || is_id) && looks_like_id(&text) {
                    if is_code && self.code.is_none() {
                        self.code = Some(text);
                        return;
                    }
                    Value::Text(text)
                } else {
                    Value::Text(scrub_text(&text))
                }
            }
            other => other,
        };
        self.fields.push((name.to_owned(), value));
    }
}

impl Visit for Report {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, Value::Text(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.keep(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.keep(
            field,
            i64::try_from(value).map_or(Value::Float(value as f64), Value::Int),
        );
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.keep(field, Value::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.keep(field, Value::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.keep(field, Value::Text(format!("{value:?}")));
    }
}

/// An id or a code: short, printable, no spaces, no `@`.
fn looks_like_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
}

/// `text` with personal and secret-looking words masked, cut to [`MAX_TEXT`] characters.
pub fn scrub_text(text: &str) -> String {
    let is_separator = |c: char| c.is_whitespace() || "\"'`,;()[]{}<>=".contains(c);
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        // Sentence punctuation after a word stays outside the mask.
        let core = word.trim_end_matches(['.', ':', '!', '?']);
        out.push_str(mask(core));
        out.push_str(&word[core.len()..]);
        word.clear();
    };
    // Inside a URL's query string, which is dropped up to the next space.
    let mut in_query = false;
    for c in text.chars() {
        if in_query && !c.is_whitespace() {
            continue;
        }
        in_query = false;
        if c == '?' && word.contains("://") {
            word.push_str("?[query]");
            in_query = true;
        } else if is_separator(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    match out.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => {
            out.truncate(cut);
            out.push('…');
            out
        }
        None => out,
    }
}

/// One word, masked when it looks personal or secret.
fn mask(word: &str) -> &str {
    if let Some(at) = word.find('@')
        && word[at..].contains('.')
    {
        return "[email]";
    }
    if let Some(digits) = word.strip_prefix('+')
        && digits.bytes().filter(u8::is_ascii_digit).count() >= 7
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-(). ".contains(&b))
    {
        return "[phone]";
    }
    let token_like = word.len() >= TOKEN_LEN
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+/.:".contains(&b));
    if token_like && !word.contains("://") {
        return "[redacted]";
    }
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_phones_queries_and_tokens_are_masked_and_the_rest_kept() {
        assert_eq!(
            scrub_text("mail to jane.doe@example.com: failed (+1 555 0100 kept, +15550100123 not)"),
            "mail to [email]: failed (+1 555 0100 kept, [phone] not)"
        );
        assert_eq!(
            scrub_text("GET https://api.example.com/v1/x?access_token=abc&b=c 401"),
            "GET https://api.example.com/v1/x?[query] 401"
        );
        assert_eq!(
            scrub_text(
                "Bearer sk_live_51HabcdefGHIJKLmnopQRST failed, key=rk_test_0123456789abcdefghijkl"
            ),
            "Bearer [redacted] failed, key=[redacted]"
        );
        assert_eq!(
            scrub_text("the state table failed: service error"),
            "the state table failed: service error"
        );
    }

    #[test]
    fn a_long_text_is_cut_to_the_limit() {
        let text = "a ".repeat(MAX_TEXT);
        let scrubbed = scrub_text(&text);
        assert_eq!(scrubbed.chars().count(), MAX_TEXT + 1);
        assert!(scrubbed.ends_with('…'));
    }
}
