//! What only a server may call, because it needs the account's Auth Token: built into
//! `endpoint-login/server` (the `server` feature), never into the module pages load.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::serde_io::{write, Input};
use super::token::{token_arg, unix_now};
use crate::error::ErrorCode;
use crate::token::decode;
use crate::token::time::seconds;
use crate::validate;

/// Options of `verifyAccessToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
pub struct VerifyOptions {
    /// The time to check against, Unix seconds (default: the clock).
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    #[cfg_attr(feature = "typescript", tsify(optional, type = "number"))]
    pub now: JsValue,
    /// Seconds of tolerance for exp and nbf (default 60).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub leeway_seconds: Option<f64>,
}

/// The fields of `verifyAccessToken`'s options, as JavaScript spells them.
pub const VERIFY_FIELDS: &[&str] = &["now", "leewaySeconds"];

/// How `verifyAccessToken`'s options are read.
const VERIFY_OPTIONS: Input =
    Input::new("verify options", ErrorCode::InvalidArgument, VERIFY_FIELDS);

/// Checks an access token's HS256 signature with the account auth token, then its expiry
/// and maturity with a leeway (default 60 s). Throws `MALFORMED_TOKEN`,
/// `INVALID_SIGNATURE`, `TOKEN_EXPIRED` or `TOKEN_NOT_YET_VALID`. For servers and tools
/// only (`endpoint-login/server`): never ship the auth token to a browser.
#[wasm_bindgen(js_name = verifyAccessToken, unchecked_return_type = "DecodedAccessToken")]
pub fn verify_access_token(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
    #[wasm_bindgen(js_name = authToken, unchecked_param_type = "string")] auth_token: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: Option<JsValue>,
) -> std::result::Result<JsValue, JsValue> {
    let token = token_arg(&token)?;
    let auth_token = super::host::text(&auth_token, "authToken", ErrorCode::InvalidArgument)?;
    let options: Option<VerifyOptions> = VERIFY_OPTIONS.optional(&options.unwrap_or_default())?;
    let (now, leeway) = match options {
        None => (unix_now(), 60),
        Some(o) => {
            let now = match super::host::field(o.now) {
                now if now.is_absent() => unix_now(),
                now => seconds("now", &now)?,
            };
            let leeway = o
                .leeway_seconds
                .map(|s| validate::whole(ErrorCode::InvalidArgument, "leewaySeconds", s, 0, 86_400))
                .transpose()?;
            (now, leeway.unwrap_or(60))
        }
    };
    let verified = decode::verify_access_token(&token, &auth_token, now, leeway)?;
    Ok(write(&verified, ErrorCode::MalformedToken)?)
}
