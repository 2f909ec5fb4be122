//! The refresh state machine driven by a fake clock and a fake token source.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_executor::LocalPool;
use futures_util::task::LocalSpawnExt;

use super::*;
use crate::token::decode::tests::{plivo_claims, sign, KEY, PLIVO_HEADER};

/// Local time at the start of every test (ms).
const T0: f64 = 1_800_000_000_000.0;

/// A clock that only moves when the test says, timers on it, and a local executor.
struct FakeHost {
    now: Cell<f64>,
    timers: RefCell<Vec<(f64, Waker)>>,
    pool: RefCell<LocalPool>,
    spawner: futures_executor::LocalSpawner,
    random: Cell<f64>,
    /// Timers do not fire (a throttled background tab).
    stalled: Cell<bool>,
}

#[derive(Clone)]
struct Host(Rc<FakeHost>);

struct Sleep {
    host: Rc<FakeHost>,
    until: f64,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.host.now.get() >= self.until {
            Poll::Ready(())
        } else {
            self.host
                .timers
                .borrow_mut()
                .push((self.until, cx.waker().clone()));
            Poll::Pending
        }
    }
}

impl Runtime for Host {
    fn now_ms(&self) -> f64 {
        self.0.now.get()
    }
    fn random(&self) -> f64 {
        self.0.random.get()
    }
    fn sleep(&self, ms: u32) -> impl Future<Output = ()> {
        Sleep {
            host: self.0.clone(),
            until: self.0.now.get() + f64::from(ms),
        }
    }
    fn fill_random(&self, _: &mut [u8]) -> Result<()> {
        unreachable!("the provider needs no random bytes")
    }
}

impl Spawn for Host {
    fn spawn(&self, future: LocalBoxFuture<'static, ()>) {
        self.0.spawner.spawn_local(future).unwrap();
    }
}

impl Host {
    fn new() -> Self {
        let pool = LocalPool::new();
        let spawner = pool.spawner();
        Host(Rc::new(FakeHost {
            now: Cell::new(T0),
            timers: RefCell::new(Vec::new()),
            pool: RefCell::new(pool),
            spawner,
            random: Cell::new(0.5),
            stalled: Cell::new(false),
        }))
    }

    fn run(&self) {
        self.0.pool.borrow_mut().run_until_stalled();
    }

    /// Moves the clock forward by `ms`, firing timers in order.
    fn advance(&self, ms: f64) {
        let target = self.0.now.get() + ms;
        loop {
            self.run();
            let next = {
                let timers = self.0.timers.borrow();
                timers
                    .iter()
                    .map(|(at, _)| *at)
                    .filter(|at| *at <= target)
                    .fold(None, |m: Option<f64>, at| Some(m.map_or(at, |m| m.min(at))))
            };
            let Some(at) = next.filter(|_| !self.0.stalled.get()) else {
                break;
            };
            self.0.now.set(at.max(self.0.now.get()));
            let due: Vec<Waker> = {
                let mut timers = self.0.timers.borrow_mut();
                let (due, rest): (Vec<_>, Vec<_>) = timers.drain(..).partition(|(t, _)| *t <= at);
                *timers = rest;
                due.into_iter().map(|(_, w)| w).collect()
            };
            due.into_iter().for_each(Waker::wake);
        }
        self.0.now.set(target);
        self.run();
    }

    /// Runs `future` to completion, moving the clock as its timers need.
    fn block_on<T: 'static>(&self, future: impl Future<Output = T> + 'static) -> T {
        let out = Rc::new(RefCell::new(None));
        let slot = out.clone();
        self.spawn(Box::pin(
            async move { *slot.borrow_mut() = Some(future.await) },
        ));
        for _ in 0..10_000 {
            self.run();
            if let Some(value) = out.borrow_mut().take() {
                return value;
            }
            self.advance(100.0);
        }
        panic!("the future never completed");
    }
}

/// What the fake source answers next.
#[derive(Clone)]
enum Answer {
    /// A token with this lifetime (s), minted on the platform's clock.
    Token { ttl: i64 },
    /// A failure.
    Fail(ErrorCode),
    /// Something that is not a token.
    Garbage,
}

