//! The first pass of [`super::parse`]: a reader that is sure or steps aside.
//!
//! It walks the document as `serde_json` does, calling the same visitor methods with the same
//! values, but scans strings 16 bytes at a time in a loop the compiler turns into SIMD compares
//! (SSE2 on x86_64, NEON on aarch64; safe code, no target flags). Most of a webhook body is a
//! string nobody reads (a description, a metadata note), and that scan is where `serde_json`
//! spends its time.
//!
//! The pass is conservative: it accepts only what `serde_json` accepts, and anything it does not
//! settle itself (a number, a string with escapes) it hands to `serde_json` for that one token.
//! On anything unexpected (invalid JSON, an unusual shape, deep nesting) it answers [`Unsure`],
//! and [`super::parse`] reads the whole document again with `serde_json`, which then decides:
//! so the outcome, error messages included, is always `serde_json`'s.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{InPlace, Known, Slots};

/// Reads `raw` into `slots` as [`super::parse`] would, and says so; `false` where the pass is
/// not sure (the slots then hold a partial reading).
pub(super) fn read<'a, T: Slots<'a>>(raw: &'a str, strict: bool, slots: &mut T) -> bool
where
    Known<T::Key>: de::Deserialize<'a>,
{
    let mut reader = Reader {
        text: raw,
        pos: 0,
        depth: 0,
    };
    let seed = InPlace { slots, strict };
    seed.deserialize(&mut reader).is_ok() && reader.whitespace().is_none()
}

/// The fast pass stepped aside: `serde_json` decides.
#[derive(Debug)]
pub(super) struct Unsure;

impl fmt::Display for Unsure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("left to serde_json")
    }
}

impl std::error::Error for Unsure {}

impl de::Error for Unsure {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self
    }
}

/// Nesting beyond this is left to `serde_json` (whose own limit is 128).
const MAX_DEPTH: u32 = 100;

