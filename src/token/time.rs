//! Timestamps and the token lifetime rule: `exp` 3 minutes to 24 hours after now, and
//! `nbf` leaving at least 3 minutes of use.

use serde::de::{Deserialize, Deserializer, IgnoredAny};
use serde::Serialize;
use tsify::Tsify;

use crate::error::{Error, ErrorCode, Result};

/// Shortest lifetime the JWT API accepts: 3 minutes.
pub const MIN_LIFETIME_SECONDS: i64 = 180;
/// Longest lifetime the JWT API accepts: 24 hours.
pub const MAX_LIFETIME_SECONDS: i64 = 86_400;
/// Largest integer a JavaScript number holds exactly.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
/// Timestamps above this are far more likely milliseconds than seconds (year 5138).
const LOOKS_LIKE_MILLISECONDS: f64 = 100_000_000_000.0;

/// A value that should be a number of seconds, as JavaScript passed it (anything at all,
/// so that a wrong type gets `INVALID_TIMESTAMP` rather than a generic error).
#[derive(Debug, Clone, PartialEq)]
pub enum RawNumber {
    /// A number.
    Number(f64),
    /// Something else, described for the message.
    Other(&'static str),
}

/// Matches a string without keeping it.
struct IgnoredString;

impl<'de> Deserialize<'de> for IgnoredString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(|_| Self)
    }
}

/// Matches a boolean without keeping it.
struct IgnoredBool;

impl<'de> Deserialize<'de> for IgnoredBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        bool::deserialize(d).map(|_| Self)
    }
}

impl<'de> Deserialize<'de> for RawNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Any {
            Number(f64),
            Text(IgnoredString),
            Bool(IgnoredBool),
            Other(IgnoredAny),
        }
        Ok(match Any::deserialize(d)? {
            Any::Number(n) => Self::Number(n),
            Any::Text(_) => Self::Other("a string"),
            Any::Bool(_) => Self::Other("a boolean"),
            Any::Other(_) => Self::Other("not a number"),
        })
    }
}

impl Serialize for RawNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => s.serialize_f64(*n),
            Self::Other(_) => s.serialize_none(),
        }
    }
}

impl From<i64> for RawNumber {
    fn from(n: i64) -> Self {
        Self::Number(n as f64)
    }
}

/// Reads Unix seconds: a non-negative safe integer.
pub fn seconds(field: &str, value: &RawNumber) -> Result<i64> {
    let fail = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidTimestamp,
            format!("`{field}` must be Unix seconds (a whole number, 0 or more): {why}."),
        )
        .with_field(field))
    };
    let n = match value {
        RawNumber::Number(n) => *n,
        RawNumber::Other(what) => return fail(format!("got {what}")),
    };
    if !n.is_finite() {
        return fail(format!("got {n}"));
    }
    if n < 0.0 {
        return fail(format!("got {n}"));
    }
    if n.fract() != 0.0 {
        return fail(format!("got {n}, which has a fraction"));
    }
    if n > MAX_SAFE_INTEGER {
        return fail(format!("got {n}, beyond the largest safe integer"));
    }
    if n >= LOOKS_LIKE_MILLISECONDS {
        return fail(format!(
            "got {n}, which looks like milliseconds; divide by 1000 (Date.now() / 1000)"
        ));
    }
    Ok(n as i64)
}

/// Input of `validateTokenLifetime`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TokenLifetimeInput {
    /// Expiry, Unix seconds.
    #[tsify(type = "number")]
    pub exp: RawNumber,
    /// Not before, Unix seconds.
    #[tsify(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<RawNumber>,
    /// The current time, Unix seconds (default: the clock).
    #[tsify(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<RawNumber>,
}

impl crate::fields::KnownFields for TokenLifetimeInput {
    const FIELDS: &'static [&'static str] = &["exp", "nbf", "now"];
}

/// A lifetime that passed the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TokenLifetime {
    /// Seconds from now to `exp`.
    pub lifetime_seconds: i64,
}

