//! Tokens for JavaScript: `validateTokenLifetime` and `decodeAccessToken` (the
//! `TokenProvider` class is in `provider.rs`, `verifyAccessToken` in `server.rs`).

use js_sys::JsString;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::host::field;
use crate::error::{Error, Result};
use crate::token::decode::{self, MAX_TOKEN_LENGTH};
#[cfg(feature = "endpoints")]
use crate::token::time::TokenLifetimeInput;

#[wasm_bindgen(inline_js = r#"
const decoder = new TextDecoder();
let text = "";
let at = 0;
// The next string of `text`, `n` UTF-16 units long; null for a negative `n`.
function cut(n) {
  return n < 0 ? null : text.slice(at, (at += n));
}
export function tokenObject(bytes, ascii, alg, cty, typ, iss, sub, app, nbf, exp, incomingAllow, outgoingAllow) {
  // For a few dozen ASCII characters this is several times faster than TextDecoder.
  text = ascii ? String.fromCharCode.apply(null, bytes) : decoder.decode(bytes);
  at = 0;
  // Properties are evaluated in order: the order the strings were joined in.
  return {
    header: { alg: cut(alg), cty: cut(cty), typ: cut(typ) },
    claims: { iss: cut(iss), sub: cut(sub), nbf, exp, app: cut(app), per: { voice: { incomingAllow, outgoingAllow } } },
  };
}
"#)]
extern "C" {
    /// The `DecodedAccessToken` object, built directly: for this hot, small output it
    /// is faster than JSON text (see `cargo xtask bench`).
    #[wasm_bindgen(js_name = tokenObject)]
    fn token_object(
        bytes: &[u8],
        ascii: bool,
        alg: i32,
        cty: i32,
        typ: i32,
        iss: i32,
        sub: i32,
        app: i32,
        nbf: f64,
        exp: f64,
        incoming_allow: bool,
        outgoing_allow: bool,
    ) -> JsValue;
}

/// A decoded token as JavaScript gets it.
pub(crate) fn token_value(token: &decode::TokenView<'_>) -> JsValue {
    let (text, lengths) = token.strings();
    token_object(
        text.as_bytes(),
        text.is_ascii(),
        lengths[0] as i32,
        lengths[1] as i32,
        lengths[2] as i32,
        lengths[3] as i32,
        lengths[4] as i32,
        lengths[5] as i32,
        token.nbf as f64,
        token.exp as f64,
        token.incoming_allow,
        token.outgoing_allow,
    )
}

/// Unix seconds now, for `now` defaults.
#[cfg(feature = "endpoints")]
pub(crate) fn unix_now() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}

/// Checks an access-token lifetime: `exp` 3 minutes to 24 hours after `now` (default: the
/// clock), `nbf` at most `exp - 180`. Throws `EXP_OUT_OF_RANGE`, `NBF_AFTER_EXP` or
/// `INVALID_TIMESTAMP` with the allowed window and the offending value. (Issuing tokens:
/// not in `endpoint-login/tokens`, whose pages only use them.)
#[cfg(feature = "endpoints")]
#[wasm_bindgen(js_name = validateTokenLifetime, unchecked_return_type = "TokenLifetime")]
pub fn validate_token_lifetime(
    #[wasm_bindgen(unchecked_param_type = "TokenLifetimeInput")] input: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let input = TokenLifetimeInput::read(field(input))?;
    Ok(super::host::output(&input.validate(unix_now())?))
}

/// A token argument: a string of at most [`MAX_TOKEN_LENGTH`], measured before it is
/// copied into WebAssembly.
pub(crate) fn token_arg(value: &JsValue) -> Result<String> {
    let Some(text) = value.dyn_ref::<JsString>() else {
        return Err(Error::malformed_token(
            "token",
            &text!("expected a string, got ", field(value.clone()).kind()),
        ));
    };
    let length = text.length() as usize;
    if length > MAX_TOKEN_LENGTH {
        return Err(Error::malformed_token(
            "token",
            &text!(
                "it is ",
                length,
                " characters long; tokens are at most ",
                MAX_TOKEN_LENGTH
            ),
        ));
    }
    Ok(String::from(text))
}

/// Decodes an access token and checks it as the Plivo browser SDK does, more strictly: three
/// base64url parts, an HS256 header with `cty` `plivo;v=1` or none, `iss`, `nbf` and `exp`
/// present, string `iss`/`sub`/`app`, boolean grants. Throws `MALFORMED_TOKEN` naming the
/// part and the reason. Does not check the signature (see `verifyAccessToken`).
#[wasm_bindgen(js_name = decodeAccessToken, unchecked_return_type = "DecodedAccessToken")]
pub fn decode_access_token(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let token = token_arg(&token)?;
    Ok(token_value(&decode::split(&token)?.read()?))
}
