//! Time: the host's clock, timers and randomness as a trait (so the logic runs on a fake
//! clock in tests), the one HTTP-date parser, and the one estimate of how far the
//! platform's clock is from ours.

use std::future::Future;

use crate::error::Result;

/// Clock, timers and randomness of the host.
pub trait Runtime {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// A uniform number in `[0, 1)` for jitter (not for secrets).
    fn random(&self) -> f64;
    /// Waits `ms` milliseconds.
    fn sleep(&self, ms: u32) -> impl Future<Output = ()>;
    /// Fills `bytes` from a cryptographically secure source.
    fn fill_random(&self, bytes: &mut [u8]) -> Result<()>;
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), after H. Hinnant.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A field of exactly `len` ASCII digits.
fn number(text: &str, len: usize) -> Option<i64> {
    if text.len() != len {
        return None;
    }
    digits(text.as_bytes())
}

/// Unix seconds of a UTC civil time; `None` when a field is out of range (a leap second
/// is allowed). Inlined: as a call it measured about 100 B more in each page module.
#[inline(always)]
fn unix_seconds(
    (year, month, day): (i64, i64, i64),
    (hour, minute, second): (i64, i64, i64),
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The civil date (year, month, day) of a day count from 1970-01-01, after H. Hinnant.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// The value of a run of ASCII digits.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// Reads a registration's expiry as either platform writes it, to Unix seconds: Plivo's
/// `2014-07-21 19:26:08` (UTC, no zone written) and Vobiz's ISO 8601
/// (`2024-01-15T10:30:00Z`, with fractions of a second or an offset such as `+05:30`; no
/// zone means UTC). `None` for anything else. (Bytes, not `str` patterns: every page's
/// WebAssembly carries this.)
pub fn parse_platform_time(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let field = |from: usize, len: usize| digits(&b[from..from + len]);
    let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    let (hour, minute, second) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let offset = match &b[at..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, minutes @ ..] => {
            let minutes = match minutes {
                [b':', m1, m2] | [m1, m2] => digits(&[*m1, *m2])?,
                _ => return None,
            };
            let hours = digits(&[*h1, *h2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    Some(unix_seconds((year, month, day), (hour, minute, second))? - offset)
}

/// Unix seconds as ISO 8601 in UTC, `2014-07-21T19:26:08Z`: what `new Date()` and
/// `Date.parse` read the same way everywhere.
pub fn iso_utc(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let two = |n: i64| {
        let n = n as u8;
        [char::from(b'0' + n / 10), char::from(b'0' + n % 10)]
    };
    let mut out = String::with_capacity(20);
    out.push_str(&text!(year as u64));
    for (separator, value) in [
        ('-', month),
        ('-', day),
        ('T', second_of_day / 3600),
        (':', second_of_day / 60 % 60),
        (':', second_of_day % 60),
    ] {
        out.push(separator);
        out.extend(two(value));
    }
    out.push('Z');
    out
}

/// Parses an HTTP date in the form servers send (RFC 9110 IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`) to milliseconds since the epoch.
pub fn parse_http_date(value: &str) -> Option<f64> {
    let mut parts = value.trim().split(' ');
    let weekday = parts.next()?;
    if weekday.len() != 4 || !weekday.ends_with(',') {
        return None;
    }
    let day = number(parts.next()?, 2)?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let year = number(parts.next()?, 4)?;
    let mut time = parts.next()?.split(':');
    let hour = number(time.next()?, 2)?;
    let minute = number(time.next()?, 2)?;
    let second = number(time.next()?, 2)?;
    if parts.next()? != "GMT" || parts.next().is_some() || time.next().is_some() {
        return None;
    }
    let seconds = unix_seconds((year, month, day), (hour, minute, second))?;
    Some(seconds as f64 * 1000.0)
}

/// The platform's clock minus ours, in ms, from the `Date` header of an answer to a
/// request sent at `sent_ms` and answered at `received_ms` (local times). `Date` has
/// whole seconds, taken somewhere between sending and receiving: the estimate is the
/// middle of both ranges, so it is off by at most half a second plus half the round trip.
pub fn offset_from_date(date_ms: f64, sent_ms: f64, received_ms: f64) -> f64 {
    date_ms + 500.0 - (sent_ms + received_ms) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let table = [
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(1_445_412_480_000.0)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0.0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777_000.0)),
            ("Tue, 29 Feb 2028 23:59:59 GMT", Some(1_835_481_599_000.0)),
            ("Fri, 15 Jan 2027 08:00:00 GMT", Some(1_800_000_000_000.0)),
            (" Wed, 21 Oct 2015 07:28:00 GMT ", Some(1_445_412_480_000.0)),
            ("yesterday", None),
            ("", None),
            ("Wed, 21 Oct 2015 07:28:00 UTC", None),
            ("Wed, 21 Foo 2015 07:28:00 GMT", None),
            ("Wed, 1 Oct 2015 07:28:00 GMT", None),
            ("Wed, 21 Oct 2015 7:28:00 GMT", None),
            ("Wed, 21 Oct 2015 25:28:00 GMT", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT extra", None),
            ("Wed, 21 Oct 2015 07:28:00:00 GMT", None),
            ("Wednesday, 21-Oct-15 07:28:00 GMT", None),
            ("Wed, +1 Oct 2015 07:28:00 GMT", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_http_date(text), expected, "{text:?}");
        }
    }

    #[test]
    fn registration_expiries_read_alike_on_both_platforms() {
        let table = [
            // Plivo: UTC without a zone (reference/fixtures/*/endpointGetResponse.json).
            ("2014-07-21 19:26:08", Some("2014-07-21T19:26:08Z")),
            // Vobiz: ISO 8601, as documented.
            ("2024-01-15T10:30:00Z", Some("2024-01-15T10:30:00Z")),
            ("2024-01-15T10:30:00.123456Z", Some("2024-01-15T10:30:00Z")),
            ("2024-01-15T10:30:00+05:30", Some("2024-01-15T05:00:00Z")),
            ("2024-01-15T23:30:00-0130", Some("2024-01-16T01:00:00Z")),
            ("2024-01-15T10:30:00", Some("2024-01-15T10:30:00Z")),
            ("2028-02-29 23:59:59", Some("2028-02-29T23:59:59Z")),
            ("1970-01-01 00:00:00", Some("1970-01-01T00:00:00Z")),
            ("2024-13-01 00:00:00", None),
            ("2024-01-15 10:30", None),
            ("2024-01-15T10:30:00+5", None),
            ("2024-01-15/10:30:00", None),
            ("15/01/2024 10:30:00", None),
            ("", None),
            ("2024-01-15T10:30:00+0a:00", None),
        ];
        for (text, iso) in table {
            assert_eq!(
                parse_platform_time(text).map(iso_utc).as_deref(),
                iso,
                "{text:?}"
            );
        }
        // The same instant as the HTTP-date parser and the Unix epoch count it.
        assert_eq!(
            parse_platform_time("2027-01-15 08:00:00"),
            Some(1_800_000_000)
        );
        assert_eq!(iso_utc(1_445_412_480), "2015-10-21T07:28:00Z");
    }

    #[test]
    fn the_offset_is_the_middle_of_both_ranges() {
        // The platform said 10:00:00 for a request sent at 09:59:58.9, answered at 09:59:59.1.
        let date = 36_000_000.0;
        assert_eq!(
            offset_from_date(date, date - 1_100.0, date - 900.0),
            1_500.0
        );
        assert_eq!(offset_from_date(date, date, date), 500.0);
    }
}
