//! The platforms' documented input rules, checked before any request is sent.
//!
//! | value    | rule                                                        | code               |
//! |----------|-------------------------------------------------------------|--------------------|
//! | username | 1-25 ASCII letters and digits, starting with a letter       | `INVALID_USERNAME` |
//! | password | at least 5 characters                                       | `INVALID_PASSWORD` |
//! | alias    | 1 or more ASCII letters, digits, `-` and `_`                | `INVALID_ALIAS`    |
//! | id       | not empty; letters, digits, `-`, `_` (it goes in the URL)   | `INVALID_ID`       |
//!
//! These rules apply to what the library sends. Values read back from the platform are
//! never checked against them: existing endpoints may predate a rule.

use crate::error::{Error, ErrorCode, Result};

/// Longest username the platforms accept.
pub const USERNAME_MAX: usize = 25;
/// Shortest password the platforms accept.
pub const PASSWORD_MIN: usize = 5;

/// Checks a username for a new endpoint.
pub fn username(value: &str) -> Result<()> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidUsername,
            format!(
                "Invalid username {value:?}: {why}. Use 1-{USERNAME_MAX} letters and digits, \
                 starting with a letter."
            ),
        )
        .with_field("username"))
    };
    let count = value.chars().count();
    if count == 0 {
        return fail("it is empty".into());
    }
    if count > USERNAME_MAX {
        return fail(format!("it has {count} characters"));
    }
    if let Some((i, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return fail(format!(
            "{c:?} at position {} is not a letter or digit",
            i + 1
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return fail("it starts with a digit".into());
    }
    Ok(())
}

/// Checks a new password. The message never contains the password.
pub fn password(value: &str) -> Result<()> {
    let count = value.chars().count();
    if count < PASSWORD_MIN {
        return Err(Error::new(
            ErrorCode::InvalidPassword,
            format!(
                "Invalid password: it has {count} character{}; use at least {PASSWORD_MIN}.",
                if count == 1 { "" } else { "s" }
            ),
        )
        .with_field("password"));
    }
    Ok(())
}

/// Checks an alias.
pub fn alias(value: &str) -> Result<()> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidAlias,
            format!(
                "Invalid alias {value:?}: {why}. Use letters, digits, hyphens and underscores."
            ),
        )
        .with_field("alias"))
    };
    if value.is_empty() {
        return fail("it is empty".into());
    }
    if let Some((i, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return fail(format!("{c:?} at position {} is not allowed", i + 1));
    }
    Ok(())
}

/// Checks an identifier (endpoint id, application id) that goes into a URL or a filter.
pub fn id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidId,
            format!("`{field}` is empty; pass the id as a string."),
        )
        .with_field(field));
    }
    if value.len() > 64
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::new(
            ErrorCode::InvalidId,
            format!("`{field}` {value:?} is not an id (letters, digits, `-` and `_`, up to 64)."),
        )
        .with_field(field));
    }
    Ok(())
}

/// Checks whichever of the create fields are given, for live form validation: every
/// problem, not just the first.
pub fn endpoint_fields(
    username: Option<&str>,
    password: Option<&str>,
    alias: Option<&str>,
) -> Vec<Error> {
    [
        username.map(self::username),
        password.map(self::password),
        alias.map(self::alias),
    ]
    .into_iter()
    .flatten()
    .filter_map(Result::err)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let table = [
            ("a", true),
            ("callme", true),
            ("Zumba131031145958", true),
            ("a234567890123456789012345", true),
            ("a2345678901234567890123456", false),
            ("", false),
            ("1abc", false),
            ("john_doe", false),
            ("john doe", false),
            ("jöhn", false),
            ("abc-1", false),
        ];
        for (value, ok) in table {
            let result = username(value);
            assert_eq!(result.is_ok(), ok, "{value:?}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::InvalidUsername);
                assert_eq!(e.field.as_deref(), Some("username"));
                assert!(e.message.contains("letters and digits"), "{}", e.message);
            }
        }
        assert!(username("john_doe")
            .unwrap_err()
            .message
            .contains("'_' at position 5"));
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let table = [
            ("", false),
            ("abcd", false),
            ("abcde", true),
            ("pässw", true),
            ("    x", true),
        ];
        for (value, ok) in table {
            let result = password(value);
            assert_eq!(result.is_ok(), ok, "{value:?}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::InvalidPassword);
                if !value.is_empty() {
                    assert!(!e.message.contains(value), "{}", e.message);
                }
            }
        }
        assert!(password("abc")
            .unwrap_err()
            .message
            .contains("3 characters"));
    }

    #[test]
    fn aliases() {
        let table = [
            ("callme", true),
            ("desk-01_a", true),
            ("-", true),
            ("", false),
            ("Test Account", false),
            ("John's", false),
            ("a.b", false),
        ];
        for (value, ok) in table {
            let result = alias(value);
            assert_eq!(result.is_ok(), ok, "{value:?}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::InvalidAlias);
            }
        }
    }

    #[test]
    fn form_fields_report_every_problem() {
        let problems = endpoint_fields(Some("1x"), Some("abc"), Some("ok"));
        let codes: Vec<_> = problems.iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [ErrorCode::InvalidUsername, ErrorCode::InvalidPassword]
        );
        assert!(endpoint_fields(Some("alice"), None, Some("desk-1")).is_empty());
        assert!(endpoint_fields(None, None, None).is_empty());
    }

    #[test]
    fn ids() {
        assert!(id("id", "32866729519064").is_ok());
        assert!(id("id", "ep_1-a").is_ok());
        for bad in ["", "../x", "1 2", "a/b", "%2e", &"1".repeat(65)] {
            let e = id("id", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidId, "{bad:?}");
            assert_eq!(e.field.as_deref(), Some("id"));
        }
    }
}
