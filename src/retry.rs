//! Retrying transient failures: bounded exponential backoff with jitter, honouring
//! `Retry-After`. Time and randomness are injected so the policy is tested with a fake
//! clock.

use std::future::Future;

use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Host, Options};

/// Retry options as JavaScript passes them: `{ maxRetries, baseDelayMs, maxDelayMs }`,
/// every field optional.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct RetryOptions {
    /// How many times a failed attempt is repeated (0 turns retries off; default 2, max 10).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub max_retries: Option<u32>,
    /// The first backoff step in milliseconds (default 250).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub base_delay_ms: Option<u32>,
    /// The longest wait between attempts in milliseconds (default 5,000). A `Retry-After`
    /// longer than this ends the retries and the error carries `retryAfter` instead.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub max_delay_ms: Option<u32>,
}

impl RetryOptions {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &["maxRetries", "baseDelayMs", "maxDelayMs"];

    /// Reads `retry` options, checking each number's range.
    pub fn read<O: Host>(options: &Options<O>) -> Result<Self> {
        Ok(Self {
            max_retries: options.whole("maxRetries", 0, 10)?.map(|n| n as u32),
            base_delay_ms: options.whole("baseDelayMs", 0, 60_000)?.map(|n| n as u32),
            max_delay_ms: options.whole("maxDelayMs", 0, 300_000)?.map(|n| n as u32),
        })
    }
}

/// A checked retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff step, in milliseconds.
    pub base_delay_ms: u32,
    /// Cap on any one wait, in milliseconds.
    pub max_delay_ms: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay_ms: 250,
            max_delay_ms: 5_000,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: Self = Self {
        max_retries: 0,
        base_delay_ms: 0,
        max_delay_ms: 0,
    };

    /// Fills in defaults and checks that the first step fits under the cap.
    pub fn from_options(options: Option<&RetryOptions>) -> Result<Self> {
        let defaults = Self::default();
        let Some(o) = options else {
            return Ok(defaults);
        };
        let policy = Self {
            max_retries: o.max_retries.unwrap_or(defaults.max_retries),
            base_delay_ms: o.base_delay_ms.unwrap_or(defaults.base_delay_ms),
            max_delay_ms: o.max_delay_ms.unwrap_or(defaults.max_delay_ms),
        };
        if policy.base_delay_ms > policy.max_delay_ms {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                text!(
                    "`retry.baseDelayMs` (",
                    policy.base_delay_ms,
                    ") is above `retry.maxDelayMs` (",
                    policy.max_delay_ms,
                    "); the first wait \
                     cannot be longer than the longest."
                ),
            )
            .with_field("retry.baseDelayMs"));
        }
        Ok(policy)
    }

    /// The wait before retry number `retry` (1 for the first retry) after `error`, or
    /// `None` to give up. `random` is uniform in `[0, 1)`.
    ///
    /// Only transient errors are retried. A `Retry-After` is honoured exactly when it fits
    /// under `max_delay_ms`; a longer one ends the retries so the caller sees it. Otherwise
    /// the wait is "equal jitter": half of the exponential step plus a random half.
    pub fn delay_before_retry(&self, retry: u32, error: &Error, random: f64) -> Option<u32> {
        if retry == 0 || retry > self.max_retries || !error.is_transient() {
            return None;
        }
        if let Some(seconds) = error.retry_after {
            let ms = u64::from(seconds) * 1000;
            return (ms <= u64::from(self.max_delay_ms)).then_some(ms as u32);
        }
        Some(self.backoff(retry, random))
    }

    /// The wait before retry number `retry` (1 for the first), whatever the count: half of
    /// the step `base_delay_ms * 2^(retry - 1)` (capped at `max_delay_ms`) plus a random
    /// half.
    pub fn backoff(&self, retry: u32, random: f64) -> u32 {
        let step = u64::from(self.base_delay_ms)
            .saturating_mul(1u64 << retry.saturating_sub(1).min(30))
            .min(u64::from(self.max_delay_ms)) as f64;
        let random = random.clamp(0.0, 1.0);
        (step / 2.0 + random * step / 2.0).round() as u32
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out.
    /// `attempt` receives the attempt number (0 for the first). Between attempts it awaits
    /// `sleep(ms)`.
    pub async fn run<T, A, AF, S, SF>(
        &self,
        mut random: impl FnMut() -> f64,
        sleep: S,
        mut attempt: A,
    ) -> Result<T>
    where
        A: FnMut(u32) -> AF,
        AF: Future<Output = Result<T>>,
        S: Fn(u32) -> SF,
        SF: Future<Output = ()>,
    {
        let mut number = 0;
        loop {
            match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => match self.delay_before_retry(number + 1, &error, random()) {
                    Some(ms) => {
                        sleep(ms).await;
                        number += 1;
                    }
                    None => return Err(error),
                },
            }
        }
    }
}

