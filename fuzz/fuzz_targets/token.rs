//! Token decoding: any text gives a decoded token or a typed error, never a panic; what
//! decodes is what the browser SDK needs (HS256, an issuer, a lifetime), and verification
//! agrees with decoding.
#![no_main]

use endpoint_login::token::{decode_access_token, verify_access_token};
use endpoint_login::ErrorCode;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "sandbox_auth_token_0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match decode_access_token(text) {
        Ok(decoded) => {
            assert_eq!(decoded.header.alg, "HS256");
            assert!(!decoded.claims.iss.is_empty());
            assert!(
                decoded.claims.exp > decoded.claims.nbf,
                "{:?}",
                decoded.claims
            );
            // Verification reads the same token: it can only add signature and time errors.
            if let Err(e) = verify_access_token(text, KEY, decoded.claims.nbf, 0) {
                assert!(
                    matches!(
                        e.code,
                        ErrorCode::InvalidSignature | ErrorCode::TokenExpired
                    ),
                    "{:?}",
                    e.code
                );
            }
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::MalformedToken, "{}", e.message);
            assert!(verify_access_token(text, KEY, 0, 0).is_err());
        }
    }
});
