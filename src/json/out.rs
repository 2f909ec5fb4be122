//! Writing JSON text: how results cross to JavaScript, which parses each result once with
//! `JSON.parse` (the two hot outputs, decoded tokens and endpoints, are built as objects
//! from joined strings instead: `TokenView::strings`, `EndpointRows`). Output types derive `serde::Serialize` (their TypeScript
//! declarations come from the same definitions); [`to_json`] writes them.
//!
//! Numbers are written as whole numbers (every number the library returns is a count, an
//! id, or seconds or milliseconds), so no float formatting is linked in.

use std::fmt;

use serde::ser::{self, Serialize};

use super::{write_string, Str};

/// Name of the newtype that marks a string already in JSON form ([`serialize_raw`]).
const RAW: &str = "$endpoint_login::json::raw";

/// Serializes `raw`, the content of a checked JSON string literal (a [`Str::raw`] read
/// from a response), so that [`JsonOut`] copies it as it is: no unescape, no escape again.
pub fn serialize_raw<S: ser::Serializer>(serializer: S, raw: &str) -> Result<S::Ok, S::Error> {
    serializer.serialize_newtype_struct(RAW, raw)
}

/// Writes `value` as JSON text.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = JsonOut::with_capacity(256);
    // Every type the library writes is a struct, a sequence or a scalar: nothing fails.
    let _ = value.serialize(&mut out);
    out.finish()
}

/// Appends a whole number in decimal without the formatting machinery.
pub fn push_integer(out: &mut String, value: i64) {
    crate::text::put_integer(out, value < 0, value.unsigned_abs());
}

/// JSON text being written, by hand (`open_object`, `name`, ...) or by serde. Bytes are
/// pushed one at a time where they can be (cheaper than `String::push` of a `char`); only
/// UTF-8 ever goes in, and [`JsonOut::finish`] checks it once.
#[derive(Debug, Default)]
pub struct JsonOut {
    text: Vec<u8>,
    comma: bool,
}

impl JsonOut {
    /// An empty writer with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            text: Vec::with_capacity(capacity),
            comma: false,
        }
    }

    /// The text written.
    pub fn finish(self) -> String {
        String::from_utf8(self.text).unwrap_or_default()
    }

    fn separate(&mut self) {
        if self.comma {
            self.text.push(b',');
        }
        self.comma = true;
    }

    /// Opens an object (as a value, or as the next item of an array).
    pub fn open_object(&mut self) -> &mut Self {
        self.separate();
        self.text.push(b'{');
        self.comma = false;
        self
    }

    /// Closes the object opened last.
    pub fn close_object(&mut self) -> &mut Self {
        self.text.push(b'}');
        self.comma = true;
        self
    }

    /// Opens an array.
    pub fn open_array(&mut self) -> &mut Self {
        self.separate();
        self.text.push(b'[');
        self.comma = false;
        self
    }

    /// Closes the array opened last.
    pub fn close_array(&mut self) -> &mut Self {
        self.text.push(b']');
        self.comma = true;
        self
    }

    /// The name of the next member (one of the library's own names: written as is); its
    /// value is written next.
    pub fn name(&mut self, name: &str) -> &mut Self {
        self.separate();
        self.text.push(b'"');
        self.text.extend_from_slice(name.as_bytes());
        self.text.extend_from_slice(b"\":");
        self.comma = false;
        self
    }

    /// A string value.
    pub fn string(&mut self, text: &str) -> &mut Self {
        self.separate();
        let mut out = String::new();
        write_string(&mut out, text);
        self.text.extend_from_slice(out.as_bytes());
        self
    }

    /// A string value given as a checked JSON string, copied as is.
    pub fn raw_string(&mut self, raw: Str<'_>) -> &mut Self {
        self.separate();
        self.text.push(b'"');
        self.text.extend_from_slice(raw.raw().as_bytes());
        self.text.push(b'"');
        self
    }

    /// A whole number.
    pub fn integer(&mut self, value: i64) -> &mut Self {
        self.separate();
        let mut digits = String::new();
        push_integer(&mut digits, value);
        self.text.extend_from_slice(digits.as_bytes());
        self
    }

    /// `true` or `false`.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.separate();
        let word: &[u8] = if value { b"true" } else { b"false" };
        self.text.extend_from_slice(word);
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.separate();
        self.text.extend_from_slice(b"null");
        self
    }
}

