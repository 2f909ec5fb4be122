//! A small JSON reader for what the platforms send: response bodies, error bodies and the
//! two JSON parts of an access token.
//!
//! It parses into a tree that borrows from the text: strings stay as the checked text
//! between their quotes ([`Str`]), unescaped only when read, so a string copied to the
//! output is copied as it is; numbers stay as their text and are converted only when a
//! field is read ([`Value::as_integer`]), so no float parsing or formatting is linked into
//! the WebAssembly. Hostile input is bounded: nesting deeper than [`MAX_DEPTH`] is
//! refused, and every failure is a [`JsonError`], never a panic.

use std::borrow::Cow;

mod out;

pub use out::{push_integer, serialize_raw, to_json, JsonOut};

/// Deepest nesting of arrays and objects accepted (the APIs nest three levels).
pub const MAX_DEPTH: usize = 64;

/// A parsed JSON value, borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its JSON text (already checked against the JSON grammar).
    Number(&'a str),
    /// A string.
    String(Str<'a>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object's members in order (a repeated name: the last one counts, as in
    /// `JSON.parse`).
    Object(Vec<(Str<'a>, Value<'a>)>),
}

/// A JSON string as the text between its quotes, escapes intact. The reader checked it,
/// so it is a valid JSON string literal's content and can be copied to JSON output as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    /// A string from content that came out of [`Str::raw`] (or a part of a [`Str::plain`]
    /// text): it is known to be valid JSON string content.
    pub(crate) fn checked(raw: &'a str) -> Self {
        Self {
            raw,
            escaped: raw.contains('\\'),
        }
    }

    /// The literal's content, escapes intact.
    pub fn raw(self) -> &'a str {
        self.raw
    }

    /// The text itself when it has no escapes (the common case): no copy needed.
    pub fn plain(self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The text, escapes undone (borrowed when it has none).
    pub fn text(self) -> Cow<'a, str> {
        match self.plain() {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(unescape(self.raw)),
        }
    }

    /// True when the text equals `other`.
    pub fn is(self, other: &str) -> bool {
        match self.plain() {
            Some(text) => text == other,
            None => unescape(self.raw) == other,
        }
    }
}

/// Why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The text ends in the middle of a value: a truncated body.
    Truncated,
    /// Something that is not JSON, at this byte offset.
    Syntax(usize),
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl JsonError {
    /// A few words for messages: "a truncated JSON text", "not JSON".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Truncated => "a truncated JSON text",
            Self::Syntax(_) => "not JSON",
            Self::TooDeep => "JSON nested too deeply",
        }
    }
}

/// Parses a whole JSON text (surrounding white space allowed) into a tree.
pub fn parse(text: &str) -> Result<Value<'_>, JsonError> {
    let mut reader = Reader::new(text);
    let start = reader.next_value()?;
    let value = reader.tree(start)?;
    reader.finish()?;
    Ok(value)
}

/// The start of a value, as [`Reader::next_value`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number's text.
    Number(&'a str),
    /// A string.
    String(Str<'a>),
    /// `{`: read its members with [`Reader::next_member`].
    Object,
    /// `[`: read its items with [`Reader::next_item`].
    Array,
}

impl Event<'_> {
    /// What kind of value this is, for messages: "a string", "null", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        }
    }
}

