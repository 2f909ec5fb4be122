//! Query building: any options object JavaScript could pass to `listEndpoints` is checked
//! or refused with INVALID_QUERY/UNSUPPORTED, never a panic; what passes is encoded with
//! unreserved characters and percent escapes only, and decodes back to the same values.
#![no_main]

use arbitrary::Arbitrary;
use endpoint_login::fields::{Field, Host};
use endpoint_login::query::{encode, ListQuery};
use endpoint_login::Dialect;
use libfuzzer_sys::fuzz_target;

/// A field value as JavaScript could pass it.
#[derive(Debug, Clone, Arbitrary)]
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Object(Vec<(String, Value)>),
    Array,
}

#[derive(Debug, Clone)]
struct Object(Vec<(String, Value)>);

/// A name the query knows (its own list, so that the fuzzer reaches past the unknown-key
/// check), or now and then one it does not.
fn field_name(pick: u8) -> &'static str {
    ListQuery::FIELDS
        .get(usize::from(pick) % (ListQuery::FIELDS.len() + 1))
        .copied()
        .unwrap_or("unknownKey")
}

fn field(value: &Value) -> Field<Object> {
    match value {
        Value::Null => Field::Null,
        Value::Bool(b) => Field::Bool(*b),
        Value::Number(n) => Field::Number(*n),
        Value::Text(t) => Field::Text(t.clone()),
        Value::Object(members) => Field::Object(Object(members.clone())),
        Value::Array => Field::Other("an array"),
    }
}

impl Host for Object {
    fn keys(&self) -> Vec<String> {
        self.0.iter().map(|(k, _)| k.clone()).collect()
    }
    fn field(&self, name: &str) -> Field<Self> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map_or(Field::Absent, |(_, v)| field(v))
    }
}

fn decode(text: &str) -> Vec<(String, String)> {
    let unescape = |part: &str| {
        let bytes = part.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

fuzz_target!(|input: (bool, Vec<(u8, Value)>)| {
    let (vobiz, members) = input;
    let dialect = if vobiz {
        Dialect::Vobiz
    } else {
        Dialect::Plivo
    };
    let object = Object(
        members
            .into_iter()
            .map(|(name, value)| (field_name(name).to_owned(), value))
            .collect(),
    );
    match ListQuery::read(Field::Object(object), dialect) {
        Ok(query) => {
            let wire = query.to_wire();
            let encoded = encode(&wire);
            assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%=&".contains(&b)));
            let decoded = decode(&encoded);
            let expected: Vec<(String, String)> = wire
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect();
            assert_eq!(decoded, expected);
            assert!(
                query.page_size(dialect) >= 1
                    && query.page_size(dialect) <= dialect.max_page_size()
            );
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
});