/// The platform: its clock is the local one plus `skew_ms`; it answers after `latency_ms`.
struct FakeSource {
    host: Host,
    skew_ms: Cell<f64>,
    latency_ms: Cell<u32>,
    sends_date: Cell<bool>,
    answers: RefCell<VecDeque<Answer>>,
    calls: Cell<u32>,
    in_flight_dropped: Cell<u32>,
}

#[derive(Clone)]
struct Source(Rc<FakeSource>);

struct DropCounter(Rc<FakeSource>, bool);

impl Drop for DropCounter {
    fn drop(&mut self) {
        if !self.1 {
            self.0
                .in_flight_dropped
                .set(self.0.in_flight_dropped.get() + 1);
        }
    }
}

impl TokenSource for Source {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<FetchedToken>> {
        let source = self.0.clone();
        source.calls.set(source.calls.get() + 1);
        let answer = source
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Answer::Token { ttl: 600 });
        Box::pin(async move {
            let mut guard = DropCounter(source.clone(), false);
            let host = source.host.clone();
            let sent = host.now_ms();
            host.sleep(source.latency_ms.get()).await;
            guard.1 = true;
            let received = host.now_ms();
            let server_now = received + source.skew_ms.get();
            let server_secs = (server_now / 1000.0).floor() as i64;
            let token = match answer {
                Answer::Token { ttl } => sign(
                    PLIVO_HEADER,
                    &plivo_claims(server_secs - 60, server_secs + ttl),
                    KEY,
                ),
                Answer::Garbage => "not.a.token".to_owned(),
                Answer::Fail(code) => return Err(Error::new(code, "fake failure")),
            };
            Ok(FetchedToken {
                token,
                server_date_ms: source
                    .sends_date
                    .get()
                    .then_some(server_secs as f64 * 1000.0),
                sent_at_ms: sent,
                received_at_ms: received,
            })
        })
    }
}

struct Rig {
    host: Host,
    source: Source,
    provider: Provider<Source, Host>,
    events: Rc<RefCell<Vec<TokenEvent>>>,
}

fn rig_with(margin: Option<f64>, retry: RetryPolicy) -> Rig {
    let host = Host::new();
    let source = Source(Rc::new(FakeSource {
        host: host.clone(),
        skew_ms: Cell::new(0.0),
        latency_ms: Cell::new(50),
        sends_date: Cell::new(true),
        answers: RefCell::new(VecDeque::new()),
        calls: Cell::new(0),
        in_flight_dropped: Cell::new(0),
    }));
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let policy = RefreshPolicy::new(margin, retry).unwrap();
    let provider = Provider::new(
        source.clone(),
        host.clone(),
        policy,
        Box::new(move |e| sink.borrow_mut().push(e)),
    );
    Rig {
        host,
        source,
        provider,
        events,
    }
}

fn rig() -> Rig {
    rig_with(
        None,
        RetryPolicy {
            max_retries: 2,
            base_delay_ms: 1_000,
            max_delay_ms: 30_000,
        },
    )
}

impl Rig {
    fn get(&self) -> Result<String> {
        self.host.block_on(self.provider.get_access_token())
    }

    fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.source.0.answers.borrow_mut().extend(answers);
    }

    fn calls(&self) -> u32 {
        self.source.0.calls.get()
    }

    fn exp_of(token: &str) -> i64 {
        decode_access_token(token).unwrap().claims.exp
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.events
            .borrow()
            .iter()
            .map(|e| match e {
                TokenEvent::TokenRefreshed { .. } => "refreshed",
                TokenEvent::TokenWillExpire { .. } => "willExpire",
                TokenEvent::TokenError { .. } => "error",
            })
            .collect()
    }

    /// Moves the clock to `ms_after_t0` after the start.
    fn run_until(&self, ms_after_t0: f64) {
        let now = self.host.now_ms();
        self.host.advance(T0 + ms_after_t0 - now);
    }
}

#[test]
fn the_cached_token_is_returned_while_the_margin_is_not_reached() {
    let r = rig();
    let first = r.get().unwrap();
    assert_eq!(r.calls(), 1);
    r.run_until(400_000.0);
    assert_eq!(
        r.get().unwrap(),
        first,
        "600 s token, 120 s margin: still cached at 400 s"
    );
    assert_eq!(r.calls(), 1);
    assert_eq!(r.kinds(), ["refreshed"]);
}

