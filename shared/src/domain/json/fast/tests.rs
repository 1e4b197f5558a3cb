//! The fast pass against `serde_json`: wherever it answers, it answers what `serde_json` does,
//! and it answers for the bodies providers send.

use proptest::prelude::*;

use serde::de::DeserializeSeed;

use super::super::{Field, First, InPlace, Scalar};
use super::{plain_run, read};

type FirstProbe<'a> = First<Inner<'a>>;

crate::domain::json::lenient_object! {
    /// Every kind of slot: fields, scalars, nested objects and lists.
    struct Probe / ProbeKey {
        "id" => id: Field,
        "type" => kind: Scalar,
        "created" => created: Field,
        "data" => data: Inner,
        "items" => items: FirstProbe,
    }
}

crate::domain::json::lenient_object! {
    /// A nested object.
    struct Inner / InnerKey {
        "id" => id: Field,
        "user" => user: Field,
        "amount" => amount: Scalar,
        "object" => object: Deeper,
    }
}

crate::domain::json::lenient_object! {
    /// One level further down.
    struct Deeper / DeeperKey {
        "id" => id: Field,
    }
}

/// `text` read by `serde_json` alone.
fn parse_with_serde_json(text: &str, strict: bool) -> Result<Probe<'_>, serde_json::Error> {
    let mut slots = Probe::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let seed = InPlace {
        slots: &mut slots,
        strict,
    };
    seed.deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map(|()| slots)
}

/// The fast pass and `serde_json` agree on `text`: where the fast pass answers, `serde_json`
/// reads the same slots. Returns whether the fast pass answered.
fn agree(text: &str, strict: bool) -> bool {
    let mut slots = Probe::default();
    let fast = read(text, strict, &mut slots).then_some(slots);
    let reference = parse_with_serde_json(text, strict);
    if let Some(fast) = &fast {
        let reference = reference.unwrap_or_else(|error| {
            panic!("fast pass read {text:?}, serde_json refused it: {error}")
        });
        assert_eq!(format!("{fast:?}"), format!("{reference:?}"), "{text:?}");
    }
    fast.is_some()
}

const ANSWERED: &[&str] = &[
    r#"{"id":"evt_1","type":"invoice.paid","created":1735689600,"data":{"id":"in_1"}}"#,
    r#" { "id" : "evt_1" , "type" : "a" , "data" : { "user" : { "id" : "u_1" } } } "#,
    "{\n\t\"id\": \"e\\u00e9\\n\\\"q\\\"\",\r\n\"created\": \"2025-01-01T00:00:00.000Z\"}",
    r#"{"created":-1.5e3,"data":{"amount":18446744073709551616,"object":{"id":null}}}"#,
    r#"{"skip":1e400,"also":[-0.0e-0,1E+9]}"#,
    r#"{"id":{"id":{"id":"nested"}},"type":{"id":"not read"},"data":[1,2]}"#,
    r#"{"items":[{"id":"first"},{"id":"second"}],"skip":[{"a":[true,false,null,"\ud800"]}]}"#,
    r#"{"items":{"id":"x"},"data":"text","created":true,"id":false,"type":null}"#,
    r#"{"note":"long and plain, past one block of sixteen bytes and then some more","id":"é€😀"}"#,
    r#"{"id":"a","id":"b","data":{"id":"1"},"data":{"user":"2"}}"#,
    r#"{}"#,
    r#"{"deep":[[[[[[[[[[{"a":{"b":{"c":[]}}}]]]]]]]]]]}"#,
];

/// `serde_json` refuses these; the fast pass must not answer (each is left to `serde_json`).
const REFUSED: &[&str] = &[
    r#"{"id":"a",}"#,
    r#"{"id":"a"} x"#,
    r#"{"id":01}"#,
    r#"{"created":1.}"#,
    r#"{"created":-}"#,
    r#"{"created":1e400}"#,
    r#"{"id":"\ud800"}"#,
    r#"{"id":"\x"}"#,
    "{\"id\":\"tab\there\"}",
    r#"{"skip":[1,]}"#,
    r#"{"skip":{"a":1,}}"#,
    r#"{"skip":{1:2}}"#,
    r#"{"skip":nul}"#,
    r#"{"id" "a"}"#,
    r#"{"id":"a""type":"b"}"#,
    r#"["not","an","object"]"#,
    r#""#,
    r#"{"id":"a""#,
];

#[test]
fn the_fast_pass_reads_what_serde_json_reads_for_typical_bodies() {
    for text in ANSWERED {
        assert!(agree(text, true), "fast pass stepped aside for {text:?}");
    }
}

#[test]
fn the_fast_pass_leaves_every_body_serde_json_refuses_to_serde_json() {
    for text in REFUSED {
        assert!(!agree(text, true), "fast pass answered for {text:?}");
        assert!(parse_with_serde_json(text, true).is_err(), "{text:?}");
    }
}

