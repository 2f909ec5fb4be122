//! Unknown-field checks for option objects passed from JavaScript.
//!
//! serde-wasm-bindgen reads the fields a struct knows and ignores the rest, so a typo such
//! as `authtoken` would silently switch a client to backend mode, or `usernamecontains`
//! would list every endpoint. Every options type lists its fields here and the binding
//! layer refuses anything else.

use crate::error::{Error, ErrorCode, Result};

/// The camelCase fields an options type accepts.
pub trait KnownFields {
    /// Top-level field names.
    const FIELDS: &'static [&'static str];
    /// Fields that hold nested option objects, with their own field names.
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[];
}

/// Refuses fields outside `known`, suggesting the field meant when only case differs.
pub fn check(what: &str, present: &[String], known: &[&str], code: ErrorCode) -> Result<()> {
    let Some(unknown) = present.iter().find(|k| !known.contains(&k.as_str())) else {
        return Ok(());
    };
    let hint = known
        .iter()
        .find(|k| {
            k.eq_ignore_ascii_case(unknown)
                || k.replace('_', "")
                    .eq_ignore_ascii_case(&unknown.replace('_', ""))
        })
        .map(|k| format!(" Did you mean `{k}`?"))
        .unwrap_or_default();
    Err(Error::new(
        code,
        format!(
            "Invalid {what}: unknown field `{unknown}`.{hint} Known fields: {}.",
            known.join(", ")
        ),
    )
    .with_field(unknown.clone()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde::Serialize;

    /// Checks a type's FIELDS against the keys serde writes for a fully populated value.
    pub(crate) fn assert_fields_match<T: KnownFields + Serialize>(full: &T) {
        let value = serde_json::to_value(full).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        let mut fields: Vec<_> = T::FIELDS.iter().map(|s| s.to_string()).collect();
        keys.sort();
        fields.sort();
        assert_eq!(keys, fields);
    }

    #[test]
    fn unknown_fields_are_named_with_a_hint() {
        let known = ["authId", "authToken", "baseUrl"];
        let present = |keys: &[&str]| keys.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check(
            "config",
            &present(&["authId", "baseUrl"]),
            &known,
            ErrorCode::InvalidConfig
        )
        .is_ok());
        let e = check(
            "config",
            &present(&["authId", "authtoken"]),
            &known,
            ErrorCode::InvalidConfig,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.field.as_deref(), Some("authtoken"));
        assert!(
            e.message.contains("Did you mean `authToken`?"),
            "{}",
            e.message
        );
        let e = check(
            "config",
            &present(&["auth_token"]),
            &known,
            ErrorCode::InvalidConfig,
        )
        .unwrap_err();
        assert!(
            e.message.contains("Did you mean `authToken`?"),
            "{}",
            e.message
        );
        let e = check(
            "query",
            &present(&["color"]),
            &known,
            ErrorCode::InvalidQuery,
        )
        .unwrap_err();
        assert!(!e.message.contains("Did you mean"), "{}", e.message);
    }
}