/// A type the writer does not write (none of the library's outputs has one).
#[derive(Debug)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value JSON output does not support")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self
    }
}

type Done = Result<(), Unsupported>;

impl ser::Serializer for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Done {
        self.bool(v);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Done {
        self.integer(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Done {
        self.serialize_i64(i64::try_from(v).map_err(|_| Unsupported)?)
    }
    fn serialize_f32(self, v: f32) -> Done {
        self.serialize_f64(v.into())
    }
    /// Whole numbers only: a count, seconds or milliseconds; a fraction is rounded.
    fn serialize_f64(self, v: f64) -> Done {
        if !v.is_finite() {
            self.null();
            return Ok(());
        }
        self.serialize_i64(v.round() as i64)
    }
    fn serialize_char(self, v: char) -> Done {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Done {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Done {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Done {
        self.null();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.null();
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Done {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Done {
        if name == RAW {
            value.serialize(RawCapture(self))
        } else {
            value.serialize(self)
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.open_object().name(variant);
        value.serialize(&mut *self)?;
        self.close_object();
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Unsupported> {
        self.open_array();
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Unsupported> {
        self.open_object();
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Unsupported> {
        self.open_object();
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.close_array();
        Ok(())
    }
}

impl ser::SerializeTuple for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.close_array();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.close_array();
        Ok(())
    }
}

impl ser::SerializeMap for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(KeyCapture(self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.close_object();
        Ok(())
    }
}

impl ser::SerializeStruct for &mut JsonOut {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        self.name(key);
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.close_object();
        Ok(())
    }
}

/// Takes the one string a [`RawText`] holds and writes it without escaping.
struct RawCapture<'w>(&'w mut JsonOut);

/// Takes a map key (a string) and writes it as a member name.
struct KeyCapture<'w>(&'w mut JsonOut);

macro_rules! only_strings {
    ($capture:ident, $write:expr) => {
        impl ser::Serializer for $capture<'_> {
            type Ok = ();
            type Error = Unsupported;
            type SerializeSeq = ser::Impossible<(), Unsupported>;
            type SerializeTuple = ser::Impossible<(), Unsupported>;
            type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
            type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
            type SerializeMap = ser::Impossible<(), Unsupported>;
            type SerializeStruct = ser::Impossible<(), Unsupported>;
            type SerializeStructVariant = ser::Impossible<(), Unsupported>;

            fn serialize_str(self, v: &str) -> Done {
                let write: fn(&mut JsonOut, &str) = $write;
                write(self.0, v);
                Ok(())
            }
            fn serialize_bool(self, _: bool) -> Done {
                Err(Unsupported)
            }
            fn serialize_i8(self, _: i8) -> Done {
                Err(Unsupported)
            }
            fn serialize_i16(self, _: i16) -> Done {
                Err(Unsupported)
            }
            fn serialize_i32(self, _: i32) -> Done {
                Err(Unsupported)
            }
            fn serialize_i64(self, _: i64) -> Done {
                Err(Unsupported)
            }
            fn serialize_u8(self, _: u8) -> Done {
                Err(Unsupported)
            }
            fn serialize_u16(self, _: u16) -> Done {
                Err(Unsupported)
            }
            fn serialize_u32(self, _: u32) -> Done {
                Err(Unsupported)
            }
            fn serialize_u64(self, _: u64) -> Done {
                Err(Unsupported)
            }
            fn serialize_f32(self, _: f32) -> Done {
                Err(Unsupported)
            }
            fn serialize_f64(self, _: f64) -> Done {
                Err(Unsupported)
            }
            fn serialize_char(self, _: char) -> Done {
                Err(Unsupported)
            }
            fn serialize_bytes(self, _: &[u8]) -> Done {
                Err(Unsupported)
            }
            fn serialize_none(self) -> Done {
                Err(Unsupported)
            }
            fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Done {
                Err(Unsupported)
            }
            fn serialize_unit(self) -> Done {
                Err(Unsupported)
            }
            fn serialize_unit_struct(self, _: &'static str) -> Done {
                Err(Unsupported)
            }
            fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Done {
                self.serialize_str(v)
            }
            fn serialize_newtype_struct<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                _: &T,
            ) -> Done {
                Err(Unsupported)
            }
            fn serialize_newtype_variant<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: &T,
            ) -> Done {
                Err(Unsupported)
            }
            fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_tuple_struct(
                self,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeTupleStruct, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_tuple_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeTupleVariant, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_struct(
                self,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStruct, Unsupported> {
                Err(Unsupported)
            }
            fn serialize_struct_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStructVariant, Unsupported> {
                Err(Unsupported)
            }
        }
    };
}

only_strings!(RawCapture, |out, raw| {
    out.raw_string(Str::checked(raw));
});
only_strings!(KeyCapture, |out, key| {
    out.string(key);
    out.text.push(b':');
    out.comma = false;
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse, Value};
    use serde_json::json;

    #[test]
    fn the_writer_writes_what_json_reads() {
        let source = parse(r#"{"s": "a\"b"}"#).unwrap();
        let Some(Value::String(raw)) = source.get("s") else {
            panic!("a string")
        };
        let mut out = JsonOut::default();
        out.open_object();
        out.name("text").string("line\nbreak");
        out.name("raw").raw_string(*raw);
        out.name("n").integer(-1_800_000_000);
        out.name("zero").integer(0);
        out.name("max").integer(i64::MAX);
        out.name("min").integer(i64::MIN);
        out.name("yes").bool(true);
        out.name("no").bool(false);
        out.name("none").null();
        out.name("list").open_array();
        out.integer(1).string("two");
        out.open_object().name("x").null().close_object();
        out.open_array().close_array();
        out.close_array();
        out.name("empty").open_object().close_object();
        out.close_object();
        let text = out.finish();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"text": "line\nbreak", "raw": "a\"b", "n": -1_800_000_000,
                "zero": 0, "max": i64::MAX, "min": i64::MIN, "yes": true, "no": false,
                "none": null, "list": [1, "two", {"x": null}, []], "empty": {}})
        );
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        app_id: Option<&'static str>,
    }

    #[derive(serde::Serialize)]
    #[serde(tag = "type", rename_all = "camelCase")]
    enum Event {
        #[serde(rename_all = "camelCase")]
        TokenRefreshed {
            seconds_left: f64,
        },
        Gone,
    }

    struct Raw<'a>(Str<'a>);

    impl Serialize for Raw<'_> {
        fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_raw(serializer, self.0.raw())
        }
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sample<'a> {
        endpoint_id: Raw<'a>,
        count: u32,
        expires_at: f64,
        ratio: f64,
        missing: Option<u8>,
        application: Option<Inner>,
        list: Vec<Inner>,
        events: [Event; 2],
        map: std::collections::BTreeMap<&'static str, bool>,
        dialect: Unit,
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    enum Unit {
        Plivo,
    }

    #[test]
    fn serde_types_are_written_as_serde_json_writes_them() {
        let body = parse(r#"{"id": "a\"b\u00e9"}"#).unwrap();
        let Some(Value::String(id)) = body.get("id") else {
            panic!("a string")
        };
        let sample = Sample {
            endpoint_id: Raw(*id),
            count: 7,
            expires_at: 1_800_000_000_000.0,
            ratio: 2.6,
            missing: None,
            application: Some(Inner { app_id: Some("x") }),
            list: vec![Inner { app_id: None }],
            events: [Event::TokenRefreshed { seconds_left: 59.0 }, Event::Gone],
            map: [("a", true)].into_iter().collect(),
            dialect: Unit::Plivo,
        };
        let written: serde_json::Value = serde_json::from_str(&to_json(&sample)).unwrap();
        assert_eq!(
            written,
            json!({"endpointId": "a\"bé", "count": 7, "expiresAt": 1_800_000_000_000_i64,
                "ratio": 3, "missing": null, "application": {"appId": "x"},
                "list": [{"appId": null}],
                "events": [{"type": "tokenRefreshed", "secondsLeft": 59}, {"type": "gone"}],
                "map": {"a": true}, "dialect": "plivo"})
        );
    }
}
