//! The one lenient JSON reader: webhook normalisation and state observation both read a verified
//! body in a single typed pass that fills only the fields they name.
//!
//! Lenient means a field of an unexpected type reads as "not usable" instead of failing, unknown
//! keys are skipped without being parsed ([`IgnoredAny`]), a repeated key keeps its last value, and
//! strings are borrowed from the body where unescaped: a genuine event is never refused for its
//! shape. [`lenient_object!`] declares an object of slots; `parse` reads one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::domain::time::{parse_time_str, unix_time, unix_time_f64};

pub(crate) use crate::lenient_object;

mod fast;

/// Reads `raw`, a single JSON document, into `T`'s slots. `strict`: anything but an object is an
/// error (else it reads as all-absent). The error is the parser's, as `serde_json` words it.
///
/// A fast first pass ([`fast`]) reads what it is sure of; anything else is read again by
/// `serde_json` alone, so the outcome is `serde_json`'s either way.
pub(crate) fn parse<'a, T: Slots<'a> + Default>(
    raw: &'a str,
    strict: bool,
) -> Result<T, serde_json::Error>
where
    Known<T::Key>: Deserialize<'a>,
{
    let mut object = T::default();
    read(raw, strict, &mut object)?;
    Ok(object)
}

/// [`parse`] into `slots`, which start empty (`T::default()`): filled where they live, no move
/// of the whole object.
pub(crate) fn read<'a, T: Slots<'a> + Default>(
    raw: &'a str,
    strict: bool,
    slots: &mut T,
) -> Result<(), serde_json::Error>
where
    Known<T::Key>: Deserialize<'a>,
{
    if fast::read(raw, strict, slots) {
        return Ok(());
    }
    *slots = T::default();
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    let seed = InPlace { slots, strict };
    DeserializeSeed::deserialize(seed, &mut deserializer).and_then(|()| deserializer.end())
}

/// Declares an object read leniently: a struct of slots, filled in place by [`InPlace`] (no
/// intermediate values, no moves of the whole struct), and the enum of the keys it reads. The
/// listed keys fill their slots (the last occurrence wins); other keys are skipped unparsed.
#[macro_export]
#[doc(hidden)]
macro_rules! lenient_object {
    ($(#[$doc:meta])* struct $name:ident / $keys:ident {
        $($key:literal => $field:ident: $ty:ident,)*
    }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub(crate) struct $name<'a> {
            $(pub(crate) $field: $ty<'a>,)*
        }

        #[expect(non_camel_case_types, reason = "named after the slots they fill")]
        #[derive(Clone, Copy)]
        pub(crate) enum $keys {
            $($field,)*
        }

        impl<'de> serde::Deserialize<'de> for $crate::domain::json::Known<$keys> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl serde::de::Visitor<'_> for KeyVisitor {
                    type Value = $crate::domain::json::Known<$keys>;

                    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        formatter.write_str("an object key")
                    }

                    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                        Ok($crate::domain::json::Known(match value {
                            $($key => Some($keys::$field),)*
                            _ => None,
                        }))
                    }
                }
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }

        impl<'a> $crate::domain::json::Slots<'a> for $name<'a> {
            type Key = $keys;

            fn read<'de: 'a, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: $keys,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $($keys::$field => $crate::domain::json::Slot::read_value(&mut self.$field, map),)*
                }
            }
        }

        impl<'a> $crate::domain::json::Slot<'a> for $name<'a> {
            fn read_value<'de: 'a, A: serde::de::MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
                *self = Self::default();
                map.next_value_seed($crate::domain::json::InPlace {
                    slots: self,
                    strict: false,
                })
            }
        }
    };
}

/// The `visit_*` methods of a `Visitor<Value = ()>` that reads scalars (and `null`) as nothing.
macro_rules! skip_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Ok(())
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_none<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    };
}

/// An object whose known keys fill slots in place.
pub trait Slots<'a> {
    /// The keys it reads.
    type Key;

    /// Reads the value of `key` into its slot.
    fn read<'de: 'a, A: MapAccess<'de>>(
        &mut self,
        key: Self::Key,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// One slot of a [`Slots`] object: a [`Field`] or a nested object.
pub trait Slot<'a> {
    /// Reads the next map value into this slot.
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
}

impl<'a> Slot<'a> for Field<'a> {
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        map.next_value_seed(FieldInto(self))
    }
}

/// Reads a [`Field`] straight into its slot (no value returned through the deserializer).
struct FieldInto<'s, 'a>(&'s mut Field<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for FieldInto<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Each `visit_*` of [`FieldInto`]: [`FieldVisitor`]'s reading, stored in the slot.
macro_rules! store_field {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {
        $(
            fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<(), E> {
                *self.0 = FieldVisitor::<'a, true>(PhantomData).$method($($arg),*)?;
                Ok(())
            }
        )*
    };
}

impl<'de: 'a, 'a> Visitor<'de> for FieldInto<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    store_field! {
        visit_borrowed_str(value: &'de str) visit_str(value: &str) visit_string(value: String)
        visit_i64(value: i64) visit_u64(value: u64) visit_f64(value: f64) visit_bool(value: bool)
        visit_unit() visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        *self.0 = FieldVisitor::<'a, true>(PhantomData).visit_seq(seq)?;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        *self.0 = FieldVisitor::<'a, true>(PhantomData).visit_map(map)?;
        Ok(())
    }
}

/// An object key: `Some` if the object reads it.
pub struct Known<K>(pub Option<K>);

/// Fills a [`Slots`] object from a JSON object; a repeated key replaces the earlier value (a nested
/// object as a whole), as in `serde_json::Value`. Strict (the top level): anything but an object is an error. Lenient (nested):
/// any other value is skipped and leaves the slots empty.
pub struct InPlace<'s, T> {
    pub slots: &'s mut T,
    pub strict: bool,
}

