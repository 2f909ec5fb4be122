//! Who a REGISTER logs in as: an access token checked as the platform checks it, with the
//! platform's error codes, or an MD5 digest against the endpoint's current password.
//!
//! Platform rules (`reference/signalling.md`, `reference/platform-facts.md`): a refusal
//! reaches the SDK only through `X-Plivo-Jwt-Error-Code` (10001-10010) on a final non-2xx
//! answer; the SIP username of a token login is `${sub}_${iss}`; the token's lifetime is
//! at most 24 hours; the digest realm is `phone.plivo.com`, MD5 with `qop=auth`, HA1 =
//! MD5(user:realm:password) and HA2 = MD5("REGISTER:" uri). Choices of ours are marked.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

use md5::{Digest, Md5};

use crate::token::{self, MAX_LIFETIME};

/// The realm of password logins.
pub const REALM: &str = "phone.plivo.com";

/// The platform's token error codes, with the names the SDK reports them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// 10001: not a token (parts, base64, JSON), or claims the JWT API never issues.
    Invalid = 10001,
    /// 10002: a header other than `{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}`.
    Header = 10002,
    /// 10003: `iss` is not this account.
    Issuer = 10003,
    /// 10004: `sub` names no endpoint of the account, or not the one registering.
    Subject = 10004,
    /// 10005: before `nbf`.
    NotValidYet = 10005,
    /// 10006: at or past `exp`.
    Expired = 10006,
    /// 10007: not signed with the account's auth token.
    Signature = 10007,
    /// 10008: `per.voice` missing or not booleans.
    Grants = 10008,
    /// 10009: `exp - nbf` over 24 hours.
    TooLong = 10009,
    /// 10010: the endpoint has as many registrations as it may.
    MaxLogins = 10010,
}

impl JwtError {
    /// Every code, in order.
    pub const ALL: [JwtError; 10] = [
        Self::Invalid,
        Self::Header,
        Self::Issuer,
        Self::Subject,
        Self::NotValidYet,
        Self::Expired,
        Self::Signature,
        Self::Grants,
        Self::TooLong,
        Self::MaxLogins,
    ];

    /// The number sent in `X-Plivo-Jwt-Error-Code`.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The name the SDK gives the code in `onLoginFailed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Invalid => "INVALID_ACCESS_TOKEN",
            Self::Header => "INVALID_ACCESS_TOKEN_HEADER",
            Self::Issuer => "INVALID_ACCESS_TOKEN_ISSUER",
            Self::Subject => "INVALID_ACCESS_TOKEN_SUBJECT",
            Self::NotValidYet => "ACCESS_TOKEN_NOT_VALID_YET",
            Self::Expired => "ACCESS_TOKEN_EXPIRED",
            Self::Signature => "INVALID_ACCESS_TOKEN_SIGNATURE",
            Self::Grants => "INVALID_ACCESS_TOKEN_GRANTS",
            Self::TooLong => "EXPIRATION_EXCEEDS_MAX_ALLOWED_TIME",
            Self::MaxLogins => "MAX_ALLOWED_LOGIN_REACHED",
        }
    }

    /// The code for a number, for test controls.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// The claims a token login presented, for the registrar and the log (never the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenClaims {
    /// The endpoint username.
    pub sub: String,
    /// The account.
    pub iss: String,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// May receive calls.
    pub incoming: bool,
    /// May place calls.
    pub outgoing: bool,
}

/// Checks that can be switched off to show that a test notices their absence (the sandbox
/// flag `--skip-check`); every check runs unless named here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped(pub Vec<String>);

impl Skipped {
    /// Whether the check `name` is switched off.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }
}

/// The checks `--skip-check` may name.
pub const CHECKS: [&str; 10] = [
    "signature",
    "subject",
    "nbf",
    "exp",
    "password",
    "expiry",
    "logout",
    // What the calls do for the SDK (`sip/calls.rs`): switched off, the SDK fails as
    // `reference/calls.md` observed.
    "call-uuid",
    "sdp",
    "via",
];

