//! The token provider: keeps an access token fresh for the life of a page, built around
//! what the Plivo browser SDK does with a token generator.
//!
//! The SDK calls `getAccessToken()` at login and again on a timer set for 60 s before the
//! token's `exp` by the local clock; a delay of 0 or less makes it call again at once, in
//! a loop; a rejection logs the user out for good. So:
//!
//! - **The SDK contract.** A token is handed out only while it has more than the SDK's
//!   60 s plus a safety margin (default 10 s) left, by the local clock and by the
//!   platform's clock as estimated. Below that, callers are *held*: they wait for the
//!   refresh instead of getting a token the SDK would spin on. The wait ends with a fresh
//!   token, or with a rejection only on a definitive refusal (401/403: signed out), on
//!   `dispose()`, or after the caller's `maxWaitMs`.
//! - **Refresh.** The refresh starts when either clock reaches the refresh margin
//!   (default: the larger of the floor plus 30 s and 10 % of the lifetime). A failed
//!   attempt is retried with backoff and jitter (capped, default 30 s), for as long as it
//!   takes. One attempt at a time; every caller shares its outcome.
//! - **Catch-up.** Timers stop while a laptop sleeps and are throttled in hidden tabs: the
//!   host calls [`Provider::wake`] when the page becomes visible, comes online or is shown
//!   again, and every timer checks the state when it fires, however late. While the host
//!   is offline no attempt is spent; the `online` wake starts one.
//! - **Many tabs.** With a tab group, one tab (the leader, elected by the host) fetches and
//!   posts every token to the others ([`Message`]); the others ask it for the current
//!   token when they start, for a refresh when theirs is due, and take over when it goes.
//!
//! Everything here is plain Rust: the clock, timers, task spawning, the token source, the
//! network state and the messages to other tabs are injected, and the tests drive several
//! providers on one fake clock.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::decode::{decode_access_token, AccessTokenClaims};
use super::FetchedToken;
use crate::clock::{offset_from_date, Runtime};
use crate::error::{Error, ErrorCode, Result};
use crate::json::{self, Event, JsonOut, Reader};
use crate::task::{abortable, AbortHandle, LocalBoxFuture, Shared};

/// The Plivo browser SDK asks for a new token this long before `exp` (local clock).
pub const SDK_LEAD_MS: f64 = 60_000.0;
/// Default time beyond [`SDK_LEAD_MS`] a token must have left to be handed out.
pub const DEFAULT_SAFETY_SECONDS: u32 = 10;
/// A refresh is never scheduled sooner than this after a token arrived.
pub const MIN_FRESH_MS: f64 = 10_000.0;
/// Time the default refresh margin leaves for retries before callers are held.
const RETRY_WINDOW_MS: f64 = 30_000.0;
/// Default first backoff step and cap.
pub const DEFAULT_BASE_DELAY_MS: u32 = 1_000;
/// Default longest wait between attempts.
pub const DEFAULT_MAX_DELAY_MS: u32 = 30_000;
/// How often a tab without a fresh token asks the leader again.
const NUDGE_MS: f64 = 5_000.0;
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

/// What the provider needs of its host besides the clock: spawning and the network state.
pub trait ProviderHost: Runtime + Spawn {
    /// False while the host knows it is offline (`navigator.onLine`).
    fn online(&self) -> bool;
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
        /// Seconds left, by the platform's clock as estimated.
        seconds_left: f64,
        /// True when another tab fetched it.
        from_tab: bool,
    },
    /// The token entered its refresh margin; a refresh starts now.
    #[serde(rename_all = "camelCase")]
    TokenWillExpire {
        /// Expiry, milliseconds since the epoch.
        expires_at: f64,
        /// Seconds left, by the platform's clock as estimated.
        seconds_left: f64,
    },
    /// An attempt to get a token failed.
    #[serde(rename_all = "camelCase")]
    TokenError {
        /// Why. Written as `null` here; the binding layer puts a real
        /// `EndpointLoginError` in its place.
        #[serde(serialize_with = "serialize_as_null")]
        #[cfg_attr(feature = "typescript", tsify(type = "EndpointLoginError"))]
        error: Error,
        /// Whether another attempt will follow on its own (false after a refusal).
        will_retry: bool,
        /// When, in milliseconds from now (`null` while offline or when not retrying).
        retry_in_ms: Option<f64>,
        /// Whether the token in hand is still handed out meanwhile.
        token_still_valid: bool,
        /// True when the attempt was another tab's.
        from_tab: bool,
    },
    /// Callers of `getAccessToken()` are waiting: the token in hand has too little time
    /// left to be handed out, and a refresh is under way.
    #[serde(rename_all = "camelCase")]
    CallersHeld {
        /// Callers waiting.
        callers: u32,
        /// Seconds the token in hand has left (platform clock), if there is one.
        seconds_left: Option<f64>,
    },
    /// The held callers were released: with a fresh token, or with `error`.
    #[serde(rename_all = "camelCase")]
    CallersReleased {
        /// Callers released.
        callers: u32,
        /// How long the first of them waited, ms.
        held_ms: f64,
        /// Why they were rejected, or `null` when they got a token. Written as `null`
        /// here; the binding layer puts a real `EndpointLoginError` in its place.
        #[serde(serialize_with = "serialize_as_null")]
        #[cfg_attr(feature = "typescript", tsify(type = "EndpointLoginError | null"))]
        error: Option<Error>,
    },
}

fn serialize_as_null<T, S: serde::Serializer>(_: &T, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_unit()
}

