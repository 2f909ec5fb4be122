//! Option objects from the host (JavaScript), read field by field with the library's
//! rules, before anything is sent.
//!
//! The host gives each field as a [`Field`]; [`Options`] refuses unknown fields (a typo
//! such as `authtoken` would otherwise switch a client to backend mode silently, so the
//! field meant is suggested) and fields of the wrong kind. Messages name the field and
//! the kind found, never the value: a password passed as a number is not echoed.

use crate::error::{Error, ErrorCode, Result};
use crate::validate;

/// A field's value as the host has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<O> {
    /// Missing or `undefined`.
    Absent,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A plain object.
    Object(O),
    /// Anything else, described for messages ("a function", "an array", "a bigint").
    Other(&'static str),
}

impl<O> Field<O> {
    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Absent => "undefined",
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::Text(_) => "a string",
            Self::Object(_) => "an object",
            Self::Other(kind) => kind,
        }
    }

    /// True when the field is missing, `undefined` or `null`: an option left out.
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent | Self::Null)
    }
}

/// An object of the host whose fields can be read.
pub trait Host: Sized {
    /// Its own enumerable field names.
    fn keys(&self) -> Vec<String>;
    /// One field.
    fn field(&self, name: &str) -> Field<Self>;
}

/// An options object being read: `what` names it in messages ("config", "query"), and
/// every failure has `code`.
pub struct Options<O> {
    object: O,
    what: String,
    code: ErrorCode,
    /// Prefix of field names in errors: `retry.` inside `retry: { ... }`.
    path: String,
}

impl<O: Host> Options<O> {
    /// Opens an options object that may be left out (`None` when absent or `null`).
    pub fn optional(
        value: Field<O>,
        what: &str,
        code: ErrorCode,
        known: &[&str],
    ) -> Result<Option<Self>> {
        match value {
            Field::Absent | Field::Null => Ok(None),
            Field::Object(object) => {
                check_known(what, &object.keys(), known, code)?;
                Ok(Some(Self {
                    object,
                    what: what.to_owned(),
                    code,
                    path: String::new(),
                }))
            }
            other => Err(Error::new(
                code,
                text!(
                    "Invalid ",
                    what,
                    ": expected an object, got ",
                    other.kind(),
                    "."
                ),
            )),
        }
    }

    /// Opens an options object that must be given.
    pub fn required(value: Field<O>, what: &str, code: ErrorCode, known: &[&str]) -> Result<Self> {
        let kind = value.kind();
        Self::optional(value, what, code, known)?.ok_or_else(|| {
            Error::new(
                code,
                text!("Invalid ", what, ": expected an object, got ", kind, "."),
            )
        })
    }

    fn path(&self, name: &str) -> String {
        text!(&self.path, name)
    }

    /// The error for the field `name` holding `found` where `expected` belongs: what it
    /// must be and the kind found, never the value (a password given as a number is not
    /// echoed).
    pub fn wrong_kind(&self, name: &str, expected: &str, found: &Field<O>) -> Error {
        let path = self.path(name);
        Error::new(
            self.code,
            text!(
                "Invalid ",
                &self.what,
                ": `",
                &path,
                "` must be ",
                expected,
                ", not ",
                found.kind(),
                "."
            ),
        )
        .with_field(path)
    }

    /// A field as the host has it, for rules that look at every kind themselves.
    pub fn field(&self, name: &str) -> Field<O> {
        self.object.field(name)
    }

    /// A string field.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        match self.object.field(name) {
            Field::Absent | Field::Null => Ok(None),
            Field::Text(text) => Ok(Some(text)),
            other => Err(self.wrong_kind(name, "a string", &other)),
        }
    }

    /// A string field that must be given.
    pub fn required_text(&self, name: &str) -> Result<String> {
        match self.object.field(name) {
            Field::Text(text) => Ok(text),
            other => Err(self.wrong_kind(name, "a string", &other)),
        }
    }

    /// A number field.
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        match self.object.field(name) {
            Field::Absent | Field::Null => Ok(None),
            Field::Number(n) => Ok(Some(n)),
            other => Err(self.wrong_kind(name, "a number", &other)),
        }
    }

    /// A whole-number field from `min` to `max` ([`validate::whole`]).
    pub fn whole(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
        self.number(name)?
            .map(|n| validate::whole(self.code, &self.path(name), n, min, max))
            .transpose()
    }

    /// A boolean field.
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.object.field(name) {
            Field::Absent | Field::Null => Ok(None),
            Field::Bool(b) => Ok(Some(b)),
            other => Err(self.wrong_kind(name, "true or false", &other)),
        }
    }

    /// A nested options object (`retry: { ... }`).
    pub fn nested(&self, name: &str, known: &[&str]) -> Result<Option<Options<O>>> {
        let path = self.path(name);
        let what = text!(&self.what, " `", &path, "`");
        let nested = Options::optional(self.object.field(name), &what, self.code, known).map_err(
            |e| match e.field {
                Some(_) => e,
                None => e.with_field(path.clone()),
            },
        )?;
        Ok(nested.map(|o| Options {
            path: text!(path, "."),
            ..o
        }))
    }
}