/// What a token login is checked against.
pub struct Account<'a> {
    /// The account's Auth ID: the token's `iss`.
    pub auth_id: &'a str,
    /// The account's Auth Token: the HMAC key.
    pub auth_token: &'a str,
}

/// The claims the JWT API issues, and no others.
const ISSUED_CLAIMS: [&str; 6] = ["app", "exp", "iss", "nbf", "per", "sub"];

fn decode_part(part: &str) -> Option<Value> {
    let bytes = Base64UrlUnpadded::decode_vec(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The claims of a token as it reads, checked or not: for the log, which shows what a
/// REGISTER carried without the token itself.
pub fn read_claims(token: &str) -> Option<TokenClaims> {
    let claims = decode_part(token.split('.').nth(1)?)?;
    let text = |name: &str| claims.get(name)?.as_str().map(str::to_owned);
    let grant = |name: &str| claims.get("per")?.get("voice")?.get(name)?.as_bool();
    Some(TokenClaims {
        sub: text("sub").unwrap_or_default(),
        iss: text("iss").unwrap_or_default(),
        nbf: claims.get("nbf")?.as_i64()?,
        exp: claims.get("exp")?.as_i64()?,
        incoming: grant("incoming_allow").unwrap_or(false),
        outgoing: grant("outgoing_allow").unwrap_or(false),
    })
}

/// Checks a token presented by `sip_user` at `now` (Unix seconds, the sandbox's clock), in
/// the order: form, header, signature, issuer, grants, subject (`endpoint_exists` says
/// whether `sub` is an endpoint username), lifetime, nbf, exp.
pub fn check_token(
    token: &str,
    sip_user: &str,
    account: &Account<'_>,
    endpoint_exists: impl Fn(&str) -> bool,
    now: i64,
    skipped: &Skipped,
) -> Result<TokenClaims, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Invalid);
    };
    let header = decode_part(header).ok_or(JwtError::Invalid)?;
    let claims = decode_part(claims).ok_or(JwtError::Invalid)?;
    let claims = claims.as_object().ok_or(JwtError::Invalid)?;
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    if text(&header, "alg").as_deref() != Some("HS256")
        || text(&header, "typ").as_deref() != Some("JWT")
        || text(&header, "cty").as_deref() != Some("plivo;v=1")
    {
        return Err(JwtError::Header);
    }
    if !skipped.has("signature") && !token::verify(token, account.auth_token) {
        return Err(JwtError::Signature);
    }
    // Ours: claims the JWT API never writes (`jti`, `grants`, `iat`: the server SDKs' local
    // AccessToken builders, whose tokens the platform refuses) make it not an issued token.
    if claims.keys().any(|k| !ISSUED_CLAIMS.contains(&k.as_str())) {
        return Err(JwtError::Invalid);
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss != account.auth_id {
        return Err(JwtError::Issuer);
    }
    let voice = claims.get("per").and_then(|p| p.get("voice"));
    let grant = |name: &str| voice.and_then(|v| v.get(name)).and_then(Value::as_bool);
    let (Some(incoming), Some(outgoing)) = (grant("incoming_allow"), grant("outgoing_allow"))
    else {
        return Err(JwtError::Grants);
    };
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !skipped.has("subject")
        && (sub.is_empty() || !endpoint_exists(sub) || sip_user != format!("{sub}_{iss}"))
    {
        return Err(JwtError::Subject);
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let (Some(nbf), Some(exp)) = (time("nbf"), time("exp")) else {
        return Err(JwtError::Invalid);
    };
    if exp.saturating_sub(nbf) > MAX_LIFETIME {
        return Err(JwtError::TooLong);
    }
    if !skipped.has("nbf") && now < nbf {
        return Err(JwtError::NotValidYet);
    }
    if !skipped.has("exp") && now >= exp {
        return Err(JwtError::Expired);
    }
    Ok(TokenClaims {
        sub: sub.to_owned(),
        iss: iss.to_owned(),
        nbf,
        exp,
        incoming,
        outgoing,
    })
}

/// MD5 of a text in lowercase hex: the digest's hash (RFC 2617), and the `password_md5`
/// the platforms' endpoint answers carry.
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HA1 of a password login: what the registrar keeps instead of the password.
pub fn ha1(username: &str, password: &str) -> String {
    md5_hex(&format!("{username}:{REALM}:{password}"))
}

/// The `WWW-Authenticate` value of a challenge with `nonce`.
pub fn challenge(nonce: &str) -> String {
    format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5")
}

/// A digest credential, read from an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The username.
    pub username: String,
    /// The nonce it answers.
    pub nonce: String,
    uri: String,
    response: String,
    nc: String,
    cnonce: String,
}

