//! The refresh state machine on a fake clock: a fake token source (the platform, with its
//! own clock), a model of the Plivo browser SDK's generator loop, and several providers
//! sharing a fake tab group.

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
const SECOND: f64 = 1_000.0;
const MINUTE: f64 = 60_000.0;
const HOUR: f64 = 3_600_000.0;

/// A clock that only moves when the test says, timers on it, a local executor, and the
/// network state.
struct FakeHost {
    now: Cell<f64>,
    timers: RefCell<Vec<(f64, Waker)>>,
    pool: RefCell<LocalPool>,
    spawner: futures_executor::LocalSpawner,
    random: Cell<f64>,
    online: Cell<bool>,
    /// Timers fire this much late (a throttled background tab).
    timer_delay: Cell<f64>,
    /// Timers do not fire at all (a laptop asleep).
    asleep: Cell<bool>,
}

#[derive(Clone)]
struct Host(Rc<FakeHost>);

struct Sleep {
    host: Rc<FakeHost>,
    until: f64,
}

impl std::future::Future for Sleep {
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
    fn sleep(&self, ms: u32) -> impl std::future::Future<Output = ()> {
        Sleep {
            host: self.0.clone(),
            until: self.0.now.get() + f64::from(ms) + self.0.timer_delay.get(),
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

impl ProviderHost for Host {
    fn online(&self) -> bool {
        self.0.online.get()
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
            online: Cell::new(true),
            timer_delay: Cell::new(0.0),
            asleep: Cell::new(false),
        }))
    }

    fn run(&self) {
        // Messages between tabs are delivered between tasks, as a BroadcastChannel does.
        loop {
            self.0.pool.borrow_mut().run_until_stalled();
            if !BUS.with(|bus| bus.deliver()) {
                break;
            }
        }
    }

    /// Moves the clock forward by `ms`, firing timers in order.
    fn advance(&self, ms: f64) {
        let target = self.0.now.get() + ms;
        loop {
            self.run();
            let next = self
                .0
                .timers
                .borrow()
                .iter()
                .map(|(at, _)| *at)
                .filter(|at| *at <= target)
                .fold(None, |m: Option<f64>, at| Some(m.map_or(at, |m| m.min(at))));
            let Some(at) = next.filter(|_| !self.0.asleep.get()) else {
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
    fn block_on<T: 'static>(&self, future: impl std::future::Future<Output = T> + 'static) -> T {
        let out = Rc::new(RefCell::new(None));
        let slot = out.clone();
        self.spawn(Box::pin(
            async move { *slot.borrow_mut() = Some(future.await) },
        ));
        for _ in 0..100_000 {
            self.run();
            if let Some(value) = out.borrow_mut().take() {
                return value;
            }
            self.advance(100.0);
        }
        panic!("the future never completed");
    }

    /// Starts `future` in the background; its result is in the cell once it ends.
    fn start<T: 'static>(
        &self,
        future: impl std::future::Future<Output = T> + 'static,
    ) -> Rc<RefCell<Option<T>>> {
        let out = Rc::new(RefCell::new(None));
        let slot = out.clone();
        self.spawn(Box::pin(
            async move { *slot.borrow_mut() = Some(future.await) },
        ));
        self.run();
        out
    }
}

/// What the fake source answers next.
#[derive(Clone, Debug)]
enum Answer {
    /// A token with this lifetime (s), minted on the platform's clock.
    Token { ttl: i64 },
    /// A failure.
    Fail(ErrorCode),
    /// A token with `left` seconds to go (a backend handing out cached tokens).
    Stale { left: i64 },
}

/// The platform: its clock is the local one plus `skew_ms`; it answers after `latency_ms`.
/// With nothing queued it mints tokens of `ttl` seconds, or fails with `outage`.
struct FakeSource {
    host: Host,
    skew_ms: Cell<f64>,
    latency_ms: Cell<u32>,
    sends_date: Cell<bool>,
    ttl: Cell<i64>,
    outage: Cell<Option<ErrorCode>>,
    answers: RefCell<VecDeque<Answer>>,
    calls: Cell<u32>,
    dropped: Cell<u32>,
}

#[derive(Clone)]
struct Source(Rc<FakeSource>);

struct DropCounter(Rc<FakeSource>, bool);

impl Drop for DropCounter {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.set(self.0.dropped.get() + 1);
        }
    }
}