impl TokenEvent {
    /// The event's `type`, as listeners subscribe to it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TokenRefreshed { .. } => "tokenRefreshed",
            Self::TokenWillExpire { .. } => "tokenWillExpire",
            Self::TokenError { .. } => "tokenError",
            Self::CallersHeld { .. } => "callersHeld",
            Self::CallersReleased { .. } => "callersReleased",
        }
    }

    /// The error the event carries, if any.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Self::TokenError { error, .. } => Some(error),
            Self::CallersReleased { error, .. } => error.as_ref(),
            _ => None,
        }
    }

    /// Every event type.
    pub const KINDS: [&'static str; 5] = [
        "tokenRefreshed",
        "tokenWillExpire",
        "tokenError",
        "callersHeld",
        "callersReleased",
    ];
}

/// The token in hand, as `current()` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct CurrentToken {
    /// Its claims.
    pub claims: AccessTokenClaims,
    /// Seconds left, by the platform's clock as estimated.
    pub seconds_left: f64,
    /// Seconds left by this machine's clock: what the browser SDK goes by.
    pub local_seconds_left: f64,
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
    /// Share one token between the tabs of this origin: on by default for `tokenUrl`
    /// (keyed by its absolute URL); for `fetchToken`, a key of your choice; `false` for
    /// none.
    #[tsify(optional, type = "boolean | string")]
    pub share_across_tabs: Option<()>,
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: RefreshOptions,
}

/// Options of `client.tokenProvider(options)`: the JWT API through a direct-mode client.
#[cfg(all(feature = "typescript", feature = "endpoints"))]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientTokenProviderOptions {
    /// The token to ask for (default: one hour, outgoing calls).
    #[tsify(optional)]
    pub request: Option<super::CreateTokenRequest>,
    /// Share one token between the tabs of this origin under this key (default: none).
    #[tsify(optional, type = "string | false")]
    pub share_across_tabs: Option<()>,
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: RefreshOptions,
}

/// The refresh options every provider takes.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RefreshOptions {
    /// Start refreshing this many seconds before expiry (default: the larger of the
    /// floor plus 30 s and 10 % of the lifetime). Must be above the floor, 60 s plus
    /// `safetyMarginSeconds`.
    #[tsify(optional)]
    pub refresh_margin_seconds: Option<u32>,
    /// Time a token must have left beyond the SDK's 60 s to be handed out (default 10).
    #[tsify(optional)]
    pub safety_margin_seconds: Option<u32>,
    /// Longest a `getAccessToken()` caller waits for a fresh token before it rejects with
    /// `TIMEOUT` (default: as long as it takes).
    #[tsify(optional)]
    pub max_wait_ms: Option<u32>,
    /// Backoff between failed attempts (the provider retries until it has a token).
    #[tsify(optional)]
    pub retry: Option<ProviderRetryOptions>,
    /// Called with every event.
    #[tsify(optional, type = "(event: TokenEvent) => void")]
    pub on_event: Option<()>,
}

/// `retry` of a provider: the backoff between attempts.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRetryOptions {
    /// The first step, ms (default 1,000).
    #[tsify(optional)]
    pub base_delay_ms: Option<u32>,
    /// The longest wait, ms (default 30,000).
    #[tsify(optional)]
    pub max_delay_ms: Option<u32>,
}

/// The refresh options, as JavaScript spells them.
const REFRESH_FIELDS: [&str; 5] = [
    "refreshMarginSeconds",
    "safetyMarginSeconds",
    "maxWaitMs",
    "retry",
    "onEvent",
];

/// The fields of `new TokenProvider(options)`, as JavaScript spells them.
pub const PROVIDER_FIELDS: &[&str] = &[
    "tokenUrl",
    "fetchToken",
    "timeoutMs",
    "shareAcrossTabs",
    REFRESH_FIELDS[0],
    REFRESH_FIELDS[1],
    REFRESH_FIELDS[2],
    REFRESH_FIELDS[3],
    REFRESH_FIELDS[4],
];

/// The fields of `client.tokenProvider(options)`, as JavaScript spells them.
pub const CLIENT_PROVIDER_FIELDS: &[&str] = &[
    "request",
    "shareAcrossTabs",
    REFRESH_FIELDS[0],
    REFRESH_FIELDS[1],
    REFRESH_FIELDS[2],
    REFRESH_FIELDS[3],
    REFRESH_FIELDS[4],
];

/// Checked provider options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    /// Start refreshing this long before expiry instead of the default.
    pub margin_seconds: Option<u32>,
    /// Time beyond [`SDK_LEAD_MS`] a token must have left to be handed out.
    pub safety_seconds: u32,
    /// Longest a caller is held.
    pub max_wait_ms: Option<u32>,
    /// First backoff step, ms.
    pub base_delay_ms: u32,
    /// Longest backoff, ms.
    pub max_delay_ms: u32,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            margin_seconds: None,
            safety_seconds: DEFAULT_SAFETY_SECONDS,
            max_wait_ms: None,
            base_delay_ms: DEFAULT_BASE_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
        }
    }
}