impl Credential {
    /// Reads an `Authorization: Digest ...` value; `None` when it is not one the registrar
    /// accepts (another realm, algorithm or qop, a missing part).
    pub fn parse(value: &str) -> Option<Self> {
        let params = super::message::digest_params(value)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("realm")? != REALM
            || get("qop")? != "auth"
            || !get("algorithm")
                .unwrap_or_else(|| "MD5".into())
                .eq_ignore_ascii_case("MD5")
        {
            return None;
        }
        Some(Self {
            username: get("username")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?,
            nc: get("nc")?,
            cnonce: get("cnonce")?,
        })
    }

    /// The `uri` it was computed for: the Request-URI, RFC 2617 3.2.2.5 says.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the credential proves the password whose HA1 is `ha1`, for `method`.
    pub fn proves(&self, method: &str, ha1: &str) -> bool {
        let ha2 = md5_hex(&format!("{method}:{}", self.uri));
        let expected = md5_hex(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc, self.cnonce
        ));
        // Constant time: the comparison does not tell how much of the answer was right.
        expected.len() == self.response.len()
            && expected
                .bytes()
                .zip(self.response.to_ascii_lowercase().bytes())
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::token::{mint, sign, Claims, Per, Voice};

    #[test]
    fn md5_matches_known_vectors() {
        assert_eq!(md5_hex("password"), "5f4dcc3b5aa765d61d8327deb882cf99");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    pub(crate) const ACCOUNT: Account<'static> = Account {
        auth_id: "MA1",
        auth_token: "secret-token",
    };
    const NOW: i64 = 1_800_000_000;

    pub(crate) fn issued(sub: &str, nbf: i64, exp: i64) -> String {
        mint(
            &Claims {
                app: String::new(),
                exp,
                iss: "MA1".into(),
                nbf,
                per: Per {
                    voice: Voice {
                        incoming_allow: true,
                        outgoing_allow: true,
                    },
                },
                sub: sub.into(),
            },
            "secret-token",
        )
    }

    fn check(token: &str, user: &str) -> Result<TokenClaims, JwtError> {
        check_token(
            token,
            user,
            &ACCOUNT,
            |sub| sub == "alice",
            NOW,
            &Skipped::default(),
        )
    }

    #[test]
    fn an_issued_token_logs_in_as_sub_underscore_iss() {
        let claims = check(&issued("alice", NOW - 60, NOW + 600), "alice_MA1").unwrap();
        assert_eq!((claims.sub.as_str(), claims.exp), ("alice", NOW + 600));
        assert!(claims.incoming && claims.outgoing);
    }