/// A pull reader: values are read as they come, without building a tree, so a large body
/// is read in one pass with no allocation.
pub struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    /// Just after `{` or `[`: the next member or item has no comma before it.
    first: bool,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
            first: false,
        }
    }

    #[inline(always)]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Result<u8, JsonError> {
        self.bytes.get(self.at).copied().ok_or(JsonError::Truncated)
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_space();
        if self.peek()? != byte {
            return Err(JsonError::Syntax(self.at));
        }
        self.at += 1;
        Ok(())
    }

    fn expect_word(&mut self, word: &[u8]) -> Result<(), JsonError> {
        for &expected in word {
            if self.peek()? != expected {
                return Err(JsonError::Syntax(self.at));
            }
            self.at += 1;
        }
        Ok(())
    }

    /// Reads the start of the next value: a whole scalar, or the opening of an object or
    /// an array (whose content the caller then reads or [`skip`](Self::skip)s).
    pub fn next_value(&mut self) -> Result<Event<'a>, JsonError> {
        self.skip_space();
        match self.peek()? {
            open @ (b'{' | b'[') => {
                if self.depth == MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                self.depth += 1;
                self.at += 1;
                self.first = true;
                Ok(if open == b'{' {
                    Event::Object
                } else {
                    Event::Array
                })
            }
            b'"' => self.string().map(Event::String),
            b't' => self.expect_word(b"true").map(|()| Event::Bool(true)),
            b'f' => self.expect_word(b"false").map(|()| Event::Bool(false)),
            b'n' => self.expect_word(b"null").map(|()| Event::Null),
            b'-' | b'0'..=b'9' => self.number().map(Event::Number),
            _ => Err(JsonError::Syntax(self.at)),
        }
    }

    /// Ends the container being read on `close`; false when a comma leads to another
    /// member or item.
    fn close_or_comma(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_space();
        let byte = self.peek()?;
        if byte == close {
            self.at += 1;
            self.first = false;
            self.depth -= 1;
            return Ok(true);
        }
        if self.first {
            self.first = false;
            return Ok(false);
        }
        if byte == b',' {
            self.at += 1;
            return Ok(false);
        }
        Err(JsonError::Syntax(self.at))
    }

    /// Inside an object: when the next member is `quoted` (a name in JSON form, quotes
    /// included, without escapes) and nothing stands between it, the comma before it and
    /// its colon, reads them and returns true; otherwise reads nothing and returns false.
    /// A fast path for compact bodies whose member order is known: one comparison instead
    /// of reading the name.
    pub fn next_member_is(&mut self, quoted: &[u8]) -> bool {
        let mut at = self.at;
        if !self.first {
            if self.bytes.get(at) != Some(&b',') {
                return false;
            }
            at += 1;
        }
        let end = at + quoted.len();
        if self.bytes.get(at..end) != Some(quoted) || self.bytes.get(end) != Some(&b':') {
            return false;
        }
        self.at = end + 1;
        self.first = false;
        true
    }

    /// Inside an object: the next member's name (its value is read next), or `None` after
    /// the closing `}`.
    pub fn next_member(&mut self) -> Result<Option<Str<'a>>, JsonError> {
        if self.close_or_comma(b'}')? {
            return Ok(None);
        }
        self.skip_space();
        if self.peek()? != b'"' {
            return Err(JsonError::Syntax(self.at));
        }
        let name = self.string()?;
        self.expect(b':')?;
        Ok(Some(name))
    }

    /// Inside an array: true when another item follows (read it next), false after the
    /// closing `]`.
    pub fn next_item(&mut self) -> Result<bool, JsonError> {
        Ok(!self.close_or_comma(b']')?)
    }

    /// Skips the rest of a value whose start was read.
    pub fn skip(&mut self, start: Event<'a>) -> Result<(), JsonError> {
        match start {
            Event::Object => {
                while self.next_member()?.is_some() {
                    let inner = self.next_value()?;
                    self.skip(inner)?;
                }
            }
            Event::Array => {
                while self.next_item()? {
                    let inner = self.next_value()?;
                    self.skip(inner)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads the rest of a value whose start was read, as a tree.
    pub fn tree(&mut self, start: Event<'a>) -> Result<Value<'a>, JsonError> {
        Ok(match start {
            Event::Null => Value::Null,
            Event::Bool(b) => Value::Bool(b),
            Event::Number(n) => Value::Number(n),
            Event::String(s) => Value::String(s),
            Event::Object => {
                let mut members = Vec::new();
                while let Some(name) = self.next_member()? {
                    let inner = self.next_value()?;
                    members.push((name, self.tree(inner)?));
                }
                Value::Object(members)
            }
            Event::Array => {
                let mut items = Vec::new();
                while self.next_item()? {
                    let inner = self.next_value()?;
                    items.push(self.tree(inner)?);
                }
                Value::Array(items)
            }
        })
    }

    /// Checks that only white space follows the value read.
    pub fn finish(mut self) -> Result<(), JsonError> {
        self.skip_space();
        match self.bytes.get(self.at) {
            None => Ok(()),
            Some(_) => Err(JsonError::Syntax(self.at)),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.at;
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return Err(JsonError::Syntax(self.at)),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.syntax_or_truncated());
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax_or_truncated());
            }
        }
        Ok(self.text.get(start..self.at).unwrap_or_default())
    }

    fn syntax_or_truncated(&self) -> JsonError {
        if self.at >= self.bytes.len() {
            JsonError::Truncated
        } else {
            JsonError::Syntax(self.at)
        }
    }

    /// A string starting at the opening quote: checks it and returns its content.
    fn string(&mut self) -> Result<Str<'a>, JsonError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            // The common run of plain characters: eight bytes at a time, then one by one.
            let (bytes, mut at) = (self.bytes, self.at);
            while let Some(word) = bytes
                .get(at..at + 8)
                .and_then(|w| <&[u8; 8]>::try_from(w).ok())
            {
                if special(u64::from_le_bytes(*word)) {
                    break;
                }
                at += 8;
            }
            while at < bytes.len() {
                let b = bytes[at];
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                at += 1;
            }
            self.at = at;
            match self.peek()? {
                b'"' => {
                    let raw = self.text.get(start..self.at).unwrap_or_default();
                    self.at += 1;
                    return Ok(Str { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            self.at += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return Err(JsonError::Syntax(self.at));
                                }
                                self.at += 1;
                            }
                        }
                        _ => return Err(JsonError::Syntax(self.at)),
                    }
                }
                _ => return Err(JsonError::Syntax(self.at)),
            }
        }
    }
}

