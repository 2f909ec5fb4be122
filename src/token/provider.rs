//! The token provider: keeps an access token fresh for the lifetime of a page, so that the
//! Plivo browser SDK's `loginWithAccessTokenGenerator(provider)` never fails for a token
//! reason.
//!
//! - The token is cached and handed out while it has more than the refresh margin left
//!   (default: the larger of 120 s and 10 % of its lifetime); a timer refreshes it at that
//!   point without being asked.
//! - Single flight: every caller waiting for a token shares one fetch.
//! - A failed refresh is retried with exponential backoff and jitter while the current
//!   token is still usable, and callers get that token meanwhile; only when no usable
//!   token remains does a caller get the error.
//! - Clock skew: the offset between the local clock and the platform's is taken from the
//!   `Date` header of the token response, or else estimated from the token's `nbf`, so the
//!   refresh happens on time even when the local clock is minutes off.
//! - `dispose()` stops the timer and aborts the fetch in flight.
//!
//! Everything here is plain Rust: the clock, timers, task spawning and the token source
//! are injected, and the tests drive it with a fake clock.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use super::decode::{decode_access_token, AccessTokenClaims, DecodedAccessToken};
use super::FetchedToken;
use crate::clock::{offset_from_date, Runtime};
use crate::error::{Error, ErrorCode, Result};
use crate::retry::RetryPolicy;
use crate::task::{abortable, AbortHandle, LocalBoxFuture, Shared};

/// A token is never handed out with less than this left.
pub const USABLE_FLOOR_MS: f64 = 5_000.0;
/// A refresh is never scheduled sooner than this after a token arrived.
pub const MIN_FRESH_MS: f64 = 10_000.0;
/// The default margin's floor: refresh at least 120 s before expiry.
pub const DEFAULT_MARGIN_MS: f64 = 120_000.0;
/// How far issuers commonly backdate `nbf` (the platform docs' habit: 60 s).
const NBF_BACKDATE_MS: f64 = 60_000.0;
/// Longest a timer is set for (what `setTimeout` holds).
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// Where tokens come from: the JWT API through a client, the application's token URL, or
/// a callback.
pub trait TokenSource {
    /// Fetches one token. Dropping the future cancels the fetch.
    fn fetch(&self) -> LocalBoxFuture<'static, Result<FetchedToken>>;
}

/// Runs a future in the background.
pub trait Spawn {
    /// Starts `future`; it runs until it completes or is aborted.
    fn spawn(&self, future: LocalBoxFuture<'static, ()>);
}

/// What a `TokenProvider` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TokenEvent {
    /// A new token arrived.
    #[serde(rename_all = "camelCase")]
    TokenRefreshed {
        /// Its claims.
        claims: AccessTokenClaims,
        /// Expiry, milliseconds since the epoch.
        expires_at: f64,
        /// Seconds left, by the corrected clock.
        seconds_left: f64,
    },
    /// The token entered its refresh margin; a refresh starts now.
    #[serde(rename_all = "camelCase")]
    TokenWillExpire {
        /// Expiry, milliseconds since the epoch.
        expires_at: f64,
        /// Seconds left, by the corrected clock.
        seconds_left: f64,
    },
    /// A fetch failed.
    #[serde(rename_all = "camelCase")]
    TokenError {
        /// Why. Written as `null` here; the binding layer puts a real
        /// `EndpointLoginError` in its place.
        #[serde(serialize_with = "serialize_as_null")]
        #[cfg_attr(feature = "typescript", tsify(type = "EndpointLoginError"))]
        error: Error,
        /// Whether another attempt is scheduled.
        will_retry: bool,
        /// When, in milliseconds from now.
        retry_in_ms: Option<f64>,
        /// Whether the current token is still handed out meanwhile.
        token_still_valid: bool,
    },
}

fn serialize_as_null<S: serde::Serializer>(
    _: &Error,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_unit()
}

impl TokenEvent {
    /// The event's `type`, as listeners subscribe to it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TokenRefreshed { .. } => "tokenRefreshed",
            Self::TokenWillExpire { .. } => "tokenWillExpire",
            Self::TokenError { .. } => "tokenError",
        }
    }

    /// Every event type.
    pub const KINDS: [&'static str; 3] = ["tokenRefreshed", "tokenWillExpire", "tokenError"];
}

/// The token in hand, as `current()` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct CurrentToken {
    /// Its claims.
    pub claims: AccessTokenClaims,
    /// Seconds left, by the corrected clock.
    pub seconds_left: f64,
    /// Expiry, milliseconds since the epoch.
    pub expires_at: f64,
    /// The estimated difference between the platform's clock and this one, in ms.
    pub clock_offset_ms: f64,
}

