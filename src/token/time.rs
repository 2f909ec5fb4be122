//! Timestamps and the token lifetime rule: `exp` 3 minutes to 24 hours after now, and
//! `nbf` leaving at least 3 minutes of use.

use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Host, Options};
use crate::validate::describe_number;

/// Shortest lifetime the JWT API accepts: 3 minutes.
pub const MIN_LIFETIME_SECONDS: i64 = 180;
/// Longest lifetime the JWT API accepts: 24 hours.
pub const MAX_LIFETIME_SECONDS: i64 = 86_400;
/// Largest integer a JavaScript number holds exactly.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
/// Timestamps above this are far more likely milliseconds than seconds (year 5138).
const LOOKS_LIKE_MILLISECONDS: f64 = 100_000_000_000.0;

/// Reads Unix seconds: a non-negative safe integer. Anything else, of any kind, is
/// `INVALID_TIMESTAMP`, with milliseconds called out.
pub fn seconds<O>(field: &str, value: &Field<O>) -> Result<i64> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidTimestamp,
            text!(
                "`",
                field,
                "` must be Unix seconds (a whole number, 0 or more): ",
                why,
                "."
            ),
        )
        .with_field(field))
    };
    let n = match value {
        Field::Number(n) => *n,
        other => return fail(text!("got ", other.kind())),
    };
    if !n.is_finite() || n < 0.0 || n.fract() != 0.0 {
        return fail(text!("got ", describe_number(n)));
    }
    if n > MAX_SAFE_INTEGER {
        return fail("got a number beyond the largest safe integer".into());
    }
    if n >= LOOKS_LIKE_MILLISECONDS {
        return fail(text!(
            "got ",
            n as i64,
            ", which looks like milliseconds; divide by 1000 (Date.now() / 1000)"
        ));
    }
    Ok(n as i64)
}

/// Input of `validateTokenLifetime`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct TokenLifetimeInput {
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not before, Unix seconds.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub nbf: Option<i64>,
    /// The current time, Unix seconds (default: the clock).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub now: Option<i64>,
}

impl TokenLifetimeInput {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &["exp", "nbf", "now"];

    /// Reads `{ exp, nbf?, now? }`; a wrong type of timestamp is `INVALID_TIMESTAMP`.
    pub fn read<O: Host>(value: Field<O>) -> Result<Self> {
        let o = Options::required(
            value,
            "token lifetime",
            ErrorCode::InvalidArgument,
            Self::FIELDS,
        )?;
        let optional = |name: &str| {
            let field = o.field(name);
            (!field.is_absent())
                .then(|| seconds(name, &field))
                .transpose()
        };
        Ok(Self {
            exp: seconds("exp", &o.field("exp"))?,
            nbf: optional("nbf")?,
            now: optional("now")?,
        })
    }

    /// The rule at `now` (or `now_fallback`, the clock, when none was given).
    pub fn validate(&self, now_fallback: i64) -> Result<TokenLifetime> {
        validate_token_lifetime(self.exp, self.nbf, self.now.unwrap_or(now_fallback))
    }
}

/// A lifetime that passed the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct TokenLifetime {
    /// Seconds from now to `exp`.
    pub lifetime_seconds: i64,
}

fn duration(seconds: i64) -> String {
    match seconds.abs() {
        s if s >= 3600 && s % 3600 == 0 => text!(seconds / 3600, " h"),
        s if s >= 60 && s % 60 == 0 => text!(seconds / 60, " min"),
        _ => text!(seconds, " s"),
    }
}