impl RefreshPolicy {
    /// Reads the refresh options of provider options.
    pub fn read<O: crate::fields::Host>(options: &crate::fields::Options<O>) -> Result<Self> {
        let defaults = Self::default();
        let (base_delay_ms, max_delay_ms) = match options.nested("retry", &RETRY_FIELDS)? {
            Some(retry) => {
                if !retry.field("maxRetries").is_absent() {
                    return Err(Error::config(
                        "retry.maxRetries",
                        "a TokenProvider retries until it has a token, so that the SDK never \
                         fails for a token reason; bound how long a caller waits with maxWaitMs",
                    ));
                }
                (
                    retry.whole("baseDelayMs", 0, 60_000)?,
                    retry.whole("maxDelayMs", 100, 600_000)?,
                )
            }
            None => (None, None),
        };
        let policy = Self {
            margin_seconds: options
                .whole("refreshMarginSeconds", 0, 86_400)?
                .map(|s| s as u32),
            safety_seconds: options
                .whole("safetyMarginSeconds", 0, 600)?
                .map_or(defaults.safety_seconds, |s| s as u32),
            max_wait_ms: options
                .whole("maxWaitMs", 1, 86_400_000)?
                .map(|ms| ms as u32),
            base_delay_ms: base_delay_ms.map_or(defaults.base_delay_ms, |ms| ms as u32),
            max_delay_ms: max_delay_ms.map_or(defaults.max_delay_ms, |ms| ms as u32),
        };
        policy.check()
    }

    /// Checks that the numbers fit together.
    pub fn check(self) -> Result<Self> {
        if let Some(margin) = self.margin_seconds {
            let floor = self.floor_ms() / 1000.0;
            if f64::from(margin) <= floor {
                return Err(Error::config(
                    "refreshMarginSeconds",
                    &text!(
                        "it is ",
                        margin,
                        " s, not above the ",
                        floor as u32,
                        " s a token must have left to be handed out (the SDK's 60 s and \
                         safetyMarginSeconds): every refresh would hold the SDK"
                    ),
                ));
            }
        }
        if self.base_delay_ms > self.max_delay_ms {
            return Err(Error::config(
                "retry.baseDelayMs",
                "it is above retry.maxDelayMs; the first wait cannot be the longest",
            ));
        }
        Ok(self)
    }

    /// A token is handed out only with more than this left, ms.
    pub fn floor_ms(&self) -> f64 {
        SDK_LEAD_MS + f64::from(self.safety_seconds) * 1000.0
    }

    /// The wait before attempt `failures + 1` after `failures` failures: half of the
    /// exponential step (capped) plus a random half.
    fn backoff(&self, failures: u32, random: f64) -> f64 {
        let step = (f64::from(self.base_delay_ms)
            * f64::from(1u32 << failures.min(20).saturating_sub(1)))
        .min(f64::from(self.max_delay_ms));
        step / 2.0 + random.clamp(0.0, 1.0) * step / 2.0
    }
}

/// The fields of a provider's `retry`.
const RETRY_FIELDS: [&str; 3] = ["baseDelayMs", "maxDelayMs", "maxRetries"];

/// The token in hand.
#[derive(Clone)]
struct Cached {
    token: String,
    claims: AccessTokenClaims,
    /// Expiry, ms since the epoch (a time on the platform's clock).
    exp_ms: f64,
    /// Lifetime left when it arrived (platform clock), ms.
    lifetime_ms: f64,
    /// Whether `tokenWillExpire` was reported for it.
    warned: bool,
}

/// The token and what is known of the clocks, without any I/O.
#[derive(Clone)]
pub struct TokenCache {
    cached: Option<Cached>,
    /// The platform's clock minus the local clock, ms.
    offset_ms: f64,
    policy: RefreshPolicy,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("token", &self.cached.as_ref().map(|_| "<redacted>"))
            .field("exp_ms", &self.cached.as_ref().map(|c| c.exp_ms))
            .field("offset_ms", &self.offset_ms)
            .finish()
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new(policy: RefreshPolicy) -> Self {
        Self {
            cached: None,
            offset_ms: 0.0,
            policy,
        }
    }

    /// The estimated platform clock minus the local clock, ms.
    pub fn offset_ms(&self) -> f64 {
        self.offset_ms
    }

    /// The least time the token in hand has left by either clock, ms.
    pub fn ms_left(&self, local_ms: f64) -> Option<f64> {
        let c = self.cached.as_ref()?;
        Some(c.exp_ms - local_ms - self.offset_ms.max(0.0))
    }

    /// The token to hand out: with more than the floor left by both clocks.
    pub fn usable(&self, local_ms: f64) -> Option<&str> {
        let left = self.ms_left(local_ms)?;
        (left > self.policy.floor_ms()).then(|| self.cached.as_ref().map(|c| c.token.as_str()))?
    }

    fn margin_ms(&self, c: &Cached) -> f64 {
        let floor = self.policy.floor_ms();
        let wanted = match self.policy.margin_seconds {
            Some(s) => f64::from(s) * 1000.0,
            None => (floor + RETRY_WINDOW_MS).max(c.lifetime_ms * 0.1),
        };
        wanted.min((c.lifetime_ms - MIN_FRESH_MS).max(0.0))
    }

    /// Local time at which the token in hand is due for a refresh: when either clock
    /// reaches the margin.
    pub fn due_at(&self) -> Option<f64> {
        let c = self.cached.as_ref()?;
        Some(c.exp_ms - self.margin_ms(c) - self.offset_ms.max(0.0))
    }

    /// True when there is no token or it is inside its margin.
    pub fn is_due(&self, local_ms: f64) -> bool {
        self.due_at().is_none_or(|due| local_ms >= due)
    }

