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

fn url_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    }))
}

/// Why a text is not base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A character outside `A-Z a-z 0-9 - _` (padding included), at this byte offset.
    Character(usize),
    /// A length no encoding produces, or bits left over that an encoder would have zeroed.
    Length,
}

/// Decodes base64url without padding (RFC 4648 §5), strictly: the only text that
/// decodes is the text an encoder writes.
pub fn decode_url(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = text.as_bytes();
    if let Some(at) = bytes.iter().position(|&c| url_value(c).is_none()) {
        return Err(DecodeError::Character(at));
    }
    if bytes.len() % 4 == 1 {
        return Err(DecodeError::Length);
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= url_value(c).unwrap_or(0) << (18 - 6 * i);
        }
        let whole = chunk.len() - 1;
        // The bits below the last whole byte must be zero in a canonical encoding.
        if n & ((1 << (24 - 8 * whole)) - 1) != 0 && chunk.len() < 4 {
            return Err(DecodeError::Length);
        }
        out.extend(n.to_be_bytes()[1..=whole].iter());
    }
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
