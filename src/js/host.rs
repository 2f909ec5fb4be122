//! JavaScript values for the core: option objects as [`Host`] fields, results out as
//! parsed JSON, and futures as promises.

use std::future::Future;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use web_sys::AbortSignal;

use super::error::to_js;
use super::signal::unless_aborted;
use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Host};

/// A JavaScript object whose fields the core reads.
pub struct JsObject(pub JsValue);

/// What a JavaScript value is, as a field.
pub fn field(value: JsValue) -> Field<JsObject> {
    if value.is_undefined() {
        Field::Absent
    } else if value.is_null() {
        Field::Null
    } else if let Some(b) = value.as_bool() {
        Field::Bool(b)
    } else if let Some(n) = value.as_f64() {
        Field::Number(n)
    } else if let Some(text) = value.as_string() {
        Field::Text(text)
    } else if value.is_function() {
        Field::Other("a function")
    } else if js_sys::Array::is_array(&value) {
        Field::Other("an array")
    } else if value.is_bigint() {
        Field::Other("a bigint")
    } else if value.is_symbol() {
        Field::Other("a symbol")
    } else {
        Field::Object(JsObject(value))
    }
}

/// A property of an options object, read only when the object itself has it: a value
/// that a prototype lends (`Object.prototype.endpoints = "manage"`, set by a prototype
/// pollution anywhere in the application) is no option. `undefined` when absent; `Err`
/// when reading it threw.
pub fn own(object: &JsValue, name: &str) -> std::result::Result<JsValue, JsValue> {
    let key = JsValue::from_str(name);
    if !object.is_object()
        || Reflect::get_own_property_descriptor(object.unchecked_ref::<Object>(), &key)?
            .is_undefined()
    {
        return Ok(JsValue::UNDEFINED);
    }
    Reflect::get(object, &key)
}

impl Host for JsObject {
    fn keys(&self) -> Vec<String> {
        Object::keys(self.0.unchecked_ref::<Object>())
            .iter()
            .filter_map(|k| k.as_string())
            .collect()
    }

    fn field(&self, name: &str) -> Field<Self> {
        match own(&self.0, name) {
            Ok(value) => field(value),
            Err(_) => Field::Other("a value that could not be read"),
        }
    }
}

/// A property of an options object, when it is a function.
pub fn function(
    options: &JsValue,
    name: &str,
    what: &str,
    code: ErrorCode,
) -> Result<Option<js_sys::Function>> {
    let value = own(options, name).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .dyn_into::<js_sys::Function>()
        .map(Some)
        .map_err(|other| {
            Error::new(
                code,
                text!(
                    "Invalid ",
                    what,
                    ": `",
                    name,
                    "` must be a function, not ",
                    field(other).kind(),
                    "."
                ),
            )
            .with_field(name)
        })
}

/// A string argument (an id, a token): anything else is `code`, naming `what`.
pub fn text(value: &JsValue, what: &str, code: ErrorCode) -> Result<String> {
    value.as_string().ok_or_else(|| {
        Error::new(
            code,
            text!(
                "`",
                what,
                "` must be a string, not ",
                field(value.clone()).kind(),
                "."
            ),
        )
        .with_field(what)
    })
}

/// A result of the core, as JavaScript gets it: its JSON text, parsed once.
pub fn output<T: serde::Serialize + ?Sized>(value: &T) -> JsValue {
    parse(&crate::json::to_json(value))
}

/// JSON text the core wrote, parsed (it is always valid JSON).
pub fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
}

/// A promise for `future`: it resolves with the value or rejects with an
/// `EndpointLoginError`. For a call that takes `{ signal }`: a signal that is not an
/// `AbortSignal` rejects at once, without polling `future` (nothing is sent); one that
/// fires rejects with `ABORTED` and drops `future`.
pub fn cancellable<F>(signal: Result<Option<AbortSignal>>, future: F) -> Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    boxed_promise(Box::pin(future), signal)
}

/// A promise already rejected with `error`.
#[inline(never)]
pub fn rejected(error: &Error) -> Promise {
    Promise::reject(&to_js(error))
}

/// The one promise adapter: every method's future goes through it boxed, so the
/// machinery that drives a future from a promise, and the one that cancels it, are
/// compiled once.
#[inline(never)]
fn boxed_promise(
    future: crate::task::LocalBoxFuture<'static, Result<JsValue>>,
    signal: Result<Option<AbortSignal>>,
) -> Promise {
    match signal {
        Ok(signal) => wasm_bindgen_futures::future_to_promise(async move {
            unless_aborted(signal, future).await.map_err(|e| to_js(&e))
        }),
        Err(e) => rejected(&e),
    }
}
