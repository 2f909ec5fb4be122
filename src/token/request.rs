//! `createToken`: a request for the JWT API, checked before it is sent.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tsify::Tsify;

use super::decode::AccessTokenClaims;
use super::time::{
    seconds, validate_token_lifetime, RawNumber, MAX_LIFETIME_SECONDS, MIN_LIFETIME_SECONDS,
};
use crate::error::{Error, ErrorCode, Result};

/// Lifetime used when neither `ttlSeconds` nor `exp` is given: one hour.
pub const DEFAULT_TTL_SECONDS: i64 = 3600;
/// How far inside the allowed window a `ttlSeconds` at either end is aimed: the JWT API
/// checks `exp` when the request arrives, by its clock, so a lifetime of exactly 180 s
/// (or 86,400 s) would be refused after a second of network delay or clock difference.
pub const LIFETIME_HEADROOM_SECONDS: i64 = 5;
/// How far before now `nbf` is set by default, to absorb small clock differences.
pub const DEFAULT_NBF_BACKDATE_SECONDS: i64 = 60;

/// Fields of `createToken`. Give `ttlSeconds` or `exp`, not both (default: one hour).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenRequest {
    /// The endpoint username the token logs in as (required for incoming calls).
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Lifetime in seconds, 180 to 86,400.
    #[tsify(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<RawNumber>,
    /// Expiry, Unix seconds: 3 minutes to 24 hours from now.
    #[tsify(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<RawNumber>,
    /// Not before, Unix seconds (default: 60 s ago, which absorbs small clock differences).
    #[tsify(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<RawNumber>,
    /// May receive calls (default false; needs `sub`).
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<bool>,
    /// May place calls (default true).
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<bool>,
    /// Application id to put in the token.
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

impl crate::fields::KnownFields for CreateTokenRequest {
    const FIELDS: &'static [&'static str] = &[
        "sub",
        "ttlSeconds",
        "exp",
        "nbf",
        "incoming",
        "outgoing",
        "app",
    ];
}

/// The result of `createToken`.
#[derive(Clone, PartialEq, Serialize, Deserialize, Tsify)]
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

/// Checks a requested `ttlSeconds` against the lifetime rule.
fn check_ttl(ttl: i64, now: i64) -> Result<()> {
    validate_token_lifetime(now + ttl, None, now)
        .map(drop)
        .map_err(|mut e| {
            e.field = Some("ttlSeconds".into());
            e.message =
                format!("`ttlSeconds` must be 180 to 86400 (3 minutes to 24 hours); got {ttl}.");
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
            format!("`{field}` is empty; leave it out instead."),
        )),
        Some(v) if v.chars().any(char::is_control) || v.len() > 256 => Err(invalid(
            field,
            format!("`{field}` must be a short string without control characters."),
        )),
        other => Ok(other.clone()),
    }
}

impl CreateTokenRequest {
    /// Checks the request at `now` (Unix seconds, the platform's clock as best known) and
    /// builds the JWT API body for the account `auth_id`.
    pub fn to_body(&self, auth_id: &str, now: i64) -> Result<Value> {
        let exp = match (&self.ttl_seconds, &self.exp) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "exp",
                    "Give `ttlSeconds` or `exp`, not both.".into(),
                ));
            }
            (Some(ttl), None) => {
                let ttl = seconds("ttlSeconds", ttl)?;
                check_ttl(ttl, now)?;
                // The JWT API checks exp against its own clock when the request arrives: a
                // lifetime at either end of the window is aimed a few seconds inside it.
                now + ttl.clamp(
                    MIN_LIFETIME_SECONDS + LIFETIME_HEADROOM_SECONDS,
                    MAX_LIFETIME_SECONDS - LIFETIME_HEADROOM_SECONDS,
                )
            }
            (None, Some(exp)) => seconds("exp", exp)?,
            (None, None) => now + DEFAULT_TTL_SECONDS,
        };
        let nbf = match &self.nbf {
            Some(nbf) => seconds("nbf", nbf)?,
            None => now - DEFAULT_NBF_BACKDATE_SECONDS,
        };
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
        Ok(json!({
            "iss": auth_id,
            "sub": sub.unwrap_or_default(),
            "nbf": nbf,
            "exp": exp,
            "per": { "voice": { "incoming_allow": incoming, "outgoing_allow": self.outgoing.unwrap_or(true) } },
            "app": app.unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn request(json: Value) -> CreateTokenRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_give_a_one_hour_outgoing_token() {
        let body = CreateTokenRequest::default().to_body("MA1", NOW).unwrap();
        assert_eq!(
            body,
            json!({"iss": "MA1", "sub": "", "nbf": NOW - 60, "exp": NOW + 3600,
                   "per": {"voice": {"incoming_allow": false, "outgoing_allow": true}}, "app": ""})
        );
    }

    #[test]
    fn ttl_or_exp() {
        let body = request(json!({"ttlSeconds": 600, "sub": "alice", "incoming": true}))
            .to_body("MA1", NOW)
            .unwrap();
        assert_eq!(
            (body["exp"].as_i64(), body["sub"].as_str()),
            (Some(NOW + 600), Some("alice"))
        );
        let body = request(json!({"exp": NOW + 900, "nbf": NOW}))
            .to_body("MA1", NOW)
            .unwrap();
        assert_eq!(
            (body["exp"].as_i64(), body["nbf"].as_i64()),
            (Some(NOW + 900), Some(NOW))
        );
        let e = request(json!({"ttlSeconds": 600, "exp": NOW + 600}))
            .to_body("MA1", NOW)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenRequest);
    }

    #[test]
    fn the_lifetime_rule_applies_before_sending() {
        for (ttl, ok) in [(179, false), (180, true), (86_400, true), (86_401, false)] {
            let result = request(json!({"ttlSeconds": ttl})).to_body("MA1", NOW);
            assert_eq!(result.is_ok(), ok, "{ttl}");
            if let Err(e) = result {
                assert_eq!(
                    (e.code, e.field.as_deref()),
                    (ErrorCode::ExpOutOfRange, Some("ttlSeconds"))
                );
            }
        }
        let e = request(json!({"exp": NOW + 100_000}))
            .to_body("MA1", NOW)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ExpOutOfRange, Some("exp"))
        );
        let e = request(json!({"exp": NOW + 600, "nbf": NOW + 500}))
            .to_body("MA1", NOW)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NbfAfterExp);
        let e = request(json!({"exp": (NOW + 600) * 1000}))
            .to_body("MA1", NOW)
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
                .to_body("MA1", NOW)
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
            .to_body("MA1", NOW)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidTokenRequest, Some("sub"))
        );
        let e = request(json!({"sub": ""})).to_body("MA1", NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTokenRequest);
        let body = request(json!({"sub": "bob", "incoming": true, "outgoing": false, "app": "42"}))
            .to_body("MA1", NOW)
            .unwrap();
        assert_eq!(
            body["per"],
            json!({"voice": {"incoming_allow": true, "outgoing_allow": false}})
        );
        assert_eq!(body["app"], "42");
    }

    #[test]
    fn known_fields_match_serde() {
        crate::fields::tests::assert_fields_match(&CreateTokenRequest {
            sub: Some("a".into()),
            ttl_seconds: Some(1.into()),
            exp: Some(1.into()),
            nbf: Some(1.into()),
            incoming: Some(true),
            outgoing: Some(true),
            app: Some("a".into()),
        });
    }
}
