//! What only a server may call, because it needs the account's Auth Token: built into
//! `endpoint-login/server` (the `server` feature), never into the module pages load.

use wasm_bindgen::prelude::*;

use super::host::{field, output};
use super::token::{token_arg, unix_now};
use crate::error::ErrorCode;
use crate::fields::{Field, Options};
use crate::token::decode;
use crate::token::time::seconds;

/// The fields of `verifyAccessToken`'s options, as JavaScript spells them.
pub const VERIFY_FIELDS: &[&str] = &["now", "leewaySeconds"];

/// Options of `verifyAccessToken`.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOptions {
    /// The time to check against, Unix seconds (default: the clock).
    #[tsify(optional)]
    pub now: Option<i64>,
    /// Seconds of tolerance for exp and nbf (default 60).
    #[tsify(optional)]
    pub leeway_seconds: Option<u32>,
}

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
    let options = Options::optional(
        field(options.unwrap_or_default()),
        "verify options",
        ErrorCode::InvalidArgument,
        VERIFY_FIELDS,
    )?;
    let (now, leeway) = match &options {
        None => (unix_now(), 60),
        Some(o) => {
            let now = o.field("now");
            let now = match now {
                Field::Absent | Field::Null => unix_now(),
                other => seconds("now", &other)?,
            };
            (now, o.whole("leewaySeconds", 0, 86_400)?.unwrap_or(60))
        }
    };
    Ok(output(&decode::verify_access_token(
        &token,
        &auth_token,
        now,
        leeway,
    )?))
}
