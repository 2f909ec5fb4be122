//! Decoding and checking Plivo access tokens.
//!
//! jwt-compact's `UntrustedToken` refuses every real Plivo token because of its
//! `"cty": "plivo;v=1"` header, so the token is split and base64url-decoded here; its
//! claims then go through jwt-compact's `Claims` and time types, and its signature through
//! jwt-compact's HS256 primitives. The checks follow what the Plivo browser SDK checks, and
//! are stricter: each fault names the part of the token and the reason.

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, TimeZone, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature, Claims, Empty, TimeOptions, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tsify::Tsify;

use super::time::MAX_SAFE_INTEGER;
use crate::error::{Error, ErrorCode, Result};

/// The only content type a Plivo token carries.
pub const PLIVO_CONTENT_TYPE: &str = "plivo;v=1";
/// Longest token accepted (real tokens are about 400 characters).
pub const MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// The header of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct AccessTokenHeader {
    /// Always `"HS256"`.
    pub alg: String,
    /// `"plivo;v=1"` on tokens from the JWT API, absent on others.
    pub cty: Option<String>,
    /// Usually `"JWT"`.
    pub typ: Option<String>,
}

/// Voice grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct VoiceGrants {
    /// May receive calls (false when absent).
    pub incoming_allow: bool,
    /// May place calls (false when absent).
    pub outgoing_allow: bool,
}

/// Grants of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
pub struct Grants {
    /// Voice grants.
    pub voice: VoiceGrants,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct AccessTokenClaims {
    /// Issuer: the account's Auth ID.
    pub iss: String,
    /// Subject: the endpoint username, when the token is for one.
    pub sub: Option<String>,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Application id, when given.
    pub app: Option<String>,
    /// Grants.
    pub per: Grants,
}

/// A decoded access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
pub struct DecodedAccessToken {
    /// The header.
    pub header: AccessTokenHeader,
    /// The claims.
    pub claims: AccessTokenClaims,
}

/// A token split into its parts and checked, ready for signature and time checks.
#[derive(Debug, Clone)]
pub struct ParsedToken {
    /// Header and claims for JavaScript.
    pub decoded: DecodedAccessToken,
    /// The expiry and maturity as jwt-compact's claims.
    pub claims: Claims<Empty>,
    /// `header.claims` exactly as in the token: what the signature covers.
    pub signing_input: String,
    /// The raw signature.
    pub signature: Vec<u8>,
}

fn malformed(part: &str, reason: impl std::fmt::Display) -> Error {
    Error::malformed_token(part, reason)
}

fn decode_part(part: &str, text: &str) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Err(malformed(part, "it is empty"));
    }
    Base64UrlUnpadded::decode_vec(text).map_err(|_| {
        let bad = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'));
        match bad {
            Some(c) => malformed(
                part,
                format!("{c:?} is not base64url (A-Z a-z 0-9 - _, no padding)"),
            ),
            None => malformed(part, "its length is not valid base64url"),
        }
    })
}

fn json_object(part: &str, bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(malformed(
            part,
            format!("it is JSON {}, not an object", kind(&other)),
        )),
        Err(_) => Err(malformed(part, "it is not JSON")),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn optional_string(map: &Map<String, Value>, part: &str, name: &str) -> Result<Option<String>> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(malformed(
            part,
            format!("`{name}` must be a string, not {}", kind(other)),
        )),
    }
}

fn time_claim(map: &Map<String, Value>, name: &str) -> Result<i64> {
    let value = map
        .get(name)
        .ok_or_else(|| malformed("claims", format!("`{name}` is missing")))?;
    let n = value.as_f64().ok_or_else(|| {
        malformed(
            "claims",
            format!("`{name}` must be a number, not {}", kind(value)),
        )
    })?;
    if n.fract() != 0.0 || !(0.0..=MAX_SAFE_INTEGER).contains(&n) {
        return Err(malformed(
            "claims",
            format!("`{name}` must be whole Unix seconds, not {n}"),
        ));
    }
    Ok(n as i64)
}

fn grant(voice: Option<&Map<String, Value>>, name: &str) -> Result<bool> {
    match voice.and_then(|v| v.get(name)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(malformed(
            "claims",
            format!("`per.voice.{name}` must be a boolean, not {}", kind(other)),
        )),
    }
}