/// Options of `new TokenProvider(options)`: exactly one source (`tokenUrl` or
/// `fetchToken`), and how to refresh.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TokenProviderOptions {
    /// Your backend's URL answering `{ "token": "..." }` for the signed-in user, sent with
    /// the page's cookies (production).
    #[tsify(optional)]
    pub token_url: Option<String>,
    /// Any callback resolving to a token.
    #[tsify(optional, type = "() => Promise<string>")]
    pub fetch_token: Option<()>,
    /// Timeout of one `tokenUrl` request, ms (default 10,000).
    #[tsify(optional)]
    pub timeout_ms: Option<u32>,
    /// Refresh this many seconds before expiry (default: the larger of 120 s and 10 % of
    /// the lifetime).
    #[tsify(optional)]
    pub refresh_margin_seconds: Option<u32>,
    /// Attempts for a caller that has no usable token, and the backoff of refreshes.
    #[tsify(optional)]
    pub retry: Option<crate::retry::RetryOptions>,
    /// Called with every event.
    #[tsify(optional, type = "(event: TokenEvent) => void")]
    pub on_event: Option<()>,
}

/// Options of `client.tokenProvider(options)`: the JWT API through a direct-mode client.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientTokenProviderOptions {
    /// The token to ask for (default: one hour, outgoing calls).
    #[tsify(optional)]
    pub request: Option<super::CreateTokenRequest>,
    /// Refresh this many seconds before expiry (default: the larger of 120 s and 10 % of
    /// the lifetime).
    #[tsify(optional)]
    pub refresh_margin_seconds: Option<u32>,
    /// Attempts for a caller that has no usable token, and the backoff of refreshes.
    #[tsify(optional)]
    pub retry: Option<crate::retry::RetryOptions>,
    /// Called with every event.
    #[tsify(optional, type = "(event: TokenEvent) => void")]
    pub on_event: Option<()>,
}

/// The fields of `new TokenProvider(options)`, as JavaScript spells them.
pub const PROVIDER_FIELDS: &[&str] = &[
    "tokenUrl",
    "fetchToken",
    "timeoutMs",
    "refreshMarginSeconds",
    "retry",
    "onEvent",
];

/// The fields of `client.tokenProvider(options)`, as JavaScript spells them.
pub const CLIENT_PROVIDER_FIELDS: &[&str] =
    &["request", "refreshMarginSeconds", "retry", "onEvent"];

/// Checked provider options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    /// Refresh this long before expiry instead of the default.
    pub margin_seconds: Option<u32>,
    /// Retries: attempts for a caller with no usable token, and the backoff of refreshes.
    pub retry: RetryPolicy,
}

impl RefreshPolicy {
    /// Reads `refreshMarginSeconds` and `retry` from provider options.
    pub fn read<O: crate::fields::Host>(options: &crate::fields::Options<O>) -> Result<Self> {
        let retry = match options.nested("retry", crate::retry::RetryOptions::FIELDS)? {
            Some(retry) => Some(crate::retry::RetryOptions::read(&retry)?),
            None => None,
        };
        Self::new(
            options.number("refreshMarginSeconds")?,
            RetryPolicy::from_options(retry.as_ref())?,
        )
    }

    /// Checks `refreshMarginSeconds` (whole seconds, at most 24 hours).
    pub fn new(margin_seconds: Option<f64>, retry: RetryPolicy) -> Result<Self> {
        let margin_seconds = margin_seconds
            .map(|s| {
                crate::validate::whole(
                    ErrorCode::InvalidConfig,
                    "refreshMarginSeconds",
                    s,
                    0,
                    86_400,
                )
            })
            .transpose()?
            .map(|s| s as u32);
        Ok(Self {
            margin_seconds,
            retry,
        })
    }
}

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    decoded: DecodedAccessToken,
    /// Expiry on the platform's clock, ms.
    exp_ms: f64,
    /// Lifetime left when it arrived, ms.
    lifetime_ms: f64,
    /// Whether `WillExpire` was reported for it.
    warned: bool,
}

/// The provider's state, without any I/O: what is cached, the clock offset, failures.
#[derive(Debug, Clone)]
pub struct TokenCache {
    cached: Option<Cached>,
    offset_ms: f64,
    failures: u32,
    policy: RefreshPolicy,
}

impl TokenCache {
    /// An empty cache.
    pub fn new(policy: RefreshPolicy) -> Self {
        Self {
            cached: None,
            offset_ms: 0.0,
            failures: 0,
            policy,
        }
    }

