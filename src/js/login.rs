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
}

/**
 * - `loggingIn`: a login was started (`attempt` counts them);
 * - `loggedIn`: the registrar accepted it;
 * - `lost`: the login failed or the registration was lost, and a new attempt follows
 *   (`retryInMs`), or the SDK gets time to reconnect on its own;
 * - `refused`: the registrar refused it (`cause`: the token error's name, `code`: 10001 to
 *   10010 where it gave one), and one more attempt is made with fresh credentials;
 * - `waiting`: offline, or a call is in progress: logging in again when that ends;
 * - `stopped`: refused even with fresh credentials; a new attempt cannot fix it.
 */
export type KeptLoginEventType = "loggingIn" | "loggedIn" | "lost" | "refused" | "waiting" | "stopped";

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
  state: "loggingIn" | "loggedIn" | "waiting" | "stopped" | "disposed";
  /** Logins started so far. */
  attempts: number;
  /** The last failure's cause, or null. */
  cause: string | null;
}

/** A kept login: stop it with `dispose()` (or `using`), which also logs the SDK out. */
export interface KeptLogin {
  dispose(): void;
  [Symbol.dispose](): void;
  status(): KeptLoginStatus;
  addEventListener(type: KeptLoginEventType, listener: (event: KeptLoginEvent) => void): void;
  removeEventListener(type: KeptLoginEventType, listener: (event: KeptLoginEvent) => void): void;
}
"#;

#[wasm_bindgen(inline_js = r#"
const TOKEN_ERRORS = [
  "INVALID_ACCESS_TOKEN", "INVALID_ACCESS_TOKEN_HEADER", "INVALID_ACCESS_TOKEN_ISSUER",
  "INVALID_ACCESS_TOKEN_SUBJECT", "ACCESS_TOKEN_NOT_VALID_YET", "ACCESS_TOKEN_EXPIRED",
  "INVALID_ACCESS_TOKEN_SIGNATURE", "INVALID_ACCESS_TOKEN_GRANTS",
  "EXPIRATION_EXCEEDS_MAX_ALLOWED_TIME", "MAX_ALLOWED_LOGIN_REACHED",
];
const MEANING = {
  INVALID_ACCESS_TOKEN: "the token is not one the platform issued",
  INVALID_ACCESS_TOKEN_HEADER: "the token's header is not the platform's",
  INVALID_ACCESS_TOKEN_ISSUER: "the token is for another account",
  INVALID_ACCESS_TOKEN_SUBJECT: "the token's endpoint does not exist (deleted?)",
  ACCESS_TOKEN_NOT_VALID_YET: "the token is not valid yet by the platform's clock",
  ACCESS_TOKEN_EXPIRED: "the token had expired by the platform's clock",
  INVALID_ACCESS_TOKEN_SIGNATURE: "the token was not signed for this account",
  INVALID_ACCESS_TOKEN_GRANTS: "the token's grants do not allow this",
  EXPIRATION_EXCEEDS_MAX_ALLOWED_TIME: "the token lives longer than 24 hours",
  MAX_ALLOWED_LOGIN_REACHED: "the endpoint has as many logins as it may",
  RELOGIN_FAILED_INVALID_TOKEN: "the registrar refused the token",
  Rejected: "the username or password is not right (changed, or the endpoint deleted)",
  "Authentication Error": "the username or password is not right (changed, or the endpoint deleted)",
};
// What the SDK says when it refuses to try (it does not count as an attempt).
const OFFLINE = "Cannot login when there is no internet";
const IN_CALL = "Cannot login when there is an ongoing call";
const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;
// A login with no answer by then failed (the SDK's own SIP transactions give up at 32 s).
const ANSWER_WITHIN_MS = 40_000;