/// Refuses fields outside `known`, suggesting the field meant when only case or
/// underscores differ.
pub fn check_known(what: &str, present: &[String], known: &[&str], code: ErrorCode) -> Result<()> {
    let Some(unknown) = present.iter().find(|k| !known.contains(&k.as_str())) else {
        return Ok(());
    };
    let squash = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let hint = known
        .iter()
        .find(|k| squash(k) == squash(unknown))
        .map(|k| text!(" Did you mean `", k, "`?"))
        .unwrap_or_default();
    let shown = crate::error::quoted(unknown);
    Err(Error::new(
        code,
        text!(
            "Invalid ",
            what,
            ": unknown field ",
            shown,
            ".",
            hint,
            " Known fields: ",
            known.join(", "),
            "."
        ),
    )
    .with_field(unknown.clone()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;

    impl Host for Value {
        fn keys(&self) -> Vec<String> {
            self.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        }
        fn field(&self, name: &str) -> Field<Self> {
            json_field(self.get(name))
        }
    }

    /// A JSON value as the host would give it.
    pub(crate) fn json_field(value: Option<&Value>) -> Field<Value> {
        match value {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::Bool(b)) => Field::Bool(*b),
            Some(Value::Number(n)) => Field::Number(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::String(s)) => Field::Text(s.clone()),
            Some(Value::Array(_)) => Field::Other("an array"),
            Some(object @ Value::Object(_)) => Field::Object(object.clone()),
        }
    }

    /// `value` as an options argument.
    pub(crate) fn arg(value: Value) -> Field<Value> {
        json_field(Some(&value))
    }

    #[test]
    fn unknown_fields_are_named_with_a_hint() {
        let known = ["authId", "authToken", "baseUrl"];
        let open = |v: Value| Options::required(arg(v), "config", ErrorCode::InvalidConfig, &known);
        assert!(open(serde_json::json!({"authId": "a", "baseUrl": "b"})).is_ok());
        let e = open(serde_json::json!({"authId": "a", "authtoken": "t"}))
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.field.as_deref(), Some("authtoken"));
        assert!(
            e.message.contains("Did you mean `authToken`?"),
            "{}",
            e.message
        );
        let e = open(serde_json::json!({"auth_token": "t"})).err().unwrap();
        assert!(
            e.message.contains("Did you mean `authToken`?"),
            "{}",
            e.message
        );
        let e = open(serde_json::json!({"color": 1})).err().unwrap();
        assert!(!e.message.contains("Did you mean"), "{}", e.message);
    }

    #[test]
    fn kinds_are_checked_without_echoing_values() {
        let o = Options::required(
            arg(serde_json::json!({"password": 918273645, "flag": "yes", "n": "20"})),
            "createEndpoint fields",
            ErrorCode::InvalidArgument,
            &["password", "flag", "n"],
        )
        .unwrap();
        let e = o.text("password").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("password"));
        assert_eq!(
            e.message,
            "Invalid createEndpoint fields: `password` must be a string, not a number."
        );
        assert!(!e.message.contains("918273645"));
        assert!(o
            .flag("flag")
            .unwrap_err()
            .message
            .contains("true or false, not a string"));
        assert!(o
            .number("n")
            .unwrap_err()
            .message
            .contains("a number, not a string"));
        assert_eq!(o.text("missing").unwrap(), None);
    }

    #[test]
    fn objects_are_required_where_they_must_be() {
        for (value, kind) in [
            (Value::Null, "null"),
            (serde_json::json!([1]), "an array"),
            (serde_json::json!("x"), "a string"),
        ] {
            let e = Options::required(arg(value), "query", ErrorCode::InvalidQuery, &[])
                .err()
                .unwrap();
            assert_eq!(e.code, ErrorCode::InvalidQuery);
            assert!(
                e.message.ends_with(&format!("got {kind}.")),
                "{}",
                e.message
            );
        }
        assert!(
            Options::<Value>::optional(Field::Absent, "query", ErrorCode::InvalidQuery, &[])
                .unwrap()
                .is_none()
        );
    }
}