impl TokenSource for Source {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<FetchedToken>> {
        let source = self.0.clone();
        source.calls.set(source.calls.get() + 1);
        let answer =
            source
                .answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| match source.outage.get() {
                    Some(code) => Answer::Fail(code),
                    None => Answer::Token {
                        ttl: source.ttl.get(),
                    },
                });
        Box::pin(async move {
            let mut guard = DropCounter(source.clone(), false);
            let host = source.host.clone();
            let sent = host.now_ms();
            // The network is not throttled with the page's timers.
            Sleep {
                host: host.0.clone(),
                until: sent + f64::from(source.latency_ms.get()),
            }
            .await;
            guard.1 = true;
            let received = host.now_ms();
            let server_secs = ((received + source.skew_ms.get()) / 1000.0).floor() as i64;
            let (nbf, exp) = match answer {
                Answer::Token { ttl } => (server_secs - 60, server_secs + ttl),
                Answer::Stale { left } => (server_secs - 3_000, server_secs + left),
                Answer::Fail(code) => return Err(Error::new(code, "fake failure")),
            };
            Ok(FetchedToken {
                token: sign(PLIVO_HEADER, &plivo_claims(nbf, exp), KEY),
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

fn source(host: &Host) -> Source {
    Source(Rc::new(FakeSource {
        host: host.clone(),
        skew_ms: Cell::new(0.0),
        latency_ms: Cell::new(50),
        sends_date: Cell::new(true),
        ttl: Cell::new(300),
        outage: Cell::new(None),
        answers: RefCell::new(VecDeque::new()),
        calls: Cell::new(0),
        dropped: Cell::new(0),
    }))
}

type Events = Rc<RefCell<Vec<TokenEvent>>>;

fn provider(
    host: &Host,
    source: &Source,
    policy: RefreshPolicy,
) -> (Provider<Source, Host>, Events) {
    let events: Events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let provider = Provider::new(
        source.clone(),
        host.clone(),
        policy,
        Box::new(move |e| sink.borrow_mut().push(e)),
    );
    (provider, events)
}

fn kinds(events: &Events) -> Vec<&'static str> {
    events.borrow().iter().map(TokenEvent::kind).collect()
}

fn exp_of(token: &str) -> f64 {
    decode_access_token(token).unwrap().claims.exp as f64 * 1000.0
}

/// A model of the Plivo browser SDK's generator loop (`_loginWithAccessTokenGenerator`):
/// it asks at login, then again `exp - now - 60 s` later by the local clock, at once when
/// that is not positive; a rejection logs it out for good. It records every call.
struct Sdk {
    calls: Cell<u32>,
    /// Local times of the calls.
    times: RefCell<Vec<f64>>,
    /// Least time left by the local clock on any token it got, ms.
    least_left: Cell<f64>,
    failed: RefCell<Option<Error>>,
    installed: RefCell<Option<String>>,
}

impl Sdk {
    fn login(host: &Host, provider: &Provider<Source, Host>) -> Rc<Sdk> {
        let sdk = Rc::new(Sdk {
            calls: Cell::new(0),
            times: RefCell::new(Vec::new()),
            least_left: Cell::new(f64::INFINITY),
            failed: RefCell::new(None),
            installed: RefCell::new(None),
        });
        Self::ask(sdk.clone(), host.clone(), provider.clone());
        sdk
    }

    fn ask(sdk: Rc<Sdk>, host: Host, provider: Provider<Source, Host>) {
        sdk.calls.set(sdk.calls.get() + 1);
        sdk.times.borrow_mut().push(host.now_ms());
        assert!(sdk.calls.get() < 10_000, "the SDK spins");
        let token = provider.get_access_token();
        let spawner = host.clone();
        spawner.spawn(Box::pin(async move {
            match token.await {
                Ok(token) => {
                    let now = host.now_ms();
                    let left = exp_of(&token) - now;
                    sdk.least_left.set(sdk.least_left.get().min(left));
                    *sdk.installed.borrow_mut() = Some(token);
                    let delay = left - SDK_LEAD_MS;
                    if delay > 0.0 {
                        host.sleep(delay.ceil() as u32).await;
                    }
                    Self::ask(sdk, host, provider);
                }
                Err(error) => *sdk.failed.borrow_mut() = Some(error),
            }
        }));
    }

    /// Calls within `window_ms` of each other: a spin.
    fn close_calls(&self, window_ms: f64) -> usize {
        self.times
            .borrow()
            .windows(2)
            .filter(|w| w[1] - w[0] < window_ms)
            .count()
    }
}

/// A single provider on its own with the default policy.
struct Rig {
    host: Host,
    source: Source,
    provider: Provider<Source, Host>,
    events: Events,
}

fn rig_with(policy: RefreshPolicy) -> Rig {
    let host = Host::new();
    let source = source(&host);
    let (provider, events) = provider(&host, &source, policy);
    Rig {
        host,
        source,
        provider,
        events,
    }
}

fn rig() -> Rig {
    rig_with(RefreshPolicy::default())
}

impl Rig {
    fn get(&self) -> Result<String> {
        self.host.block_on(self.provider.get_access_token())
    }

    fn calls(&self) -> u32 {
        self.source.0.calls.get()
    }

    fn at(&self, ms_after_t0: f64) {
        let now = self.host.now_ms();
        self.host.advance(T0 + ms_after_t0 - now);
    }
}

#[test]
fn a_token_is_fetched_once_then_cached_until_its_margin() {
    let r = rig();
    let first = r.get().unwrap();
    assert_eq!(r.calls(), 1);
    r.at(150.0 * SECOND);
    assert_eq!(
        r.get().unwrap(),
        first,
        "300 s token, 100 s margin: cached at 150 s"
    );
    assert_eq!(r.calls(), 1);
    assert_eq!(kinds(&r.events), ["tokenRefreshed"]);
}

#[test]
fn the_timer_refreshes_at_the_margin_without_being_asked() {
    let r = rig();
    let first = r.get().unwrap();
    r.at(199.0 * SECOND);
    assert_eq!(
        r.calls(),
        1,
        "not yet: the margin is the floor (70 s) plus 30 s"
    );
    r.at(201.0 * SECOND);
    assert_eq!(r.calls(), 2, "refreshed 100 s before expiry");
    assert_eq!(
        kinds(&r.events),
        ["tokenRefreshed", "tokenWillExpire", "tokenRefreshed"]
    );
    assert_ne!(r.get().unwrap(), first);
    r.at(10.0 * HOUR);
    let expected = (10.0 * HOUR / (200.0 * SECOND)) as u32;
    assert!(
        (expected..=expected + 3).contains(&r.calls()),
        "one fetch per 200 s: {}",
        r.calls()
    );
}

#[test]
fn the_default_margin_is_ten_percent_of_long_lifetimes() {
    let r = rig();
    r.source.0.ttl.set(3_600);
    r.get().unwrap();
    r.at(3_230.0 * SECOND);
    assert_eq!(r.calls(), 1);
    r.at(3_250.0 * SECOND);
    assert_eq!(r.calls(), 2, "refreshed 360 s before expiry");
}

#[test]
fn concurrent_callers_share_one_fetch() {
    let r = rig();
    let waits: Vec<_> = (0..50)
        .map(|_| r.host.start(r.provider.get_access_token()))
        .collect();
    r.host.advance(SECOND);
    let tokens: Vec<String> = waits
        .iter()
        .map(|w| w.borrow_mut().take().unwrap().unwrap())
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(r.calls(), 1);
    assert_eq!(
        kinds(&r.events),
        ["tokenRefreshed"],
        "waiting for the first token is not holding"
    );
}

#[test]
fn the_sdk_asks_once_per_token_and_never_gets_a_token_it_would_spin_on() {
    let r = rig();
    let sdk = Sdk::login(&r.host, &r.provider);
    r.host.advance(6.0 * HOUR);
    // 300-s tokens refreshed 100 s early: a token every 200 s, and the SDK asks once for
    // each (at 60 s left of the one it holds).
    let tokens = (6.0 * HOUR / (200.0 * SECOND)) as u32;
    assert!(
        (tokens..=tokens + 1).contains(&r.calls()),
        "{} fetches",
        r.calls()
    );
    assert!(
        (tokens..=tokens + 1).contains(&sdk.calls.get()),
        "{} SDK calls",
        sdk.calls.get()
    );
    assert!(
        sdk.least_left.get() > 70.0 * SECOND,
        "least left: {}",
        sdk.least_left.get()
    );
    assert_eq!(sdk.close_calls(SECOND), 0);
    assert!(sdk.failed.borrow().is_none());
    assert!(!kinds(&r.events).contains(&"callersHeld"), "nobody waited");
}

#[test]
fn an_outage_across_the_sdks_refresh_point_holds_it_instead_of_letting_it_spin() {
    let r = rig();
    let sdk = Sdk::login(&r.host, &r.provider);
    r.at(150.0 * SECOND);
    // The token URL fails from 150 s to 240 s: across the refresh (200 s) and the SDK's
    // call (240 s, 60 s before expiry).
    r.source.0.outage.set(Some(ErrorCode::ServerError));
    r.at(239.0 * SECOND);
    assert_eq!(sdk.calls.get(), 1);
    r.at(240.5 * SECOND);
    assert_eq!(sdk.calls.get(), 2, "the SDK asked at 60 s left");
    assert!(kinds(&r.events).contains(&"callersHeld"), "and was held");
    r.at(260.0 * SECOND);
    assert_eq!(sdk.calls.get(), 2, "held, not spinning");
    r.source.0.outage.set(None);
    r.at(300.0 * SECOND);
    assert_eq!(
        sdk.calls.get(),
        2,
        "released with a fresh token: no new call"
    );
    assert!(
        sdk.failed.borrow().is_none(),
        "no rejection for a transient outage"
    );
    let released = r.events.borrow().iter().find_map(|e| match e {
        TokenEvent::CallersReleased { callers, error, .. } => Some((*callers, error.is_none())),
        _ => None,
    });
    assert_eq!(released, Some((1, true)));
    assert!(sdk.least_left.get() > 70.0 * SECOND);
    assert_eq!(sdk.close_calls(SECOND), 0);
    // Retries backed off: 1 s, 2 s, 4 s, ... capped at 30 s (jitter at its middle: 3/4 of
    // each step), not a tight loop.
    let waits: Vec<f64> = r
        .events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            TokenEvent::TokenError { retry_in_ms, .. } => *retry_in_ms,
            _ => None,
        })
        .collect();
    assert_eq!(&waits[..5], &[750.0, 1_500.0, 3_000.0, 6_000.0, 12_000.0]);
    assert!(waits.iter().all(|w| *w <= 30_000.0));
    assert!(r.calls() < 15, "{} attempts in the outage", r.calls());
}

#[test]
fn a_short_outage_before_the_floor_is_invisible_to_callers() {
    let r = rig();
    let sdk = Sdk::login(&r.host, &r.provider);
    r.at(195.0 * SECOND);
    r.source.0.outage.set(Some(ErrorCode::Network));
    r.at(215.0 * SECOND);
    r.source.0.outage.set(None);
    r.at(2.0 * HOUR);
    assert!(!kinds(&r.events).contains(&"callersHeld"));
    assert!(kinds(&r.events).contains(&"tokenError"));
    assert!(sdk.least_left.get() > 70.0 * SECOND);
}

#[test]
fn a_refusal_rejects_held_callers_and_stops_until_asked_again() {
    let r = rig();
    let sdk = Sdk::login(&r.host, &r.provider);
    r.at(150.0 * SECOND);
    r.source.0.outage.set(Some(ErrorCode::Unauthorized));
    r.at(260.0 * SECOND);
    let failed = sdk
        .failed
        .borrow()
        .clone()
        .expect("the SDK's wait rejected");
    assert_eq!(failed.code, ErrorCode::Unauthorized);
    let attempts = r.calls();
    r.at(HOUR);
    assert_eq!(r.calls(), attempts, "no retry after a refusal");
    // The user signs in again and the app asks again.
    r.source.0.outage.set(None);
    assert!(r.get().is_ok());
    assert_eq!(r.calls(), attempts + 1);
}

#[test]
fn max_wait_rejects_a_held_caller_with_timeout() {
    let r = rig_with(RefreshPolicy {
        max_wait_ms: Some(20_000),
        ..RefreshPolicy::default()
    });
    r.source.0.outage.set(Some(ErrorCode::ServerError));
    let wait = r.host.start(r.provider.get_access_token());
    r.host.advance(19.0 * SECOND);
    assert!(wait.borrow().is_none());
    r.host.advance(2.0 * SECOND);
    let error = wait.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert!(
        error.message.contains("maxWaitMs (20000 ms)"),
        "{}",
        error.message
    );
    assert!(kinds(&r.events).contains(&"callersReleased"));
    // Attempts go on for the next caller.
    r.source.0.outage.set(None);
    assert!(r.get().is_ok());
}

#[test]
fn a_local_clock_minutes_behind_or_ahead_still_gets_tokens_fresh_by_both_clocks() {
    // Behind (the platform's clock ahead) with 5-minute tokens; ahead with hour-long ones
    // (a 5-minute token is already past its exp by a clock 5 minutes ahead).
    for (skew, ttl) in [(5.0 * MINUTE, 300), (-5.0 * MINUTE, 3_600)] {
        let r = rig();
        r.source.0.skew_ms.set(skew);
        r.source.0.ttl.set(ttl);
        let sdk = Sdk::login(&r.host, &r.provider);
        r.host.advance(5.0 * HOUR);
        assert!(sdk.failed.borrow().is_none());
        assert_eq!(sdk.close_calls(SECOND), 0, "skew {skew}");
        let offset = r.provider.current().unwrap().clock_offset_ms;
        assert!(
            (offset - skew).abs() < 1_500.0,
            "offset {offset} for skew {skew}"
        );
        // Every token handed out had more than the floor left by both clocks.
        assert!(
            sdk.least_left.get() - skew.max(0.0) > 70.0 * SECOND,
            "skew {skew}"
        );
        assert!(sdk.least_left.get() > 70.0 * SECOND, "skew {skew}");
        assert!(!kinds(&r.events).contains(&"callersHeld"), "skew {skew}");
    }
}

#[test]
fn tokens_already_stale_by_a_fast_local_clock_are_refused_with_the_reason() {
    let r = rig();
    r.source.0.skew_ms.set(-5.0 * MINUTE);
    let sdk = Sdk::login(&r.host, &r.provider);
    r.host.advance(10.0 * MINUTE);
    assert_eq!(sdk.calls.get(), 1, "held, not spinning");
    assert!(sdk.failed.borrow().is_none());
    let message = r
        .events
        .borrow()
        .iter()
        .find_map(|e| e.error().map(|e| e.message.clone()))
        .unwrap();
    assert!(message.contains("this computer's clock"), "{message}");
    assert!(r.calls() < 40, "backed off: {}", r.calls());
}

#[test]
fn without_a_date_header_the_offset_comes_from_nbf() {
    let r = rig();
    r.source.0.sends_date.set(false);
    r.source.0.skew_ms.set(10.0 * MINUTE);
    r.get().unwrap();
    let offset = r.provider.current().unwrap().clock_offset_ms;
    assert!(
        (10.0 * MINUTE - 61.0 * SECOND..=10.0 * MINUTE + SECOND).contains(&offset),
        "{offset}"
    );
}

#[test]
fn after_a_sleep_the_first_wake_refreshes_at_once() {
    let r = rig();
    let sdk = Sdk::login(&r.host, &r.provider);
    r.at(100.0 * SECOND);
    r.host.0.asleep.set(true);
    r.at(HOUR);
    r.host.0.asleep.set(false);
    let before = r.calls();
    r.provider.wake();
    r.host.advance(SECOND);
    assert_eq!(r.calls(), before + 1, "the wake started a refresh");
    assert!(r.provider.current().unwrap().seconds_left > 290.0);
    r.host.advance(HOUR);
    assert!(sdk.failed.borrow().is_none());
}

#[test]
fn late_timers_of_a_hidden_tab_still_refresh_in_time() {
    let r = rig();
    // Chrome aligns a hidden tab's chained timers to the minute: each fires up to 60 s late.
    r.host.0.timer_delay.set(55.0 * SECOND);
    let sdk = Sdk::login(&r.host, &r.provider);
    r.host.advance(4.0 * HOUR);
    assert!(sdk.failed.borrow().is_none());
    assert_eq!(sdk.close_calls(SECOND), 0);
    assert!(sdk.least_left.get() > 70.0 * SECOND);
}

#[test]
fn offline_spends_no_attempts_and_online_starts_one() {
    let r = rig();
    r.get().unwrap();
    r.host.0.online.set(false);
    r.at(HOUR);
    assert_eq!(r.calls(), 1, "offline: nothing attempted");
    let wait = r.host.start(r.provider.get_access_token());
    r.host.advance(MINUTE);
    assert!(wait.borrow().is_none(), "held while offline");
    assert_eq!(r.calls(), 1);
    r.host.0.online.set(true);
    r.provider.wake();
    r.host.advance(SECOND);
    assert!(wait.borrow_mut().take().unwrap().is_ok());
    assert_eq!(r.calls(), 2);
}

#[test]
fn retry_after_is_waited_out() {
    let r = rig();
    r.get().unwrap();
    r.source
        .0
        .answers
        .borrow_mut()
        .push_back(Answer::Fail(ErrorCode::RateLimited));
    r.at(201.0 * SECOND);
    let retry = r.events.borrow().iter().find_map(|e| match e {
        TokenEvent::TokenError { retry_in_ms, .. } => *retry_in_ms,
        _ => None,
    });
    assert_eq!(retry, Some(750.0), "no Retry-After: the backoff");
    r.at(250.0 * SECOND);
    assert_eq!(r.calls(), 3);
}

#[test]
fn a_source_of_stale_tokens_is_retried_not_handed_out() {
    let r = rig();
    r.source
        .0
        .answers
        .borrow_mut()
        .push_back(Answer::Stale { left: 50 });
    let token = r.get().unwrap();
    assert_eq!(r.calls(), 2);
    assert!(exp_of(&token) - r.host.now_ms() > 290.0 * SECOND);
    let message = r
        .events
        .borrow()
        .iter()
        .find_map(|e| e.error().map(|e| e.message.clone()));
    assert!(message.unwrap().contains("needs more than 70 s"));
}

#[test]
fn refresh_forces_a_new_token_and_rejects_when_that_fails() {
    let r = rig();
    let first = r.get().unwrap();
    r.host.advance(5.0 * SECOND);
    let second = r.host.block_on(r.provider.refresh()).unwrap();
    assert_ne!(first, second);
    r.source
        .0
        .answers
        .borrow_mut()
        .push_back(Answer::Fail(ErrorCode::ServerError));
    let error = r.host.block_on(r.provider.refresh()).unwrap_err();
    assert_eq!(error.code, ErrorCode::ServerError);
    assert_eq!(r.get().unwrap(), second, "the token in hand is still good");
}

#[test]
fn dispose_stops_the_timer_aborts_the_fetch_and_releases_callers() {
    let r = rig();
    r.get().unwrap();
    r.source.0.outage.set(Some(ErrorCode::ServerError));
    r.at(245.0 * SECOND);
    let held = r.host.start(r.provider.get_access_token());
    assert!(held.borrow().is_none(), "55 s left: held");
    r.source.0.latency_ms.set(5_000);
    let refreshing = r.host.start(r.provider.refresh());
    r.provider.dispose();
    r.host.run();
    assert_eq!(
        held.borrow_mut().take().unwrap().unwrap_err().code,
        ErrorCode::Disposed
    );
    assert_eq!(
        refreshing.borrow_mut().take().unwrap().unwrap_err().code,
        ErrorCode::Disposed
    );
    assert!(
        r.source.0.dropped.get() >= 1,
        "the fetch in flight was dropped"
    );
    let calls = r.calls();
    r.at(10.0 * HOUR);
    assert_eq!(r.calls(), calls, "no timer left");
    assert!(r.provider.current().is_none());
    assert_eq!(
        r.host
            .block_on(r.provider.get_access_token())
            .unwrap_err()
            .code,
        ErrorCode::Disposed
    );
    assert!(r.host.0.timers.borrow().is_empty(), "no sleeping task left");
    assert_eq!(kinds(&r.events).last(), Some(&"callersReleased"));
}

#[test]
fn policies_are_checked() {
    let floor = RefreshPolicy::default().floor_ms();
    assert_eq!(floor, 70_000.0);
    let e = RefreshPolicy {
        margin_seconds: Some(70),
        ..RefreshPolicy::default()
    }
    .check()
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("refreshMarginSeconds"));
    assert!(e.message.contains("not above the 70 s"), "{}", e.message);
    assert!(RefreshPolicy {
        margin_seconds: Some(71),
        ..RefreshPolicy::default()
    }
    .check()
    .is_ok());
    let e = RefreshPolicy {
        base_delay_ms: 40_000,
        ..RefreshPolicy::default()
    }
    .check()
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("retry.baseDelayMs"));
}

