//! The input rules, each checked in one place, before any request is sent.
//!
//! | value    | rule                                                        | code               |
//! |----------|-------------------------------------------------------------|--------------------|
//! | username | 1-25 ASCII letters and digits, starting with a letter       | `INVALID_USERNAME` |
//! | password | at least 5 characters                                       | `INVALID_PASSWORD` |
//! | alias    | 1 or more ASCII letters, digits, `-` and `_`                | `INVALID_ALIAS`    |
//! | id       | not empty; letters, digits, `-`, `_` (it goes in the URL)   | `INVALID_ID`       |
//! | numbers  | whole, within the option's range ([`whole`])                | the option's code  |
//!
//! These rules apply to what the library sends. Values read back from the platform are
//! never checked against them: existing endpoints may predate a rule.

use crate::error::{quoted, Error, ErrorCode, Result};

/// Longest username the platforms accept.
pub const USERNAME_MAX: usize = 25;
/// Shortest password the platforms accept.
pub const PASSWORD_MIN: usize = 5;
/// Longest password sent (the platforms document none; this keeps requests bounded).
pub const PASSWORD_MAX: usize = 256;
/// Longest id or alias sent.
pub const ID_MAX: usize = 64;

/// The position of the first character of `value` that `allowed` refuses, and the
/// character, for messages ("`'_'` at position 5").
fn first_refused(value: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let (i, c) = value.chars().enumerate().find(|(_, c)| !allowed(*c))?;
    let shown = match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() => "a control character".to_owned(),
        c => text!("'", c, "'"),
    };
    Some(text!(shown, " at position ", i + 1))
}

/// Checks a username for a new endpoint.
pub fn username(value: &str) -> Result<()> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidUsername,
            text!(
                "Invalid username ",
                quoted(value),
                ": ",
                why,
                ". Use 1-",
                USERNAME_MAX,
                " letters and digits, \
                 starting with a letter."
            ),
        )
        .with_field("username"))
    };
    let count = crate::text::char_count(value);
    if count == 0 {
        return fail("it is empty".into());
    }
    if count > USERNAME_MAX {
        return fail(text!("it has ", count, " characters"));
    }
    if let Some(refused) = first_refused(value, |c| c.is_ascii_alphanumeric()) {
        return fail(text!(refused, " is not a letter or digit"));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return fail("it starts with a digit".into());
    }
    Ok(())
}

/// Checks a new password. The message never contains the password.
pub fn password(value: &str) -> Result<()> {
    let count = crate::text::char_count(value);
    let why = if count < PASSWORD_MIN {
        text!(
            "it has ",
            count,
            " character",
            if count == 1 { "" } else { "s" },
            "; use at least ",
            PASSWORD_MIN
        )
    } else if count > PASSWORD_MAX {
        text!("it has ", count, " characters; use at most ", PASSWORD_MAX)
    } else if value.chars().any(char::is_control) {
        "it contains control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorCode::InvalidPassword,
        text!("Invalid password: ", why, "."),
    )
    .with_field("password"))
}

/// Checks an alias.
pub fn alias(value: &str) -> Result<()> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidAlias,
            text!(
                "Invalid alias ",
                quoted(value),
                ": ",
                why,
                ". Use letters, digits, hyphens and underscores."
            ),
        )
        .with_field("alias"))
    };
    if value.is_empty() {
        return fail("it is empty".into());
    }
    if crate::text::char_count(value) > ID_MAX {
        return fail(text!("it is longer than ", ID_MAX, " characters"));
    }
    if let Some(refused) =
        first_refused(value, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return fail(text!(refused, " is not allowed"));
    }
    Ok(())
}

/// Checks an identifier (endpoint id, application id) that goes into a URL or a filter:
/// letters, digits, `-` and `_` only, so that nothing can change the path it goes into.
pub fn id(field: &str, value: &str) -> Result<()> {
    let fail = |why: String| {
        Err(Error::new(ErrorCode::InvalidId, text!("`", field, "` ", why, ".")).with_field(field))
    };
    if value.is_empty() {
        return fail("is empty; pass the id as a string".into());
    }
    if crate::text::char_count(value) > ID_MAX {
        return fail(text!("is longer than ", ID_MAX, " characters"));
    }
    if let Some(refused) =
        first_refused(value, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return fail(text!(
            quoted(value),
            " is not an id: ",
            refused,
            " is not a letter, digit, `-` or `_`"
        ));
    }
    Ok(())
}

/// What a number is, for a message that must not print a float: "21", "NaN",
/// "a fraction", "a negative number", "a number too large".
pub fn describe_number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if value.fract() != 0.0 {
        "a number with a fraction".into()
    } else if value.abs() < 1e15 {
        text!(value as i64)
    } else if value < 0.0 {
        "a negative number too large to use".into()
    } else {
        "a number too large to use".into()
    }
}

/// The one check of whole numbers from JavaScript (timeouts, retries, page sizes,
/// offsets, margins): `value` must be a whole number from `min` to `max`. The error has
/// `code`, names `field`, and says what was wrong without printing a float.
pub fn whole(code: ErrorCode, field: &str, value: f64, min: i64, max: i64) -> Result<i64> {
    if value.is_finite() && value.fract() == 0.0 && value >= min as f64 && value <= max as f64 {
        return Ok(value as i64);
    }
    Err(Error::new(
        code,
        text!(
            "`",
            field,
            "` must be a whole number from ",
            min,
            " to ",
            max,
            "; got ",
            describe_number(value),
            "."
        ),
    )
    .with_field(field))
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
            ("ｊohn", false),
            ("abc-1", false),
            ("a\"b", false),
            ("../x", false),
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
        assert!(username("john doe")
            .unwrap_err()
            .message
            .contains("a space at position 5"));
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let long = "p".repeat(PASSWORD_MAX + 1);
        let table = [
            ("", false),
            ("abcd", false),
            ("abcde", true),
            ("pässw", true),
            ("    x", true),
            ("tab\there", false),
            (long.as_str(), false),
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
            ("desk😀", false),
            ("<script>", false),
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
    fn ids_never_reach_a_path_raw() {
        assert!(id("id", "32866729519064").is_ok());
        assert!(id("id", "ep_1-a").is_ok());
        for bad in [
            "",
            "../x",
            "1 2",
            "a/b",
            "a?b",
            "a#b",
            "..",
            "%2F",
            "%2e",
            &"1".repeat(65),
        ] {
            let e = id("id", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidId, "{bad:?}");
            assert_eq!(e.field.as_deref(), Some("id"));
        }
    }

    #[test]
    fn whole_numbers_are_checked_once_without_printing_floats() {
        let check = |v| whole(ErrorCode::InvalidConfig, "timeoutMs", v, 1, 600_000);
        assert_eq!(check(1.0), Ok(1));
        assert_eq!(check(600_000.0), Ok(600_000));
        for (value, said) in [
            (0.0, "got 0."),
            (600_001.0, "got 600001."),
            (1.5, "got a number with a fraction."),
            (f64::NAN, "got NaN."),
            (f64::INFINITY, "got Infinity."),
            (-1.0, "got -1."),
            (1e300, "got a number too large to use."),
        ] {
            let e = check(value).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig);
            assert_eq!(e.field.as_deref(), Some("timeoutMs"));
            assert!(e.message.ends_with(said), "{}", e.message);
            assert!(e.message.contains("from 1 to 600000"), "{}", e.message);
        }
    }
}