    /// The platform's time for a local time.
    pub fn server_now(&self, local_ms: f64) -> f64 {
        local_ms + self.offset_ms
    }

    /// The estimated platform clock minus the local clock, ms.
    pub fn offset_ms(&self) -> f64 {
        self.offset_ms
    }

    fn margin_ms(&self, cached: &Cached) -> f64 {
        let wanted = match self.policy.margin_seconds {
            Some(s) => f64::from(s) * 1000.0,
            None => DEFAULT_MARGIN_MS.max(cached.lifetime_ms * 0.1),
        };
        wanted.min((cached.lifetime_ms - MIN_FRESH_MS).max(0.0))
    }

    /// Milliseconds the cached token has left, by the corrected clock.
    pub fn ms_left(&self, local_ms: f64) -> Option<f64> {
        self.cached
            .as_ref()
            .map(|c| c.exp_ms - self.server_now(local_ms))
    }

    /// The token to hand out: cached, with more than [`USABLE_FLOOR_MS`] left.
    pub fn usable(&self, local_ms: f64) -> Option<&str> {
        let left = self.ms_left(local_ms)?;
        (left > USABLE_FLOOR_MS).then(|| self.cached.as_ref().map(|c| c.token.as_str()))?
    }

    /// Local time at which the cached token should be refreshed.
    pub fn refresh_due_at(&self) -> Option<f64> {
        self.cached
            .as_ref()
            .map(|c| c.exp_ms - self.margin_ms(c) - self.offset_ms)
    }

    /// True after a failed fetch, until a token arrives.
    pub fn is_retrying(&self) -> bool {
        self.failures > 0
    }

    /// True when there is no token or it is inside its margin.
    pub fn is_due(&self, local_ms: f64) -> bool {
        self.refresh_due_at().is_none_or(|due| local_ms >= due)
    }

    /// Takes a fetched token: decodes it, updates the clock offset, and refuses it if it
    /// is (nearly) expired.
    pub fn accept(&mut self, fetched: &FetchedToken) -> Result<()> {
        let decoded = decode_access_token(&fetched.token)?;
        let exp_ms = decoded.claims.exp as f64 * 1000.0;
        let nbf_ms = decoded.claims.nbf as f64 * 1000.0;
        let local = fetched.received_at_ms;
        self.offset_ms = match fetched.server_date_ms {
            // `Date` has whole seconds: the platform's time was within the second after it,
            // taken between sending and receiving.
            Some(date) => offset_from_date(date, fetched.sent_at_ms, fetched.received_at_ms),
            None => {
                let server_now = self.server_now(local);
                if nbf_ms > server_now + 2_000.0 || exp_ms - server_now <= USABLE_FLOOR_MS {
                    // The token starts in our future or ends in our past: this clock is off.
                    // A fresh token was issued at its nbf or, by the common habit of
                    // backdating nbf, up to a minute after it; assuming the later instant
                    // errs towards refreshing early.
                    let issued = (nbf_ms + NBF_BACKDATE_MS).min(exp_ms - USABLE_FLOOR_MS - 1_000.0);
                    issued - local
                } else {
                    self.offset_ms
                }
            }
        };
        let left = exp_ms - self.server_now(local);
        if left <= USABLE_FLOOR_MS {
            let seconds = (left / 1000.0).round() as i64;
            return Err(Error::new(
                ErrorCode::TokenExpired,
                text!(
                    "The token source returned a token that ",
                    if seconds <= 0 {
                        format!("expired {} s ago", -seconds)
                    } else {
                        format!("expires in {seconds} s")
                    },
                    " (exp ",
                    decoded.claims.exp,
                    "); it must hand out fresh tokens."
                ),
            ));
        }
        self.cached = Some(Cached {
            token: fetched.token.clone(),
            decoded,
            exp_ms,
            lifetime_ms: left,
            warned: false,
        });
        self.failures = 0;
        Ok(())
    }

    /// Records a failed fetch; returns the wait before the next attempt while the cached
    /// token stays usable, or `None` when there is nothing to retry for.
    pub fn record_failure(&mut self, local_ms: f64, error: &Error, random: f64) -> Option<f64> {
        self.failures += 1;
        let left = self.ms_left(local_ms)?;
        let latest = left - USABLE_FLOOR_MS - 1_000.0;
        if latest <= 0.0 {
            return None;
        }
        let wait = match error.retry_after {
            Some(seconds) => f64::from(seconds) * 1000.0,
            None => f64::from(self.policy.retry.backoff(self.failures, random)),
        };
        Some(wait.min(latest).max(0.0))
    }

