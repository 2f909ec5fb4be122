//! Errors at the JavaScript boundary: every failure becomes a real `Error` with
//! `name === "EndpointLoginError"` and a `code`.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Error, ErrorCode};
use crate::fields::{self, KnownFields};

/// The `name` of every error the library throws.
pub const ERROR_NAME: &str = "EndpointLoginError";

#[wasm_bindgen(typescript_custom_section)]
const ERROR_TS: &str = r#"
/** Every code an `EndpointLoginError` can carry. */
export type EndpointLoginErrorCode =
  | "INVALID_CONFIG" | "INVALID_ARGUMENT" | "INVALID_USERNAME" | "INVALID_PASSWORD"
  | "INVALID_ALIAS" | "INVALID_ID" | "INVALID_QUERY" | "INVALID_TOKEN_REQUEST"
  | "EXP_OUT_OF_RANGE" | "NBF_AFTER_EXP" | "INVALID_TIMESTAMP" | "MALFORMED_TOKEN"
  | "INVALID_SIGNATURE" | "TOKEN_EXPIRED" | "TOKEN_NOT_YET_VALID" | "BAD_REQUEST"
  | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT" | "RATE_LIMITED"
  | "SERVER_ERROR" | "HTTP_ERROR" | "NETWORK" | "TIMEOUT" | "ABORTED" | "BAD_RESPONSE"
  | "UNSUPPORTED" | "DISPOSED" | "TOKEN_SOURCE_FAILED";

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

/** True when `e` is an error thrown by this library. */
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

/// True when `e` is an error thrown by this library.
#[wasm_bindgen(js_name = isEndpointLoginError, skip_typescript)]
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

fn keys(value: &JsValue) -> Vec<String> {
    js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect()
}

/// Reads a JavaScript argument into a Rust value; a wrong shape or an unknown field is
/// `code` with `what` named (`INVALID_ARGUMENT`, or `INVALID_CONFIG` / `INVALID_QUERY`).
pub fn read_arg<T>(value: &tsify::Ts<T>, code: ErrorCode, what: &str) -> Result<T, Error>
where
    T: tsify::Tsify + serde::de::DeserializeOwned + KnownFields,
{
    let value = value.js_value();
    if !value.is_object() || value.is_function() || js_sys::Array::is_array(&value) {
        return Err(Error::new(
            code,
            format!(
                "Invalid {what}: expected an object, got {}.",
                type_name(&value)
            ),
        ));
    }
    fields::check(what, &keys(&value), T::FIELDS, code)?;
    for (name, nested_fields) in T::NESTED {
        let nested = Reflect::get(&value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        if nested.is_object() {
            fields::check(
                &format!("{what} `{name}`"),
                &keys(&nested),
                nested_fields,
                code,
            )?;
        }
    }
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| Error::new(code, format!("Invalid {what}: {e}.")))
}

/// `typeof`-style name of a value, for messages.
pub fn type_name(value: &JsValue) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_null() {
        "null"
    } else if js_sys::Array::is_array(value) {
        "an array"
    } else if value.is_function() {
        "a function"
    } else if value.as_string().is_some() {
        "a string"
    } else if value.as_f64().is_some() {
        "a number"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else {
        "an object"
    }
}

/// Like [`read_arg`] for an optional argument: `undefined` gives the default.
pub fn read_optional_arg<T>(
    value: Option<tsify::Ts<T>>,
    code: ErrorCode,
    what: &str,
) -> Result<T, Error>
where
    T: tsify::Tsify + serde::de::DeserializeOwned + Default + KnownFields,
{
    match value {
        Some(v) if !v.js_value().is_undefined() && !v.js_value().is_null() => {
            read_arg(&v, code, what)
        }
        _ => Ok(T::default()),
    }
}

/// Converts a Rust value for JavaScript.
///
/// Results are plain data (strings, numbers, booleans, null, arrays, objects), so they
/// cross as one JSON text that `JSON.parse` turns into objects: one call instead of one
/// per property, several times faster for endpoints and claims.
pub fn write<T: tsify::Tsify + serde::Serialize>(value: &T) -> Result<tsify::Ts<T>, Error> {
    let failed = |e: String| {
        Error::new(
            ErrorCode::BadResponse,
            format!("Could not convert a result for JavaScript: {e}"),
        )
    };
    let json = serde_json::to_string(value).map_err(|e| failed(e.to_string()))?;
    let object = js_sys::JSON::parse(&json).map_err(|_| failed("JSON.parse refused it".into()))?;
    Ok(tsify::Ts::new_unchecked(object))
}
