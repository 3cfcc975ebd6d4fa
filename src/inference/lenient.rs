//! Reads the few fields a chunk reader uses straight from JSON text, without
//! building a `serde_json::Value` tree for every stream object (the harness
//! must keep up with the fastest servers it measures).
//!
//! It keeps the semantics of reading a `Value` with `as_str`, `as_u64` and
//! friends: a field holding another kind of value than the one wanted reads as
//! absent instead of failing the whole object, a key given twice keeps its
//! last value, and any other JSON reads as an object with no fields. Whatever
//! is not read is still parsed and checked the way a `Value` would be, so text
//! that was malformed before is malformed now, with the same error.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// A kind of JSON value a field can be read as. Each constructor gives `None`
/// for a value the type does not take, as `Value::as_u64` and friends do.
pub trait Wanted<'de>: Sized {
    fn from_bool(_: bool) -> Option<Self> {
        None
    }

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    /// serde_json hands out negative integers this way.
    fn from_i64(_: i64) -> Option<Self> {
        None
    }

    fn from_f64(_: f64) -> Option<Self> {
        None
    }

    fn from_str(_: &str) -> Option<Self> {
        None
    }

    /// Text that stands unescaped in the input, which a borrowing type keeps
    /// without copying.
    fn from_borrowed_str(text: &'de str) -> Option<Self> {
        Self::from_str(text)
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        skip_map(map).map(|()| None)
    }

    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        skip_seq(seq).map(|()| None)
    }
}

/// A JSON object read field by field; unknown fields are parsed and dropped.
pub trait Fields<'de>: Default {
    /// Reads the value of the entry `key` from `map` if this object uses that
    /// field, and says whether it did: the caller skips the value otherwise.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

impl<'de, T: Fields<'de>> Wanted<'de> for T {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut object = T::default();
        while let Some(Lenient(key)) = map.next_key::<Lenient<Cow<'de, str>>>()? {
            // JSON keys are always strings; anything else would match no field.
            if !object.field(&key.unwrap_or_default(), &mut map)? {
                map.next_value::<Lenient<Unread>>()?;
            }
        }
        Ok(Some(object))
    }
}