/// True when one of the eight bytes of `word` ends a run of plain string characters:
/// `"`, `\\` or a control character (the classic "has a zero byte" test, three times).
#[inline(always)]
fn special(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero(word ^ (ONES * u64::from(b'"')));
    let backslash = zero(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control != 0
}

/// Undoes the escapes of a checked string's content. A lone surrogate (which `JSON.parse`
/// keeps) becomes U+FFFD.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let escape = rest.get(i + 1..).unwrap_or_default();
        let (c, used) = match escape.as_bytes().first() {
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => {
                let first = hex4(escape.get(1..5));
                let second = escape
                    .get(5..7)
                    .filter(|s| *s == "\\u")
                    .and_then(|_| hex4(escape.get(7..11)));
                match (first, second) {
                    (Some(hi @ 0xD800..=0xDBFF), Some(lo @ 0xDC00..=0xDFFF)) => {
                        let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        (
                            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                            11,
                        )
                    }
                    (Some(code), _) => (
                        char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                        5,
                    ),
                    (None, _) => (char::REPLACEMENT_CHARACTER, 1),
                }
            }
            Some(&b) => (char::from(b), 1),
            None => break,
        };
        out.push(c);
        rest = escape.get(used..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn hex4(digits: Option<&str>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

impl<'a> Value<'a> {
    /// The member `name` of an object (the last one, if repeated); `None` for other values.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        match self {
            Self::Object(members) => members
                .iter()
                .rev()
                .find_map(|(key, value)| key.is(name).then_some(value)),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self {
            Self::String(s) => Some(s.text()),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The members of an object.
    pub fn as_object(&self) -> Option<&[(Str<'a>, Value<'a>)]> {
        match self {
            Self::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// A number that is exactly a whole number within `i64` (`1800000000`, `3.0`,
    /// `1.8e9`); `None` for fractions, numbers out of range and other values.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Self::Number(text) => integer(text),
            _ => None,
        }
    }

    /// What kind of value this is, for messages: "a string", "null", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

/// The exact integer a JSON number denotes, if it is one within `i64` (the text was
/// checked against the JSON grammar when it was read).
pub fn integer(text: &str) -> Option<i64> {
    // The common case: a few plain digits.
    if !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            text.bytes()
                .fold(0i64, |n, digit| n * 10 + i64::from(digit - b'0')),
        );
    }
    let mut bytes = text.bytes().peekable();
    let negative = bytes.next_if_eq(&b'-').is_some();
    // The digits as one integer, and how many of them follow the point. Zeros after the
    // point are only counted once a non-zero digit follows them.
    let (mut value, mut fraction_digits, mut zeros, mut in_fraction) = (0i64, 0i64, 0i64, false);
    let mut exponent = 0i64;
    while let Some(b) = bytes.next() {
        match b {
            b'.' => in_fraction = true,
            b'e' | b'E' => {
                let sign = match bytes.next_if(|b| *b == b'-' || *b == b'+') {
                    Some(b'-') => -1,
                    _ => 1,
                };
                for d in bytes.by_ref() {
                    exponent = (exponent * 10 + i64::from(d - b'0')).min(1_000);
                }
                exponent *= sign;
            }
            b'0' if in_fraction => zeros += 1,
            digit => {
                let scale = if in_fraction { zeros + 1 } else { 1 };
                for _ in 0..scale {
                    value = value.checked_mul(10)?;
                }
                value = value.checked_add(i64::from(digit - b'0'))?;
                if in_fraction {
                    fraction_digits += scale;
                    zeros = 0;
                }
            }
        }
    }
    let mut shift = exponent - fraction_digits;
    while shift > 0 {
        value = value.checked_mul(10)?;
        shift -= 1;
    }
    while shift < 0 {
        if value % 10 != 0 {
            return None;
        }
        value /= 10;
        shift += 1;
    }
    Some(if negative { -value } else { value })
}

/// Appends `text` to `out` as a JSON string literal.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(text.get(run..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(text.get(run..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_kind() {
        let v = parse(r#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}, "e": ""} "#)
            .unwrap();
        let a = v.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[0], Value::Number("1"));
        assert_eq!(a[1], Value::Number("-2.5"));
        assert_eq!(a[2].as_integer(), Some(300));
        assert_eq!(a[3].as_bool(), Some(true));
        assert_eq!(a[4].as_bool(), Some(false));
        assert!(a[5].is_null());
        assert_eq!(
            v.get("b").unwrap().get("c").unwrap().as_str().as_deref(),
            Some("d")
        );
        assert_eq!(v.get("e").unwrap().as_str().as_deref(), Some(""));
        assert_eq!(v.get("missing"), None);
        assert_eq!(parse("[]").unwrap(), Value::Array(vec![]));
        assert_eq!(parse("{}").unwrap(), Value::Object(vec![]));
        assert_eq!(parse("0").unwrap().as_integer(), Some(0));
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let text = r#"["plain", "a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0041\b\f\r"]"#;
        let v = parse(text).unwrap();
        let items = v.as_array().unwrap();
        assert!(matches!(items[0].as_str(), Some(Cow::Borrowed("plain"))));
        assert_eq!(
            items[1].as_str().as_deref(),
            Some("a\"b\\c/d\n\té😀A\u{8}\u{c}\r")
        );
        let Value::String(raw) = &items[1] else {
            panic!("a string")
        };
        assert_eq!(raw.raw(), r#"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0041\b\f\r"#);
        let text = |json: &str| parse(json).unwrap().as_str().unwrap().into_owned();
        assert_eq!(text(r#""\ud800x""#), "\u{fffd}x");
        assert_eq!(text(r#""\udc00""#), "\u{fffd}");
        assert_eq!(text(r#""\ud800\u0041""#), "\u{fffd}A");
        assert_eq!(text(r#""\ud800""#), "\u{fffd}");
        assert_eq!(text("\"ünï\""), "ünï");
        let keyed = parse(r#"{"a\u0062": 1}"#).unwrap();
        assert_eq!(keyed.get("ab").unwrap().as_integer(), Some(1));
    }

    #[test]
    fn words_with_a_special_byte_are_found_wherever_it_is() {
        for byte in 0..=255u8 {
            let is_special = byte == b'"' || byte == b'\\' || byte < 0x20;
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = byte;
                assert_eq!(
                    special(u64::from_le_bytes(word)),
                    is_special,
                    "{byte} at {at}"
                );
            }
        }
        // Strings crossing the eight-byte steps at every offset.
        for pad in 0..20 {
            let body = "x".repeat(pad);
            let text = format!(r#"["{body}", "{body}\"{body}", "{body}é"]"#);
            let v = parse(&text).unwrap();
            let items = v.as_array().unwrap();
            assert_eq!(items[0].as_str().unwrap(), body);
            assert_eq!(items[1].as_str().unwrap(), format!("{body}\"{body}"));
            assert_eq!(items[2].as_str().unwrap(), format!("{body}é"));
            assert!(
                parse(&format!("[\"{body}\u{1}\"]")).is_err(),
                "a raw control character"
            );
        }
    }

    #[test]
    fn the_last_of_a_repeated_name_counts() {
        let v = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(v.get("a").unwrap().as_integer(), Some(2));
    }

    #[test]
    fn integers_are_exact_or_nothing() {
        let table = [
            ("1800000000", Some(1_800_000_000)),
            ("-5", Some(-5)),
            ("3.0", Some(3)),
            ("3.000", Some(3)),
            ("1.8e9", Some(1_800_000_000)),
            ("18E+8", Some(1_800_000_000)),
            ("1500e-3", None),
            ("1000e-3", Some(1)),
            ("0.0", Some(0)),
            ("-0", Some(0)),
            ("0e5", Some(0)),
            ("1.5", None),
            ("1e-1", None),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("1e19", None),
            ("1e300", None),
            ("1e-99999999999", None),
            ("123456789012345678901234567890", None),
        ];
        for (text, expected) in table {
            assert_eq!(Value::Number(text).as_integer(), expected, "{text}");
            assert_eq!(parse(text).unwrap().as_integer(), expected, "{text}");
        }
        assert_eq!(
            Value::String(Str {
                raw: "1",
                escaped: false
            })
            .as_integer(),
            None
        );
    }

    #[test]
    fn faults_are_errors_not_panics() {
        let table = [
            ("", JsonError::Truncated),
            ("   ", JsonError::Truncated),
            (r#"{"meta": {"limit""#, JsonError::Truncated),
            (r#"{"a": 1"#, JsonError::Truncated),
            (r#""abc"#, JsonError::Truncated),
            (r#""a\"#, JsonError::Truncated),
            ("[1, 2", JsonError::Truncated),
            ("-", JsonError::Truncated),
            ("1.", JsonError::Truncated),
            ("1e", JsonError::Truncated),
            (r#""\u12"#, JsonError::Truncated),
            ("<!doctype html>", JsonError::Syntax(0)),
            ("{'a': 1}", JsonError::Syntax(1)),
            ("[1,]", JsonError::Syntax(3)),
            ("{\"a\" 1}", JsonError::Syntax(5)),
            ("01", JsonError::Syntax(1)),
            ("1.x", JsonError::Syntax(2)),
            ("+1", JsonError::Syntax(0)),
            ("tru", JsonError::Truncated),
            ("trux", JsonError::Syntax(3)),
            ("nul", JsonError::Truncated),
            ("{} {}", JsonError::Syntax(3)),
            ("\"a\u{1}\"", JsonError::Syntax(2)),
            (r#""\x""#, JsonError::Syntax(2)),
            (r#""\u00zz""#, JsonError::Syntax(5)),
            ("[NaN]", JsonError::Syntax(1)),
            ("[Infinity]", JsonError::Syntax(1)),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert_eq!(parse(&deep(MAX_DEPTH + 1)), Err(JsonError::TooDeep));
        assert_eq!(parse(&deep(100_000)), Err(JsonError::TooDeep));
        let objects = format!(
            "{}1{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(&objects), Err(JsonError::TooDeep));
    }

    #[test]
    fn strings_are_written_as_json_reads_them() {
        for text in [
            "plain",
            "",
            "quote \" backslash \\ slash /",
            "lines\n\r\ttabs",
            "control \u{0} \u{1f} \u{7f}",
            "unicode é 😀 \u{2028}",
        ] {
            let mut out = String::new();
            write_string(&mut out, text);
            assert_eq!(
                parse(&out).unwrap().as_str().as_deref(),
                Some(text),
                "{out}"
            );
            let through_serde: String = serde_json::from_str(&out).unwrap();
            assert_eq!(through_serde, text);
        }
    }
}
