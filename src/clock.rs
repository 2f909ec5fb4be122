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

fn number(text: &str, digits: usize) -> Option<i64> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
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
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
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