/// Declares a struct whose fields are read from the keys of the same names,
/// and implements [`Fields`] for it. A field is read with [`value`] unless
/// another reader is named after `=`, such as [`present`]. A struct that
/// borrows text from the input names its lifetime `'de`, the input's.
macro_rules! object {
    (
        $(#[$meta:meta])*
        struct $name:ident $(<$de:lifetime>)? {
            $($(#[$field_meta:meta])* $field:ident: $type:ty $(= $read:path)?,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Default)]
        struct $name $(<$de>)? {
            $($(#[$field_meta])* $field: $type,)*
        }

        impl<'de> $crate::inference::lenient::Fields<'de> for $name $(<$de>)? {
            fn field<A: ::serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $(stringify!($field) => {
                        self.$field = $crate::inference::lenient::object!(@read map $(, $read)?)?
                    })*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }
    };
    (@read $map:ident) => {
        $crate::inference::lenient::value($map)
    };
    (@read $map:ident, $read:path) => {
        $read($map)
    };
}

pub(crate) use object;

/// A value of the wanted kind, or `None` for any other, `null` included.
pub struct Lenient<T>(pub Option<T>);

impl<'de, T: Wanted<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(LenientVisitor(PhantomData))
            .map(Lenient)
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Wanted<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Option<T>, E> {
        Ok(T::from_bool(v))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Option<T>, E> {
        Ok(T::from_u64(v))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Option<T>, E> {
        Ok(T::from_i64(v))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Option<T>, E> {
        Ok(T::from_f64(v))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Option<T>, E> {
        Ok(T::from_str(v))
    }

    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Option<T>, E> {
        Ok(T::from_borrowed_str(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<T>, A::Error> {
        T::from_seq(seq)
    }
}

/// Reads `json` as the object `T`; JSON that is not an object reads as one
/// without fields, as indexing a `Value` that is not an object gives `null`.
pub fn read<'de, T: Fields<'de>>(json: &'de [u8]) -> serde_json::Result<T> {
    let Lenient(object) = match std::str::from_utf8(json) {
        // Checked whole at once, the text need not be checked string by string.
        Ok(text) => serde_json::from_str(text)?,
        // Not UTF-8: checked string by string, to fail where, and with the
        // error, a `Value` would.
        Err(_) => serde_json::from_slice(json)?,
    };
    Ok(object.unwrap_or_default())
}

/// The value of the entry whose key `map` just handed out, if it is of the
/// wanted kind.
pub fn value<'de, T: Wanted<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    let Lenient(value) = map.next_value()?;
    Ok(value)
}

/// Whether the entry whose key `map` just handed out is there at all, even as
/// `null`, beside its value if that is of the wanted kind.
pub fn present<'de, T: Wanted<'de>, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<Option<T>>, A::Error> {
    value(map).map(Some)
}

/// Any value, parsed and checked, then dropped. Skipping it with
/// `serde::de::IgnoredAny` would be quicker but would let through what a
/// `Value` rejects: invalid UTF-8, lone surrogates, numbers out of range.
pub struct Unread;

impl Wanted<'_> for Unread {}

/// A value that is there and not `null`, whatever its kind.
#[derive(Debug, PartialEq)]
pub struct Given;

impl<'de> Wanted<'de> for Given {
    fn from_bool(_: bool) -> Option<Self> {
        Some(Given)
    }

    fn from_u64(_: u64) -> Option<Self> {
        Some(Given)
    }

    fn from_i64(_: i64) -> Option<Self> {
        Some(Given)
    }

    fn from_f64(_: f64) -> Option<Self> {
        Some(Given)
    }

    fn from_str(_: &str) -> Option<Self> {
        Some(Given)
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        skip_map(map).map(|()| Some(Given))
    }

    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        skip_seq(seq).map(|()| Some(Given))
    }
}

/// The first element of an array, read as `T`; the others are skipped. An
/// empty array, or a first element of another kind, gives `T::default()`.
#[derive(Debug, PartialEq)]
pub struct First<T>(pub T);

impl<'de, T: Wanted<'de> + Default> Wanted<'de> for First<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let first = seq.next_element::<Lenient<T>>()?.and_then(|Lenient(v)| v);
        skip_seq(seq)?;
        Ok(Some(First(first.unwrap_or_default())))
    }
}

impl Wanted<'_> for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

/// Like `Value::as_u64`: a non-negative integer, never a float, even `3.0`.
impl Wanted<'_> for u64 {
    fn from_u64(v: u64) -> Option<Self> {
        Some(v)
    }

    fn from_i64(v: i64) -> Option<Self> {
        u64::try_from(v).ok()
    }
}

/// Like `Value::as_f64`: any number.
impl Wanted<'_> for f64 {
    fn from_u64(v: u64) -> Option<Self> {
        Some(v as f64)
    }

    fn from_i64(v: i64) -> Option<Self> {
        Some(v as f64)
    }

    fn from_f64(v: f64) -> Option<Self> {
        Some(v)
    }
}

/// Text borrowed from the input, or unescaped into a copy when it held escapes.
impl<'de> Wanted<'de> for Cow<'de, str> {
    fn from_str(text: &str) -> Option<Self> {
        Some(Cow::Owned(text.to_owned()))
    }

    fn from_borrowed_str(text: &'de str) -> Option<Self> {
        Some(Cow::Borrowed(text))
    }
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map
        .next_entry::<Lenient<Unread>, Lenient<Unread>>()?
        .is_some()
    {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Lenient<Unread>>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::Value;

    object! {
        /// An object with one field of each kind, to check each kind alone.
        #[derive(Debug, PartialEq)]
        struct Sample<'de> {
            text: Option<Cow<'de, str>>,
            count: Option<u64>,
            number: Option<f64>,
            flag: Option<bool>,
            given: Option<Given>,
            present: Option<Option<u64>> = present,
            first: Option<First<Inner>>,
            inner: Option<Inner>,
        }
    }

    object! {
        #[derive(Debug, PartialEq)]
        struct Inner {
            count: Option<u64>,
        }
    }

    fn sample(json: &str) -> Sample<'_> {
        read(json.as_bytes()).unwrap()
    }

    #[rstest]
    #[case::string(r#"{"count":"3"}"#)]
    #[case::float(r#"{"count":3.0}"#)]
    #[case::negative(r#"{"count":-3}"#)]
    #[case::too_large_becomes_float(r#"{"count":18446744073709551616}"#)]
    #[case::object(r#"{"count":{"count":3}}"#)]
    #[case::array(r#"{"count":[3]}"#)]
    #[case::null(r#"{"count":null}"#)]
    #[case::boolean(r#"{"count":true}"#)]
    fn a_count_of_another_kind_is_absent(#[case] json: &str) {
        assert_eq!(sample(json), Sample::default());
    }

    #[rstest]
    #[case::integer(r#"{"number":3}"#, Some(3.0))]
    #[case::negative(r#"{"number":-3}"#, Some(-3.0))]
    #[case::float(r#"{"number":2.5e3}"#, Some(2500.0))]
    #[case::string(r#"{"number":"3"}"#, None)]
    fn a_number_is_any_number(#[case] json: &str, #[case] expected: Option<f64>) {
        assert_eq!(sample(json).number, expected);
    }

    #[rstest]
    #[case::number(r#"{"text":5}"#)]
    #[case::object(r#"{"text":{"a":"b"}}"#)]
    #[case::boolean(r#"{"flag":"true"}"#)]
    #[case::inner_not_an_object(r#"{"inner":"x"}"#)]
    fn other_kinds_are_absent(#[case] json: &str) {
        assert_eq!(sample(json), Sample::default());
    }

    #[rstest]
    #[case::plain(r#"{"text":"abc"}"#, "abc", false)]
    #[case::escapes(r#"{"text":"a\"b\u00e9"}"#, "a\"b\u{e9}", true)]
    #[case::surrogate_pair(r#"{"text":"\ud83d\ude00"}"#, "\u{1f600}", true)]
    #[case::utf8(r#"{"text":"h\u00e9 \u20ac"}"#, "h\u{e9} \u{20ac}", true)]
    #[case::raw_utf8("{\"text\":\"h\u{e9} \u{20ac}\"}", "h\u{e9} \u{20ac}", false)]
    fn text_is_borrowed_unless_it_held_escapes(
        #[case] json: &str,
        #[case] expected: &str,
        #[case] copied: bool,
    ) {
        let text = sample(json).text.unwrap();
        assert_eq!(text, expected);
        assert_eq!(matches!(text, Cow::Owned(_)), copied);
    }

    #[rstest]
    #[case::string(r#"{"given":""}"#, true)]
    #[case::zero(r#"{"given":0}"#, true)]
    #[case::object(r#"{"given":{}}"#, true)]
    #[case::array(r#"{"given":[]}"#, true)]
    #[case::null(r#"{"given":null}"#, false)]
    #[case::absent(r#"{}"#, false)]
    fn given_is_any_value_but_null(#[case] json: &str, #[case] given: bool) {
        assert_eq!(sample(json).given.is_some(), given);
    }

    #[rstest]
    #[case::absent(r#"{}"#, None)]
    #[case::null(r#"{"present":null}"#, Some(None))]
    #[case::other_kind(r#"{"present":"3"}"#, Some(None))]
    #[case::wanted_kind(r#"{"present":3}"#, Some(Some(3)))]
    fn present_tells_a_key_there_from_one_absent(
        #[case] json: &str,
        #[case] present: Option<Option<u64>>,
    ) {
        assert_eq!(sample(json).present, present);
    }

    #[rstest]
    #[case::first(r#"{"first":[{"count":1},{"count":2}]}"#, Some(1))]
    #[case::empty(r#"{"first":[]}"#, None)]
    #[case::first_of_another_kind(r#"{"first":["1",{"count":2}]}"#, None)]
    #[case::not_an_array(r#"{"first":{"count":1}}"#, None)]
    fn first_reads_only_the_first_element(#[case] json: &str, #[case] first: Option<u64>) {
        let read = sample(json).first.map(|First(inner)| inner.count);
        assert_eq!(read.flatten(), first);
    }

    #[rstest]
    #[case::array("[1]")]
    #[case::string(r#""text""#)]
    #[case::null("null")]
    #[case::number("5")]
    fn json_that_is_not_an_object_has_no_fields(#[case] json: &str) {
        assert_eq!(sample(json), Sample::default());
    }

    #[test]
    fn fields_are_read_among_unknown_ones_and_the_last_of_a_key_wins() {
        let json = r#"{"x":[{"count":9}],"count":1,"inner":{"y":{},"count":2},"count":3,"z":"w"}"#;
        let s = sample(json);
        assert_eq!(s.count, Some(3));
        assert_eq!(s.inner, Some(Inner { count: Some(2) }));
    }

    #[rstest]
    #[case::syntax(b"{\"count\":}")]
    #[case::trailing(b"{} {}")]
    #[case::truncated(b"{\"text\":\"ab")]
    #[case::invalid_utf8_in_an_unread_field(b"{\"model\":\"a\xFFb\",\"count\":1}")]
    #[case::lone_surrogate_in_an_unread_field(br#"{"model":"\ud800","count":1}"#)]
    #[case::number_out_of_range_in_an_unread_field(br#"{"model":1e400,"count":1}"#)]
    #[case::control_character(b"{\"text\":\"a\x01\"}")]
    #[case::invalid_escape(br#"{"text":"\x"}"#)]
    #[case::bad_key(b"{\"c\xFF\":1}")]
    fn what_a_value_rejects_is_rejected_with_the_same_error(#[case] json: &[u8]) {
        let expected = serde_json::from_slice::<Value>(json).unwrap_err();
        let actual = read::<Sample>(json).map(|_| ()).unwrap_err();
        assert_eq!(actual.to_string(), expected.to_string());
    }
}