#[test]
fn the_timer_refreshes_ahead_of_expiry_without_being_asked() {
    let r = rig();
    let first = r.get().unwrap();
    r.run_until(470_000.0);
    assert_eq!(r.calls(), 1, "not yet: due at 480 s");
    r.run_until(481_000.0);
    assert_eq!(r.calls(), 2, "refreshed at 600 - 120 s without a caller");
    assert_eq!(r.kinds(), ["refreshed", "willExpire", "refreshed"]);
    let second = r.get().unwrap();
    assert_ne!(second, first);
    assert!(
        Rig::exp_of(&second) >= Rig::exp_of(&first) + 470,
        "a later token"
    );
    // And again, a lifetime later.
    r.run_until(481_000.0 + 480_000.0 + 1_000.0);
    assert_eq!(r.calls(), 3);
}

#[test]
fn a_caller_starts_a_due_refresh_when_the_timer_is_late() {
    let r = rig();
    let first = r.get().unwrap();
    r.host.0.stalled.set(true);
    r.run_until(500_000.0);
    assert_eq!(r.calls(), 1, "the throttled timer did not fire");
    assert_eq!(r.get().unwrap(), first, "the still-valid token at once");
    r.host.run();
    assert_eq!(r.calls(), 2, "and a refresh started by the call");
    r.host.0.stalled.set(false);
    r.host.advance(100.0);
    assert_ne!(r.get().unwrap(), first);
}

#[test]
fn the_default_margin_is_ten_percent_of_long_lifetimes() {
    let r = rig();
    r.answer([Answer::Token { ttl: 86_400 }]);
    r.get().unwrap();
    let current = r.provider.current().unwrap();
    assert!(current.seconds_left > 86_300.0);
    r.run_until(77_700_000.0);
    assert_eq!(r.calls(), 1, "due at 90 % of 24 h = 77,760 s");
    r.run_until(77_800_000.0);
    assert_eq!(r.calls(), 2);
}

#[test]
fn a_set_margin_is_kept_but_never_refreshes_a_fresh_token_at_once() {
    let r = rig_with(Some(300.0), RetryPolicy::default());
    r.get().unwrap();
    r.run_until(299_000.0);
    assert_eq!(r.calls(), 1);
    r.run_until(301_000.0);
    assert_eq!(
        r.calls(),
        2,
        "600 s token with a 300 s margin: refreshed at 300 s"
    );

    let r = rig_with(Some(900.0), RetryPolicy::default());
    r.get().unwrap();
    r.run_until(9_000.0);
    assert_eq!(
        r.calls(),
        1,
        "a margin beyond the lifetime leaves 10 s of rest, not a loop"
    );
    r.run_until(11_000.0);
    assert_eq!(r.calls(), 2);
}

#[test]
fn concurrent_callers_share_one_fetch() {
    let r = rig();
    r.source.0.latency_ms.set(2_000);
    let all = futures_util::future::join_all((0..100).map(|_| r.provider.get_access_token()));
    let tokens = r.host.block_on(all);
    assert_eq!(r.calls(), 1);
    let first = tokens[0].as_ref().unwrap();
    assert!(tokens.iter().all(|t| t.as_ref().unwrap() == first));
    // And a due refresh is shared too.
    r.run_until(480_500.0);
    let again = futures_util::future::join_all((0..10).map(|_| r.provider.get_access_token()));
    r.host.block_on(again);
    assert_eq!(r.calls(), 2);
}

#[test]
fn callers_without_a_token_get_retries_then_the_cause() {
    let r = rig();
    r.answer([
        Answer::Fail(ErrorCode::ServerError),
        Answer::Fail(ErrorCode::Network),
        Answer::Token { ttl: 600 },
    ]);
    assert!(
        r.get().is_ok(),
        "two transient failures are retried within the call"
    );
    assert_eq!(r.calls(), 3);

    let r = rig();
    r.answer([
        Answer::Fail(ErrorCode::Network),
        Answer::Fail(ErrorCode::Network),
        Answer::Fail(ErrorCode::ServerError),
    ]);
    let e = r.get().unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError, "the last cause");
    assert_eq!(r.calls(), 3, "1 + maxRetries attempts");
    assert_eq!(r.kinds(), ["error"]);

    let r = rig();
    r.answer([Answer::Fail(ErrorCode::Unauthorized)]);
    assert_eq!(r.get().unwrap_err().code, ErrorCode::Unauthorized);
    assert_eq!(r.calls(), 1, "a permanent failure is not retried");
}

