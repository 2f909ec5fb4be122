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
use crate::json::{self, Event, Reader, Str};

/// The only content type a Plivo token carries.
pub const PLIVO_CONTENT_TYPE: &str = "plivo;v=1";
/// The length [`TokenView::strings`] gives an absent string.
pub const ABSENT: u32 = u32::MAX;
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

fn malformed(part: &str, reason: &str) -> Error {
    Error::malformed_token(part, reason)
}

/// A token's header and claims decoded from base64url (one buffer, no copies after), and
/// the text its signature covers.
pub struct TokenText<'t> {
    json: String,
    header_end: usize,
    /// `header.claims` exactly as in the token: what the signature covers.
    pub signing_input: &'t str,
    /// The signature part, base64url (checked).
    pub signature: &'t str,
}

/// A decoded token, borrowing its strings from a [`TokenText`]: strings are JSON string
/// contents as they came (escapes intact), so they are copied to JSON output as they are.
#[derive(Debug, Clone, Copy)]
pub struct TokenView<'a> {
    alg: Str<'a>,
    cty: Option<Str<'a>>,
    typ: Option<Str<'a>>,
    iss: Str<'a>,
    sub: Option<Str<'a>>,
    app: Option<Str<'a>>,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// May receive calls.
    pub incoming_allow: bool,
    /// May place calls.
    pub outgoing_allow: bool,
}

/// Decodes one base64url part into `out` (from `at`), returning where it ends; the
/// message names the part.
fn decode_part(part: &str, text: &str, out: &mut [u8], at: usize) -> Result<usize> {
    if text.is_empty() {
        return Err(malformed(part, "it is empty"));
    }
    let out = out.get_mut(at..).unwrap_or_default();
    match crate::base64::decode_url_to(text.as_bytes(), out) {
        Ok(written) => Ok(at + written),
        Err(e) => Err(match e {
            crate::base64::DecodeError::Character(at) => match text.as_bytes().get(at) {
                Some(&c) if c.is_ascii_graphic() => malformed(
                    part,
                    &text!(
                        "'",
                        char::from(c),
                        "' is not base64url (A-Z a-z 0-9 - _, no padding)"
                    ),
                ),
                _ => malformed(part, "it has a character that is not base64url"),
            },
            crate::base64::DecodeError::Length => {
                malformed(part, "its length is not valid base64url")
            }
        }),
    }
}

/// Splits a token into its three parts and decodes them; the JSON is read by
/// [`TokenText::read`].
pub fn split(token: &str) -> Result<TokenText<'_>> {
    // Plain loops over the bytes: this is the hot path of `decodeAccessToken`.
    let bytes = token.as_bytes();
    let (mut start, mut end) = (0, bytes.len());
    while start < end && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let token = token.get(start..end).unwrap_or_default();
    if token.is_empty() {
        return Err(malformed("token", "it is empty"));
    }
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(malformed(
            "token",
            &text!(
                "it is ",
                token.len(),
                " characters long; tokens are at most ",
                MAX_TOKEN_LENGTH
            ),
        ));
    }
    let bytes = token.as_bytes();
    let (mut dots, mut count, mut i) = ([0; 2], 0, 0);
    while i < bytes.len() {
        if bytes[i] == b'.' {
            if count < 2 {
                dots[count] = i;
            }
            count += 1;
        }
        i += 1;
    }
    if count != 2 {
        return Err(malformed(
            "token",
            &text!(
                "a token has 3 parts separated by dots, this one has ",
                count + 1
            ),
        ));
    }
    let [first, second] = dots;
    // The dots are ASCII, so these are character boundaries.
    let part = |range: std::ops::Range<usize>| token.get(range).unwrap_or_default();
    let (head, body, signature) = (
        part(0..first),
        part(first + 1..second),
        part(second + 1..token.len()),
    );
    let mut bytes = vec![0; crate::base64::decoded_len(token.len()) + 6];
    let header_end = decode_part("header", head, &mut bytes, 0)?;
    let claims_end = decode_part("claims", body, &mut bytes, header_end)?;
    // The signature is checked here and decoded again only by `verify_access_token`.
    decode_part("signature", signature, &mut bytes, claims_end)?;
    bytes.truncate(claims_end);
    let json = String::from_utf8(bytes).map_err(|e| {
        let part = if e.utf8_error().valid_up_to() < header_end {
            "header"
        } else {
            "claims"
        };
        malformed(part, "it is not UTF-8 text")
    })?;
    if !json.is_char_boundary(header_end) {
        return Err(malformed("header", "it is not UTF-8 text"));
    }
    Ok(TokenText {
        json,
        header_end,
        signing_input: part(0..second),
        signature,
    })
}

/// The start of a part's JSON, which must be an object.
fn open_object<'a>(part: &str, text: &'a str) -> Result<Reader<'a>> {
    let mut reader = Reader::new(text);
    match reader.next_value() {
        Ok(Event::Object) => Ok(reader),
        Ok(other) => Err(malformed(
            part,
            &text!("it is JSON ", other.kind(), ", not an object"),
        )),
        Err(_) => Err(malformed(part, "it is not JSON")),
    }
}