#[test]
fn provider_options_are_read_and_max_retries_is_refused_with_a_reason() {
    use crate::fields::tests::arg;
    let read = |value: serde_json::Value| {
        let o = crate::fields::Options::required(
            arg(value),
            "options",
            ErrorCode::InvalidConfig,
            PROVIDER_FIELDS,
        )?;
        RefreshPolicy::read(&o)
    };
    let policy = read(serde_json::json!({"refreshMarginSeconds": 300, "safetyMarginSeconds": 20, "maxWaitMs": 60000, "retry": {"baseDelayMs": 500, "maxDelayMs": 10000}})).unwrap();
    assert_eq!(policy.floor_ms(), 80_000.0);
    assert_eq!(
        (policy.margin_seconds, policy.max_wait_ms),
        (Some(300), Some(60_000))
    );
    assert_eq!((policy.base_delay_ms, policy.max_delay_ms), (500, 10_000));
    let e = read(serde_json::json!({"retry": {"maxRetries": 3}})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("retry.maxRetries"));
    assert!(e.message.contains("maxWaitMs"), "{}", e.message);
    let e = read(serde_json::json!({"maxWaitMs": 0})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("maxWaitMs"));
}

#[test]
fn messages_round_trip_and_junk_is_ignored() {
    let messages = [
        Message::Hello,
        Message::Refresh,
        Message::Token {
            token: "a.b.c".into(),
            offset_ms: -1_234.0,
        },
        Message::Failed {
            code: ErrorCode::Unauthorized,
            message: "signed \"out\"".into(),
            definitive: true,
            retry_in_ms: None,
        },
        Message::Failed {
            code: ErrorCode::Network,
            message: String::new(),
            definitive: false,
            retry_in_ms: Some(1_500.0),
        },
    ];
    for message in messages {
        assert_eq!(Message::parse(&message.to_json()), Some(message));
    }
    for junk in [
        "",
        "{}",
        "[]",
        r#"{"t":"what"}"#,
        r#"{"t":"token"}"#,
        r#"{"t":"failed","code":"NOPE"}"#,
        "{\"t\":",
    ] {
        assert_eq!(Message::parse(junk), None, "{junk}");
    }
    assert!(!format!(
        "{:?}",
        Message::Token {
            token: "secret.token.x".into(),
            offset_ms: 0.0
        }
    )
    .contains("secret"));
}