#[test]
fn the_fast_pass_steps_aside_beyond_its_nesting_limit() {
    let deep = format!(r#"{{"skip":{}{}}}"#, "[".repeat(120), "]".repeat(120));
    assert!(parse_with_serde_json(&deep, true).is_ok());
    assert!(!agree(&deep, true));
}

/// Pieces JSON is made of, valid and not, for the generated documents.
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"id\"",
        "\"type\"",
        "\"data\"",
        "\"items\"",
        "\"user\"",
        "\"object\"",
        "\"amount\"",
        "\"created\"",
        "\"i\\u0064\"",
        "\"x\"",
        "\"plain text\"",
        "\"\"",
        "\"\\n\\t\\\"\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"\\u00e9\"",
        "\"é\"",
        "\"\u{1}\"",
        "\"\\q\"",
        "\"\\u12\"",
        "\"a",
        "0",
        "-0",
        "01",
        "1.5",
        "1.",
        "-",
        "1e5",
        "1E+2",
        "2e-3",
        "1e400",
        "-1.5e400",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "1735689600",
        "1735689600123",
        "true",
        "false",
        "null",
        "nul",
        "tru",
        "x",
    ])
}

/// A well-formed value built from those pieces.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "\"plain\"",
        "\"e\\u0301\\n\"",
        "\"\\ud800\"",
        "\"2025-01-01T00:00:00Z\"",
        "\"1735689600\"",
        "1735689600",
        "-1.25",
        "1e400",
        "18446744073709551616",
        "true",
        "null",
        "\"id_1\"",
    ])
    .prop_map(str::to_owned);
    let key = prop::sample::select(vec![
        "id", "type", "data", "items", "user", "object", "amount", "created", "i\\u0064", "note",
    ]);
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(key, value)| format!("\"{key}\" : {value}"))
                    .collect();
                format!("{{ {} }}", entries.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_fast_pass_agrees_with_serde_json_on_well_formed_documents(
        text in value(),
        strict in any::<bool>(),
    ) {
        agree(&text, strict);
    }

    #[test]
    fn the_fast_pass_agrees_with_serde_json_on_any_sequence_of_pieces(
        pieces in prop::collection::vec(token(), 0..24),
    ) {
        let text = format!("{{{}", pieces.concat());
        agree(&text, true);
        agree(&pieces.concat(), false);
    }

    #[test]
    fn the_fast_pass_agrees_with_serde_json_on_damaged_documents(
        text in value(),
        at in any::<prop::sample::Index>(),
        damage in token(),
        cut in any::<bool>(),
    ) {
        let at = at.index(text.len() + 1);
        let at = (0..=at).rev().find(|&at| text.is_char_boundary(at)).unwrap_or(0);
        let damaged = if cut {
            format!("{}{}", &text[..at], damage)
        } else {
            format!("{}{}{}", &text[..at], damage, &text[at..])
        };
        agree(&damaged, true);
        agree(&damaged, false);
    }
}

#[test]
fn a_plain_run_ends_at_the_first_quote_backslash_or_control_character() {
    for special in [b'"', b'\\', 0x00, 0x1f] {
        for at in 0..48 {
            let mut bytes = vec![b'x'; 48];
            bytes[at] = special;
            assert_eq!(plain_run(&bytes, 0), at, "{special:#x} at {at}");
            assert_eq!(plain_run(&bytes, at), at);
        }
    }
    for plain in [0x20, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff] {
        let bytes = vec![plain; 40];
        assert_eq!(plain_run(&bytes, 3), 40, "{plain:#x}");
    }
}

#[test]
fn a_plain_run_finds_the_first_special_byte_whatever_follows_it() {
    // The word check flags bytes after a hit through borrows; only the first one counts.
    for first in [b'"', b'\\', 0x00, 0x1f] {
        for at in 0..24 {
            for after in [0x00, 0x01, 0x1f, 0x20, 0x21, b'"', b'\\', 0x80, 0xa0, 0xff] {
                let mut bytes = vec![b'x'; 40];
                bytes[at] = first;
                bytes[at + 1..].fill(after);
                assert_eq!(
                    plain_run(&bytes, 0),
                    at,
                    "{first:#x} at {at}, then {after:#x}"
                );
            }
        }
    }
    for len in 0..40 {
        assert_eq!(plain_run(&vec![b'y'; len], 0), len);
    }
}

#[test]
fn a_long_plain_run_ends_at_its_first_special_byte_even_with_a_quote_after_it() {
    // Past the two 8-byte words the run goes by 64-byte, then 16-byte blocks, then bytes: a hit
    // in every position of each, with a closing quote after it.
    for len in [17, 64, 100, 200, 333] {
        for at in 16..len - 1 {
            for special in [b'"', b'\\', 0x00, 0x0a, 0x1f] {
                let mut bytes = vec![b'x'; len];
                bytes[at] = special;
                bytes[len - 1] = b'"';
                assert_eq!(plain_run(&bytes, 0), at, "{special:#x} at {at} of {len}");
            }
        }
        assert_eq!(plain_run(&vec![b'x'; len], 0), len);
    }
}