fn not_json(part: &str) -> impl Fn(json::JsonError) -> Error + '_ {
    move |_| malformed(part, "it is not JSON")
}

/// A string member (`None` when absent); `null` and other kinds are refused.
fn string<'a>(part: &str, name: &str, value: Option<Event<'a>>) -> Result<Option<Str<'a>>> {
    match value {
        None => Ok(None),
        Some(Event::String(s)) => Ok(Some(s)),
        Some(other) => Err(malformed(
            part,
            &text!("`", name, "` must be a string, not ", other.kind()),
        )),
    }
}

fn time_claim(name: &str, value: Option<Event<'_>>) -> Result<i64> {
    let Some(value) = value else {
        return Err(malformed("claims", &text!("`", name, "` is missing")));
    };
    let Event::Number(number) = value else {
        return Err(malformed(
            "claims",
            &text!("`", name, "` must be a number, not ", value.kind()),
        ));
    };
    json::integer(number)
        .filter(|n| (0..=MAX_SAFE_INTEGER as i64).contains(n))
        .ok_or_else(|| {
            malformed(
                "claims",
                &text!("`", name, "` must be whole Unix seconds, 0 or more"),
            )
        })
}

/// A member that must be an object: what it is when it is not.
enum Nested<T> {
    Object(T),
    Not(&'static str),
}

fn grant(name: &str, value: Option<Event<'_>>) -> Result<bool> {
    match value {
        None => Ok(false),
        Some(Event::Bool(b)) => Ok(b),
        Some(other) => Err(malformed(
            "claims",
            &text!(
                "`per.voice.",
                name,
                "` must be a boolean, not ",
                other.kind()
            ),
        )),
    }
}

/// `per.voice`'s two grants as read (a repeated member: the last one counts, as in
/// `JSON.parse`).
type Voice<'a> = [Option<Event<'a>>; 2];

fn read_voice<'a>(reader: &mut Reader<'a>) -> Result<Voice<'a>> {
    let mut grants = [None, None];
    while let Some(name) = reader.next_member().map_err(not_json("claims"))? {
        let value = reader.next_value().map_err(not_json("claims"))?;
        match name.plain() {
            Some("incoming_allow") => grants[0] = Some(value),
            Some("outgoing_allow") => grants[1] = Some(value),
            _ => reader.skip(value).map_err(not_json("claims"))?,
        }
    }
    Ok(grants)
}

fn read_per<'a>(reader: &mut Reader<'a>) -> Result<Option<Nested<Voice<'a>>>> {
    let mut voice = None;
    while let Some(name) = reader.next_member().map_err(not_json("claims"))? {
        let value = reader.next_value().map_err(not_json("claims"))?;
        if name.plain() == Some("voice") {
            voice = Some(match value {
                Event::Object => Nested::Object(read_voice(reader)?),
                other => {
                    reader.skip(other).map_err(not_json("claims"))?;
                    Nested::Not(other.kind())
                }
            });
        } else {
            reader.skip(value).map_err(not_json("claims"))?;
        }
    }
    Ok(voice)
}

impl TokenText<'_> {
    /// Reads and checks the header and the claims.
    pub fn read(&self) -> Result<TokenView<'_>> {
        let header = self.json.get(..self.header_end).unwrap_or_default();
        let claims = self.json.get(self.header_end..).unwrap_or_default();

        let mut reader = open_object("header", header)?;
        let mut members: [Option<Event<'_>>; 3] = [None; 3];
        while let Some(name) = reader.next_member().map_err(not_json("header"))? {
            let value = reader.next_value().map_err(not_json("header"))?;
            match name.plain() {
                Some("alg") => members[0] = Some(value),
                Some("cty") => members[1] = Some(value),
                Some("typ") => members[2] = Some(value),
                _ => reader.skip(value).map_err(not_json("header"))?,
            }
        }
        reader.finish().map_err(not_json("header"))?;
        let alg = string("header", "alg", members[0])?
            .ok_or_else(|| malformed("header", "`alg` is missing"))?;
        if !alg.is("HS256") {
            return Err(malformed(
                "header",
                &text!(
                    "`alg` is ",
                    crate::error::quoted(&alg.text()),
                    "; access tokens are HS256"
                ),
            ));
        }
        let cty = string("header", "cty", members[1])?;
        if let Some(cty) = cty.filter(|cty| !cty.is(PLIVO_CONTENT_TYPE)) {
            return Err(malformed(
                "header",
                &text!(
                    "`cty` is ",
                    crate::error::quoted(&cty.text()),
                    "; expected \"",
                    PLIVO_CONTENT_TYPE,
                    "\" or none"
                ),
            ));
        }
        let typ = string("header", "typ", members[2])?;

        let mut reader = open_object("claims", claims)?;
        let mut members: [Option<Event<'_>>; 5] = [None; 5];
        let mut per = None;
        while let Some(name) = reader.next_member().map_err(not_json("claims"))? {
            let value = reader.next_value().map_err(not_json("claims"))?;
            let slot = match name.plain() {
                Some("iss") => 0,
                Some("sub") => 1,
                Some("app") => 2,
                Some("nbf") => 3,
                Some("exp") => 4,
                Some("per") => {
                    per = Some(match value {
                        Event::Object => Nested::Object(read_per(&mut reader)?),
                        other => {
                            reader.skip(other).map_err(not_json("claims"))?;
                            Nested::Not(other.kind())
                        }
                    });
                    continue;
                }
                _ => {
                    reader.skip(value).map_err(not_json("claims"))?;
                    continue;
                }
            };
            members[slot] = Some(value);
        }
        reader.finish().map_err(not_json("claims"))?;
        let iss = string("claims", "iss", members[0])?
            .ok_or_else(|| malformed("claims", "`iss` is missing"))?;
        let sub = string("claims", "sub", members[1])?;
        let app = string("claims", "app", members[2])?;
        let nbf = time_claim("nbf", members[3])?;
        let exp = time_claim("exp", members[4])?;
        if exp <= nbf {
            // Never valid: the browser SDK would ask for another at once, in a loop.
            return Err(malformed("claims", "`exp` must be after `nbf`"));
        }
        let voice = match per {
            None | Some(Nested::Object(None)) => [None, None],
            Some(Nested::Object(Some(Nested::Object(voice)))) => voice,
            Some(Nested::Object(Some(Nested::Not(kind)))) => {
                return Err(malformed(
                    "claims",
                    &text!("`per.voice` must be an object, not ", kind),
                ))
            }
            Some(Nested::Not(kind)) => {
                return Err(malformed(
                    "claims",
                    &text!("`per` must be an object, not ", kind),
                ))
            }
        };
        Ok(TokenView {
            alg,
            cty,
            typ,
            iss,
            sub,
            app,
            nbf,
            exp,
            incoming_allow: grant("incoming_allow", voice[0])?,
            outgoing_allow: grant("outgoing_allow", voice[1])?,
        })
    }
}

