//! Plivo's JWT API: `POST /v1/Account/{auth_id}/JWT/Token/`.
//!
//! Tokens are shaped exactly as Plivo issues them: header
//! `{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}`, claims
//! `{app, exp, iss, nbf, per: {voice: {incoming_allow, outgoing_allow}}, sub}`, signed
//! HMAC-SHA256 with the account auth token. jwt-compact cannot write a `cty` header, so
//! the token is assembled from its HS256 primitives.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::ApiError;
use crate::Platform;

/// The header of every token, byte for byte.
pub const HEADER: &str = r#"{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}"#;
/// Shortest allowed lifetime: 3 minutes.
pub const MIN_LIFETIME: i64 = 180;
/// Longest allowed lifetime: 24 hours.
pub const MAX_LIFETIME: i64 = 86_400;

/// Voice grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voice {
    /// May receive calls.
    pub incoming_allow: bool,
    /// May place calls.
    pub outgoing_allow: bool,
}

/// Grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Per {
    /// Voice grants.
    pub voice: Voice,
}

/// Claims in Plivo's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Application id, or "".
    pub app: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The account auth id.
    pub iss: String,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Grants.
    pub per: Per,
    /// Endpoint username, or "".
    pub sub: String,
}

fn field_int(body: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    Platform::Plivo,
                    name,
                    format!("{name} must be an integer Unix timestamp"),
                )
            }),
    }
}

fn field_bool(value: Option<&Value>, name: &str) -> Result<bool, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(ApiError::invalid(
            Platform::Plivo,
            name,
            format!("{name} must be a boolean"),
        )),
    }
}

fn field_str(body: &Value, name: &str) -> Result<String, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid(
            Platform::Plivo,
            name,
            format!("{name} must be a string"),
        )),
    }
}

/// Checks a token request body against the rules of the JWT API. `now` in Unix seconds.
pub fn claims_from_request(body: &Value, auth_id: &str, now: i64) -> Result<Claims, ApiError> {
    let iss = field_str(body, "iss")?;
    if !iss.is_empty() && iss != auth_id {
        return Err(ApiError::invalid(
            Platform::Plivo,
            "iss",
            "iss must be the account auth id",
        ));
    }
    let exp = field_int(body, "exp")?.unwrap_or(now.saturating_add(MAX_LIFETIME));
    let nbf = field_int(body, "nbf")?.unwrap_or(now);
    // Saturating: an `exp` of ±2^63 is out of range, not an overflow.
    let lifetime = exp.saturating_sub(now);
    if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
        return Err(ApiError::invalid(
            Platform::Plivo,
            "exp",
            format!(
                "exp must be between 3 minutes and 24 hours from now ({MIN_LIFETIME} to {MAX_LIFETIME} s); it is {lifetime} s"
            ),
        ));
    }
    if nbf >= exp {
        return Err(ApiError::invalid(
            Platform::Plivo,
            "nbf",
            "nbf must be before exp",
        ));
    }
    let voice = body.get("per").and_then(|p| p.get("voice"));
    let voice = Voice {
        incoming_allow: field_bool(
            voice.and_then(|v| v.get("incoming_allow")),
            "incoming_allow",
        )?,
        outgoing_allow: field_bool(
            voice.and_then(|v| v.get("outgoing_allow")),
            "outgoing_allow",
        )?,
    };
    let sub = field_str(body, "sub")?;
    if voice.incoming_allow && sub.is_empty() {
        return Err(ApiError::invalid(
            Platform::Plivo,
            "sub",
            "sub is required when incoming_allow is true",
        ));
    }
    Ok(Claims {
        app: field_str(body, "app")?,
        exp,
        iss: auth_id.to_owned(),
        nbf,
        per: Per { voice },
        sub,
    })
}

/// Signs claims into a compact token with the account auth token.
pub fn mint(claims: &Claims, auth_token: &str) -> String {
    let claims_json = serde_json::to_string(claims).expect("claims serialize");
    sign(HEADER, &claims_json, auth_token)
}

/// A compact token of exactly this header and these claims (JSON texts), signed HS256
/// with `key`.
pub fn sign(header: &str, claims: &str, key: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes())
    );
    let signature = Hs256.sign(&Hs256Key::new(key.as_bytes()), signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        Base64UrlUnpadded::encode_string(&signature.as_bytes())
    )
}

/// Checks a token's signature with a key: true when `key` signed it.
pub fn verify(token: &str, key: &str) -> bool {
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = Base64UrlUnpadded::decode_vec(signature) else {
        return false;
    };
    if signature.len() != 32 {
        return false;
    }
    let Ok(signature) = <Hs256 as Algorithm>::Signature::try_from_slice(&signature) else {
        return false;
    };
    Hs256.verify_signature(
        &signature,
        &Hs256Key::new(key.as_bytes()),
        signing_input.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn request(lifetime: i64) -> Value {
        json!({"iss": "MA1", "sub": "alice", "nbf": NOW - 60, "exp": NOW + lifetime,
               "per": {"voice": {"incoming_allow": true, "outgoing_allow": true}}, "app": "42"})
    }

    #[test]
    fn lifetime_limits() {
        for (lifetime, ok) in [(179, false), (180, true), (86_400, true), (86_401, false)] {
            let result = claims_from_request(&request(lifetime), "MA1", NOW);
            assert_eq!(result.is_ok(), ok, "{lifetime}");
            if let Err(e) = result {
                assert_eq!(e.field.as_deref(), Some("exp"));
            }
        }
    }

    #[test]
    fn nbf_must_precede_exp_and_incoming_needs_sub() {
        let mut body = request(600);
        body["nbf"] = json!(NOW + 600);
        assert_eq!(
            claims_from_request(&body, "MA1", NOW)
                .unwrap_err()
                .field
                .as_deref(),
            Some("nbf")
        );
        let mut body = request(600);
        body["sub"] = json!("");
        assert_eq!(
            claims_from_request(&body, "MA1", NOW)
                .unwrap_err()
                .field
                .as_deref(),
            Some("sub")
        );
        body["per"]["voice"]["incoming_allow"] = json!(false);
        assert!(claims_from_request(&body, "MA1", NOW).is_ok());
        let mut body = request(600);
        body["iss"] = json!("MA2");
        assert_eq!(
            claims_from_request(&body, "MA1", NOW)
                .unwrap_err()
                .field
                .as_deref(),
            Some("iss")
        );
    }

    #[test]
    fn tokens_have_plivos_exact_shape() {
        let claims = claims_from_request(&request(600), "MA1", NOW).unwrap();
        let token = mint(&claims, "secret");
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            Base64UrlUnpadded::decode_vec(parts[0]).unwrap(),
            HEADER.as_bytes()
        );
        let claims_json =
            String::from_utf8(Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims_json,
            format!(
                r#"{{"app":"42","exp":{},"iss":"MA1","nbf":{},"per":{{"voice":{{"incoming_allow":true,"outgoing_allow":true}}}},"sub":"alice"}}"#,
                NOW + 600,
                NOW - 60
            )
        );
    }

    #[test]
    fn tokens_verify_with_the_auth_token_only() {
        let token = mint(
            &claims_from_request(&request(600), "MA1", NOW).unwrap(),
            "the-auth-token",
        );
        assert!(verify(&token, "the-auth-token"));
        assert!(!verify(&token, "another-token"));
        assert!(!verify(&token, ""));
        let (head, _) = token.rsplit_once('.').unwrap();
        assert!(
            !verify(&format!("{head}.AAAA"), "the-auth-token"),
            "short signatures are refused, not a panic"
        );
        assert!(!verify("garbage", "the-auth-token"));
    }
}