    /// Marks `WillExpire` as reported; true the first time for this token.
    fn warn_once(&mut self) -> bool {
        match self.cached.as_mut() {
            Some(c) if !c.warned => {
                c.warned = true;
                true
            }
            _ => false,
        }
    }

    /// The token in hand while it has time left.
    pub fn current(&self, local_ms: f64) -> Option<CurrentToken> {
        let c = self.cached.as_ref()?;
        let left = self.ms_left(local_ms)?;
        (left > 0.0).then(|| CurrentToken {
            claims: c.decoded.claims.clone(),
            seconds_left: (left / 1000.0).floor(),
            expires_at: c.exp_ms,
            clock_offset_ms: self.offset_ms.round(),
        })
    }

    /// Forgets the token.
    pub fn clear(&mut self) {
        self.cached = None;
    }
}

/// How a fetch ended, as every caller sharing it sees it.
#[derive(Debug, Clone)]
enum Outcome {
    Fresh(String),
    Failed {
        error: Error,
        fallback: Option<String>,
    },
    Disposed,
}

type Flight = Shared<Outcome>;

struct State {
    cache: TokenCache,
    flight: Option<(Flight, AbortHandle)>,
    timer: Option<AbortHandle>,
    disposed: bool,
}

struct Inner<S, H> {
    source: S,
    host: H,
    state: RefCell<State>,
    on_event: Box<dyn Fn(TokenEvent)>,
}

/// A token provider over a source and a host (clock, timers, spawning).
pub struct Provider<S, H> {
    inner: Rc<Inner<S, H>>,
}

impl<S, H> Clone for Provider<S, H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

fn disposed() -> Error {
    Error::disposed("TokenProvider")
}

fn sleep_ms(ms: f64) -> u32 {
    ms.clamp(0.0, MAX_TIMER_MS).ceil() as u32
}

impl<S: TokenSource + 'static, H: Runtime + Spawn + 'static> Provider<S, H> {
    /// A provider; nothing is fetched until a token is asked for.
    pub fn new(
        source: S,
        host: H,
        policy: RefreshPolicy,
        on_event: Box<dyn Fn(TokenEvent)>,
    ) -> Self {
        Self {
            inner: Rc::new(Inner {
                source,
                host,
                state: RefCell::new(State {
                    cache: TokenCache::new(policy),
                    flight: None,
                    timer: None,
                    disposed: false,
                }),
                on_event,
            }),
        }
    }

    fn emit(&self, events: Vec<TokenEvent>) {
        for event in events {
            (self.inner.on_event)(event);
        }
    }

