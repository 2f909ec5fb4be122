//! `keepLoggedIn`: the Plivo browser SDK kept logged in for the life of the page. The SDK
//! reconnects a dropped socket on its own, but gives up for good after one refused login
//! or re-registration, and its timers stop while a laptop sleeps or a tab is hidden. This
//! logs it in (a `TokenProvider` for token logins, a credentials callback for password
//! logins), listens to its events and to the page's, and logs it in again when that is
//! what brings the registration back: with backoff and jitter, never in a loop, never
//! during a call, and never against a refusal a new attempt cannot fix (it fetches fresh
//! credentials once, then stops and says why).
//!
//! SDK facts this relies on (`plivo-browser-sdk` 2.2.21, `reference/signalling.md`): one
//! client per page; `loginWithAccessTokenGenerator` keeps a chain of timers that asks the
//! generator again 60 s before each token's `exp` and only swaps the token into the next
//! REGISTER, while `loginWithAccessToken` starts a fresh registration (the chain goes on);
//! in generator mode every refusal is reported as `RELOGIN_FAILED_INVALID_TOKEN`, the
//! registrar's code (10001-10010) being on the REGISTER's answer, which the SDK's SIP agent
//! (`client.phone`) passes to its `registrationFailed` listeners; it refuses to log in
//! while offline or during a call, and says so in `onLoginFailed`.
//!
//! The checks of what is passed are here; the wiring, a few dozen lines about the SDK's and
//! the page's events, is in JavaScript beside it.

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::host::{field, function};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::Options;

#[wasm_bindgen(typescript_custom_section)]
const KEEP_LOGGED_IN_TS: &str = r#"
/** What `keepLoggedIn` uses of the Plivo browser SDK's client (`new Plivo(options).client`). */
export interface PlivoClientLike {
  on(event: string, listener: (value: never) => void): unknown;
  off?(event: string, listener: (value: never) => void): unknown;
  login(username: string, password: string): unknown;
  loginWithAccessToken(token: string): unknown;
  loginWithAccessTokenGenerator(generator: { getAccessToken(): Promise<string> }): unknown;
  logout(): unknown;
  isRegistered?(): boolean;
  getCallUUID?(): string | null;
  userName?: string | null;
}

/** The username and password of a password login. */
export interface KeepLoggedInCredentials {
  username: string;
  password: string;
}

/**
 * Where logins come from: a `TokenProvider` (or any `{ getAccessToken }` generator, with an
 * optional `refresh`) for token logins, or a callback answering an endpoint's credentials
 * for password logins (called again for fresh ones after a refusal).
 */
export type KeepLoggedInSource =
  | { getAccessToken(): Promise<string>; refresh?(): Promise<unknown> }
  | (() => KeepLoggedInCredentials | Promise<KeepLoggedInCredentials>);

/** Options of `keepLoggedIn`. */
export interface KeepLoggedInOptions {
  /** Called with every event, as `addEventListener` listeners are. */
  onEvent?: (event: KeptLoginEvent) => void;
  /** The wait between failed logins: doubling from `baseDelayMs` (default 1,000) up to `maxDelayMs` (default 60,000), with jitter. */
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
  /**
   * How long the SDK gets to bring a dropped connection back on its own (it reconnects
   * and registers again) before it is logged in again, ms (default 30,000).
   */
  recoverWithinMs?: number;
  /**
   * `"one"` (the default): of the tabs of this origin that keep the same endpoint logged
   * in, exactly one holds the registration and the others stay logged out
   * (`"inAnotherTab"`), so that an incoming call rings in one tab, the one the user is in
   * when `takeOver()` or `followVisibleTab` moves it there. `"each"`: every tab registers
   * on its own, and the platform rings whichever registered last.
   */
  tabs?: "one" | "each";
  /** Moves the registration to a tab that has been visible for 3 s (never during a call). */
  followVisibleTab?: boolean;
}

/**
 * Each event says what comes next, and that is what comes:
 * - `loggingIn`: a login was started (`attempt` counts them);
 * - `loggedIn`: the registrar accepted it;
 * - `lost`: the login failed or the registration was lost, and a new attempt follows
 *   (`retryInMs`), or the SDK gets time to reconnect on its own (a re-registration the
 *   registrar refused is `refused`, never first `lost`);
 * - `refused`: the registrar refused it (`cause`: the token error's name, `code`: 10001 to
 *   10010 where it gave one), and one more attempt is made with fresh credentials;
 * - `waiting`: offline, or a call is in progress: logging in (or taking the registration
 *   over) when that ends;
 * - `stopped`: refused even with fresh credentials; a new attempt cannot fix it;
 * - `inAnotherTab`: another tab of this browser holds the registration; this one stays
 *   logged out until it is its turn or `takeOver()`;
 * - `alone`: this browser has no Web Locks or BroadcastChannel: this tab registers on its
 *   own, as `tabs: "each"` does.
 */
export type KeptLoginEventType = "loggingIn" | "loggedIn" | "lost" | "refused" | "waiting" | "stopped" | "inAnotherTab" | "alone";

/** What happened, in words a support person can read (`message`). */
export interface KeptLoginEvent {
  type: KeptLoginEventType;
  message: string;
  /** When, ms since the epoch. */
  at: number;
  /** Logins started so far. */
  attempt: number;
  /** The SDK's reason, or the token error's name. */
  cause?: string;
  /** The registrar's token error code (10001-10010), where it gave one. */
  code?: number;
  /** When the next attempt comes, for `lost`. */
  retryInMs?: number;
}