/// Bytes scanned per step of a string.
const LANES: usize = 16;

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    /// Objects and arrays entered through the visitors (`serde_json`'s recursion count).
    depth: u32,
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON whitespace; the next byte.
    fn whitespace(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes().get(self.pos) {
            if !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.pos += 1;
        }
        None
    }

    /// Consumes `literal` (`null`, `true`, `false`).
    fn literal(&mut self, literal: &[u8]) -> Result<(), Unsure> {
        if self
            .bytes()
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(literal))
        {
            self.pos += literal.len();
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// Where the number starting here ends, by JSON's grammar (as `serde_json` reads it:
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number_end(&self) -> Result<usize, Unsure> {
        let bytes = self.bytes();
        let digits = |from: usize| {
            bytes.get(from..).map_or(0, |rest| {
                rest.iter().take_while(|b| b.is_ascii_digit()).count()
            })
        };
        let mut at = self.pos + usize::from(bytes.get(self.pos) == Some(&b'-'));
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => at += digits(at),
            _ => return Err(Unsure),
        }
        if bytes.get(at).is_some_and(u8::is_ascii_digit) {
            return Err(Unsure);
        }
        if bytes.get(at) == Some(&b'.') {
            match digits(at + 1) {
                0 => return Err(Unsure),
                count => at += 1 + count,
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            match digits(at) {
                0 => return Err(Unsure),
                count => at += count,
            }
        }
        Ok(at)
    }

    /// The string starting here (at its `"`): where it ends (past the closing quote) and
    /// whether it has escapes. Checks what `serde_json` checks of a string it skips: no
    /// control characters, escapes from JSON's set with four hex digits after `\u`.
    fn string_end(&self) -> Result<(usize, bool), Unsure> {
        let bytes = self.bytes();
        let mut at = self.pos + 1;
        let mut escaped = false;
        loop {
            at = plain_run(bytes, at);
            match bytes.get(at) {
                Some(b'"') => return Ok((at + 1, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    match bytes.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                        Some(b'u') => {
                            let hex = bytes.get(at + 2..at + 6).ok_or(Unsure)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Unsure);
                            }
                            at += 6;
                        }
                        _ => return Err(Unsure),
                    }
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// A string value or key for `visitor`: borrowed from the body when it has no escapes,
    /// else decoded by `serde_json` (which also checks its `\u` escapes pair up).
    fn string<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value, Unsure> {
        let (end, escaped) = self.string_end()?;
        if escaped {
            return self.delegate(end, visitor);
        }
        let text = self.text.get(self.pos + 1..end - 1).ok_or(Unsure)?;
        self.pos = end;
        visitor.visit_borrowed_str(text)
    }

    /// The token from here to `end`, read by `serde_json` for `visitor`.
    fn delegate<V: Visitor<'a>>(&mut self, end: usize, visitor: V) -> Result<V::Value, Unsure> {
        let token = self.text.get(self.pos..end).ok_or(Unsure)?;
        let mut deserializer = serde_json::Deserializer::from_str(token);
        let value = deserializer.deserialize_any(visitor).map_err(|_| Unsure)?;
        deserializer.end().map_err(|_| Unsure)?;
        self.pos = end;
        Ok(value)
    }

    /// Skips one value, checking it as `serde_json` checks a value it ignores.
    fn skip(&mut self, nesting: u32) -> Result<(), Unsure> {
        match self.whitespace().ok_or(Unsure)? {
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => {
                self.pos = self.number_end()?;
                Ok(())
            }
            b'"' => {
                self.pos = self.string_end()?.0;
                Ok(())
            }
            open @ (b'[' | b'{') => {
                if nesting >= MAX_DEPTH {
                    return Err(Unsure);
                }
                self.pos += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                if self.whitespace() == Some(close) {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        if self.whitespace() != Some(b'"') {
                            return Err(Unsure);
                        }
                        self.pos = self.string_end()?.0;
                        self.colon()?;
                    }
                    self.skip(nesting + 1)?;
                    match self.whitespace() {
                        Some(b',') => self.pos += 1,
                        Some(byte) if byte == close => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(Unsure),
                    }
                }
            }
            _ => Err(Unsure),
        }
    }

    fn colon(&mut self) -> Result<(), Unsure> {
        if self.whitespace() == Some(b':') {
            self.pos += 1;
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// An object or array for `visitor`, then its closing bracket.
    fn nested<V: Visitor<'a>>(&mut self, visitor: V, open: u8) -> Result<V::Value, Unsure> {
        if self.depth >= MAX_DEPTH {
            return Err(Unsure);
        }
        self.depth += 1;
        self.pos += 1;
        let (value, close) = if open == b'{' {
            (visitor.visit_map(Entries::new(self))?, b'}')
        } else {
            (visitor.visit_seq(Entries::new(self))?, b']')
        };
        self.depth -= 1;
        if self.whitespace() != Some(close) {
            return Err(Unsure);
        }
        self.pos += 1;
        Ok(value)
    }
}

/// Where the run of plain string bytes from `from` ends: the first `"`, `\` or control
/// character (or the end).
///
/// Most strings (keys, ids, kinds) end within 16 bytes: two 8-byte words answer those without a
/// loop. Longer runs go by blocks, in a form the compiler vectorises (SSE2 on x86_64, NEON on
/// aarch64, no target flags): per byte, the minimum of `byte ^ '"'`, `byte ^ '\\'` and
/// `byte - 0x1f` (saturating) is zero exactly for the special bytes.
fn plain_run(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let mut plain = 0;
    for _ in 0..2 {
        let Some(word) = rest.get(plain..).and_then(<[u8]>::first_chunk::<8>) else {
            return from + plain + bytewise_run(rest.get(plain..).unwrap_or_default());
        };
        let special = special_bytes(u64::from_le_bytes(*word));
        if special != 0 {
            return from + plain + first_flagged(special);
        }
        plain += 8;
    }
    // Four blocks per step while the run lasts, then one block at a time to narrow it down.
    for step in [4 * LANES, LANES] {
        for block in rest.get(plain..).unwrap_or_default().chunks_exact(step) {
            if has_special(block) {
                break;
            }
            plain += step;
        }
    }
    from + plain + bytewise_run(rest.get(plain..).unwrap_or_default())
}

/// Whether `block` holds a `"`, `\` or control character; no early exit, so the compiler
/// vectorises it.
fn has_special(block: &[u8]) -> bool {
    let mut special = false;
    for &byte in block {
        special |= (byte ^ b'"')
            .min(byte ^ b'\\')
            .min(byte.saturating_sub(0x1f))
            == 0;
    }
    special
}

/// The high bit of each byte of `word` (little-endian) set where the byte is `"`, `\` or below
/// 0x20, exactly up to and including the first such byte (a borrow may flag bytes after it).
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & (ONES << 7)
}