// ---- many tabs ------------------------------------------------------------------------

thread_local! {
    static BUS: Bus = Bus::default();
}

/// The tabs of one origin: a BroadcastChannel (each message reaches every other member,
/// after the current task) and a lock whose holder leads (the next in line takes over
/// when it leaves).
#[derive(Default)]
struct Bus {
    members: RefCell<Vec<(usize, Provider<Source, Host>)>>,
    queue: RefCell<VecDeque<(usize, String)>>,
    next_id: Cell<usize>,
    posted: Cell<u32>,
}

impl Bus {
    fn deliver(&self) -> bool {
        let Some((from, text)) = self.queue.borrow_mut().pop_front() else {
            return false;
        };
        let members: Vec<_> = self
            .members
            .borrow()
            .iter()
            .filter(|(id, _)| *id != from)
            .map(|(_, p)| p.clone())
            .collect();
        for member in members {
            member.receive(&text);
        }
        true
    }
}

/// A tab: a provider in the group, the source it fetches from, its events.
struct Tab {
    id: usize,
    provider: Provider<Source, Host>,
    events: Events,
}

fn open_tab(host: &Host, source: &Source) -> Tab {
    let (provider, events) = provider(host, source, RefreshPolicy::default());
    let id = BUS.with(|bus| {
        let id = bus.next_id.get();
        bus.next_id.set(id + 1);
        id
    });
    provider.join(Box::new(move |text| {
        BUS.with(|bus| {
            bus.posted.set(bus.posted.get() + 1);
            bus.queue.borrow_mut().push_back((id, text.to_owned()));
        });
    }));
    BUS.with(|bus| {
        let leader = bus.members.borrow().is_empty();
        bus.members.borrow_mut().push((id, provider.clone()));
        provider.set_role(leader);
    });
    Tab {
        id,
        provider,
        events,
    }
}