fn owned(text: Option<Str<'_>>) -> Option<String> {
    text.map(|t| t.text().into_owned())
}

impl TokenView<'_> {
    /// The decoded token as owned values.
    pub fn to_decoded(&self) -> DecodedAccessToken {
        DecodedAccessToken {
            header: AccessTokenHeader {
                alg: self.alg.text().into_owned(),
                cty: owned(self.cty),
                typ: owned(self.typ),
            },
            claims: AccessTokenClaims {
                iss: self.iss.text().into_owned(),
                sub: owned(self.sub),
                nbf: self.nbf,
                exp: self.exp,
                app: owned(self.app),
                per: Grants {
                    voice: VoiceGrants {
                        incoming_allow: self.incoming_allow,
                        outgoing_allow: self.outgoing_allow,
                    },
                },
            },
        }
    }

    /// The strings in the order of the declaration (`alg`, `cty`, `typ`, `iss`, `sub`,
    /// `app`), escapes undone, joined, with the length of each in UTF-16 code units
    /// ([`ABSENT`] for none): what the binding layer builds the object from.
    pub fn strings(&self) -> (String, [u32; 6]) {
        let mut text = String::with_capacity(64);
        let mut lengths = [ABSENT; 6];
        let all = [
            Some(self.alg),
            self.cty,
            self.typ,
            Some(self.iss),
            self.sub,
            self.app,
        ];
        for (value, length) in all.iter().zip(&mut lengths) {
            if let Some(value) = value {
                let value = value.text();
                *length = value.encode_utf16().count() as u32;
                text.push_str(&value);
            }
        }
        (text, lengths)
    }
}

/// `decodeAccessToken`: the header and claims of a token the browser SDK would accept.
pub fn decode_access_token(token: &str) -> Result<DecodedAccessToken> {
    Ok(split(token)?.read()?.to_decoded())
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
    let text = split(token)?;
    let view = text.read()?;
    let signature = crate::base64::decode_url(text.signature).unwrap_or_default();
    let signature_ok = signature.len() == 32
        && <Hs256 as Algorithm>::Signature::try_from_slice(&signature).is_ok_and(|signature| {
            Hs256.verify_signature(
                &signature,
                &Hs256Key::new(auth_token.as_bytes()),
                text.signing_input.as_bytes(),
            )
        });
    if !signature_ok {
        return Err(Error::new(
            ErrorCode::InvalidSignature,
            "The access token's signature does not match this auth token: it was signed with another \
             key, or altered.",
        ));
    }
    if now > view.exp.saturating_add(leeway) {
        return Err(Error::new(
            ErrorCode::TokenExpired,
            text!(
                "The access token expired ",
                now - view.exp,
                " s ago (exp ",
                view.exp,
                "); get a new one."
            ),
        ));
    }
    if now.saturating_add(leeway) < view.nbf {
        return Err(Error::new(
            ErrorCode::TokenNotYetValid,
            text!(
                "The access token is not valid for another ",
                view.nbf - now,
                " s (nbf ",
                view.nbf,
                "); check the clock."
            ),
        ));
    }
    Ok(view.to_decoded())
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
                with_claims(r#"{"iss":"a","nbf":5,"exp":5}"#),
                "claims",
                "`exp` must be after `nbf`",
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
