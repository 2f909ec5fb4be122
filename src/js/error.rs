//! Errors at the JavaScript boundary: every failure becomes a real `Error` with
//! `name === "EndpointLoginError"` and a `code`.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Error, ErrorCode};

/// The `name` of every error the library throws.
pub const ERROR_NAME: &str = "EndpointLoginError";

#[wasm_bindgen(typescript_custom_section)]
const ERROR_SECTION: &str = ERROR_TS;

/// The TypeScript of the error type (checked against [`ErrorCode::ALL`] by the tests).
pub const ERROR_TS: &str = r#"
/** Every code an `EndpointLoginError` can carry. */
export type EndpointLoginErrorCode =
  | "INVALID_CONFIG" | "INVALID_ARGUMENT" | "INVALID_USERNAME" | "INVALID_PASSWORD"
  | "INVALID_ALIAS" | "INVALID_ID" | "INVALID_QUERY" | "INVALID_TOKEN_REQUEST"
  | "EXP_OUT_OF_RANGE" | "NBF_AFTER_EXP" | "INVALID_TIMESTAMP" | "MALFORMED_TOKEN"
  | "INVALID_SIGNATURE" | "TOKEN_EXPIRED" | "TOKEN_NOT_YET_VALID" | "BAD_REQUEST"
  | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT" | "RATE_LIMITED"
  | "SERVER_ERROR" | "HTTP_ERROR" | "REDIRECT" | "NETWORK" | "TIMEOUT" | "ABORTED" | "BAD_RESPONSE"
  | "UNSUPPORTED" | "DISPOSED" | "TOKEN_SOURCE_FAILED" | "LOAD_FAILED";

/** The error every function and method of this library throws or rejects with. */
export interface EndpointLoginError extends Error {
  name: "EndpointLoginError";
  /** Stable, machine-readable reason. */
  code: EndpointLoginErrorCode;
  /** The HTTP status, for failures that have one. */
  status?: number;
  /** Seconds to wait before trying again, when the server said so. */
  retryAfter?: number;
  /** The input field the failure is about, when there is one. */
  field?: string;
}

/**
 * True when `e` is an error thrown by this library (an `Error` named `EndpointLoginError`
 * with a `code`). Plain JavaScript: it answers, never throws, before `init()`, after a
 * failed `init()` and after a successful one.
 */
export function isEndpointLoginError(e: unknown): e is EndpointLoginError;
"#;

/// Builds the JavaScript `Error` for a library error.
pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.message);
    js.set_name(ERROR_NAME);
    let set = |key: &str, value: JsValue| {
        // Setting a property on a fresh Error object cannot fail.
        let _ = Reflect::set(&js, &JsValue::from_str(key), &value);
    };
    set("code", JsValue::from_str(error.code.as_str()));
    if let Some(status) = error.status {
        set("status", JsValue::from(status));
    }
    if let Some(retry_after) = error.retry_after {
        set("retryAfter", JsValue::from(retry_after));
    }
    if let Some(field) = &error.field {
        set("field", JsValue::from_str(field));
    }
    js.into()
}

impl From<Error> for JsValue {
    fn from(error: Error) -> Self {
        to_js(&error)
    }
}

/// True when `e` is an error of this library with one of its codes: how a `fetchToken`
/// rejection is told apart from any other. The exported `isEndpointLoginError` is plain
/// JavaScript in the package's entry (`src/js/entries/endpoint_login.js`), so that it answers
/// before `init()` too.
pub fn is_endpoint_login_error(e: &JsValue) -> bool {
    e.is_instance_of::<js_sys::Error>()
        && Reflect::get(e, &JsValue::from_str("name"))
            .ok()
            .and_then(|n| n.as_string())
            .as_deref()
            == Some(ERROR_NAME)
        && Reflect::get(e, &JsValue::from_str("code"))
            .ok()
            .and_then(|c| c.as_string())
            .is_some_and(|c| ErrorCode::ALL.iter().any(|k| k.as_str() == c))
}