fn close_tab(tab: &Tab) {
    tab.provider.dispose();
    let next = BUS.with(|bus| {
        let mut members = bus.members.borrow_mut();
        let was_first = members.first().is_some_and(|(id, _)| *id == tab.id);
        members.retain(|(id, _)| *id != tab.id);
        was_first
            .then(|| members.first().map(|(_, p)| p.clone()))
            .flatten()
    });
    if let Some(next) = next {
        next.set_role(true);
    }
}

fn reset_bus() {
    BUS.with(|bus| {
        bus.members.borrow_mut().clear();
        bus.queue.borrow_mut().clear();
        bus.posted.set(0);
    });
}

#[test]
fn five_tabs_share_one_fetch_per_token_lifetime() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let tabs: Vec<Tab> = (0..5).map(|_| open_tab(&host, &source)).collect();
    let sdks: Vec<_> = tabs
        .iter()
        .map(|t| Sdk::login(&host, &t.provider))
        .collect();
    host.advance(6.0 * HOUR);
    let lifetimes = (6.0 * HOUR / (200.0 * SECOND)) as u32;
    assert!(
        (lifetimes..=lifetimes + 1).contains(&source.0.calls.get()),
        "{} fetches for 5 tabs over {lifetimes} refreshes",
        source.0.calls.get()
    );
    for sdk in &sdks {
        assert!(sdk.failed.borrow().is_none());
        assert!(sdk.least_left.get() > 70.0 * SECOND);
        assert_eq!(sdk.close_calls(SECOND), 0);
    }
    assert_eq!(tabs[0].provider.role(), Role::Leader);
    assert!(tabs[1..]
        .iter()
        .all(|t| t.provider.role() == Role::Follower));
    let from_tab = tabs[3]
        .events
        .borrow()
        .iter()
        .filter(|e| matches!(e, TokenEvent::TokenRefreshed { from_tab: true, .. }))
        .count();
    assert!(
        from_tab as u32 >= lifetimes,
        "followers get every token: {from_tab}"
    );
    reset_bus();
}

