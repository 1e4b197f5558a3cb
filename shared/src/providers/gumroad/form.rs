//! Gumroad's ping bodies: `application/x-www-form-urlencoded`, as Rails' `to_params` writes them
//! (`docs/providers.md`, "Gumroad"): every value a string, nested hashes as `card[visual]=…`,
//! arrays as `purchase_ids[]=…`, custom fields as top-level keys.
//!
//! [`parse`] is strict where a lenient decoder would guess: a `%` not followed by two hex digits,
//! a value that is not UTF-8 once decoded, a key both plain and nested, too many fields or too
//! long a key are each an [`NormaliseError::InvalidForm`] saying so. The result is one JSON object
//! (`card[visual]` → `{"card": {"visual": …}}`, `purchase_ids[]` → `{"purchase_ids": […]}`), the
//! form the queued event carries.

use serde_json::{Map, Value};

use crate::domain::webhooks::event::NormaliseError;

/// Most fields read from one body (a sale with shipping, variants and custom fields has ~60).
pub const MAX_FIELDS: usize = 512;
/// Longest key read.
pub const MAX_KEY_BYTES: usize = 256;

/// A ping's fields, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form(Map<String, Value>);

impl Form {
    /// A top-level field's text, trimmed; `None` when absent, empty or not a plain value.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    }

    /// The fields as one JSON object.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

fn invalid(why: impl Into<String>) -> NormaliseError {
    NormaliseError::InvalidForm(why.into())
}

/// Decodes a form body; see the module's rules.
pub fn parse(body: &[u8]) -> Result<Form, NormaliseError> {
    let mut form = Map::new();
    if body.is_empty() {
        return Err(invalid("the body is empty"));
    }
    for (index, pair) in body.split(|&b| b == b'&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        if index >= MAX_FIELDS {
            return Err(invalid(format!("more than {MAX_FIELDS} fields")));
        }
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let key = decode(key)?;
        if key.is_empty() {
            return Err(invalid("a field has no name"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid(format!(
                "a field name is over {MAX_KEY_BYTES} bytes"
            )));
        }
        insert(&mut form, &key, Value::String(decode(value)?))?;
    }
    if form.is_empty() {
        return Err(invalid("the body has no fields"));
    }
    Ok(Form(form))
}

/// Puts `value` under `key`: plain, `name[]` (appended) or `name[inner]` (one level; deeper
/// brackets stay in the inner key).
fn insert(form: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), NormaliseError> {
    let conflict = || {
        invalid(format!(
            "`{key}` conflicts with another field of the same name"
        ))
    };
    let Some((name, rest)) = key.split_once('[').filter(|(name, _)| !name.is_empty()) else {
        // A repeated plain key keeps its last value, as Rack reads it.
        if matches!(form.get(key), Some(Value::Array(_) | Value::Object(_))) {
            return Err(conflict());
        }
        form.insert(key.to_owned(), value);
        return Ok(());
    };
    let Some(inner) = rest.strip_suffix(']') else {
        return Err(invalid(format!("`{key}` has an unclosed bracket")));
    };
    let slot = form.entry(name.to_owned());
    if inner.is_empty() {
        match slot.or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(items) => items.push(value),
            _ => return Err(conflict()),
        }
    } else {
        match slot.or_insert_with(|| Value::Object(Map::new())) {
            Value::Object(fields) => {
                fields.insert(inner.to_owned(), value);
            }
            _ => return Err(conflict()),
        }
    }
    Ok(())
}

/// `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, NormaliseError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    (Some(high), Some(low)) => out.push(u8::try_from(high * 16 + low).unwrap_or(0)),
                    _ => return Err(invalid("a `%` is not followed by two hex digits")),
                }
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).map_err(|_| invalid("a field is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_arrays_and_custom_fields_become_one_json_object() {
        let form = parse(
            b"seller_id=s1&card%5Bvisual%5D=**** 4242&card[type]=visa&purchase_ids[]=p1&purchase_ids[]=p2&Your+name=Ada+L%C3%B6&test=true",
        )
        .unwrap();
        assert_eq!(form.text("seller_id"), Some("s1"));
        assert_eq!(form.text("Your name"), Some("Ada Lö"));
        assert_eq!(form.text("test"), Some("true"));
        let json: Value = serde_json::from_str(&form.to_json()).unwrap();
        assert_eq!(json["card"]["visual"], "**** 4242");
        assert_eq!(json["card"]["type"], "visa");
        assert_eq!(json["purchase_ids"], serde_json::json!(["p1", "p2"]));
        // Nested fields are not plain text.
        assert_eq!(form.text("card"), None);
    }

    #[test]
    fn a_repeated_plain_key_keeps_its_last_value_and_empty_pairs_are_skipped() {
        let form = parse(b"a=1&&a=2&b=&c").unwrap();
        assert_eq!(form.text("a"), Some("2"));
        assert_eq!(form.text("b"), None);
        assert_eq!(form.fields().get("c"), Some(&Value::String(String::new())));
    }

    #[test]
    fn malformed_bodies_are_refused_with_what_is_wrong() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "empty"),
            (b"&&&", "no fields"),
            (b"a=%zz", "two hex digits"),
            (b"a=%4", "two hex digits"),
            (b"a=%ff%fe", "UTF-8"),
            (b"=1", "no name"),
            (b"a[b=1", "unclosed bracket"),
            (b"a=1&a[]=2", "conflicts"),
            (b"a[]=1&a[x]=2", "conflicts"),
        ];
        for (body, why) in cases {
            match parse(body) {
                Err(NormaliseError::InvalidForm(message)) => {
                    assert!(message.contains(why), "{body:?}: {message}");
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
        let many = vec!["a=1"; MAX_FIELDS + 1].join("&");
        assert!(parse(many.as_bytes()).is_err());
        let long = format!("{}=1", "k".repeat(MAX_KEY_BYTES + 1));
        assert!(parse(long.as_bytes()).is_err());
        // JSON is not a form: its one "field" has no usable name or value.
        assert!(parse(br#"{"seller_id":"s1"}"#).is_ok_and(|form| form.text("seller_id").is_none()));
    }
}