fn duration(seconds: i64) -> String {
    match seconds.abs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", seconds / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", seconds / 60),
        _ => format!("{seconds} s"),
    }
}

/// The rule of the JWT API: `exp - now` from 180 to 86,400 seconds, and `nbf` (if any) no
/// later than `exp - 180`, so that the token is usable for at least 3 minutes.
pub fn validate_token_lifetime(exp: i64, nbf: Option<i64>, now: i64) -> Result<TokenLifetime> {
    let lifetime = exp - now;
    if !(MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&lifetime) {
        return Err(Error::new(
            ErrorCode::ExpOutOfRange,
            format!(
                "`exp` must be 3 minutes to 24 hours after now ({MIN_LIFETIME_SECONDS} to \
                 {MAX_LIFETIME_SECONDS} s, exp {} to {}); exp {exp} is {} ({lifetime} s) after now {now}.",
                now + MIN_LIFETIME_SECONDS,
                now + MAX_LIFETIME_SECONDS,
                duration(lifetime),
            ),
        )
        .with_field("exp"));
    }
    if let Some(nbf) = nbf {
        let latest = exp - MIN_LIFETIME_SECONDS;
        if nbf > latest {
            return Err(Error::new(
                ErrorCode::NbfAfterExp,
                format!(
                    "`nbf` must be at most {latest} (3 minutes before exp {exp}) so the token is \
                     usable for 3 minutes; nbf {nbf} leaves {} s.",
                    (exp - nbf).max(0)
                ),
            )
            .with_field("nbf"));
        }
    }
    Ok(TokenLifetime {
        lifetime_seconds: lifetime,
    })
}

/// [`validate_token_lifetime`] on raw JavaScript values; `now_fallback` when `now` is absent.
pub fn validate_input(input: &TokenLifetimeInput, now_fallback: i64) -> Result<TokenLifetime> {
    let exp = seconds("exp", &input.exp)?;
    let nbf = input.nbf.as_ref().map(|n| seconds("nbf", n)).transpose()?;
    let now = match &input.now {
        Some(now) => seconds("now", now)?,
        None => now_fallback,
    };
    validate_token_lifetime(exp, nbf, now)
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
        let table = [
            (RawNumber::Number(0.0), Ok(0)),
            (RawNumber::Number(1_800_000_000.0), Ok(1_800_000_000)),
            (RawNumber::Number(-1.0), Err("got -1")),
            (RawNumber::Number(1.5), Err("fraction")),
            (RawNumber::Number(f64::NAN), Err("NaN")),
            (RawNumber::Number(f64::INFINITY), Err("inf")),
            (RawNumber::Number(1_800_000_000_000.0), Err("milliseconds")),
            (
                RawNumber::Number(9_007_199_254_740_993.0),
                Err("safe integer"),
            ),
            (RawNumber::Other("a string"), Err("a string")),
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
    fn raw_numbers_accept_any_json() {
        let input: TokenLifetimeInput =
            serde_json::from_str(r#"{"exp": "soon", "nbf": null, "now": [1]}"#).unwrap();
        assert_eq!(input.exp, RawNumber::Other("a string"));
        assert_eq!(input.nbf, None);
        assert_eq!(input.now, Some(RawNumber::Other("not a number")));
        let e = validate_input(&input, NOW).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidTimestamp, Some("exp"))
        );
        let ok: TokenLifetimeInput =
            serde_json::from_str(&format!(r#"{{"exp": {}}}"#, NOW + 600)).unwrap();
        assert_eq!(validate_input(&ok, NOW).unwrap().lifetime_seconds, 600);
        let with_now: TokenLifetimeInput = serde_json::from_str(&format!(
            r#"{{"exp": {}, "now": {}}}"#,
            NOW + 600,
            NOW + 500
        ))
        .unwrap();
        assert_eq!(
            validate_input(&with_now, 0).unwrap_err().code,
            ErrorCode::ExpOutOfRange
        );
    }
}
