//! What crosses into and out of `endpoint-login/server`, converted with serde-wasm-bindgen:
//! option objects and grants into `#[derive(Deserialize)]` structs, results out through
//! `Serializer::json_compatible()`. Only this module uses it: no page downloads the server
//! module and its calls are few and cold, so the crate's weight and speed cost pages
//! nothing (the page modules read options field by field and build results from rows,
//! which measured smaller and faster there; see the README's "Size and speed").
//!
//! Three things serde-wasm-bindgen does not do for a struct are done here around it, so
//! that the library's rules and messages hold:
//! - it reads a struct's fields by name with `obj[name]` and the `in` operator, prototype
//!   included (`Object.prototype.endpoints = "manage"`, polluted anywhere in the
//!   application, would be read as a grant), and never looks at the other keys, so
//!   `deny_unknown_fields` cannot fire. So the object's own keys are checked against the
//!   known names first (the library's one rule, with its suggestion for a misspelt
//!   name), and serde reads a copy holding the object's own values of the known names
//!   only, on an object without a prototype;
//! - a field missing and a field `undefined` are different to it (the first is "missing
//!   field", the second an `undefined` value); the copy has every known name, so they
//!   read alike, as everywhere else in the library;
//! - its messages carry the value found, which may be a secret (an `authToken` given as a
//!   number): a failure is said again with the field's name, what was expected and only
//!   the kind of value found, in the words the rest of the library uses.

use js_sys::{Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::host::{field, own};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::Options;

/// How an input is named in messages, and the code of its errors.
pub struct Input<'a> {
    /// The object, as in "Invalid verify options: ...".
    pub what: &'a str,
    /// Every error's code.
    pub code: ErrorCode,
    /// Its fields, as JavaScript spells them (the struct's serde names).
    pub known: &'a [&'a str],
    /// Where a message about one field names the object otherwise (the backend handler's
    /// client fields are "config", as `new EndpointClient` says them).
    pub what_for: fn(&str) -> Option<&'static str>,
}

impl Input<'_> {
    /// An input named `what` in every message.
    pub const fn new<'a>(what: &'a str, code: ErrorCode, known: &'a [&'a str]) -> Input<'a> {
        Input {
            what,
            code,
            known,
            what_for: |_| None,
        }
    }

    /// Reads `value` as `T`: `None` when it is absent or `null`; an object whose own keys
    /// are all known (the field-by-field reader's check, with its suggestion for a
    /// misspelt name) is read with serde-wasm-bindgen; anything else is an error.
    pub fn optional<T: DeserializeOwned>(&self, value: &JsValue) -> Result<Option<T>> {
        match Options::optional(field(value.clone()), self.what, self.code, self.known)? {
            Some(_) => self.read(value).map(Some),
            None => Ok(None),
        }
    }

    /// [`Input::optional`] for an input that must be given.
    pub fn required<T: DeserializeOwned>(&self, value: &JsValue) -> Result<T> {
        Options::required(field(value.clone()), self.what, self.code, self.known)?;
        self.read(value)
    }

    fn read<T: DeserializeOwned>(&self, value: &JsValue) -> Result<T> {
        let copy = self.own_copy(value);
        serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(copy)).map_err(
            |e| {
                let path = e.path().to_string();
                let said = e.inner().to_string();
                self.wrong_kind(value, &path, expected(&said))
            },
        )
    }

    /// The error for the field `name` of `value` where `expected` belongs, said as the
    /// field-by-field reader says it (its kind, never its value).
    fn wrong_kind(&self, value: &JsValue, name: &str, expected: &str) -> Error {
        let what = (self.what_for)(name).unwrap_or(self.what);
        match Options::required(field(value.clone()), what, self.code, self.known) {
            Ok(o) => o.wrong_kind(name, expected, &o.field(name)),
            Err(e) => e,
        }
    }

    /// The object's own values of the known names (`undefined` where it has none), on an
    /// object without a prototype: what serde reads sees nothing a prototype lends, and a
    /// missing field as `undefined`. A value whose getter threw is a symbol, which no
    /// field accepts.
    fn own_copy(&self, value: &JsValue) -> JsValue {
        let copy: Object = Object::create(JsValue::NULL.unchecked_ref::<Object>());
        for name in self.known {
            let inner =
                own(value, name).unwrap_or_else(|_| js_sys::Symbol::for_("unreadable").into());
            let _ = Reflect::set(&copy, &JsValue::from_str(name), &inner);
        }
        copy.into()
    }
}

/// A result as JavaScript gets it: plain objects (not `Map`s), `null` for `None`, numbers.
/// Only a number beyond JavaScript's safe integers fails, with `code`.
pub fn write<T: Serialize + ?Sized>(value: &T, code: ErrorCode) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|_| {
            Error::new(
                code,
                "The result holds a number beyond JavaScript's safe integers.",
            )
        })
}

/// What a serde message says was expected, in the library's words: serde writes
/// `invalid type: <the value found>, expected <what>`, and only the second part is kept.
fn expected(message: &str) -> &str {
    match message.rsplit_once(", expected ").map(|(_, e)| e.trim()) {
        Some("a boolean") => "true or false",
        Some("f64") => "a number",
        Some(e) => e,
        None => "another kind of value",
    }
}