#[test]
fn a_new_tab_takes_the_current_token_without_a_fetch() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let first = open_tab(&host, &source);
    let token = host.block_on(first.provider.get_access_token()).unwrap();
    host.advance(30.0 * SECOND);
    let second = open_tab(&host, &source);
    assert_eq!(
        host.block_on(second.provider.get_access_token()).unwrap(),
        token
    );
    assert_eq!(source.0.calls.get(), 1);
    reset_bus();
}

#[test]
fn a_refresh_in_any_tab_reaches_all() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let tabs: Vec<Tab> = (0..3).map(|_| open_tab(&host, &source)).collect();
    let first = host.block_on(tabs[0].provider.get_access_token()).unwrap();
    for tab in &tabs[1..] {
        assert_eq!(
            host.block_on(tab.provider.get_access_token()).unwrap(),
            first
        );
    }
    host.advance(10.0 * SECOND);
    let fresh = host.block_on(tabs[2].provider.refresh()).unwrap();
    assert_ne!(fresh, first);
    assert_eq!(source.0.calls.get(), 2, "the leader fetched it");
    host.run();
    for tab in &tabs {
        assert_eq!(
            host.block_on(tab.provider.get_access_token()).unwrap(),
            fresh
        );
    }
    // A failed refresh asked by a follower rejects there too.
    source
        .0
        .answers
        .borrow_mut()
        .push_back(Answer::Fail(ErrorCode::ServerError));
    let error = host.block_on(tabs[1].provider.refresh()).unwrap_err();
    assert_eq!(error.code, ErrorCode::ServerError);
    reset_bus();
}