    /// A usable token: the cached one while it lasts (starting a refresh in the background
    /// when it is due), else the result of a fetch shared with every other caller.
    pub fn get_access_token(&self) -> impl Future<Output = Result<String>> + 'static {
        let this = self.clone();
        async move {
            let flight = {
                let mut state = this.inner.state.borrow_mut();
                if state.disposed {
                    return Err(disposed());
                }
                let now = this.inner.host.now_ms();
                if let Some(token) = state.cache.usable(now).map(str::to_owned) {
                    // Timers of background tabs may run late: a due refresh starts here too,
                    // unless one is in flight or a retry after a failure is scheduled.
                    let retry_pending = state.timer.is_some() && state.cache.is_retrying();
                    if state.cache.is_due(now) && state.flight.is_none() && !retry_pending {
                        let _background = this.start_flight(&mut state, false);
                    }
                    return Ok(token);
                }
                this.join_or_start(&mut state)
            };
            match flight.wait().await {
                Outcome::Fresh(token)
                | Outcome::Failed {
                    fallback: Some(token),
                    ..
                } => Ok(token),
                Outcome::Failed {
                    error,
                    fallback: None,
                } => Err(error),
                Outcome::Disposed => Err(disposed()),
            }
        }
    }

    /// Fetches a new token now (joining a fetch in flight); fails when the fetch fails,
    /// even if the old token is still usable.
    pub fn refresh(&self) -> impl Future<Output = Result<String>> + 'static {
        let this = self.clone();
        async move {
            let flight = {
                let mut state = this.inner.state.borrow_mut();
                if state.disposed {
                    return Err(disposed());
                }
                this.join_or_start(&mut state)
            };
            match flight.wait().await {
                Outcome::Fresh(token) => Ok(token),
                Outcome::Failed { error, .. } => Err(error),
                Outcome::Disposed => Err(disposed()),
            }
        }
    }

    /// The token in hand, or `None`.
    pub fn current(&self) -> Option<CurrentToken> {
        let state = self.inner.state.borrow();
        if state.disposed {
            return None;
        }
        state.cache.current(self.inner.host.now_ms())
    }

    /// True once disposed.
    pub fn is_disposed(&self) -> bool {
        self.inner.state.borrow().disposed
    }

    /// Stops the timer, aborts the fetch in flight and forgets the token. Later calls fail
    /// with `DISPOSED`.
    pub fn dispose(&self) {
        let mut state = self.inner.state.borrow_mut();
        state.disposed = true;
        if let Some(timer) = state.timer.take() {
            timer.abort();
        }
        if let Some((flight, abort)) = state.flight.take() {
            abort.abort();
            flight.set(Outcome::Disposed);
        }
        state.cache.clear();
    }

    /// The fetch in flight, or a new one for a caller that waits for its result.
    fn join_or_start(&self, state: &mut State) -> Flight {
        match &state.flight {
            Some((flight, _)) => flight.clone(),
            None => self.start_flight(state, true),
        }
    }

    /// Starts a fetch shared by every caller. `waited`: a caller has no usable token, so
    /// transient failures are retried within the fetch per the retry policy.
    fn start_flight(&self, state: &mut State, waited: bool) -> Flight {
        if let Some(timer) = state.timer.take() {
            timer.abort();
        }
        let this = self.clone();
        let policy = if waited {
            state.cache.policy.retry
        } else {
            RetryPolicy::NONE
        };
        let flight = Flight::new();
        let abort = AbortHandle::default();
        let done = flight.clone();
        let fetch = async move {
            let host = &this.inner.host;
            let result = policy
                .run(
                    || host.random(),
                    |ms| host.sleep(ms),
                    |_| this.inner.source.fetch(),
                )
                .await;
            done.set(this.complete(result));
        };
        let task = abortable(fetch, &abort);
        self.inner.host.spawn(Box::pin(async move {
            task.await;
        }));
        state.flight = Some((flight.clone(), abort));
        flight
    }

    fn complete(&self, result: Result<FetchedToken>) -> Outcome {
        let host = &self.inner.host;
        let mut events = Vec::new();
        let outcome = {
            let mut state = self.inner.state.borrow_mut();
            state.flight = None;
            if state.disposed {
                return Outcome::Disposed;
            }
            let now = host.now_ms();
            let accepted = result.and_then(|fetched| {
                state.cache.accept(&fetched)?;
                Ok(fetched.token)
            });
            match accepted {
                Ok(token) => {
                    if let Some(current) = state.cache.current(now) {
                        events.push(TokenEvent::TokenRefreshed {
                            claims: current.claims,
                            expires_at: current.expires_at,
                            seconds_left: current.seconds_left,
                        });
                    }
                    if let Some(due) = state.cache.refresh_due_at() {
                        self.set_timer(&mut state, due - now);
                    }
                    Outcome::Fresh(token)
                }
                Err(error) => {
                    let retry = state.cache.record_failure(now, &error, host.random());
                    let fallback = state.cache.usable(now).map(str::to_owned);
                    if let Some(wait) = retry {
                        self.set_timer(&mut state, wait);
                    }
                    events.push(TokenEvent::TokenError {
                        error: error.clone(),
                        will_retry: retry.is_some(),
                        retry_in_ms: retry,
                        token_still_valid: fallback.is_some(),
                    });
                    Outcome::Failed { error, fallback }
                }
            }
        };
        self.emit(events);
        outcome
    }

    fn set_timer(&self, state: &mut State, in_ms: f64) {
        if let Some(timer) = state.timer.take() {
            timer.abort();
        }
        let this = self.clone();
        let abort = AbortHandle::default();
        let timer = abortable(
            async move {
                this.inner.host.sleep(sleep_ms(in_ms)).await;
                this.on_timer();
            },
            &abort,
        );
        self.inner.host.spawn(Box::pin(async move {
            timer.await;
        }));
        state.timer = Some(abort);
    }

    fn on_timer(&self) {
        let mut events = Vec::new();
        {
            let mut state = self.inner.state.borrow_mut();
            state.timer = None;
            if state.disposed || state.flight.is_some() {
                return;
            }
            let now = self.inner.host.now_ms();
            if let Some(left) = state.cache.ms_left(now).filter(|left| *left > 0.0) {
                if state.cache.warn_once() {
                    events.push(TokenEvent::TokenWillExpire {
                        expires_at: state.cache.server_now(now) + left,
                        seconds_left: (left / 1000.0).floor(),
                    });
                }
            }
            let waited = state.cache.usable(now).is_none();
            let _spawned = self.start_flight(&mut state, waited);
        }
        self.emit(events);
    }
}

#[cfg(test)]
mod tests;
