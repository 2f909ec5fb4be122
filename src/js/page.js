// The page around the library, for the token provider (src/js/provider.rs) and keepLoggedIn
// (src/js/login.rs): the network's state, the events that mean "look again", the tabs of
// this origin (a Web Lock elects one, a BroadcastChannel carries messages), and the SDK
// kept logged in, in one tab of the browser.

export function absoluteUrl(url) {
  try {
    return new URL(url, globalThis.location?.href).href;
  } catch {
    return url;
  }
}

export function isOnline() {
  return globalThis.navigator?.onLine !== false;
}

// Calls `onWake(why)` when the page is shown, becomes visible or comes back online; answers
// the function that stops it.
export function watchPage(onWake) {
  const doc = globalThis.document;
  const win = typeof globalThis.addEventListener === "function" ? globalThis : null;
  const events = [
    [win, "online", () => onWake("now that the network is back")],
    [win, "pageshow", () => onWake("now that the page is shown again")],
    [doc, "visibilitychange", () => doc.visibilityState === "visible" && onWake("now that the page is visible")],
  ];
  for (const [target, type, listener] of events) target?.addEventListener(type, listener);
  return () => {
    for (const [target, type, listener] of events) target?.removeEventListener(type, listener);
  };
}

// A tab group: the tab that holds the lock `name` leads (`onRole(true)`) until it leaves,
// gives the lead up, or another takes it; the others wait in line (`onRole(false)`). Every
// member hears the others' messages. `undefined` without Web Locks or BroadcastChannel.
export function joinTabs(name, onMessage, onRole) {
  const locks = globalThis.navigator?.locks;
  if (typeof BroadcastChannel !== "function" || !locks) return undefined;
  let open = true;
  let leading = false;
  let release = () => {};
  let stop = new AbortController();
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    if (open && typeof event.data === "string") onMessage(event.data);
  };
  const lead = (lock) => {
    if (!lock || !open) return undefined;
    leading = true;
    onRole(true);
    return new Promise((resolve) => (release = resolve));
  };
  // Another tab took the lock away: this one is in line again.
  const lost = () => {
    if (!leading || !open) return;
    leading = false;
    onRole(false);
    queue();
  };
  // In line for the lock (or taking it from the tab that has it).
  const queue = (steal) => {
    stop = new AbortController();
    locks.request(name, steal ? { steal } : { signal: stop.signal }, lead).catch(lost);
  };
  locks
    .request(name, { ifAvailable: true }, (lock) => {
      if (lock) return lead(lock);
      if (open) {
        onRole(false);
        queue();
      }
      return undefined;
    })
    .catch(lost);
  return {
    post(text) {
      if (open) channel.postMessage(text);
    },
    count() {
      return locks.query().then(
        (s) => [...s.held, ...s.pending].filter((lock) => lock.name === name).length,
        () => 1,
      );
    },
    // Gives the lead up without leaving: the next tab in line leads, and this one is in
    // line again (a page about to be frozen).
    stepAside() {
      if (!open || !leading) return;
      leading = false;
      release();
      queue();
    },
    // Takes the lead from the tab that has it (it hears so as it loses the lock).
    take() {
      if (!open || leading) return;
      stop.abort();
      queue(true);
    },
    close() {
      open = false;
      stop.abort();
      release();
      channel.close();
    },
  };
}

// ---- keepLoggedIn ---------------------------------------------------------------------

const TOKEN_ERRORS = [
  "INVALID_ACCESS_TOKEN", "INVALID_ACCESS_TOKEN_HEADER", "INVALID_ACCESS_TOKEN_ISSUER",
  "INVALID_ACCESS_TOKEN_SUBJECT", "ACCESS_TOKEN_NOT_VALID_YET", "ACCESS_TOKEN_EXPIRED",
  "INVALID_ACCESS_TOKEN_SIGNATURE", "INVALID_ACCESS_TOKEN_GRANTS",
  "EXPIRATION_EXCEEDS_MAX_ALLOWED_TIME", "MAX_ALLOWED_LOGIN_REACHED",
];
const WRONG = "the username or password is not right (changed, or the endpoint deleted)";
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
  Rejected: WRONG,
  "Authentication Error": WRONG,
};
// What the SDK says when it refuses to try (it does not count as an attempt).
const OFFLINE = "Cannot login when there is no internet";
const IN_CALL = "Cannot login when there is an ongoing call";
const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;
// A login with no answer by then failed (the SDK's own SIP transactions give up at 32 s).
const ANSWER_WITHIN_MS = 40_000;
// How long a refusal may take to follow a dropped connection (the SDK reports the socket
// first): a drop is announced only once it is not a refusal.
const REFUSAL_WITHIN_MS = 500;
// Tabs: how long takeOver() waits for the holder to say whether a call is on there (no
// answer: it is gone, with its call); how long a tab stays visible before it takes the
// registration over when `followVisibleTab` asks for it.
const ANSWER_MS = 1_500;
const VISIBLE_FOR_MS = 3_000;

