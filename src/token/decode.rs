//! Decoding and checking Plivo access tokens.
//!
//! jwt-compact's `UntrustedToken` refuses every real Plivo token because of its
//! `"cty": "plivo;v=1"` header, so the token is split and base64url-decoded here and its
//! two JSON parts read with the library's reader; the signature goes through
//! jwt-compact's HS256 primitives, and the times are two integer comparisons. The checks
//! follow what the Plivo browser SDK checks, and are stricter: each fault names the part
//! of the token and the reason.

use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature};

use super::time::MAX_SAFE_INTEGER;
use crate::error::{Error, ErrorCode, Result};
use crate::json::{self, Value};

/// The only content type a Plivo token carries.
pub const PLIVO_CONTENT_TYPE: &str = "plivo;v=1";
/// Longest token accepted (real tokens are about 400 characters).
pub const MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// The header of an access token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenHeader {
    /// Always `"HS256"`.
    pub alg: String,
    /// `"plivo;v=1"` on tokens from the JWT API, absent on others.
    pub cty: Option<String>,
    /// Usually `"JWT"`.
    pub typ: Option<String>,
}

/// Voice grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct VoiceGrants {
    /// May receive calls (false when absent).
    pub incoming_allow: bool,
    /// May place calls (false when absent).
    pub outgoing_allow: bool,
}

/// Grants of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
pub struct Grants {
    /// Voice grants.
    pub voice: VoiceGrants,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
pub struct DecodedAccessToken {
    /// The header.
    pub header: AccessTokenHeader,
    /// The claims.
    pub claims: AccessTokenClaims,
}

/// A token split into its parts and checked, ready for the signature check.
#[derive(Debug, Clone)]
pub struct ParsedToken<'t> {
    /// Header and claims.
    pub decoded: DecodedAccessToken,
    /// `header.claims` exactly as in the token: what the signature covers.
    pub signing_input: &'t str,
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
    crate::base64::decode_url(text).map_err(|e| match e {
        crate::base64::DecodeError::Character(at) => match text.as_bytes()[at] {
            c if c.is_ascii_graphic() => malformed(
                part,
                format!(
                    "'{}' is not base64url (A-Z a-z 0-9 - _, no padding)",
                    char::from(c)
                ),
            ),
            _ => malformed(part, "it has a character that is not base64url"),
        },
        crate::base64::DecodeError::Length => malformed(part, "its length is not valid base64url"),
    })
}

fn json_object<'b>(part: &str, bytes: &'b [u8]) -> Result<Value<'b>> {
    let text = std::str::from_utf8(bytes).map_err(|_| malformed(part, "it is not UTF-8 text"))?;
    match json::parse(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(malformed(
            part,
            format!("it is JSON {}, not an object", other.kind()),
        )),
        Err(_) => Err(malformed(part, "it is not JSON")),
    }
}

fn optional_string(map: &Value, part: &str, name: &str) -> Result<Option<String>> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.text().into_owned())),
        Some(other) => Err(malformed(
            part,
            format!("`{name}` must be a string, not {}", other.kind()),
        )),
    }
}

fn time_claim(map: &Value, name: &str) -> Result<i64> {
    let value = map
        .get(name)
        .ok_or_else(|| malformed("claims", format!("`{name}` is missing")))?;
    let Value::Number(_) = value else {
        return Err(malformed(
            "claims",
            format!("`{name}` must be a number, not {}", value.kind()),
        ));
    };
    value
        .as_integer()
        .filter(|n| (0..=MAX_SAFE_INTEGER as i64).contains(n))
        .ok_or_else(|| {
            malformed(
                "claims",
                format!("`{name}` must be whole Unix seconds, 0 or more"),
            )
        })
}

fn grant(voice: Option<&Value>, name: &str) -> Result<bool> {
    match voice.and_then(|v| v.get(name)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(malformed(
            "claims",
            format!("`per.voice.{name}` must be a boolean, not {}", other.kind()),
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
            format!(
                "`alg` is {}; access tokens are HS256",
                crate::error::quoted(&alg)
            ),
        ));
    }
    let cty = optional_string(&map, "header", "cty")?;
    if let Some(cty) = &cty {
        if cty != PLIVO_CONTENT_TYPE {
            return Err(malformed(
                "header",
                format!(
                    "`cty` is {}; expected \"{PLIVO_CONTENT_TYPE}\" or none",
                    crate::error::quoted(cty)
                ),
            ));
        }
    }
    let typ = optional_string(&map, "header", "typ")?;
    Ok(AccessTokenHeader { alg, cty, typ })
}