/** Where a kept login stands. */
export interface KeptLoginStatus {
  state: "loggingIn" | "loggedIn" | "waiting" | "stopped" | "disposed" | "inAnotherTab";
  /** Logins started so far. */
  attempts: number;
  /** The last failure's cause, or null. */
  cause: string | null;
}

/** A kept login: stop it with `dispose()` (or `using`), which also logs the SDK out. */
export interface KeptLogin {
  dispose(): void;
  [Symbol.dispose](): void;
  /**
   * Moves the registration to this tab, make before break: this tab registers, then the
   * tab that held it logs out. Waits while a call is on in either tab (a `waiting` event
   * says so). Resolves once this tab holds it and is registered (at once if it does), so
   * that a call placed after `await login.takeOver()` goes out from here; rejects with
   * `DISPOSED` after `dispose()`.
   */
  takeOver(): Promise<void>;
  status(): KeptLoginStatus;
  addEventListener(type: KeptLoginEventType, listener: (event: KeptLoginEvent) => void): void;
  removeEventListener(type: KeptLoginEventType, listener: (event: KeptLoginEvent) => void): void;
}
"#;

// The wiring, in `src/js/page.js` beside the tab group the token provider shares tokens by.
#[wasm_bindgen(module = "/src/js/page.js")]
extern "C" {
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = keepLoggedInWith)]
    fn keep_logged_in_with(
        sdk: &JsValue,
        source: &JsValue,
        tokens: bool,
        on_event: Option<Function>,
        base_delay_ms: u32,
        max_delay_ms: u32,
        recover_within_ms: u32,
        one_tab: bool,
        follow_visible_tab: bool,
    ) -> JsValue;
}

/// The SDK client's methods `keepLoggedIn` calls.
const SDK_METHODS: [&str; 5] = [
    "on",
    "login",
    "loginWithAccessToken",
    "loginWithAccessTokenGenerator",
    "logout",
];

/// The fields of `keepLoggedIn`'s options.
const FIELDS: &[&str] = &[
    "onEvent",
    "retry",
    "recoverWithinMs",
    "tabs",
    "followVisibleTab",
];

fn argument(message: &str) -> Error {
    Error::argument("keepLoggedIn", message)
}

/// Whether `value` has a method `name` of its own or of its prototype (the SDK's client
/// and a `TokenProvider` define their methods on prototypes and as own arrow functions).
fn has_method(value: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(value, &JsValue::from_str(name)).is_ok_and(|m| m.is_function())
}

/// Keeps the Plivo browser SDK's client logged in: logs it in with `source` (a
/// `TokenProvider` for token logins, or a callback answering `{ username, password }` for
/// password logins), and logs it in again when that brings the registration back (after a
/// failure, a lost connection that does not come back, sleep, `online`, a visible page),
/// with backoff and jitter, never during a call, and not after a refusal that fresh
/// credentials do not fix. Returns a `KeptLogin`; `dispose()` logs out and stops. Throws
/// `INVALID_ARGUMENT` when the client or the source is not one.
#[wasm_bindgen(js_name = keepLoggedIn, unchecked_return_type = "KeptLogin")]
pub fn keep_logged_in(
    #[wasm_bindgen(unchecked_param_type = "PlivoClientLike")] sdk: JsValue,
    #[wasm_bindgen(unchecked_param_type = "KeepLoggedInSource")] source: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "KeepLoggedInOptions")] options: Option<JsValue>,
) -> std::result::Result<JsValue, JsValue> {
    Ok(start(&sdk, &source, options.unwrap_or_default())?)
}

fn start(sdk: &JsValue, source: &JsValue, options: JsValue) -> Result<JsValue> {
    if !sdk.is_object() || !SDK_METHODS.iter().all(|m| has_method(sdk, m)) {
        return Err(argument(
            "pass the Plivo browser SDK's client, `new Plivo(options).client`",
        ));
    }
    let tokens = if source.is_function() {
        false
    } else if source.is_object() && has_method(source, "getAccessToken") {
        true
    } else {
        return Err(argument(
            "pass a TokenProvider (token logins) or a function answering { username, password } (password logins)",
        ));
    };
    let what = "keepLoggedIn options";
    let o = Options::optional(
        field(options.clone()),
        what,
        ErrorCode::InvalidArgument,
        FIELDS,
    )?;
    let on_event = function(&options, "onEvent", what, ErrorCode::InvalidArgument)?;
    let (mut base, mut max, mut recover) = (1_000, 60_000, 30_000);
    let (mut one_tab, mut follow) = (true, false);
    if let Some(o) = &o {
        recover = o
            .whole("recoverWithinMs", 1_000, 600_000)?
            .unwrap_or(recover);
        one_tab = match o.text("tabs")?.as_deref() {
            None | Some("one") => true,
            Some("each") => false,
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    "Invalid keepLoggedIn options: `tabs` must be \"one\" or \"each\".",
                )
                .with_field("tabs"))
            }
        };
        follow = o.flag("followVisibleTab")?.unwrap_or(follow);
        if let Some(retry) = o.nested("retry", &["baseDelayMs", "maxDelayMs"])? {
            base = retry.whole("baseDelayMs", 10, 600_000)?.unwrap_or(base);
            max = retry.whole("maxDelayMs", 10, 3_600_000)?.unwrap_or(max);
        }
    }
    if max < base {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "Invalid keepLoggedIn options: `retry.maxDelayMs` must be at least `retry.baseDelayMs`.",
        )
        .with_field("retry.maxDelayMs"));
    }
    Ok(keep_logged_in_with(
        sdk,
        source,
        tokens,
        on_event,
        base as u32,
        max as u32,
        recover as u32,
        one_tab,
        follow,
    ))
}