#[test]
fn failed_refreshes_retry_with_backoff_while_the_token_lasts() {
    let r = rig();
    let first = r.get().unwrap();
    r.answer(std::iter::repeat_n(
        Answer::Fail(ErrorCode::ServerError),
        20,
    ));
    r.run_until(480_000.0);
    assert_eq!(r.calls(), 2, "the due refresh (at about 479.5 s) failed");
    assert_eq!(r.get().unwrap(), first, "callers get the still-valid token");
    // Backoff: half the step plus half of it at random 0.5: 750 ms, 1.5 s, 3 s, ...
    r.run_until(481_000.0);
    assert_eq!(r.calls(), 3, "first retry 750 ms later");
    r.run_until(482_500.0);
    assert_eq!(r.calls(), 4, "second 1.5 s after that");
    let errors: Vec<_> = r
        .events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            TokenEvent::TokenError {
                will_retry,
                retry_in_ms,
                token_still_valid,
                ..
            } => Some((*will_retry, *retry_in_ms, *token_still_valid)),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors[..3],
        [
            (true, Some(750.0), true),
            (true, Some(1_500.0), true),
            (true, Some(3_000.0), true)
        ]
    );
    assert_eq!(r.get().unwrap(), first);
    // Until no usable token is left: then the caller gets the cause.
    r.run_until(596_000.0);
    let e = r.get().unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    let last = r.events.borrow().iter().rev().find_map(|e| match e {
        TokenEvent::TokenError {
            will_retry,
            token_still_valid,
            ..
        } => Some((*will_retry, *token_still_valid)),
        _ => None,
    });
    assert_eq!(last, Some((false, false)));
    // The platform recovers: the next call gets a token.
    r.source.0.answers.borrow_mut().clear();
    assert!(r.get().is_ok());
}

#[test]
fn retry_after_is_honoured_by_background_refreshes() {
    let mut cache = TokenCache::new(RefreshPolicy::new(None, RetryPolicy::default()).unwrap());
    let fetched = FetchedToken {
        token: sign(
            PLIVO_HEADER,
            &plivo_claims(1_800_000_000, 1_800_000_600),
            KEY,
        ),
        server_date_ms: Some(1_800_000_000_000.0),
        sent_at_ms: T0,
        received_at_ms: T0,
    };
    cache.accept(&fetched).unwrap();
    let mut e = Error::new(ErrorCode::RateLimited, "slow down");
    e.retry_after = Some(7);
    assert_eq!(cache.record_failure(T0 + 1_000.0, &e, 0.5), Some(7_000.0));
    e.retry_after = Some(10_000);
    let capped = cache.record_failure(T0 + 1_000.0, &e, 0.5).unwrap();
    assert!(
        capped < 600_000.0 && capped > 590_000.0,
        "never later than the token's end: {capped}"
    );
}

#[test]
fn a_local_clock_five_minutes_behind_refreshes_on_time() {
    for sends_date in [true, false] {
        let r = rig();
        r.source.0.skew_ms.set(300_000.0); // the platform is 5 min ahead of us
        r.source.0.sends_date.set(sends_date);
        let token = r.get().unwrap();
        let current = r.provider.current().unwrap();
        assert!(
            (current.clock_offset_ms - 300_000.0).abs() < 2_000.0,
            "date {sends_date}: {}",
            current.clock_offset_ms
        );
        assert!(
            (595.0..=600.0).contains(&current.seconds_left),
            "{}",
            current.seconds_left
        );
        // Without the correction, the refresh would happen at 480 s local = 780 s platform,
        // 3 minutes after the token expired.
        r.run_until(479_000.0);
        assert_eq!(r.calls(), 1, "date {sends_date}");
        r.run_until(482_000.0);
        assert_eq!(
            r.calls(),
            2,
            "date {sends_date}: refreshed 120 s before the platform's expiry"
        );
        assert_ne!(r.get().unwrap(), token);
    }
}