    /// Takes a token: decodes it, updates the clock offset (from the answer's `Date`, or
    /// `offset` when another tab measured it, or the token's `nbf`), and refuses one with
    /// too little time left to be handed out.
    pub fn accept(&mut self, fetched: &FetchedToken, offset: Option<f64>) -> Result<()> {
        let decoded = decode_access_token(&fetched.token)?;
        let exp_ms = decoded.claims.exp as f64 * 1000.0;
        let nbf_ms = decoded.claims.nbf as f64 * 1000.0;
        let local = fetched.received_at_ms;
        let floor = self.policy.floor_ms();
        let offset_ms = match (offset, fetched.server_date_ms) {
            (Some(offset), _) => offset,
            // `Date` has whole seconds: the platform's time was within the second after
            // it, taken between sending and receiving.
            (None, Some(date)) => offset_from_date(date, fetched.sent_at_ms, local),
            (None, None) => {
                let server_now = local + self.offset_ms;
                if nbf_ms > server_now + 2_000.0 || exp_ms - server_now <= floor {
                    // The token starts in our future or ends too soon by our clock: this
                    // clock is off. A fresh token was issued at its nbf or, by the common
                    // habit of backdating nbf, up to a minute after it; the later instant
                    // errs towards refreshing early.
                    let issued = (nbf_ms + NBF_BACKDATE_MS).min(exp_ms - floor - MIN_FRESH_MS);
                    issued - local
                } else {
                    self.offset_ms
                }
            }
        };
        let platform_left = exp_ms - (local + offset_ms);
        let local_left = exp_ms - local;
        let seconds = |ms: f64| (ms / 1000.0).floor().max(0.0) as i64;
        if platform_left <= floor {
            return Err(Error::new(
                ErrorCode::TokenExpired,
                text!(
                    "The token source returned a token with ",
                    seconds(platform_left),
                    " s left (exp ",
                    decoded.claims.exp,
                    "); the browser SDK needs more than ",
                    seconds(floor),
                    " s: the source must hand out fresh tokens."
                ),
            ));
        }
        if local_left <= floor {
            return Err(Error::new(
                ErrorCode::TokenExpired,
                text!(
                    "The token has ",
                    seconds(platform_left),
                    " s left by the platform's clock but ",
                    seconds(local_left),
                    " s by this computer's clock, which is ",
                    seconds(-offset_ms),
                    " s ahead, and the browser SDK counts by this computer's clock: set \
                     the clock right, or hand out longer tokens."
                ),
            ));
        }
        self.offset_ms = offset_ms;
        self.cached = Some(Cached {
            token: fetched.token.clone(),
            claims: decoded.claims,
            exp_ms,
            lifetime_ms: exp_ms - (local + offset_ms),
            warned: false,
        });
        Ok(())
    }

    /// The token in hand while it has time left.
    pub fn current(&self, local_ms: f64) -> Option<CurrentToken> {
        let c = self.cached.as_ref()?;
        let left = c.exp_ms - (local_ms + self.offset_ms);
        (left > 0.0).then(|| CurrentToken {
            claims: c.claims.clone(),
            seconds_left: (left / 1000.0).floor(),
            local_seconds_left: ((c.exp_ms - local_ms) / 1000.0).floor(),
            expires_at: c.exp_ms,
            clock_offset_ms: self.offset_ms.round(),
        })
    }

    /// The token in hand, whatever its time left.
    fn token(&self) -> Option<&str> {
        self.cached.as_ref().map(|c| c.token.as_str())
    }

    fn exp_ms(&self) -> Option<f64> {
        self.cached.as_ref().map(|c| c.exp_ms)
    }

    /// Forgets the token.
    pub fn clear(&mut self) {
        self.cached = None;
    }
}

/// What tabs sharing a token tell each other, as JSON text.
#[derive(Clone, PartialEq)]
pub enum Message {
    /// "I am here and need the current token": the leader answers with it (or fetches).
    Hello,
    /// "Refresh now": a tab's `refresh()`, passed to the leader.
    Refresh,
    /// The leader's token, with its estimate of the platform's clock.
    Token {
        /// The token.
        token: String,
        /// The platform's clock minus the local clock, ms.
        offset_ms: f64,
    },
    /// The leader's attempt failed.
    Failed {
        /// The error's code.
        code: ErrorCode,
        /// The error's message.
        message: String,
        /// True for a refusal: no retry follows.
        definitive: bool,
        /// When the leader tries again, ms from now.
        retry_in_ms: Option<f64>,
    },
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hello => f.write_str("Hello"),
            Self::Refresh => f.write_str("Refresh"),
            Self::Token { offset_ms, .. } => write!(f, "Token {{ offset_ms: {offset_ms}, .. }}"),
            Self::Failed { code, .. } => write!(f, "Failed {{ code: {code}, .. }}"),
        }
    }
}

