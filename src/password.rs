//! Strong random passwords for `rotatePassword`.

use crate::error::Result;

/// Length of generated passwords: 24 characters of 62 give about 142 bits.
pub const GENERATED_LENGTH: usize = 24;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Bytes at or above this would bias `byte % 62`; they are drawn again.
const UNBIASED_LIMIT: u8 = 248;

/// A password of [`GENERATED_LENGTH`] letters and digits with at least one upper-case
/// letter, one lower-case letter and one digit. `fill` supplies cryptographically secure
/// random bytes (`crypto.getRandomValues` in the browser).
pub fn generate(mut fill: impl FnMut(&mut [u8]) -> Result<()>) -> Result<String> {
    loop {
        let mut password = String::with_capacity(GENERATED_LENGTH);
        let mut buffer = [0u8; 64];
        while password.len() < GENERATED_LENGTH {
            fill(&mut buffer)?;
            for &byte in &buffer {
                if byte < UNBIASED_LIMIT && password.len() < GENERATED_LENGTH {
                    password.push(ALPHABET[usize::from(byte % 62)] as char);
                }
            }
        }
        let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
        {
            return Ok(password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorCode};
    use crate::validate;

    /// A deterministic byte source (xorshift) standing in for the browser's crypto.
    fn source(seed: u64) -> impl FnMut(&mut [u8]) -> Result<()> {
        let mut state = seed;
        move |buf| {
            for b in buf {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = (state >> 24) as u8;
            }
            Ok(())
        }
    }

    #[test]
    fn passwords_are_long_mixed_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for seed in 1..200 {
            let p = generate(source(seed)).unwrap();
            assert_eq!(p.len(), GENERATED_LENGTH);
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            validate::password(&p).unwrap();
            assert!(seen.insert(p));
        }
    }

    #[test]
    fn biased_bytes_are_skipped() {
        // Only 255s (always rejected) then 0..: the password must use only the later bytes.
        let mut calls = 0;
        let p = generate(|buf: &mut [u8]| {
            calls += 1;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if calls == 1 { 255 } else { (i * 7 % 62) as u8 };
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(&p[..3], "AHO");
        assert!(calls >= 2);
    }

    #[test]
    fn source_failures_propagate() {
        let e = generate(|_: &mut [u8]| Err(Error::new(ErrorCode::Unsupported, "no crypto")))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unsupported);
    }
}
