//! `createToken`: a request for the JWT API, checked before it is sent.

use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Host, Options};
use crate::json::JsonOut;

use super::decode::{decode_access_token, AccessTokenClaims};
use super::time::{seconds, validate_token_lifetime, MAX_LIFETIME_SECONDS, MIN_LIFETIME_SECONDS};
use super::FetchedToken;

/// Lifetime used when neither `ttlSeconds` nor `exp` is given: one hour.
pub const DEFAULT_TTL_SECONDS: i64 = 3600;
/// How far inside the allowed window a `ttlSeconds` at either end is aimed: the JWT API
/// checks `exp` when the request arrives, by its clock, so a lifetime of exactly 180 s
/// (or 86,400 s) would be refused after a second of network delay or clock difference.
pub const LIFETIME_HEADROOM_SECONDS: i64 = 5;
/// How far before now `nbf` is set by default, to absorb small clock differences.
pub const DEFAULT_NBF_BACKDATE_SECONDS: i64 = 60;

/// Fields of `createToken`. Give `ttlSeconds` or `exp`, not both (default: one hour).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct CreateTokenRequest {
    /// The endpoint username the token logs in as (required for incoming calls).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub sub: Option<String>,
    /// Lifetime in seconds, 180 to 86,400.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub ttl_seconds: Option<i64>,
    /// Expiry, Unix seconds: 3 minutes to 24 hours from now.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub exp: Option<i64>,
    /// Not before, Unix seconds (default: 60 s ago, which absorbs small clock differences).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub nbf: Option<i64>,
    /// May receive calls (default false; needs `sub`).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub incoming: Option<bool>,
    /// May place calls (default true).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub outgoing: Option<bool>,
    /// Application id to put in the token.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub app: Option<String>,
}

/// The result of `createToken`.
#[derive(Clone, PartialEq, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The access token, for `loginWithAccessToken` or a `TokenProvider`.
    pub token: String,
    /// Its decoded claims.
    pub claims: AccessTokenClaims,
    /// When it expires, in milliseconds since the epoch (`new Date(expiresAt)`).
    pub expires_at: f64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl IssuedToken {
    /// Decodes a fetched token.
    pub fn from_fetched(fetched: &FetchedToken) -> Result<Self> {
        let decoded = decode_access_token(&fetched.token)?;
        Ok(Self {
            expires_at: decoded.claims.exp as f64 * 1000.0,
            claims: decoded.claims,
            token: fetched.token.clone(),
        })
    }
}

/// Checks a requested `ttlSeconds` against the lifetime rule.
fn check_ttl(ttl: i64, now: i64) -> Result<()> {
    validate_token_lifetime(now + ttl, None, now)
        .map(drop)
        .map_err(|mut e| {
            e.field = Some("ttlSeconds".into());
            e.message = text!(
                "`ttlSeconds` must be 180 to 86400 (3 minutes to 24 hours); got ",
                ttl,
                "."
            );
            e
        })
}

fn invalid(field: &str, message: String) -> Error {
    Error::new(ErrorCode::InvalidTokenRequest, message).with_field(field)
}

fn text(field: &str, value: &Option<String>) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() => Err(invalid(
            field,
            text!("`", field, "` is empty; leave it out instead."),
        )),
        Some(v) if v.chars().any(char::is_control) || v.len() > 256 => Err(invalid(
            field,
            text!(
                "`",
                field,
                "` must be a short string without control characters."
            ),
        )),
        other => Ok(other.clone()),
    }
}

impl CreateTokenRequest {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &[
        "sub",
        "ttlSeconds",
        "exp",
        "nbf",
        "incoming",
        "outgoing",
        "app",
    ];

    /// Reads the request given to `createToken` (absent: the defaults).
    pub fn read<O: Host>(value: Field<O>) -> Result<Self> {
        let Some(o) = Options::optional(
            value,
            "token request",
            ErrorCode::InvalidTokenRequest,
            Self::FIELDS,
        )?
        else {
            return Ok(Self::default());
        };
        let time = |name: &str| {
            let field = o.field(name);
            (!field.is_absent())
                .then(|| seconds(name, &field))
                .transpose()
        };
        Ok(Self {
            sub: o.text("sub")?,
            ttl_seconds: time("ttlSeconds")?,
            exp: time("exp")?,
            nbf: time("nbf")?,
            incoming: o.flag("incoming")?,
            outgoing: o.flag("outgoing")?,
            app: o.text("app")?,
        })
    }