impl Message {
    /// The message as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = JsonOut::with_capacity(64);
        out.open_object().name("t");
        match self {
            Self::Hello => {
                out.string("hello");
            }
            Self::Refresh => {
                out.string("refresh");
            }
            Self::Token { token, offset_ms } => {
                out.string("token").name("token").string(token);
                out.name("offset").integer(offset_ms.round() as i64);
            }
            Self::Failed {
                code,
                message,
                definitive,
                retry_in_ms,
            } => {
                out.string("failed").name("code").string(code.as_str());
                out.name("message").string(message);
                out.name("definitive").bool(*definitive);
                out.name("retryInMs");
                match retry_in_ms {
                    Some(ms) => out.integer(ms.round() as i64),
                    None => out.null(),
                };
            }
        }
        out.close_object();
        out.finish()
    }

    /// Reads a message; `None` for anything else (another version, another sender).
    pub fn parse(text: &str) -> Option<Self> {
        let mut reader = Reader::new(text);
        if reader.next_value().ok()? != Event::Object {
            return None;
        }
        let mut kind = None;
        let (mut token, mut offset, mut code, mut message) = (None, None, None, None);
        let (mut definitive, mut retry_in_ms) = (None, None);
        while let Some(name) = reader.next_member().ok()? {
            let value = reader.next_value().ok()?;
            let string = || match value {
                Event::String(s) => Some(s.text().into_owned()),
                _ => None,
            };
            let number = || match value {
                Event::Number(n) => json::integer(n).map(|n| n as f64),
                _ => None,
            };
            match name.plain() {
                Some("t") => kind = string(),
                Some("token") => token = string(),
                Some("offset") => offset = number(),
                Some("code") => code = string(),
                Some("message") => message = string(),
                Some("definitive") => definitive = matches!(value, Event::Bool(true)).into(),
                Some("retryInMs") => retry_in_ms = number(),
                _ => reader.skip(value).ok()?,
            }
        }
        reader.finish().ok()?;
        Some(match kind?.as_str() {
            "hello" => Self::Hello,
            "refresh" => Self::Refresh,
            "token" => Self::Token {
                token: token?,
                offset_ms: offset?,
            },
            "failed" => Self::Failed {
                code: ErrorCode::ALL
                    .into_iter()
                    .find(|c| Some(c.as_str()) == code.as_deref())?,
                message: message.unwrap_or_default(),
                definitive: definitive.unwrap_or(false),
                retry_in_ms,
            },
            _ => return None,
        })
    }
}

/// This provider's part in a tab group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No group: this provider fetches its own tokens.
    Alone,
    /// Joined a group; its leader is not known yet.
    Joining,
    /// Fetches for the group and posts every token.
    Leader,
    /// Takes tokens from the leader.
    Follower,
}

/// How a wait for a token ended, as every caller sharing it sees it.
#[derive(Clone)]
enum Outcome {
    Token(String),
    Failed(Error),
}

/// Never shows the token.
impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(..)"),
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

/// Callers waiting for a usable token.
struct Held {
    outcome: Shared<Outcome>,
    callers: u32,
    since: f64,
    /// `callersHeld` was reported: they wait because a token ran low or an attempt
    /// failed (waiting for the very first token is not reported).
    reported: bool,
}

struct State {
    cache: TokenCache,
    role: Role,
    /// A token was asked for: keep one fresh from now on.
    started: bool,
    disposed: bool,
    /// The attempt in flight (alone or leading).
    attempt: Option<AbortHandle>,
    /// Failed attempts since the last token.
    failures: u32,
    /// No attempt before this local time (backoff, `Retry-After`).
    next_attempt_at: f64,
    /// A refusal (401/403): no attempt until a caller asks again.
    refused: bool,
    /// The one timer, and the local time it is set for.
    timer: Option<(AbortHandle, f64)>,
    held: Option<Held>,
    /// `refresh()` callers waiting for the next attempt's outcome (or, following, the
    /// next token from the leader).
    refreshing: Option<Shared<Outcome>>,
    /// A `refresh()` waits for the group to be joined.
    refresh_pending: bool,
    /// Following: when the leader was last asked.
    asked_at: Option<f64>,
}

/// Side effects decided under the state's borrow, run after it is released.
#[derive(Default)]
struct Effects {
    events: Vec<TokenEvent>,
    posts: Vec<Message>,
}

/// Sends a message to the other tabs of the group.
type Post = Box<dyn Fn(&str)>;

struct Inner<S, H> {
    source: S,
    host: H,
    state: RefCell<State>,
    on_event: Box<dyn Fn(TokenEvent)>,
    post: RefCell<Option<Post>>,
}

/// A token provider over a source and a host.
pub struct Provider<S, H> {
    inner: Rc<Inner<S, H>>,
}

/// A provider that callbacks can reach without keeping it alive.
pub struct WeakProvider<S, H>(Weak<Inner<S, H>>);