// The endpoint a token logs in as: its `sub`.
const subOf = (token) => {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub || "";
  } catch {
    return "";
  }
};

export function keepLoggedInWith(sdk, source, tokens, onEvent, baseDelayMs, maxDelayMs, recoverWithinMs, oneTab, followVisibleTab) {
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
  let droppedTimer = null;
  // Tabs: the group, whether this tab holds the registration (or held it when it was
  // frozen), what waits for this tab to hold it (takeOver) and for the holder's answer.
  let group = null;
  let holding = !oneTab;
  let frozen = false;
  let taking = null;
  let onAnswer = null;
  let visibleTimer = null;
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
  const logOut = () => {
    try {
      sdk.logout();
    } catch {}
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
      taken();
    },
    // After the SIP agent's other listeners of the same refusal (the one that reads the
    // registrar's code among them): the SDK reports it from within the first.
    onLoginFailed: (reason) => queueMicrotask(() => failedLogin(reason)),
    onLogout: () => {
      if (!disposed && holding && state === "loggedIn") failed("The SDK logged out on its own");
    },
    onConnectionChange: (change) => {
      watchPhone();
      if (disposed || state !== "loggedIn") return;
      if (change?.state === "disconnected") {
        dropped = true;
        // Said once it is not a refusal: a refused re-REGISTER drops the socket first.
        clearTimeout(droppedTimer);
        droppedTimer = setTimeout(() => {
          if (disposed || state !== "loggedIn" || !dropped) return;
          emit("lost", `The connection dropped (${change.reason}): the SDK reconnects on its own; it is logged in again if it is not back within ${seconds(recoverWithinMs)}.`, { cause: change.reason, retryInMs: recoverWithinMs });
          later(recoverWithinMs, () => registered() || logIn("because the connection did not come back"));
        }, REFUSAL_WITHIN_MS);
      } else if (change?.state === "connected" && dropped) {
        dropped = false;
        later(null);
        emit("loggedIn", "Registered again: the SDK brought the connection back on its own.");
      }
    },
  };
  const failedLogin = (reason) => {
    if (disposed || (!holding && !taking)) return;
    clearTimeout(droppedTimer);
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
    if (!disposed && holding && state !== "loggedIn" && state !== "stopped" && change?.state === "connected" && change.reason === "registered") on.onLogin();
  };
  const sdkEvents = [...Object.entries(on), ["onConnectionChange", back]];
  for (const [name, listener] of sdkEvents) sdk.on(name, listener);

  // ---- one tab of the browser holds the registration --------------------------------
  // A tab that takes the registration over asks the holder first whether a call is on
  // there (nothing moves then); the holder answers.
  const toHolder = (text) => {
    if (text === "ask") {
      if (holding) group.post(`call:${inCall() ? 1 : 0}`);
    } else if (onAnswer && text.startsWith("call:")) {
      onAnswer(text === "call:1");
    }
  };
  const waiting = () => {
    state = "inAnotherTab";
    emit("inAnotherTab", "Registered in another tab of this browser: this tab stays logged out (takeOver() moves the registration here).");
  };
  const role = (lead) => {
    if (disposed) return;
    if (lead) {
      holding = true;
      if (state !== "loggedIn") return logIn(state === "inAnotherTab" ? "in this tab: the tab that held the registration is gone (closed, crashed or frozen)" : "");
      return taken();
    }
    // Another tab took it: it is registered now (make before break); this one logs out,
    // once its call has ended if it has one (it did not answer in time, being busy).
    const was = holding;
    holding = false;
    later(null);
    clearTimeout(droppedTimer);
    if (was && state !== "inAnotherTab") afterCall(() => holding || frozen || logOut());
    waiting();
  };
  const afterCall = (then) => (inCall() ? setTimeout(() => disposed || afterCall(then), 1_000) : then());
  // This tab holds the registration and is registered: whoever waited for it hears so.
  const taken = () => {
    if (!taking || !holding || state !== "loggedIn") return;
    taking.resolve();
    taking = null;
  };
  // Moves the registration to this tab: once no call is on in either tab, this tab logs in
  // (make), then takes the lock, and the holder logs out (break).
  const disposedError = () => Object.assign(new Error("This keepLoggedIn was disposed; call keepLoggedIn again."), { name: "EndpointLoginError", code: "DISPOSED" });
  const takeOver = () => {
    if (disposed) return Promise.reject(disposedError());
    if (holding && state === "loggedIn") return Promise.resolve();
    if (!taking) {
      let resolve, reject;
      const done = new Promise((yes, no) => ((resolve = yes), (reject = no)));
      taking = { resolve, reject, done };
      move();
    }
    return taking.done;
  };
  const move = () => {
    if (disposed || !taking || holding || !group) return;
    if (inCall()) return busy();
    onAnswer = (call) => {
      onAnswer = null;
      if (call) busy();
      else make();
    };
    group.post("ask");
    // No answer: the holder is gone (closed a moment ago) or hung, with its call.
    later(ANSWER_MS, () => onAnswer?.(false));
  };
  const busy = () => {
    if (state !== "waiting") wait("A call is in progress: the registration moves to this tab when it ends.");
    later(1_000, move);
  };
  // Make before break: this tab registers, then takes the lead (the holder logs out).
  const make = () => {
    later(null);
    if (disposed || !taking || holding) return;
    state = "loggingIn";
    sdk.off?.("onLogin", moved);
    sdk.on("onLogin", moved);
    logIn("to take the registration over from another tab");
  };
  const moved = () => {
    sdk.off?.("onLogin", moved);
    group?.take();
  };
  const join = async () => {
    let key = "";
    try {
      if (tokens) key = subOf(await source.getAccessToken());
      else key = (credentials = await source()).username;
    } catch {}
    if (disposed) return;
    group = key ? joinTabs(`endpoint-login/keep/${key}`, toHolder, role) : undefined;
    if (!group) {
      holding = true;
      emit("alone", `${key ? "This browser has no Web Locks or BroadcastChannel" : "The endpoint could not be told"}: this tab registers on its own, as any other tab does.`);
      return logIn();
    }
    move();
  };
  // A holder about to be frozen (a background tab the browser stops) lets the next tab
  // register, staying registered itself until then (it cannot hear calls, but the newer
  // registration wins them); thawed, it logs out unless the lead came back to it.
  const freeze = () => {
    if (!holding || !group) return;
    holding = false;
    frozen = true;
    group.stepAside();
  };
  const resume = () => {
    if (!frozen || disposed) return;
    frozen = false;
    if (holding) return;
    later(null);
    logOut();
    waiting();
  };
  // A tab visible for a few seconds takes the registration (followVisibleTab).
  const visible = () => {
    clearTimeout(visibleTimer);
    if (followVisibleTab && globalThis.document?.visibilityState === "visible") {
      visibleTimer = setTimeout(() => globalThis.document.visibilityState === "visible" && !holding && group && takeOver().catch(() => {}), VISIBLE_FOR_MS);
    }
  };

  // The page woke up: try now what was waiting; check what the SDK says it has.
  const wake = (why) => {
    if (disposed || !holding || state === "stopped" || state === "loggingIn") return;
    if (state === "waiting") return logIn(why);
    later(Math.min(recoverWithinMs, 10_000), () => registered() || logIn(why));
  };
  const unwatch = watchPage(wake);
  const pageEvents = [["visibilitychange", visible], ["freeze", freeze], ["resume", resume]];
  for (const [type, listener] of pageEvents) globalThis.document?.addEventListener(type, listener);
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
    clearTimeout(droppedTimer);
    clearTimeout(visibleTimer);
    clearInterval(ticker);
    unwatch();
    for (const [type, listener] of pageEvents) globalThis.document?.removeEventListener(type, listener);
    for (const [name, listener] of [...sdkEvents, ["onLogin", moved]]) sdk.off?.(name, listener);
    if (holding || frozen) logOut();
    group?.close();
    taking?.reject(disposedError());
    taking = null;
    listeners.clear();
  };
  if (oneTab) join();
  else logIn();
  return {
    dispose,
    [Symbol.dispose]: dispose,
    takeOver,
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