fn claims(bytes: &[u8]) -> Result<AccessTokenClaims> {
    let map = json_object("claims", bytes)?;
    let iss = optional_string(&map, "claims", "iss")?
        .ok_or_else(|| malformed("claims", "`iss` is missing"))?;
    let sub = optional_string(&map, "claims", "sub")?;
    let app = optional_string(&map, "claims", "app")?;
    let nbf = time_claim(&map, "nbf")?;
    let exp = time_claim(&map, "exp")?;
    let voice = match map.get("per") {
        None => None,
        Some(per @ Value::Object(_)) => match per.get("voice") {
            None => None,
            Some(voice @ Value::Object(_)) => Some(voice),
            Some(other) => {
                return Err(malformed(
                    "claims",
                    format!("`per.voice` must be an object, not {}", other.kind()),
                ))
            }
        },
        Some(other) => {
            return Err(malformed(
                "claims",
                format!("`per` must be an object, not {}", other.kind()),
            ))
        }
    };
    Ok(AccessTokenClaims {
        iss,
        sub,
        nbf,
        exp,
        app,
        per: Grants {
            voice: VoiceGrants {
                incoming_allow: grant(voice, "incoming_allow")?,
                outgoing_allow: grant(voice, "outgoing_allow")?,
            },
        },
    })
}

/// Splits, decodes and checks a token; does not check its signature or its times.
pub fn parse(token: &str) -> Result<ParsedToken<'_>> {
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed("token", "it is empty"));
    }
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(malformed(
            "token",
            format!(
                "it is {} characters long; tokens are at most {MAX_TOKEN_LENGTH}",
                token.len()
            ),
        ));
    }
    let mut parts = token.splitn(4, '.');
    let (Some(head), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "token",
            format!(
                "a token has 3 parts separated by dots, this one has {}",
                token.split('.').count()
            ),
        ));
    };
    let header = header(&decode_part("header", head)?)?;
    let claims = claims(&decode_part("claims", body)?)?;
    let signature = decode_part("signature", signature)?;
    Ok(ParsedToken {
        decoded: DecodedAccessToken { header, claims },
        signing_input: &token[..head.len() + 1 + body.len()],
        signature,
    })
}

/// `decodeAccessToken`: the header and claims of a token the browser SDK would accept.
pub fn decode_access_token(token: &str) -> Result<DecodedAccessToken> {
    parse(token).map(|p| p.decoded)
}

/// `verifyAccessToken`: the HS256 signature with the account auth token, then expiry and
/// maturity at `now` (Unix seconds) with `leeway` seconds.
pub fn verify_access_token(
    token: &str,
    auth_token: &str,
    now: i64,
    leeway: i64,
) -> Result<DecodedAccessToken> {
    if auth_token.is_empty() {
        return Err(Error::argument(
            "auth token",
            "it is empty; pass the account's Auth Token, the key the platform signs with",
        )
        .with_field("authToken"));
    }
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
    let claims = &parsed.decoded.claims;
    if now > claims.exp.saturating_add(leeway) {
        return Err(Error::new(
            ErrorCode::TokenExpired,
            format!(
                "The access token expired {} s ago (exp {}); get a new one.",
                now - claims.exp,
                claims.exp
            ),
        ));
    }
    if now.saturating_add(leeway) < claims.nbf {
        return Err(Error::new(
            ErrorCode::TokenNotYetValid,
            format!(
                "The access token is not valid for another {} s (nbf {}); check the clock.",
                claims.nbf - now,
                claims.nbf
            ),
        ));
    }
    Ok(parsed.decoded)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

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
            (
                format!("{header}.{}.c2ln", b64("\"x\"")),
                "claims",
                "JSON a string, not an object",
            ),
            (
                format!(
                    "{header}.{}.c2ln",
                    Base64UrlUnpadded::encode_string(&[0xff, 0xfe])
                ),
                "claims",
                "not UTF-8",
            ),
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
                with_claims(r#"{"iss":"a","nbf":1,"exp":1e300}"#),
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
            verify_access_token(&t, KEY, NOW + 600, 0).is_ok(),
            "valid until exp"
        );
        assert_eq!(
            verify_access_token(&t, "", NOW, 0).unwrap_err().code,
            ErrorCode::InvalidArgument,
            "an empty key is refused before anything is checked"
        );
        assert!(
            verify_access_token(&t, KEY, NOW + 601, 60).is_ok(),
            "within the leeway"
        );
        let e = verify_access_token(&t, KEY, NOW - 120, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenNotYetValid);
        assert!(e.message.contains("another 60 s"), "{}", e.message);
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