#[test]
fn a_local_clock_five_minutes_ahead_still_sees_fresh_tokens() {
    for sends_date in [true, false] {
        let r = rig();
        r.source.0.skew_ms.set(-300_000.0); // the platform is 5 min behind us
        r.source.0.sends_date.set(sends_date);
        r.answer([Answer::Token { ttl: 240 }]);
        // A 4-minute token looks expired a minute ago to the local clock.
        let token = r
            .get()
            .expect("the token is accepted, not refused as expired");
        assert_eq!(r.calls(), 1);
        let current = r.provider.current().unwrap();
        assert!(
            current.seconds_left > 170.0,
            "date {sends_date}: {}",
            current.seconds_left
        );
        r.run_until(100_000.0);
        assert_eq!(
            r.get().unwrap(),
            token,
            "date {sends_date}: cached, not refetched in a loop"
        );
        assert_eq!(r.calls(), 1, "date {sends_date}");
    }
}

#[test]
fn dispose_stops_timers_and_aborts_the_fetch_in_flight() {
    let r = rig();
    r.get().unwrap();
    r.provider.dispose();
    r.run_until(2_000_000.0);
    assert_eq!(r.calls(), 1, "no refresh after dispose");
    assert_eq!(r.get().unwrap_err().code, ErrorCode::Disposed);
    assert!(r.provider.current().is_none());

    let r = rig();
    r.source.0.latency_ms.set(5_000);
    let waiting = r.provider.get_access_token();
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    r.host.spawn(Box::pin(
        async move { *slot.borrow_mut() = Some(waiting.await) },
    ));
    r.host.advance(1_000.0);
    assert_eq!(r.calls(), 1);
    r.provider.dispose();
    r.host.advance(10.0);
    let result = result
        .borrow_mut()
        .take()
        .expect("the waiting caller is answered at once");
    assert_eq!(result.unwrap_err().code, ErrorCode::Disposed);
    assert_eq!(
        r.source.0.in_flight_dropped.get(),
        1,
        "the fetch was cancelled, not left running"
    );
    assert_eq!(
        r.host.block_on(r.provider.refresh()).unwrap_err().code,
        ErrorCode::Disposed
    );
}

#[test]
fn refresh_forces_a_new_token_and_reports_failure() {
    let r = rig();
    let first = r.get().unwrap();
    r.run_until(10_000.0);
    let second = r.host.block_on(r.provider.refresh()).unwrap();
    assert_ne!(first, second);
    assert_eq!(r.calls(), 2);
    r.answer([Answer::Fail(ErrorCode::Unauthorized)]);
    assert_eq!(
        r.host.block_on(r.provider.refresh()).unwrap_err().code,
        ErrorCode::Unauthorized
    );
    assert_eq!(
        r.get().unwrap(),
        second,
        "the still-valid token is kept for getAccessToken"
    );
}

#[test]
fn bad_tokens_from_the_source_are_errors() {
    let r = rig();
    r.answer([Answer::Garbage]);
    let e = r.get().unwrap_err();
    assert_eq!(e.code, ErrorCode::MalformedToken);
    assert_eq!(r.calls(), 1, "a malformed token is not retried");
    r.answer([Answer::Token { ttl: 3 }]);
    let e = r.get().unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenExpired);
    assert!(e.message.contains("token source"), "{}", e.message);
}

#[test]
fn every_token_handed_out_decodes_and_is_unexpired() {
    let r = rig();
    r.answer([
        Answer::Token { ttl: 180 },
        Answer::Token { ttl: 180 },
        Answer::Token { ttl: 180 },
    ]);
    for step in 0..40 {
        r.run_until(f64::from(step) * 15_000.0);
        let token = r.get().unwrap();
        let claims = decode_access_token(&token).unwrap().claims;
        let platform_now = (r.host.now_ms() / 1000.0) as i64;
        assert!(
            claims.exp - platform_now > 5,
            "step {step}: {} s left",
            claims.exp - platform_now
        );
    }
}

#[test]
fn margins_are_checked() {
    for bad in [-1.0, 0.5, 90_000.0, f64::NAN] {
        let e = RefreshPolicy::new(Some(bad), RetryPolicy::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("refreshMarginSeconds"), "{bad}");
    }
}