/// The rule of the JWT API: `exp - now` from 180 to 86,400 seconds, and `nbf` (if any) no
/// later than `exp - 180`, so that the token is usable for at least 3 minutes.
pub fn validate_token_lifetime(exp: i64, nbf: Option<i64>, now: i64) -> Result<TokenLifetime> {
    let lifetime = exp - now;
    if !(MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&lifetime) {
        return Err(Error::new(
            ErrorCode::ExpOutOfRange,
            text!(
                "`exp` must be 3 minutes to 24 hours after now (",
                MIN_LIFETIME_SECONDS,
                " to \
                 ",
                MAX_LIFETIME_SECONDS,
                " s, exp ",
                now + MIN_LIFETIME_SECONDS,
                " to ",
                now + MAX_LIFETIME_SECONDS,
                "); exp ",
                exp,
                " is ",
                duration(lifetime),
                " (",
                lifetime,
                " s) after now ",
                now,
                "."
            ),
        )
        .with_field("exp"));
    }
    if let Some(nbf) = nbf {
        let latest = exp - MIN_LIFETIME_SECONDS;
        if nbf > latest {
            return Err(Error::new(
                ErrorCode::NbfAfterExp,
                text!(
                    "`nbf` must be at most ",
                    latest,
                    " (3 minutes before exp ",
                    exp,
                    ") so the token is \
                     usable for 3 minutes; nbf ",
                    nbf,
                    " leaves ",
                    (exp - nbf).max(0),
                    " s."
                ),
            )
            .with_field("nbf"));
        }
    }
    Ok(TokenLifetime {
        lifetime_seconds: lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn lifetime_boundaries() {
        let table = [
            (179, Err(ErrorCode::ExpOutOfRange)),
            (180, Ok(180)),
            (3600, Ok(3600)),
            (86_400, Ok(86_400)),
            (86_401, Err(ErrorCode::ExpOutOfRange)),
            (0, Err(ErrorCode::ExpOutOfRange)),
            (-60, Err(ErrorCode::ExpOutOfRange)),
        ];
        for (lifetime, expected) in table {
            let got = validate_token_lifetime(NOW + lifetime, None, NOW)
                .map(|l| l.lifetime_seconds)
                .map_err(|e| e.code);
            assert_eq!(got, expected, "{lifetime}");
        }
    }

    #[test]
    fn messages_state_the_window_and_the_value() {
        let e = validate_token_lifetime(NOW + 86_401, None, NOW).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exp"));
        for part in [
            "180 to 86400 s",
            &(NOW + 180).to_string(),
            &(NOW + 86_400).to_string(),
            "86401 s",
            &(NOW + 86_401).to_string(),
        ] {
            assert!(e.message.contains(part), "{part} in {}", e.message);
        }
        let e = validate_token_lifetime(NOW + 120, None, NOW).unwrap_err();
        assert!(e.message.contains("2 min"), "{}", e.message);
    }

    #[test]
    fn nbf_must_leave_three_minutes() {
        let exp = NOW + 600;
        let table = [
            (None, true),
            (Some(NOW - 60), true),
            (Some(exp - 180), true),
            (Some(exp - 179), false),
            (Some(exp), false),
            (Some(exp + 10), false),
        ];
        for (nbf, ok) in table {
            let result = validate_token_lifetime(exp, nbf, NOW);
            assert_eq!(result.is_ok(), ok, "{nbf:?}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::NbfAfterExp);
                assert!(
                    e.message.contains(&(exp - 180).to_string()),
                    "{}",
                    e.message
                );
            }
        }
    }

    #[test]
    fn timestamps_are_non_negative_safe_integers_of_seconds() {
        let table: [(Field<serde_json::Value>, Result<i64, &str>); 10] = [
            (Field::Number(0.0), Ok(0)),
            (Field::Number(1_800_000_000.0), Ok(1_800_000_000)),
            (Field::Number(-1.0), Err("got -1")),
            (Field::Number(1.5), Err("fraction")),
            (Field::Number(f64::NAN), Err("NaN")),
            (Field::Number(f64::INFINITY), Err("Infinity")),
            (Field::Number(1_800_000_000_000.0), Err("milliseconds")),
            (Field::Number(9_007_199_254_740_993.0), Err("safe integer")),
            (Field::Text("1800000000".into()), Err("a string")),
            (Field::Absent, Err("undefined")),
        ];
        for (raw, expected) in table {
            match (seconds("exp", &raw), expected) {
                (Ok(n), Ok(want)) => assert_eq!(n, want),
                (Err(e), Err(part)) => {
                    assert_eq!(e.code, ErrorCode::InvalidTimestamp);
                    assert!(e.message.contains(part), "{part} in {}", e.message);
                }
                (got, want) => panic!("{raw:?}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn lifetime_input_is_read_from_any_value() {
        let read = |v: serde_json::Value| TokenLifetimeInput::read(crate::fields::tests::arg(v));
        let e = read(serde_json::json!({"exp": "soon", "nbf": null, "now": [1]})).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidTimestamp, Some("exp"))
        );
        let e = read(serde_json::json!({"exp": NOW, "now": [1]})).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidTimestamp, Some("now"))
        );
        let ok = read(serde_json::json!({ "exp": NOW + 600 })).unwrap();
        assert_eq!(ok.validate(NOW).unwrap().lifetime_seconds, 600);
        let with_now = read(serde_json::json!({"exp": NOW + 600, "now": NOW + 500})).unwrap();
        assert_eq!(
            with_now.validate(0).unwrap_err().code,
            ErrorCode::ExpOutOfRange
        );
        let e = read(serde_json::json!({"expires": 1})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
    }
}