#[test]
fn when_the_leading_tab_closes_another_takes_over() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let tabs: Vec<Tab> = (0..3).map(|_| open_tab(&host, &source)).collect();
    let sdk = Sdk::login(&host, &tabs[2].provider);
    host.advance(150.0 * SECOND);
    close_tab(&tabs[0]);
    assert_eq!(tabs[1].provider.role(), Role::Leader);
    host.advance(3.0 * HOUR);
    assert!(sdk.failed.borrow().is_none());
    assert!(sdk.least_left.get() > 70.0 * SECOND);
    let refreshes = (3.0 * HOUR / (200.0 * SECOND)) as u32;
    assert!(
        source.0.calls.get() <= refreshes + 2,
        "{}",
        source.0.calls.get()
    );
    reset_bus();
}

#[test]
fn an_outage_reaches_every_tab_and_a_refusal_releases_their_callers() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let tabs: Vec<Tab> = (0..2).map(|_| open_tab(&host, &source)).collect();
    let sdk = Sdk::login(&host, &tabs[1].provider);
    host.advance(150.0 * SECOND);
    source.0.outage.set(Some(ErrorCode::ServerError));
    host.advance(100.0 * SECOND);
    assert!(tabs[1]
        .events
        .borrow()
        .iter()
        .any(|e| matches!(e, TokenEvent::TokenError { from_tab: true, .. })));
    assert!(
        kinds(&tabs[1].events).contains(&"callersHeld"),
        "the follower's SDK is held"
    );
    assert!(sdk.failed.borrow().is_none());
    source.0.outage.set(Some(ErrorCode::Forbidden));
    host.advance(40.0 * SECOND);
    assert_eq!(
        sdk.failed.borrow().as_ref().map(|e| e.code),
        Some(ErrorCode::Forbidden)
    );
    reset_bus();
}

#[test]
fn a_hello_makes_a_throttled_leader_check_at_once() {
    reset_bus();
    let host = Host::new();
    let source = source(&host);
    let tabs: Vec<Tab> = (0..2).map(|_| open_tab(&host, &source)).collect();
    host.block_on(tabs[1].provider.get_access_token()).unwrap();
    // The leader's tab sleeps in the background: its timers do not fire, and its token
    // comes due.
    host.0.asleep.set(true);
    host.advance(205.0 * SECOND);
    assert_eq!(source.0.calls.get(), 1);
    // A follower in a visible tab asks.
    tabs[0].provider.receive(&Message::Hello.to_json());
    host.run();
    assert_eq!(source.0.calls.get(), 2, "the hello started the refresh");
    host.0.asleep.set(false);
    host.advance(SECOND);
    assert!(
        tabs[1].provider.current().unwrap().seconds_left > 290.0,
        "and the follower got it"
    );
    reset_bus();
}