fn header(bytes: &[u8]) -> Result<AccessTokenHeader> {
    let map = json_object("header", bytes)?;
    let alg = optional_string(&map, "header", "alg")?
        .ok_or_else(|| malformed("header", "`alg` is missing"))?;
    if alg != "HS256" {
        return Err(malformed(
            "header",
            format!("`alg` is {alg:?}; access tokens are HS256"),
        ));
    }
    let cty = optional_string(&map, "header", "cty")?;
    if let Some(cty) = &cty {
        if cty != PLIVO_CONTENT_TYPE {
            return Err(malformed(
                "header",
                format!("`cty` is {cty:?}; expected {PLIVO_CONTENT_TYPE:?} or none"),
            ));
        }
    }
    let typ = optional_string(&map, "header", "typ")?;
    Ok(AccessTokenHeader { alg, cty, typ })
}

fn claims(bytes: &[u8]) -> Result<(AccessTokenClaims, Claims<Empty>)> {
    let map = json_object("claims", bytes)?;
    let iss = optional_string(&map, "claims", "iss")?
        .ok_or_else(|| malformed("claims", "`iss` is missing"))?;
    let sub = optional_string(&map, "claims", "sub")?;
    let app = optional_string(&map, "claims", "app")?;
    let nbf = time_claim(&map, "nbf")?;
    let exp = time_claim(&map, "exp")?;
    let voice = match map.get("per") {
        None => None,
        Some(Value::Object(per)) => match per.get("voice") {
            None => None,
            Some(Value::Object(voice)) => Some(voice),
            Some(other) => {
                return Err(malformed(
                    "claims",
                    format!("`per.voice` must be an object, not {}", kind(other)),
                ))
            }
        },
        Some(other) => {
            return Err(malformed(
                "claims",
                format!("`per` must be an object, not {}", kind(other)),
            ))
        }
    };
    let per = Grants {
        voice: VoiceGrants {
            incoming_allow: grant(voice, "incoming_allow")?,
            outgoing_allow: grant(voice, "outgoing_allow")?,
        },
    };
    // jwt-compact's claims and time types carry the checked times into its validators.
    let mut typed = Claims::empty();
    typed.expiration = Some(at(exp));
    typed.not_before = Some(at(nbf));
    let decoded = AccessTokenClaims {
        iss,
        sub,
        nbf,
        exp,
        app,
        per,
    };
    Ok((decoded, typed))
}

/// Splits, decodes and checks a token; does not check its signature or its times.
pub fn parse(token: &str) -> Result<ParsedToken> {
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed("token", "it is empty"));
    }
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(malformed(
            "token",
            format!("it is {} characters long", token.len()),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed(
            "token",
            format!(
                "a token has 3 parts separated by dots, this one has {}",
                parts.len()
            ),
        ));
    }
    let header = header(&decode_part("header", parts[0])?)?;
    let (decoded_claims, typed) = claims(&decode_part("claims", parts[1])?)?;
    let signature = decode_part("signature", parts[2])?;
    Ok(ParsedToken {
        decoded: DecodedAccessToken {
            header,
            claims: decoded_claims,
        },
        claims: typed,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature,
    })
}