impl<'de: 'a, 'a, T: Slots<'a>> DeserializeSeed<'de> for InPlace<'_, T>
where
    Known<T::Key>: Deserialize<'de>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.strict {
            deserializer.deserialize_map(self)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de: 'a, 'a, T: Slots<'a>> Visitor<'de> for InPlace<'_, T>
where
    Known<T::Key>: Deserialize<'de>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Known(key)) = map.next_key()? {
            match key {
                Some(key) => self.slots.read(key, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    skip_scalars!();
}

// --- fields -----------------------------------------------------------------------------------

/// An id read from a document: up to 24 bytes inline (provider ids are shorter), so reading one
/// allocates nothing.
pub type Id = compact_str::CompactString;

/// One JSON value, kept only as far as a reader needs it: strings borrowed from the body where
/// unescaped, numbers, booleans, and for objects just their `"id"` string. Never fails on a
/// well-formed value, so an unexpected type reads as "not usable" instead of rejecting the body.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Field<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An object (an expanded resource): its `"id"`, if a string. A [`Scalar`] slot does not
    /// look inside objects: it reads them as `Object(None)`.
    Object(Option<Cow<'a, str>>),
    /// An array, or an integer outside `i64`.
    Other,
}

impl<'a> Field<'a> {
    /// A non-empty string value.
    pub fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Self::Str(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    /// Any string value, as sent.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// An id: a non-empty string, or the non-empty `"id"` of an expanded object.
    pub fn into_id(self) -> Option<Id> {
        self.id().map(Id::from)
    }

    /// [`Field::into_id`] borrowed: for choosing among fields before building the one id kept.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Str(id) | Self::Object(Some(id)) if !id.is_empty() => Some(id),
            _ => None,
        }
    }

    /// Absent, `null`, or a string of nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        match self {
            Self::Absent | Self::Null => true,
            Self::Str(text) => text.trim().is_empty(),
            _ => false,
        }
    }

    /// A string with something in it, trimmed.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Str(text) if !text.trim().is_empty() => Some(text.trim()),
            _ => None,
        }
    }

    /// A boolean, or its string spelling.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Self::Bool(value) => Some(*value),
            Self::Str(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// An integer, or its string spelling.
    pub fn integer(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            Self::Str(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A time: RFC 3339, or Unix seconds/milliseconds as a number or string.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Str(text) => parse_time_str(text),
            Self::Int(value) => unix_time(*value),
            Self::Float(value) => unix_time_f64(*value),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor::<true>(PhantomData))
    }
}

/// A [`Field`] that skips objects unparsed (`Object(None)`): for values read for what they are,
/// never for an id inside them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scalar<'a>(pub Field<'a>);

impl<'a> std::ops::Deref for Scalar<'a> {
    type Target = Field<'a>;

    fn deref(&self) -> &Field<'a> {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(FieldVisitor::<false>(PhantomData))
            .map(Scalar)
    }
}

impl<'a> Slot<'a> for Scalar<'a> {
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = map.next_value()?;
        Ok(())
    }
}

/// Reads any value; `IDS`: whether an object's `"id"` is read (else the object is skipped).
struct FieldVisitor<'a, const IDS: bool>(PhantomData<Field<'a>>);

impl<'de: 'a, 'a, const IDS: bool> Visitor<'de> for FieldVisitor<'a, IDS> {
    type Value = Field<'a>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Field::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(Field::Other, Field::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Field::Float(value))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        while let Some(key) = map.next_key::<Key>()? {
            if IDS && key == Key::Id && id.is_none() {
                id = map.next_value::<Field<'a>>()?.into_str();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Field::Object(id))
    }
}

/// A list read leniently: each element is read into `T`'s slots and the first kept; anything but
/// an array is empty.
#[derive(Debug, Default)]
pub struct First<T>(pub Option<T>);

impl<T> First<T> {
    /// The first element, if the value was a non-empty array.
    pub fn first(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'a, T: Slots<'a> + Default> Slot<'a> for First<T>
where
    for<'de> Known<T::Key>: Deserialize<'de>,
{
    fn read_value<'de: 'a, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = Self(None);
        map.next_value_seed(FirstSeed(self))
    }
}

struct FirstSeed<'s, T>(&'s mut First<T>);

impl<'de: 'a, 'a, T: Slots<'a> + Default> DeserializeSeed<'de> for FirstSeed<'_, T>
where
    for<'k> Known<T::Key>: Deserialize<'k>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 'a, 'a, T: Slots<'a> + Default> Visitor<'de> for FirstSeed<'_, T>
where
    for<'k> Known<T::Key>: Deserialize<'k>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let mut item = T::default();
            let seed = InPlace {
                slots: &mut item,
                strict: false,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            if self.0.0.is_none() {
                self.0.0 = Some(item);
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    skip_scalars!();
}

/// An object key, classified without allocating.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Id,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object key")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Key, E> {
                Ok(if value == "id" { Key::Id } else { Key::Other })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

// --- the queue message ------------------------------------------------------------------------