    #[test]
    fn each_refusal_has_the_platforms_code() {
        let good_claims = |extra: &str| {
            format!(
                r#"{{"app":"","exp":{},"iss":"MA1","nbf":{},"per":{{"voice":{{"incoming_allow":true,"outgoing_allow":true}}}},"sub":"alice"{extra}}}"#,
                NOW + 600,
                NOW - 60
            )
        };
        let header = token::HEADER;
        let cases = [
            ("not a token".to_owned(), JwtError::Invalid),
            ("a.b".to_owned(), JwtError::Invalid),
            ("e30.e30.x.y".to_owned(), JwtError::Invalid),
            (
                sign(
                    r#"{"alg":"HS256","typ":"JWT"}"#,
                    &good_claims(""),
                    "secret-token",
                ),
                JwtError::Header,
            ),
            (
                sign(
                    r#"{"alg":"none","cty":"plivo;v=1","typ":"JWT"}"#,
                    &good_claims(""),
                    "secret-token",
                ),
                JwtError::Header,
            ),
            (
                sign(header, &good_claims(""), "another-key"),
                JwtError::Signature,
            ),
            (
                sign(header, &good_claims(r#","jti":"x""#), "secret-token"),
                JwtError::Invalid,
            ),
            (
                sign(
                    header,
                    &good_claims("").replace("\"MA1\"", "\"MA2\""),
                    "secret-token",
                ),
                JwtError::Issuer,
            ),
            (
                sign(
                    header,
                    &good_claims("")
                        .replace("\"incoming_allow\":true", "\"incoming_allow\":\"yes\""),
                    "secret-token",
                ),
                JwtError::Grants,
            ),
            (issued("bob", NOW - 60, NOW + 600), JwtError::Subject),
            (issued("", NOW - 60, NOW + 600), JwtError::Subject),
            (
                issued("alice", NOW - 3600, NOW + MAX_LIFETIME),
                JwtError::TooLong,
            ),
            (issued("alice", NOW + 60, NOW + 600), JwtError::NotValidYet),
            (issued("alice", NOW - 600, NOW), JwtError::Expired),
        ];
        for (token, expected) in cases {
            assert_eq!(check(&token, "alice_MA1"), Err(expected), "{token}");
        }
        let good = issued("alice", NOW - 60, NOW + 600);
        assert_eq!(
            check(&good, "bob_MA1"),
            Err(JwtError::Subject),
            "another SIP user"
        );
        assert_eq!(
            check(&good, "alice"),
            Err(JwtError::Subject),
            "the bare sub"
        );
    }

    #[test]
    fn a_skipped_check_lets_its_case_through() {
        let expired = issued("alice", NOW - 600, NOW - 1);
        let skip = |name: &str| Skipped(vec![name.to_owned()]);
        assert!(check_token(&expired, "alice_MA1", &ACCOUNT, |_| true, NOW, &skip("exp")).is_ok());
        assert_eq!(
            check_token(&expired, "alice_MA1", &ACCOUNT, |_| true, NOW, &skip("nbf")),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn codes_and_names_match_the_sdk() {
        assert_eq!(
            JwtError::ALL.map(JwtError::code),
            [10001, 10002, 10003, 10004, 10005, 10006, 10007, 10008, 10009, 10010]
        );
        assert_eq!(JwtError::from_code(10006), Some(JwtError::Expired));
        assert_eq!(JwtError::from_code(404), None);
        assert_eq!(
            JwtError::TooLong.name(),
            "EXPIRATION_EXCEEDS_MAX_ALLOWED_TIME"
        );
    }

    #[test]
    fn a_digest_proves_the_password_and_nothing_else() {
        // RFC 2617-style computation, checked against a client's arithmetic.
        let ha1 = ha1("bob", "s3cret");
        let ha2 = md5_hex("REGISTER:sip:phone.plivo.com");
        let response = md5_hex(&format!("{ha1}:n1:00000001:c1:auth:{ha2}"));
        let header = format!(
            "Digest algorithm=MD5, username=\"bob\", realm=\"phone.plivo.com\", nonce=\"n1\", uri=\"sip:phone.plivo.com\", response=\"{response}\", qop=auth, cnonce=\"c1\", nc=00000001"
        );
        let credential = Credential::parse(&header).unwrap();
        assert_eq!(
            (credential.username.as_str(), credential.nonce.as_str()),
            ("bob", "n1")
        );
        assert!(credential.proves("REGISTER", &ha1));
        assert!(!credential.proves("REGISTER", &super::ha1("bob", "old-password")));
        assert!(!credential.proves("INVITE", &ha1));
        assert_eq!(
            Credential::parse(&header.replace("phone.plivo.com\"", "other.realm\"")),
            None
        );
        assert_eq!(
            Credential::parse(&header.replace("qop=auth", "qop=auth-int")),
            None
        );
        assert_eq!(Credential::parse(&header.replace("MD5", "SHA-256")), None);
        assert!(challenge("n1").contains("realm=\"phone.plivo.com\", nonce=\"n1\", qop=\"auth\""));
    }
}