/// `decodeAccessToken`: the header and claims of a token the browser SDK would accept.
pub fn decode_access_token(token: &str) -> Result<DecodedAccessToken> {
    parse(token).map(|p| p.decoded)
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `verifyAccessToken`: the signature with the account auth token (HS256), then expiry
/// and maturity at `now` (Unix seconds) with `leeway` seconds.
pub fn verify_access_token(
    token: &str,
    auth_token: &str,
    now: i64,
    leeway: i64,
) -> Result<DecodedAccessToken> {
    let parsed = parse(token)?;
    let signature_ok = parsed.signature.len() == 32
        && <Hs256 as Algorithm>::Signature::try_from_slice(&parsed.signature).is_ok_and(
            |signature| {
                Hs256.verify_signature(
                    &signature,
                    &Hs256Key::new(auth_token.as_bytes()),
                    parsed.signing_input.as_bytes(),
                )
            },
        );
    if !signature_ok {
        return Err(Error::new(
            ErrorCode::InvalidSignature,
            "The access token's signature does not match this auth token: it was signed with another \
             key, or altered.",
        ));
    }
    let options = TimeOptions::new(chrono::Duration::seconds(leeway), move || at(now));
    let claims = &parsed.decoded.claims;
    parsed
        .claims
        .validate_expiration(&options)
        .map_err(|e| match e {
            ValidationError::Expired => Error::new(
                ErrorCode::TokenExpired,
                format!(
                    "The access token expired at {} ({} s ago); get a new one.",
                    at(claims.exp).to_rfc3339(),
                    now - claims.exp
                ),
            ),
            other => malformed("claims", other),
        })?;
    parsed
        .claims
        .validate_maturity(&options)
        .map_err(|e| match e {
            ValidationError::NotMature => Error::new(
                ErrorCode::TokenNotYetValid,
                format!(
                    "The access token is not valid before {} ({} s from now); check the clock.",
                    at(claims.nbf).to_rfc3339(),
                    claims.nbf - now
                ),
            ),
            other => malformed("claims", other),
        })?;
    Ok(parsed.decoded)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const KEY: &str = "sandbox_auth_token_0123456789abcdef";
    pub const NOW: i64 = 1_800_000_000;

    /// A token signed like the JWT API signs them (the sandbox's code does the same).
    pub fn sign(header: &str, claims: &str, key: &str) -> String {
        let input = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(header.as_bytes()),
            Base64UrlUnpadded::encode_string(claims.as_bytes())
        );
        let signature = Hs256.sign(&Hs256Key::new(key.as_bytes()), input.as_bytes());
        format!(
            "{input}.{}",
            Base64UrlUnpadded::encode_string(&signature.as_bytes())
        )
    }

    pub const PLIVO_HEADER: &str = r#"{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}"#;

    pub fn plivo_claims(nbf: i64, exp: i64) -> String {
        format!(
            r#"{{"app":"","exp":{exp},"iss":"MASANDBOXACCOUNT0001","nbf":{nbf},"per":{{"voice":{{"incoming_allow":false,"outgoing_allow":true}}}},"sub":"alice"}}"#
        )
    }

    fn token(nbf: i64, exp: i64) -> String {
        sign(PLIVO_HEADER, &plivo_claims(nbf, exp), KEY)
    }

    #[test]
    fn decodes_a_plivo_token() {
        let decoded = decode_access_token(&token(NOW - 60, NOW + 600)).unwrap();
        assert_eq!(
            decoded.header,
            AccessTokenHeader {
                alg: "HS256".into(),
                cty: Some("plivo;v=1".into()),
                typ: Some("JWT".into())
            }
        );
        assert_eq!(
            decoded.claims,
            AccessTokenClaims {
                iss: "MASANDBOXACCOUNT0001".into(),
                sub: Some("alice".into()),
                nbf: NOW - 60,
                exp: NOW + 600,
                app: Some(String::new()),
                per: Grants {
                    voice: VoiceGrants {
                        incoming_allow: false,
                        outgoing_allow: true
                    }
                },
            }
        );
    }

    #[test]
    fn jwt_compact_alone_refuses_plivo_tokens() {
        // The limitation this module works around.
        assert!(jwt_compact::UntrustedToken::new(&token(NOW, NOW + 600)).is_err());
        let plain = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &plivo_claims(NOW, NOW + 600),
            KEY,
        );
        assert!(jwt_compact::UntrustedToken::new(&plain).is_ok());
        assert_eq!(
            decode_access_token(&plain).unwrap().header.cty,
            None,
            "tokens without cty are accepted too"
        );
    }

    #[test]
    fn minimal_claims_are_enough() {
        let t = sign(
            r#"{"alg":"HS256"}"#,
            &format!(r#"{{"iss":"MA1","nbf":{NOW},"exp":{}}}"#, NOW + 600),
            KEY,
        );
        let claims = decode_access_token(&t).unwrap().claims;
        assert_eq!((claims.sub, claims.app), (None, None));
        assert!(!claims.per.voice.incoming_allow && !claims.per.voice.outgoing_allow);
    }

    #[test]
    fn every_fault_names_its_part_and_reason() {
        let b64 = |s: &str| Base64UrlUnpadded::encode_string(s.as_bytes());
        let claims = b64(&plivo_claims(NOW, NOW + 600));
        let header = b64(PLIVO_HEADER);
        let with_claims = |c: &str| format!("{header}.{}.c2ln", b64(c));
        let with_header = |h: &str| format!("{}.{claims}.c2ln", b64(h));
        let table: Vec<(String, &str, &str)> = vec![
            (String::new(), "token", "empty"),
            ("a.b".into(), "token", "3 parts"),
            ("a.b.c.d".into(), "token", "3 parts"),
            ("x".repeat(MAX_TOKEN_LENGTH + 1), "token", "characters long"),
            (format!(".{claims}.c2ln"), "header", "empty"),
            (format!("{header}..c2ln"), "claims", "empty"),
            (format!("{header}.{claims}."), "signature", "empty"),
            (
                format!("{header}=.{claims}.c2ln"),
                "header",
                "'=' is not base64url",
            ),
            (format!("{header}.{claims}.a"), "signature", "length"),
            (
                format!("{header}.{claims}.c2l+"),
                "signature",
                "'+' is not base64url",
            ),
            (
                format!("{}.{claims}.c2ln", b64("not json")),
                "header",
                "not JSON",
            ),
            (
                format!("{}.{claims}.c2ln", b64("[1]")),
                "header",
                "not an object",
            ),
            (
                with_header(r#"{"typ":"JWT"}"#),
                "header",
                "`alg` is missing",
            ),
            (with_header(r#"{"alg":"none"}"#), "header", "HS256"),
            (with_header(r#"{"alg":"RS256"}"#), "header", "HS256"),
            (
                with_header(r#"{"alg":"HS256","cty":"json"}"#),
                "header",
                "`cty`",
            ),
            (
                with_header(r#"{"alg":"HS256","cty":5}"#),
                "header",
                "`cty` must be a string",
            ),
            (
                with_claims(r#"{"nbf":1,"exp":2}"#),
                "claims",
                "`iss` is missing",
            ),
            (
                with_claims(r#"{"iss":5,"nbf":1,"exp":2}"#),
                "claims",
                "`iss` must be a string",
            ),
            (
                with_claims(r#"{"iss":"a","exp":2}"#),
                "claims",
                "`nbf` is missing",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1}"#),
                "claims",
                "`exp` is missing",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":"1","exp":2}"#),
                "claims",
                "`nbf` must be a number",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2.5}"#),
                "claims",
                "whole Unix seconds",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":-1,"exp":2}"#),
                "claims",
                "whole Unix seconds",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2,"sub":7}"#),
                "claims",
                "`sub` must be a string",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2,"app":false}"#),
                "claims",
                "`app` must be a string",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2,"per":"all"}"#),
                "claims",
                "`per` must be an object",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2,"per":{"voice":[]}}"#),
                "claims",
                "`per.voice` must be an object",
            ),
            (
                with_claims(
                    r#"{"iss":"a","nbf":1,"exp":2,"per":{"voice":{"incoming_allow":"yes"}}}"#,
                ),
                "claims",
                "`per.voice.incoming_allow` must be a boolean",
            ),
            (
                with_claims(r#"{"iss":"a","nbf":1,"exp":2,"per":{"voice":{"outgoing_allow":1}}}"#),
                "claims",
                "`per.voice.outgoing_allow` must be a boolean",
            ),
        ];
        for (token, part, reason) in table {
            let e = decode_access_token(&token).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedToken, "{token}");
            assert_eq!(e.field.as_deref(), Some(part), "{token}: {}", e.message);
            assert!(e.message.contains(reason), "{reason:?} in {:?}", e.message);
            assert!(e.message.contains(&format!("({part})")), "{}", e.message);
        }
    }

    #[test]
    fn verifies_signature_then_times() {
        let t = token(NOW - 60, NOW + 600);
        assert!(verify_access_token(&t, KEY, NOW, 0).is_ok());
        let e = verify_access_token(&t, "another-key", NOW, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidSignature);
        assert!(!e.message.contains("another-key"));
        let e = verify_access_token(&t, KEY, NOW + 601, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenExpired);
        assert!(e.message.contains("1 s ago"), "{}", e.message);
        assert!(
            verify_access_token(&t, KEY, NOW + 601, 60).is_ok(),
            "within the leeway"
        );
        let e = verify_access_token(&t, KEY, NOW - 120, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenNotYetValid);
        assert!(verify_access_token(&t, KEY, NOW - 100, 60).is_ok());
    }

    #[test]
    fn altered_tokens_fail_the_signature() {
        let t = token(NOW - 60, NOW + 600);
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims =
            Base64UrlUnpadded::encode_string(plivo_claims(NOW - 60, NOW + 86_400).as_bytes());
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            verify_access_token(&forged, KEY, NOW, 0).unwrap_err().code,
            ErrorCode::InvalidSignature
        );
        let short = format!("{}.{}.c2ln", parts[0], parts[1]);
        assert_eq!(
            verify_access_token(&short, KEY, NOW, 0).unwrap_err().code,
            ErrorCode::InvalidSignature
        );
    }
}
