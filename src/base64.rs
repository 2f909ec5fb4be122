//! Base64 as the library needs it: standard encoding for HTTP Basic credentials, and
//! strict base64url decoding (no padding) for the parts of an access token. A few dozen
//! lines instead of a general codec: every byte of WebAssembly is downloaded by every
//! page.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(STANDARD[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The value of each base64url character; 64 for every other byte.
const URL_VALUES: [u8; 256] = {
    let mut table = [64u8; 256];
    let mut i = 0;
    while i < 64 {
        let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i];
        table[c as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a text is not base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A character outside `A-Z a-z 0-9 - _` (padding included), at this byte offset.
    Character(usize),
    /// A length no encoding produces, or bits left over that an encoder would have zeroed.
    Length,
}

/// The most bytes `text_len` characters of base64 decode to.
pub fn decoded_len(text_len: usize) -> usize {
    text_len / 4 * 3 + 2
}

/// Decodes base64url without padding (RFC 4648 §5), strictly: the only text that
/// decodes is the text an encoder writes. Writes to the start of `out`, which must hold
/// [`decoded_len`] bytes, and returns how many it wrote.
pub fn decode_url_to(text: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let bad = |from: usize| {
        let at = text
            .iter()
            .skip(from)
            .position(|&c| URL_VALUES[usize::from(c)] == 64);
        DecodeError::Character(from + at.unwrap_or(0))
    };
    if out.len() < decoded_len(text.len()) {
        return Err(DecodeError::Length);
    }
    let whole = text.len() / 4 * 4;
    // Plain indexing: at opt-level "z" iterator adapters keep their state in memory.
    let (mut i, mut o) = (0, 0);
    while i < whole {
        let v = |k: usize| URL_VALUES[usize::from(text[i + k])];
        let (a, b, c, d) = (v(0), v(1), v(2), v(3));
        if (a | b | c | d) & 64 != 0 {
            return Err(bad(i));
        }
        let n = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        out[o] = (n >> 16) as u8;
        out[o + 1] = (n >> 8) as u8;
        out[o + 2] = n as u8;
        i += 4;
        o += 3;
    }
    let mut n = 0;
    while i < text.len() {
        match URL_VALUES[usize::from(text[i])] {
            64 => return Err(bad(i)),
            v => n = n << 6 | u32::from(v),
        }
        i += 1;
    }
    match text.len() - whole {
        0 => {}
        // Two characters carry one byte and four bits that must be zero.
        2 if n & 0xF == 0 => {
            out[o] = (n >> 4) as u8;
            o += 1;
        }
        // Three carry two bytes and two zero bits.
        3 if n & 0x3 == 0 => {
            out[o] = (n >> 10) as u8;
            out[o + 1] = (n >> 2) as u8;
            o += 2;
        }
        _ => return Err(DecodeError::Length),
    }
    Ok(o)
}

/// Decodes base64url without padding into a new vector ([`decode_url_to`]).
pub fn decode_url(text: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![0; decoded_len(text.len())];
    let written = decode_url_to(text.as_bytes(), &mut out)?;
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::Encoding;

    #[test]
    fn encoding_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("MA1:tok", "TUExOnRvaw=="),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn decoding_agrees_with_a_reference_codec() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let text = base64ct::Base64UrlUnpadded::encode_string(&bytes);
            assert_eq!(decode_url(&text), Ok(bytes.clone()), "{text}");
            assert_eq!(encode(&bytes), base64ct::Base64::encode_string(&bytes));
        }
    }

    #[test]
    fn only_canonical_base64url_decodes() {
        for (text, error) in [
            ("a", DecodeError::Length),
            ("abcde", DecodeError::Length),
            ("Zg=", DecodeError::Character(2)),
            ("Zg==", DecodeError::Character(2)),
            ("Zm9+", DecodeError::Character(3)),
            ("Zm9/", DecodeError::Character(3)),
            ("Zm 9", DecodeError::Character(2)),
            ("Zh", DecodeError::Length),
            ("Zm9", DecodeError::Length),
        ] {
            assert_eq!(decode_url(text), Err(error), "{text}");
            assert!(
                base64ct::Base64UrlUnpadded::decode_vec(text).is_err(),
                "{text}"
            );
        }
        assert_eq!(decode_url("Zm8"), Ok(b"fo".to_vec()));
    }
}