    /// Checks the request at `now` (Unix seconds, the platform's clock as best known) and
    /// writes the JWT API body for the account `auth_id`.
    pub fn to_body(&self, auth_id: &str, now: i64) -> Result<String> {
        let exp = match (self.ttl_seconds, self.exp) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "exp",
                    "Give `ttlSeconds` or `exp`, not both.".into(),
                ));
            }
            (Some(ttl), None) => {
                check_ttl(ttl, now)?;
                // The JWT API checks exp against its own clock when the request arrives: a
                // lifetime at either end of the window is aimed a few seconds inside it.
                now + ttl.clamp(
                    MIN_LIFETIME_SECONDS + LIFETIME_HEADROOM_SECONDS,
                    MAX_LIFETIME_SECONDS - LIFETIME_HEADROOM_SECONDS,
                )
            }
            (None, Some(exp)) => exp,
            (None, None) => now + DEFAULT_TTL_SECONDS,
        };
        let nbf = self.nbf.unwrap_or(now - DEFAULT_NBF_BACKDATE_SECONDS);
        validate_token_lifetime(exp, Some(nbf), now)?;
        let sub = text("sub", &self.sub)?;
        let app = text("app", &self.app)?;
        let incoming = self.incoming.unwrap_or(false);
        if incoming && sub.is_none() {
            return Err(invalid(
                "sub",
                "`incoming: true` needs `sub`, the endpoint username that receives the calls."
                    .into(),
            ));
        }
        let mut body = JsonOut::with_capacity(192);
        body.open_object();
        body.name("iss").string(auth_id);
        body.name("sub").string(sub.as_deref().unwrap_or_default());
        body.name("nbf").integer(nbf);
        body.name("exp").integer(exp);
        body.name("per").open_object().name("voice").open_object();
        body.name("incoming_allow").bool(incoming);
        body.name("outgoing_allow")
            .bool(self.outgoing.unwrap_or(true));
        body.close_object().close_object();
        body.name("app").string(app.as_deref().unwrap_or_default());
        body.close_object();
        Ok(body.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const NOW: i64 = 1_800_000_000;

    fn request(json: Value) -> CreateTokenRequest {
        crate::token::tests::token_request(json)
    }

    trait Body {
        fn to_json(&self, auth_id: &str, now: i64) -> Result<Value>;
    }

    impl Body for CreateTokenRequest {
        fn to_json(&self, auth_id: &str, now: i64) -> Result<Value> {
            self.to_body(auth_id, now)
                .map(|text| serde_json::from_str(&text).unwrap())
        }
    }

    #[test]
    fn defaults_give_a_one_hour_outgoing_token() {
        let body = CreateTokenRequest::default().to_json("MA1", NOW).unwrap();
        assert_eq!(
            body,
            json!({"iss": "MA1", "sub": "", "nbf": NOW - 60, "exp": NOW + 3600,
                   "per": {"voice": {"incoming_allow": false, "outgoing_allow": true}}, "app": ""})
        );
    }

    #[test]
    fn ttl_or_exp() {
        let body = request(json!({"ttlSeconds": 600, "sub": "alice", "incoming": true}))
            .to_json("MA1", NOW)
            .unwrap();
        assert_eq!(
            (body["exp"].as_i64(), body["sub"].as_str()),
            (Some(NOW + 600), Some("alice"))
        );
        let body = request(json!({"exp": NOW + 900, "nbf": NOW}))
            .to_json("MA1", NOW)
            .unwrap();
        assert_eq!(
            (body["exp"].as_i64(), body["nbf"].as_i64()),
            (Some(NOW + 900), Some(NOW))
        );
        let e = request(json!({"ttlSeconds": 600, "exp": NOW + 600}))
            .to_json("MA1", NOW)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenRequest);
    }

    #[test]
    fn the_lifetime_rule_applies_before_sending() {
        for (ttl, ok) in [(179, false), (180, true), (86_400, true), (86_401, false)] {
            let result = request(json!({"ttlSeconds": ttl})).to_json("MA1", NOW);
            assert_eq!(result.is_ok(), ok, "{ttl}");
            if let Err(e) = result {
                assert_eq!(
                    (e.code, e.field.as_deref()),
                    (ErrorCode::ExpOutOfRange, Some("ttlSeconds"))
                );
            }
        }
        let e = request(json!({"exp": NOW + 100_000}))
            .to_json("MA1", NOW)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ExpOutOfRange, Some("exp"))
        );
        let e = request(json!({"exp": NOW + 600, "nbf": NOW + 500}))
            .to_json("MA1", NOW)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NbfAfterExp);
        let e = CreateTokenRequest::read(crate::fields::tests::arg(
            json!({"exp": (NOW + 600) * 1000}),
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTimestamp);
        assert!(e.message.contains("milliseconds"));
    }

    #[test]
    fn lifetimes_at_the_ends_are_aimed_inside_the_window() {
        for (ttl, sent) in [
            (180, 185),
            (181, 185),
            (600, 600),
            (86_395, 86_395),
            (86_400, 86_395),
        ] {
            let body = request(json!({"ttlSeconds": ttl}))
                .to_json("MA1", NOW)
                .unwrap();
            assert_eq!(body["exp"].as_i64(), Some(NOW + sent), "{ttl}");
            // A few seconds of delay or clock difference at the platform still pass.
            for late in 0..=LIFETIME_HEADROOM_SECONDS {
                let exp = body["exp"].as_i64().unwrap();
                assert!(
                    validate_token_lifetime(exp, None, NOW + late).is_ok(),
                    "{ttl} {late}"
                );
                assert!(
                    validate_token_lifetime(exp, None, NOW - late).is_ok(),
                    "{ttl} -{late}"
                );
            }
        }
    }

    #[test]
    fn incoming_needs_sub() {
        let e = request(json!({"incoming": true}))
            .to_json("MA1", NOW)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidTokenRequest, Some("sub"))
        );
        let e = request(json!({"sub": ""})).to_json("MA1", NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenRequest);
        let body = request(json!({"sub": "bob", "incoming": true, "outgoing": false, "app": "42"}))
            .to_json("MA1", NOW)
            .unwrap();
        assert_eq!(
            body["per"],
            json!({"voice": {"incoming_allow": true, "outgoing_allow": false}})
        );
        assert_eq!(body["app"], "42");
    }

    #[test]
    fn wrong_kinds_are_refused_when_read() {
        for (value, code, field) in [
            (
                json!({"ttlSeconds": "600"}),
                ErrorCode::InvalidTimestamp,
                "ttlSeconds",
            ),
            (
                json!({"incoming": "yes"}),
                ErrorCode::InvalidTokenRequest,
                "incoming",
            ),
            (json!({"sub": 5}), ErrorCode::InvalidTokenRequest, "sub"),
            (json!({"ttl": 600}), ErrorCode::InvalidTokenRequest, "ttl"),
        ] {
            let e = CreateTokenRequest::read(crate::fields::tests::arg(value.clone())).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), (code, Some(field)), "{value}");
        }
    }
}