impl<S, H> Clone for WeakProvider<S, H> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S, H> WeakProvider<S, H> {
    /// The provider, while it lives.
    pub fn upgrade(&self) -> Option<Provider<S, H>> {
        self.0.upgrade().map(|inner| Provider { inner })
    }
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

/// True for a refusal no retry can change: the source says the user is signed out.
fn is_definitive(error: &Error) -> bool {
    matches!(error.code, ErrorCode::Unauthorized | ErrorCode::Forbidden)
}

impl<S: TokenSource + 'static, H: ProviderHost + 'static> Provider<S, H> {
    /// A provider on its own (see [`Provider::join`] for a tab group); nothing is fetched
    /// until a token is asked for.
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
                    role: Role::Alone,
                    started: false,
                    disposed: false,
                    attempt: None,
                    failures: 0,
                    next_attempt_at: 0.0,
                    refused: false,
                    timer: None,
                    held: None,
                    refreshing: None,
                    refresh_pending: false,
                    asked_at: None,
                }),
                on_event,
                post: RefCell::new(None),
            }),
        }
    }

    /// Joins a tab group: `post` sends a message to the other tabs; the host then reports
    /// this tab's role ([`Provider::set_role`]) and the messages it receives
    /// ([`Provider::receive`]).
    pub fn join(&self, post: Post) {
        *self.inner.post.borrow_mut() = Some(post);
        self.inner.state.borrow_mut().role = Role::Joining;
    }

    /// This provider's part in its group.
    pub fn role(&self) -> Role {
        self.inner.state.borrow().role
    }

    /// A weak handle, for host callbacks that must not keep the provider alive.
    pub fn downgrade(&self) -> WeakProvider<S, H> {
        WeakProvider(Rc::downgrade(&self.inner))
    }

    /// Runs `decide` on the state, then its effects.
    fn with_state<T>(&self, decide: impl FnOnce(&mut State, &mut Effects) -> T) -> T {
        let mut effects = Effects::default();
        let value = {
            let mut state = self.inner.state.borrow_mut();
            let value = decide(&mut state, &mut effects);
            self.check(&mut state, &mut effects);
            value
        };
        self.apply(effects);
        value
    }

    fn apply(&self, effects: Effects) {
        if !effects.posts.is_empty() {
            if let Some(post) = &*self.inner.post.borrow() {
                for message in &effects.posts {
                    post(&message.to_json());
                }
            }
        }
        for event in effects.events {
            (self.inner.on_event)(event);
        }
    }

    /// A token with more than the floor left by both clocks. When the token in hand has
    /// less, the caller waits for the refresh (see the module's documentation).
    pub fn get_access_token(&self) -> impl std::future::Future<Output = Result<String>> + 'static {
        let this = self.clone();
        async move {
            let wait = this.with_state(|state, effects| {
                if state.disposed {
                    return Err(disposed());
                }
                state.started = true;
                if state.refused {
                    // A caller asking again after a refusal: try again (following, the
                    // leader is asked to).
                    state.refused = false;
                    state.next_attempt_at = 0.0;
                    if state.role == Role::Follower {
                        effects.posts.push(Message::Refresh);
                    }
                }
                let now = this.inner.host.now_ms();
                if let Some(token) = state.cache.usable(now) {
                    return Ok(Ok(token.to_owned()));
                }
                let held = state.held.get_or_insert_with(|| Held {
                    outcome: Shared::new(),
                    callers: 0,
                    since: now,
                    reported: false,
                });
                held.callers += 1;
                let outcome = held.outcome.clone();
                if state.cache.token().is_some() || state.failures > 0 {
                    this.report_held(state, effects);
                }
                Ok(Err(outcome))
            })?;
            let held = match wait {
                Ok(token) => return Ok(token),
                Err(held) => held,
            };
            let max_wait = this.inner.state.borrow().cache.policy.max_wait_ms;
            let outcome = match max_wait {
                None => held.wait().await,
                Some(ms) => {
                    let waited = race(held.wait(), this.inner.host.sleep(ms)).await;
                    match waited {
                        Some(outcome) => outcome,
                        None => return Err(this.gave_up(ms)),
                    }
                }
            };
            match outcome {
                Outcome::Token(token) => Ok(token),
                Outcome::Failed(error) => Err(error),
            }
        }
    }

    /// A held caller's `maxWaitMs` ran out.
    fn gave_up(&self, ms: u32) -> Error {
        self.with_state(|state, effects| {
            let now = self.inner.host.now_ms();
            if let Some(held) = state.held.as_mut() {
                held.callers = held.callers.saturating_sub(1);
                if held.callers == 0 {
                    let (held_ms, reported) = (now - held.since, held.reported);
                    state.held = None;
                    if reported {
                        effects.events.push(TokenEvent::CallersReleased {
                            callers: 1,
                            held_ms,
                            error: Some(Error::new(ErrorCode::Timeout, "maxWaitMs ran out")),
                        });
                    }
                }
            }
        });
        Error::new(
            ErrorCode::Timeout,
            text!(
                "No fresh token within maxWaitMs (",
                ms,
                " ms): the token source keeps failing; tokenError events say why."
            ),
        )
    }

    /// Fetches a new token now (joining an attempt in flight, or asking the leader); fails
    /// when that attempt fails, even if the token in hand is still usable.
    pub fn refresh(&self) -> impl std::future::Future<Output = Result<String>> + 'static {
        let this = self.clone();
        async move {
            let outcome = this.with_state(|state, effects| {
                if state.disposed {
                    return Err(disposed());
                }
                state.started = true;
                state.refused = false;
                let waiting = state.refreshing.get_or_insert_with(Shared::new).clone();
                match state.role {
                    Role::Alone | Role::Leader => {
                        state.next_attempt_at = 0.0;
                        if state.attempt.is_none() {
                            this.start_attempt(state);
                        }
                    }
                    Role::Follower => effects.posts.push(Message::Refresh),
                    Role::Joining => state.refresh_pending = true,
                }
                Ok(waiting)
            })?;
            match outcome.wait().await {
                Outcome::Token(token) => Ok(token),
                Outcome::Failed(error) => Err(error),
            }
        }
    }

    /// The page became visible, came online or was shown again: check at once.
    pub fn wake(&self) {
        self.with_state(|state, _| {
            // Follow-ups are due now whatever was planned.
            state.asked_at = None;
        });
    }

    /// The host elected this tab the group's leader, or found another leader.
    pub fn set_role(&self, leader: bool) {
        self.with_state(|state, effects| {
            if state.disposed || state.role == Role::Alone {
                return;
            }
            let was = state.role;
            let refresh = std::mem::take(&mut state.refresh_pending);
            state.role = if leader { Role::Leader } else { Role::Follower };
            if !leader && was == Role::Joining {
                effects.posts.push(Message::Hello);
                state.asked_at = Some(self.inner.host.now_ms());
                if refresh {
                    effects.posts.push(Message::Refresh);
                }
            }
            // A refresh asked of this tab while it joined, or of the leader that left.
            if leader && (refresh || (state.refreshing.is_some() && was == Role::Follower)) {
                state.next_attempt_at = 0.0;
                self.start_attempt(state);
            }
        });
    }

    /// A message from another tab of the group.
    pub fn receive(&self, text: &str) {
        let Some(message) = Message::parse(text) else {
            return;
        };
        self.with_state(|state, effects| {
            if state.disposed {
                return;
            }
            let now = self.inner.host.now_ms();
            match (state.role, message) {
                (Role::Leader, Message::Hello) => {
                    // Share what is in hand; a tab without a token is a reason to fetch
                    // (the state check below starts one unless backing off).
                    if let (Some(token), true) =
                        (state.cache.token(), state.cache.usable(now).is_some())
                    {
                        effects.posts.push(Message::Token {
                            token: token.to_owned(),
                            offset_ms: state.cache.offset_ms(),
                        });
                    } else {
                        state.started = true;
                    }
                }
                (Role::Leader, Message::Refresh) => {
                    state.started = true;
                    state.refused = false;
                    state.next_attempt_at = 0.0;
                    if state.attempt.is_none() {
                        self.start_attempt(state);
                    }
                }
                (Role::Follower | Role::Joining, Message::Token { token, offset_ms }) => {
                    let fetched = FetchedToken {
                        token,
                        server_date_ms: None,
                        sent_at_ms: now,
                        received_at_ms: now,
                    };
                    // Only a later token counts: the leader also answers with the one in hand.
                    let newer = state.cache.exp_ms().is_none_or(|exp| {
                        decode_access_token(&fetched.token)
                            .is_ok_and(|d| d.claims.exp as f64 * 1000.0 > exp)
                    });
                    if newer && state.cache.accept(&fetched, Some(offset_ms)).is_ok() {
                        self.took_token(state, effects, &fetched.token, true);
                    }
                }
                (
                    Role::Follower | Role::Joining,
                    Message::Failed {
                        code,
                        message,
                        definitive,
                        retry_in_ms,
                    },
                ) => {
                    let error = Error::new(code, message);
                    effects.events.push(TokenEvent::TokenError {
                        error: error.clone(),
                        will_retry: !definitive,
                        retry_in_ms,
                        token_still_valid: state.cache.usable(now).is_some(),
                        from_tab: true,
                    });
                    if let Some(refreshing) = state.refreshing.take() {
                        refreshing.set(Outcome::Failed(error.clone()));
                    }
                    if definitive {
                        state.refused = true;
                        self.release(state, effects, Outcome::Failed(error));
                    } else {
                        self.report_held(state, effects);
                    }
                }
                _ => {}
            }
        });
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

    /// Stops the timer, aborts the attempt in flight, forgets the token and releases every
    /// waiting caller with `DISPOSED`.
    pub fn dispose(&self) {
        let mut effects = Effects::default();
        {
            let mut state = self.inner.state.borrow_mut();
            if state.disposed {
                return;
            }
            state.disposed = true;
            if let Some((timer, _)) = state.timer.take() {
                timer.abort();
            }
            if let Some(attempt) = state.attempt.take() {
                attempt.abort();
            }
            state.cache.clear();
            if let Some(refreshing) = state.refreshing.take() {
                refreshing.set(Outcome::Failed(disposed()));
            }
            self.release(&mut state, &mut effects, Outcome::Failed(disposed()));
        }
        *self.inner.post.borrow_mut() = None;
        self.apply(effects);
    }

    /// Reports that callers are held, once.
    fn report_held(&self, state: &mut State, effects: &mut Effects) {
        let now = self.inner.host.now_ms();
        let seconds_left = state.cache.current(now).map(|c| c.seconds_left);
        if let Some(held) = state.held.as_mut().filter(|h| !h.reported) {
            held.reported = true;
            effects.events.push(TokenEvent::CallersHeld {
                callers: held.callers,
                seconds_left,
            });
        }
    }

    /// Releases the held callers with `outcome`.
    fn release(&self, state: &mut State, effects: &mut Effects, outcome: Outcome) {
        let Some(held) = state.held.take() else {
            return;
        };
        if held.reported {
            effects.events.push(TokenEvent::CallersReleased {
                callers: held.callers,
                held_ms: self.inner.host.now_ms() - held.since,
                error: match &outcome {
                    Outcome::Token(_) => None,
                    Outcome::Failed(error) => Some(error.clone()),
                },
            });
        }
        held.outcome.set(outcome);
    }

    /// A token was taken into the cache: report it and release whoever waited for it.
    fn took_token(&self, state: &mut State, effects: &mut Effects, token: &str, from_tab: bool) {
        let now = self.inner.host.now_ms();
        state.failures = 0;
        state.next_attempt_at = 0.0;
        state.refused = false;
        state.asked_at = None;
        if let Some(current) = state.cache.current(now) {
            effects.events.push(TokenEvent::TokenRefreshed {
                claims: current.claims,
                expires_at: current.expires_at,
                seconds_left: current.seconds_left,
                from_tab,
            });
        }
        if let Some(refreshing) = state.refreshing.take() {
            refreshing.set(Outcome::Token(token.to_owned()));
        }
        if state.cache.usable(now).is_some() {
            self.release(state, effects, Outcome::Token(token.to_owned()));
        }
    }

    /// Decides what to do now: release callers, start an attempt, ask the leader, and
    /// set the timer for the next thing to check.
    fn check(&self, state: &mut State, effects: &mut Effects) {
        if state.disposed || !state.started {
            return;
        }
        let host = &self.inner.host;
        let now = host.now_ms();
        if let Some(token) = state.cache.usable(now) {
            let token = token.to_owned();
            self.release(state, effects, Outcome::Token(token));
        }
        let due = state.cache.is_due(now);
        if due {
            if let Some(c) = state.cache.cached.as_mut().filter(|c| !c.warned) {
                c.warned = true;
                let left = c.exp_ms - (now + state.cache.offset_ms);
                if left > 0.0 {
                    effects.events.push(TokenEvent::TokenWillExpire {
                        expires_at: c.exp_ms,
                        seconds_left: (left / 1000.0).floor(),
                    });
                }
            }
        }
        let need = due || state.held.is_some();
        let wake_at = match state.role {
            Role::Joining => None,
            Role::Alone | Role::Leader => {
                if state.attempt.is_some() || state.refused {
                    None
                } else if need && now >= state.next_attempt_at {
                    if host.online() {
                        self.start_attempt(state);
                        None
                    } else {
                        // Offline: no attempt is spent; the `online` wake checks again.
                        state.cache.due_at().filter(|_| !due)
                    }
                } else if need {
                    Some(state.next_attempt_at)
                } else {
                    state.cache.due_at()
                }
            }
            Role::Follower => {
                if need {
                    let asked = state.asked_at.filter(|at| now - at < NUDGE_MS);
                    match asked {
                        Some(at) => Some(at + NUDGE_MS),
                        None => {
                            effects.posts.push(Message::Hello);
                            state.asked_at = Some(now);
                            Some(now + NUDGE_MS)
                        }
                    }
                } else {
                    state.cache.due_at()
                }
            }
        };
        match wake_at {
            Some(at) => self.set_timer(state, at),
            None => {
                if let Some((timer, _)) = state.timer.take() {
                    timer.abort();
                }
            }
        }
    }

    /// Starts one attempt (the caller checked that none is in flight).
    fn start_attempt(&self, state: &mut State) {
        let this = self.clone();
        let handle = AbortHandle::default();
        let attempt = abortable(
            async move {
                let result = this.inner.source.fetch().await;
                this.attempted(result);
            },
            &handle,
        );
        state.attempt = Some(handle);
        self.inner.host.spawn(Box::pin(async move {
            attempt.await;
        }));
    }

    /// An attempt ended.
    fn attempted(&self, result: Result<FetchedToken>) {
        self.with_state(|state, effects| {
            state.attempt = None;
            if state.disposed {
                return;
            }
            let host = &self.inner.host;
            let now = host.now_ms();
            let accepted = result.and_then(|fetched| {
                state.cache.accept(&fetched, None)?;
                Ok(fetched.token)
            });
            let leading = state.role == Role::Leader;
            match accepted {
                Ok(token) => {
                    if leading {
                        effects.posts.push(Message::Token {
                            token: token.clone(),
                            offset_ms: state.cache.offset_ms(),
                        });
                    }
                    self.took_token(state, effects, &token, false);
                }
                Err(error) => {
                    let definitive = is_definitive(&error);
                    // Offline: the failure costs no backoff step; `online` retries.
                    let offline = !host.online();
                    let retry_in_ms = if definitive {
                        state.refused = true;
                        None
                    } else if offline {
                        None
                    } else {
                        state.failures += 1;
                        let wait = match error.retry_after {
                            Some(seconds) => f64::from(seconds) * 1000.0,
                            None => state.cache.policy.backoff(state.failures, host.random()),
                        };
                        state.next_attempt_at = now + wait;
                        Some(wait)
                    };
                    effects.events.push(TokenEvent::TokenError {
                        error: error.clone(),
                        will_retry: !definitive,
                        retry_in_ms,
                        token_still_valid: state.cache.usable(now).is_some(),
                        from_tab: false,
                    });
                    if leading {
                        effects.posts.push(Message::Failed {
                            code: error.code,
                            message: error.message.clone(),
                            definitive,
                            retry_in_ms,
                        });
                    }
                    if let Some(refreshing) = state.refreshing.take() {
                        refreshing.set(Outcome::Failed(error.clone()));
                    }
                    if definitive {
                        self.release(state, effects, Outcome::Failed(error));
                    } else {
                        self.report_held(state, effects);
                    }
                }
            }
        });
    }

    /// Sets the one timer for local time `at` (keeping it when it is already set so).
    fn set_timer(&self, state: &mut State, at: f64) {
        if let Some((_, set_for)) = &state.timer {
            if *set_for == at {
                return;
            }
        }
        if let Some((timer, _)) = state.timer.take() {
            timer.abort();
        }
        let this = self.clone();
        let delay = (at - self.inner.host.now_ms())
            .clamp(0.0, MAX_TIMER_MS)
            .ceil() as u32;
        let handle = AbortHandle::default();
        let timer = abortable(
            async move {
                this.inner.host.sleep(delay).await;
                // However late it fires (sleep, a throttled tab), the check looks at the
                // clock as it is now.
                this.with_state(|state, _| state.timer = None);
            },
            &handle,
        );
        state.timer = Some((handle, at));
        self.inner.host.spawn(Box::pin(async move {
            timer.await;
        }));
    }
}

/// `first`, or `None` when `second` ends first.
async fn race<T>(
    first: impl std::future::Future<Output = T>,
    second: impl std::future::Future<Output = ()>,
) -> Option<T> {
    let mut first = std::pin::pin!(first);
    let mut second = std::pin::pin!(second);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(value) = first.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(value));
        }
        if second.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests;