/// The index of the first byte [`special_bytes`] flags.
fn first_flagged(special: u64) -> usize {
    (special.trailing_zeros() / 8) as usize
}

/// [`plain_run`] byte by byte, for what is left after the blocks.
fn bytewise_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .unwrap_or(bytes.len())
}

/// Everything a visitor of ours may ask for that is not read here is left to `serde_json`.
macro_rules! unsure {
    ($($method:ident($($arg:ty),*))*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> Result<V::Value, Unsure> {
                Err(Unsure)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Unsure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self.whitespace().ok_or(Unsure)? {
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'-' | b'0'..=b'9' => {
                let end = self.number_end()?;
                self.delegate(end, visitor)
            }
            b'"' => self.string(visitor),
            open @ (b'[' | b'{') => self.nested(visitor, open),
            _ => Err(Unsure),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self.whitespace() {
            Some(b'{') => self.nested(visitor, b'{'),
            _ => Err(Unsure),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self.whitespace() {
            Some(b'"') => self.string(visitor),
            _ => Err(Unsure),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.skip(0)?;
        visitor.visit_unit()
    }

    unsure! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_u8() deserialize_u16() deserialize_u32() deserialize_u64()
        deserialize_f32() deserialize_f64() deserialize_char() deserialize_bytes()
        deserialize_byte_buf() deserialize_option() deserialize_unit() deserialize_seq()
        deserialize_unit_struct(&'static str) deserialize_newtype_struct(&'static str)
        deserialize_tuple(usize) deserialize_tuple_struct(&'static str, usize)
        deserialize_struct(&'static str, &'static [&'static str])
        deserialize_enum(&'static str, &'static [&'static str])
    }
}

/// The entries of an object or the elements of an array, with `serde_json`'s comma rules.
struct Entries<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'r, 'a> Entries<'r, 'a> {
    fn new(reader: &'r mut Reader<'a>) -> Self {
        Self {
            reader,
            first: true,
        }
    }

    /// Whether another entry follows (past its comma), given the closing bracket.
    fn more(&mut self, close: u8) -> Result<bool, Unsure> {
        match self.reader.whitespace().ok_or(Unsure)? {
            byte if byte == close => Ok(false),
            _ if self.first => {
                self.first = false;
                Ok(true)
            }
            b',' => {
                self.reader.pos += 1;
                match self.reader.whitespace() {
                    Some(byte) if byte != close => Ok(true),
                    _ => Err(Unsure),
                }
            }
            _ => Err(Unsure),
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = Unsure;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unsure> {
        if !self.more(b'}')? {
            return Ok(None);
        }
        if self.reader.whitespace() != Some(b'"') {
            return Err(Unsure);
        }
        seed.deserialize(ObjectKey(&mut *self.reader)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Unsure> {
        self.reader.colon()?;
        seed.deserialize(&mut *self.reader)
    }
}

impl<'de> SeqAccess<'de> for Entries<'_, 'de> {
    type Error = Unsure;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Unsure> {
        if self.more(b']')? {
            seed.deserialize(&mut *self.reader).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// An object key (the reader is at its `"`): read as a string whatever is asked for, as
/// `serde_json` reads keys, except the numeric and other typed readings it leaves to `serde_json`.
struct ObjectKey<'r, 'a>(&'r mut Reader<'a>);

impl<'de> Deserializer<'de> for ObjectKey<'_, 'de> {
    type Error = Unsure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.0.string(visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }

    unsure! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_u8() deserialize_u16() deserialize_u32() deserialize_u64()
        deserialize_f32() deserialize_f64() deserialize_bytes() deserialize_byte_buf()
        deserialize_option() deserialize_newtype_struct(&'static str)
        deserialize_enum(&'static str, &'static [&'static str])
    }
}

#[cfg(test)]
mod tests;