/// Parses a `Retry-After` header: delay-seconds, or an HTTP date compared with `now_ms`
/// (milliseconds since the epoch). Returns whole seconds, never negative.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<u32> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(seconds);
    }
    let at = crate::clock::parse_http_date(value)?;
    let seconds = ((at - now_ms) / 1000.0).ceil();
    Some(seconds.clamp(0.0, f64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::cell::{Cell, RefCell};

    fn err(code: ErrorCode) -> Error {
        Error::new(code, "x")
    }

    fn read(json: serde_json::Value) -> Result<RetryPolicy> {
        let options = Options::required(
            crate::fields::tests::arg(json),
            "retry",
            ErrorCode::InvalidConfig,
            RetryOptions::FIELDS,
        )?;
        RetryPolicy::from_options(Some(&RetryOptions::read(&options)?))
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(
            RetryPolicy::from_options(None).unwrap(),
            RetryPolicy::default()
        );
        assert_eq!(
            read(serde_json::json!({"maxRetries": 0}))
                .unwrap()
                .max_retries,
            0
        );
        assert_eq!(
            read(serde_json::json!({"baseDelayMs": 10, "maxDelayMs": 20})).unwrap(),
            RetryPolicy {
                max_retries: 2,
                base_delay_ms: 10,
                max_delay_ms: 20
            }
        );
        for (bad, field) in [
            (serde_json::json!({"maxRetries": 11}), "maxRetries"),
            (serde_json::json!({"maxRetries": -1}), "maxRetries"),
            (serde_json::json!({"baseDelayMs": 0.5}), "baseDelayMs"),
            (serde_json::json!({"maxDelayMs": "5000"}), "maxDelayMs"),
            (
                serde_json::json!({"baseDelayMs": 9000, "maxDelayMs": 1000}),
                "retry.baseDelayMs",
            ),
            (serde_json::json!({"maxretries": 1}), "maxretries"),
        ] {
            let e = read(bad.clone()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{bad}");
            assert_eq!(e.field.as_deref(), Some(field), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
        };
        let e = err(ErrorCode::ServerError);
        let low: Vec<_> = (1..=6)
            .map(|r| p.delay_before_retry(r, &e, 0.0).unwrap())
            .collect();
        let high: Vec<_> = (1..=6)
            .map(|r| p.delay_before_retry(r, &e, 1.0).unwrap())
            .collect();
        assert_eq!(low, [50, 100, 200, 400, 500, 500]);
        assert_eq!(high, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay_before_retry(3, &e, 0.5), Some(300));
        assert_eq!(p.delay_before_retry(11, &e, 0.5), None);
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let p = RetryPolicy::default();
        for code in ErrorCode::ALL {
            let retried = p.delay_before_retry(1, &err(code), 0.5).is_some();
            assert_eq!(retried, err(code).is_transient(), "{code}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let mut e = err(ErrorCode::RateLimited);
        e.retry_after = Some(2);
        assert_eq!(p.delay_before_retry(1, &e, 0.9), Some(2_000));
        e.retry_after = Some(0);
        assert_eq!(p.delay_before_retry(1, &e, 0.9), Some(0));
        e.retry_after = Some(30);
        assert_eq!(p.delay_before_retry(1, &e, 0.9), None);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = 1_445_412_480_000.0; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("120", now), Some(120));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:20:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    /// A fake clock: `sleep` advances it instantly and records each wait.
    struct FakeClock {
        now: Cell<u64>,
        waits: RefCell<Vec<u32>>,
    }

    impl FakeClock {
        fn new() -> Self {
            Self {
                now: Cell::new(0),
                waits: RefCell::new(Vec::new()),
            }
        }
        fn sleep(&self, ms: u32) -> std::future::Ready<()> {
            self.now.set(self.now.get() + u64::from(ms));
            self.waits.borrow_mut().push(ms);
            std::future::ready(())
        }
    }

    #[test]
    fn run_retries_transient_failures_then_succeeds() {
        let clock = FakeClock::new();
        let attempts = Cell::new(0);
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
        };
        let result = futures_executor::block_on(policy.run(
            || 1.0,
            |ms| clock.sleep(ms),
            |n| {
                attempts.set(attempts.get() + 1);
                let when = clock.now.get();
                async move {
                    match n {
                        0 => Err(err(ErrorCode::Network)),
                        1 => Err(err(ErrorCode::ServerError)),
                        _ => Ok(when),
                    }
                }
            },
        ));
        assert_eq!(result, Ok(300), "succeeded at t=100+200 ms");
        assert_eq!(attempts.get(), 3);
        assert_eq!(*clock.waits.borrow(), [100, 200]);
    }

    #[test]
    fn run_gives_up_after_max_retries_with_the_last_error() {
        let clock = FakeClock::new();
        let policy = RetryPolicy {
            max_retries: 2,
            base_delay_ms: 10,
            max_delay_ms: 100,
        };
        let result: Result<()> = futures_executor::block_on(policy.run(
            || 0.0,
            |ms| clock.sleep(ms),
            |n| async move {
                let mut e = err(ErrorCode::ServerError);
                e.status = Some(500 + n as u16);
                Err(e)
            },
        ));
        assert_eq!(result.unwrap_err().status, Some(502));
        assert_eq!(*clock.waits.borrow(), [5, 10]);
    }

    #[test]
    fn run_does_not_retry_permanent_failures() {
        let clock = FakeClock::new();
        let result: Result<()> = futures_executor::block_on(RetryPolicy::default().run(
            || 0.5,
            |ms| clock.sleep(ms),
            |_| async { Err(err(ErrorCode::NotFound)) },
        ));
        assert_eq!(result.unwrap_err().code, ErrorCode::NotFound);
        assert!(clock.waits.borrow().is_empty());
    }

    #[test]
    fn run_waits_exactly_retry_after() {
        let clock = FakeClock::new();
        let result = futures_executor::block_on(RetryPolicy::default().run(
            || 0.0,
            |ms| clock.sleep(ms),
            |n| async move {
                if n == 0 {
                    let mut e = err(ErrorCode::RateLimited);
                    e.retry_after = Some(1);
                    Err(e)
                } else {
                    Ok(n)
                }
            },
        ));
        assert_eq!(result, Ok(1));
        assert_eq!(*clock.waits.borrow(), [1_000]);
    }
}
