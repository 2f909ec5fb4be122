//! Messages built without `core::fmt`.
//!
//! `format!` links the formatting machinery (and, through `{:?}` and `f64`, the Unicode
//! tables and the float formatter) into every page's WebAssembly. Messages only ever
//! join text and whole numbers, so [`text!`](crate::text!) does exactly that:
//!
//! ```
//! use endpoint_login::text;
//! let count = 26;
//! assert_eq!(text!("it has ", count, " characters"), "it has 26 characters");
//! ```

/// A part of a message: text, a character or a whole number.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Text.
    Text(&'a str),
    /// A character.
    Char(char),
    /// A whole number and its sign.
    Number(bool, u64),
}

/// What can be a [`Part`] of a message.
pub trait Piece {
    /// This value as a part.
    fn part(&self) -> Part<'_>;
}

impl Piece for str {
    fn part(&self) -> Part<'_> {
        Part::Text(self)
    }
}

impl Piece for String {
    fn part(&self) -> Part<'_> {
        Part::Text(self)
    }
}

impl Piece for std::borrow::Cow<'_, str> {
    fn part(&self) -> Part<'_> {
        Part::Text(self)
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn part(&self) -> Part<'_> {
        (**self).part()
    }
}

impl Piece for char {
    fn part(&self) -> Part<'_> {
        Part::Char(*self)
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn part(&self) -> Part<'_> {
                Part::Number(false, *self as u64)
            }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn part(&self) -> Part<'_> {
                Part::Number(*self < 0, (*self as i64).unsigned_abs())
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, usize);
signed!(i32, i64);

/// Joins parts into a `String` (what [`text!`](crate::text!) calls: one copy of the code
/// for every message).
#[inline(never)]
pub fn join(parts: &[Part<'_>]) -> String {
    let mut out = String::new();
    for part in parts {
        match *part {
            Part::Text(text) => out.push_str(text),
            Part::Char(c) => out.push(c),
            Part::Number(negative, magnitude) => put_integer(&mut out, negative, magnitude),
        }
    }
    out
}

/// Appends a whole number in decimal.
pub fn put_integer(out: &mut String, negative: bool, mut magnitude: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
}

/// Joins text and whole numbers into a `String`: `text!("got ", n, " items")`.
#[macro_export]
macro_rules! text {
    ($($piece:expr),+ $(,)?) => {
        $crate::text::join(&[$($crate::text::Piece::part(&$piece)),+])
    };
}

/// The number of characters (not bytes) of `text`.
pub fn char_count(text: &str) -> usize {
    text.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// `text` cut after `max` characters, with `…` where it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// A whole number as text.
pub fn integer(value: i64) -> String {
    join(&[value.part()])
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_read_as_format_writes_them() {
        for n in [
            0i64,
            7,
            -7,
            10,
            99,
            100,
            i64::MAX,
            i64::MIN,
            9_007_199_254_740_991,
        ] {
            assert_eq!(crate::text::integer(n), n.to_string());
        }
        assert_eq!(text!(u64::MAX), u64::MAX.to_string());
        assert_eq!(
            text!(0u8, 'x', "y", String::from("z"), &String::from("w")),
            "0xyzw"
        );
    }
}