export function keepLoggedInWith(sdk, source, tokens, onEvent, baseDelayMs, maxDelayMs, recoverWithinMs) {
  let state = "loggingIn";
  let attempts = 0;
  let failures = 0;
  let cause = null;
  let code = null;
  let fresh = false;
  let started = false;
  let disposed = false;
  let credentials = null;
  let timer = null;
  let lastTick = Date.now();
  // The connection dropped while logged in, and the SDK is bringing it back.
  let dropped = false;
  const listeners = new Map();
  const phones = new WeakSet();
  const emit = (type, message, extra = {}) => {
    const event = { type, message, at: Date.now(), attempt: attempts, ...extra };
    for (const listener of [onEvent, ...(listeners.get(type) ?? [])]) {
      try {
        listener?.(event);
      } catch {}
    }
  };
  const later = (ms, then) => {
    clearTimeout(timer);
    timer = ms === null ? null : setTimeout(then, ms);
  };
  const registered = () => {
    try {
      return sdk.isRegistered ? sdk.isRegistered() === true : sdk.isLoggedIn === true;
    } catch {
      return false;
    }
  };
  const inCall = () => {
    try {
      return Boolean(sdk.getCallUUID?.());
    } catch {
      return false;
    }
  };
  const offline = () => globalThis.navigator?.onLine === false;
  const backoff = () => Math.round(Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 20)) * (0.5 + Math.random() / 2));
  // The generator the SDK asks for tokens; after dispose it refuses, which ends the SDK's timer chain.
  const generator = {
    getAccessToken: () => (disposed ? Promise.reject(new Error("keepLoggedIn was disposed")) : source.getAccessToken()),
  };
  // The registrar's token error code, which the SDK's own event hides in generator mode.
  const watchPhone = () => {
    const phone = sdk.phone;
    if (!phone || phones.has(phone) || typeof phone.on !== "function") return;
    phones.add(phone);
    phone.on("registrationFailed", (e) => {
      const header = e?.response?.getHeader?.("X-Plivo-Jwt-Error-Code");
      code = header ? Number(header) : null;
    });
  };
  const wait = (why) => {
    state = "waiting";
    emit("waiting", why);
  };
  const logIn = async (why, withFresh = false) => {
    later(null);
    if (disposed || state === "stopped") return;
    if (offline()) return wait("Offline: logging in again when the network is back.");
    if (inCall()) {
      wait("A call is in progress: logging in again when it ends.");
      return later(5_000, () => logIn(why, withFresh));
    }
    attempts += 1;
    state = "loggingIn";
    code = null;
    emit("loggingIn", `Logging in${why ? ` ${why}` : ""} (attempt ${attempts}).`);
    try {
      if (tokens && !started) {
        started = true;
        sdk.loginWithAccessTokenGenerator(generator);
      } else if (tokens) {
        if (withFresh) await source.refresh?.();
        sdk.loginWithAccessToken(await generator.getAccessToken());
      } else {
        if (!credentials || withFresh) credentials = await source();
        sdk.login(credentials.username, credentials.password);
      }
    } catch (error) {
      return failed(`The credentials could not be had (${error?.code ?? error?.message ?? error})`);
    }
    // The SIP agent a fresh login makes is there now; a generator login makes it once the
    // token has come, and the SDK's first events attach to it then.
    watchPhone();
    later(ANSWER_WITHIN_MS, () => (registered() ? on.onLogin() : failed("The login got no answer")));
  };
  const failed = (reason) => {
    if (disposed) return;
    failures += 1;
    state = "waiting";
    const inMs = backoff();
    emit("lost", `${reason}: logging in again in ${seconds(inMs)}.`, { cause, retryInMs: inMs });
    later(inMs, () => logIn("after a failure"));
  };
  const on = {
    onLogin: () => {
      watchPhone();
      dropped = false;
      if (state === "loggedIn") return;
      failures = 0;
      fresh = false;
      cause = null;
      later(null);
      state = "loggedIn";
      emit("loggedIn", `Logged in as ${sdk.userName ?? credentials?.username ?? "the endpoint"} (attempt ${attempts}).`);
    },
    // After the SIP agent's other listeners of the same refusal (the one that reads the
    // registrar's code among them): the SDK reports it from within the first.
    onLoginFailed: (reason) => queueMicrotask(() => failedLogin(reason)),
    onLogout: () => {
      if (!disposed && state === "loggedIn") failed("The SDK logged out on its own");
    },
    onConnectionChange: (change) => {
      watchPhone();
      if (disposed || state !== "loggedIn") return;
      if (change?.state === "disconnected") {
        dropped = true;
        emit("lost", `The connection dropped (${change.reason}): the SDK reconnects on its own; it is logged in again if it is not back within ${seconds(recoverWithinMs)}.`, { cause: change.reason, retryInMs: recoverWithinMs });
        later(recoverWithinMs, () => registered() || logIn("because the connection did not come back"));
      } else if (change?.state === "connected" && dropped) {
        dropped = false;
        later(null);
        emit("loggedIn", "Registered again: the SDK brought the connection back on its own.");
      }
    },
  };
  const failedLogin = (reason) => {
    if (disposed) return;
    const name = reason === "RELOGIN_FAILED_INVALID_TOKEN" && TOKEN_ERRORS[code - 10001] ? TOKEN_ERRORS[code - 10001] : String(reason);
    cause = name;
    if (reason === OFFLINE) return wait("Offline: logging in again when the network is back.");
    if (reason === IN_CALL) {
      wait("A call is in progress: logging in again when it ends.");
      return later(5_000, () => logIn("after the call"));
    }
    // Not logged in any more, whatever comes next.
    state = "waiting";
    if (TOKEN_ERRORS.includes(name) || MEANING[name]) {
      const extra = { cause: name, ...(code && { code }) };
      const said = `${name}${code ? ` (${code})` : ""}: ${MEANING[name]}`;
      if (!fresh) {
        fresh = true;
        emit("refused", `The registrar refused the login: ${said}. Logging in once more with fresh ${tokens ? "token" : "credentials"}.`, extra);
        return later(0, () => logIn("with fresh credentials", true));
      }
      state = "stopped";
      later(null);
      return emit("stopped", `Stopped: the registrar refuses even fresh ${tokens ? "tokens" : "credentials"}: ${said}. A new login cannot fix this.`, extra);
    }
    failed(`The login failed (${name})`);
  };
  // The SDK registered again on its own (a dropped socket reconnected): logged in.
  const back = (change) => {
    if (!disposed && state !== "loggedIn" && state !== "stopped" && change?.state === "connected" && change.reason === "registered") on.onLogin();
  };
  const sdkEvents = [...Object.entries(on), ["onConnectionChange", back]];
  for (const [name, listener] of sdkEvents) sdk.on(name, listener);
  // The page woke up: try now what was waiting; check what the SDK says it has.
  const wake = (why) => {
    if (disposed || state === "stopped" || state === "loggingIn") return;
    if (state === "waiting") return logIn(why);
    later(Math.min(recoverWithinMs, 10_000), () => registered() || logIn(why));
  };
  const doc = globalThis.document;
  const win = typeof globalThis.addEventListener === "function" ? globalThis : null;
  const pageEvents = [
    [win, "online", () => wake("now that the network is back")],
    [win, "pageshow", () => wake("now that the page is shown again")],
    [doc, "visibilitychange", () => doc.visibilityState === "visible" && wake("now that the page is visible")],
  ];
  for (const [target, type, listener] of pageEvents) target?.addEventListener(type, listener);
  // Timers stop while a computer sleeps: a tick that comes far too late means it slept.
  const ticker = setInterval(() => {
    const now = Date.now();
    if (now - lastTick > 60_000) wake("after the computer slept");
    lastTick = now;
  }, 10_000);
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    state = "disposed";
    later(null);
    clearInterval(ticker);
    for (const [target, type, listener] of pageEvents) target?.removeEventListener(type, listener);
    for (const [name, listener] of sdkEvents) sdk.off?.(name, listener);
    try {
      sdk.logout();
    } catch {}
    listeners.clear();
  };
  logIn();
  return {
    dispose,
    [Symbol.dispose]: dispose,
    status: () => ({ state, attempts, cause }),
    addEventListener(type, listener) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type).add(listener);
    },
    removeEventListener(type, listener) {
      listeners.get(type)?.delete(listener);
    },
  };
}
"#)]
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
const FIELDS: &[&str] = &["onEvent", "retry", "recoverWithinMs"];

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
    if let Some(o) = &o {
        recover = o
            .whole("recoverWithinMs", 1_000, 600_000)?
            .unwrap_or(recover);
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
    ))
}
