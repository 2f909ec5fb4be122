// Login: a TokenProvider started from the Token panel's choices, its events, and the real
// Plivo browser SDK kept logged in (keepLoggedIn) with it (Plivo) or with rotated
// credentials (Vobiz) to the sandbox's signalling server, in one tab of the browser, its
// state shown as it goes.
import { TokenProvider, keepLoggedIn } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, clock, el, showError } from "./ui.js";
import { state, subscribe } from "./state.js";
import { tokenChoices, tokenUrl } from "./token.js";

let provider = null;
let ticker = null;

const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;

/** One line of the event log for each provider event. */
function describe(event) {
  const from = event.fromTab ? " (from another tab)" : "";
  switch (event.type) {
    case "tokenRefreshed":
      return `${clock(event.secondsLeft)} left, sub ${event.claims.sub || "none"}${from}`;
    case "tokenWillExpire":
      return `${clock(event.secondsLeft)} left: refreshing`;
    case "callersHeld":
      return `${event.callers} getAccessToken() call${event.callers === 1 ? "" : "s"} waiting for a fresh token` +
        (event.secondsLeft == null ? "" : ` (the one in hand has ${clock(event.secondsLeft)} left)`);
    case "callersReleased":
      return event.error
        ? `${event.callers} released after ${seconds(event.heldMs)} with ${event.error.code}`
        : `${event.callers} released with a fresh token after ${seconds(event.heldMs)}`;
    default: {
      const retry = event.willRetry ? (event.retryInMs == null ? " (retry when back online)" : ` (retry in ${seconds(event.retryInMs)})`) : " (no retry)";
      return `${event.error.code}: ${event.error.message}${retry}${from}`;
    }
  }
}

/** Adds a line to an event log (the last 50 are kept). */
function note(type, text, list = $("#provider-log")) {
  const time = new Date().toLocaleTimeString();
  list.prepend(el("li", { dataset: { type } }, el("time", {}, time), el("span", { class: "type" }, type), el("span", {}, text)));
  while (list.children.length > 50) list.lastChild.remove();
}

function log(event) {
  note(event.type, describe(event));
  if (event.type === "callersHeld" || event.type === "callersReleased") {
    held = event.type === "callersHeld" ? event.callers : 0;
    showState();
  }
}

let held = 0;
let sharing = "";

/** The line under the buttons: the token in hand, callers held, tabs sharing. */
function showState() {
  if (!provider) return;
  const current = provider.current();
  const parts = [current ? `Token in hand: ${clock(current.localSecondsLeft)} left` : "Fetching…"];
  if (held > 0) parts.push(`${held} caller${held === 1 ? "" : "s"} held until a fresh token arrives`);
  if (sharing) parts.push(sharing);
  $("#provider-left").textContent = parts.join(" · ");
  $("#provider-left").dataset.held = String(held);
}

async function refreshSharing() {
  if (!provider) return;
  const { role, tabs } = await provider.sharing();
  sharing = role === "alone" ? "this tab only" : `shared by ${tabs} tab${tabs === 1 ? "" : "s"}${role === "leader" ? " (this one fetches)" : ""}`;
  showState();
}

function marginOption() {
  const value = $("#margin").value.trim();
  return value === "" ? {} : { refreshMarginSeconds: Number(value) };
}

/** The provider for the current mode: the JWT API through the client, or the token URL. */
function makeProvider() {
  const common = { ...marginOption(), onEvent: log };
  if (state.mode === "direct") return state.client.tokenProvider({ ...common, request: tokenChoices() });
  return new TokenProvider({ ...common, tokenUrl: tokenUrl() });
}

function stop() {
  provider?.dispose();
  provider = null;
  held = 0;
  sharing = "";
  clearInterval(ticker);
  $("#provider-left").textContent = "No provider running.";
  $("#provider-start").disabled = !state.client || state.dialect !== "plivo";
  $("#provider-stop").disabled = true;
  $("#provider-refresh").disabled = true;
}

async function start() {
  stop();
  const error = $("#provider-error");
  const created = await attempt(error, async () => makeProvider());
  if (!created) return false;
  provider = created;
  $("#provider-start").disabled = true;
  $("#provider-stop").disabled = false;
  $("#provider-refresh").disabled = false;
  let ticks = 0;
  ticker = setInterval(() => {
    showState();
    // Tabs come and go: count them every few seconds.
    if (ticks++ % 6 === 0) refreshSharing();
  }, 500);
  showState();
  // What the SDK does at login: ask for a token.
  await attempt(error, () => provider.getAccessToken());
  await refreshSharing();
  renderSnippet();
  return true;
}

// ---- the web SDK ----------------------------------------------------------------------

/** The SDK asks for this registration lifetime, and refreshes 5 s before it runs out. */
const REGISTRATION_SECONDS = 120;
/** The SDK's client (`new Plivo()` makes one per page), made on the first login. */
let sdk = null;
/** When the registrar last accepted a REGISTER, and for how long (seconds). */
let registration = null;
let sdkTicker = null;

/** keepLoggedIn, while the page keeps a login. */
let keeper = null;

function sdkStatus(kind, text) {
  const status = $("#sdk-status");
  status.dataset.state = kind;
  status.textContent = text;
}

/** keepLoggedIn's events: the state line, the log, and Use this tab when another tab has it. */
function kept(event) {
  note(event.type, event.message, $("#sdk-log"));
  $("#sdk-take").hidden = event.type !== "inAnotherTab";
  switch (event.type) {
    case "loggedIn":
      clearError($("#sdk-error"));
      // A password login's user name is the SDK's only once its own onLogin has run.
      return sdkStatus("on", `Logged in as ${sdk.userName ?? state.rotated?.username}`);
    case "loggingIn":
      return sdkStatus("working", "Logging in…");
    case "inAnotherTab":
      return sdkStatus("idle", "Registered in another tab of this browser");
    case "lost":
    case "waiting":
      return sdkStatus("working", event.message);
    case "refused":
      return sdkStatus("working", `Refused: ${event.cause}, logging in once more`);
    case "stopped":
      $("#sdk-login").disabled = false;
      sdkStatus("error", `Login failed: ${event.cause}`);
      return showError($("#sdk-error"), new Error(event.message));
    default:
      return undefined;
  }
}

/** Loads the SDK the sandbox serves from the npm package the project pins (no CDN). */
function loadSdk() {
  if (window.Plivo) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = el("script", { src: "/vendor/plivobrowsersdk.js" });
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error("The Plivo browser SDK could not be loaded from /vendor/plivobrowsersdk.js: run `npm ci` in the repository (cargo xtask demo does).")));
    document.head.append(script);
  });
}

/** The SDK's client, pointed at this sandbox's signalling server. */
function sdkClient() {
  if (sdk) return sdk;
  const socket = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/signalling`;
  sdk = new window.Plivo({ debug: "ERROR", registrationDomainSocket: [socket], registrationRefreshTimer: REGISTRATION_SECONDS }).client;
  // Its tones are files on Plivo's CDN, which this page's policy keeps out: silence
  // instead of an error at every ring. The call's state is written below instead.
  sdk.setRingTone(false);
  sdk.setRingToneBack(false);
  sdk.setConnectTone(false);
  // The state line follows keepLoggedIn's events; these follow the SDK's registration.
  sdk.on("onLogin", () => {
    $("#call-address").textContent = sdk.userName;
    $("#call-dial").disabled = false;
  });
  sdk.on("onLogout", () => {
    registration = null;
    $("#call-address").textContent = "– (log in first)";
    $("#call-dial").disabled = true;
  });
  setupCallEvents(sdk);
  // Every REGISTER the registrar accepts (the login, then each refresh).
  sdk.on("onConnectionChange", ({ state: now, reason }) => {
    if (now === "connected" && reason === "registered") registration = { at: Date.now(), seconds: REGISTRATION_SECONDS };
  });
  return sdk;
}

/** The state lines: the registration's next refresh, the token the registrar last took. */
function showSdkState() {
  $("#sdk-registration").textContent = registration
    ? `refreshed ${new Date(registration.at).toLocaleTimeString()}, next refresh in ${clock((registration.at + (registration.seconds - 5) * 1000 - Date.now()) / 1000)}`
    : "–";
  const exp = sdk?.isLoggedIn ? sdk.getTokenExpiryTimeInEpoch() : null;
  $("#sdk-token").textContent = exp ? `expires ${new Date(exp).toLocaleTimeString()}, ${clock((exp - Date.now()) / 1000)} left` : "–";
}

async function sdkLogin() {
  const error = $("#sdk-error");
  clearError(error);
  await attempt(error, async () => {
    if (state.dialect === "vobiz" && !state.rotated) {
      throw new Error("Rotate an endpoint's password first: Vobiz endpoints log in with the username and password it returns.");
    }
    await loadSdk();
    const client = sdkClient();
    keeper?.dispose();
    $("#sdk-log").replaceChildren();
    sdkStatus("working", "Logging in…");
    clearInterval(sdkTicker);
    sdkTicker = setInterval(showSdkState, 1000);
    let source;
    if (state.dialect === "plivo") {
      if (!provider && !(await start())) throw new Error("The provider could not start: see above.");
      source = provider;
    } else {
      // The credentials Rotate password returned last (asked again after a refusal).
      source = async () => state.rotated;
    }
    keeper = keepLoggedIn(client, source, { onEvent: kept });
    $("#sdk-login").disabled = true;
    $("#sdk-logout").disabled = false;
  });
}

/** Stops keeping the login; the SDK logs out if this tab held the registration. */
function sdkLogout() {
  clearError($("#sdk-error"));
  if (!keeper) return;
  keeper.dispose();
  keeper = null;
  sdkStatus("idle", "Logged out");
  $("#sdk-take").hidden = true;
  $("#sdk-login").disabled = false;
  $("#sdk-logout").disabled = true;
}

// ---- a call --------------------------------------------------------------------------

function callState(kind, text) {
  const line = $("#call-state");
  line.dataset.state = kind;
  line.textContent = text;
}

/** The buttons for where the call is: `idle`, `ringing-out`, `ringing-in`, `in-call`. */
function callButtons(where) {
  $("#call-dial").disabled = where !== "idle" || !sdk?.isLoggedIn;
  $("#call-answer").hidden = where !== "ringing-in";
  $("#call-decline").hidden = where !== "ringing-in";
  $("#call-hangup").disabled = where === "idle" || where === "ringing-in";
}

/** The SDK's call events, said on the call's line. */
function setupCallEvents(client) {
  const who = (name) => String(name ?? "").replace(/@.*$/, "").replace(/^sip:/, "");
  client.on("onCallRemoteRinging", () => callState("working", "Ringing…"));
  client.on("onIncomingCall", (caller) => {
    callState("working", `Incoming call from ${who(caller)}`);
    callButtons("ringing-in");
  });
  client.on("onCallAnswered", () => {
    callState("on", "In a call");
    callButtons("in-call");
  });
  client.on("onMediaConnected", () => callState("on", "In a call, audio connected"));
  client.on("onCallTerminated", (event) => {
    callState("idle", `Call ended${event?.originator === "remote" ? " by the other side" : ""}`);
    callButtons("idle");
  });
  client.on("onIncomingCallCanceled", () => {
    callState("idle", "The caller hung up before it was answered");
    callButtons("idle");
  });
  client.on("onCallFailed", (cause) => {
    callState("error", `Call failed: ${cause}`);
    callButtons("idle");
  });
}

function dial(event) {
  event.preventDefault();
  const to = $("#call-to").value.trim();
  if (!to || !sdk?.isLoggedIn) return;
  callState("working", `Calling ${to}…`);
  callButtons("ringing-out");
  // The SDK writes the login's token into the second argument: it must be an object.
  if (sdk.call(to, {}) === false) {
    callState("error", "The SDK refused the call (a token without outgoing calls?)");
    callButtons("idle");
  }
}

function renderSnippet() {
  const lines = [];
  const sdkLine = `const plivo = new Plivo({ registrationDomainSocket: ["${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/signalling"] });`;
  if (state.dialect === "vobiz") {
    const username = state.rotated?.username ?? "ENDPOINT_USERNAME";
    lines.push(
      'import init, { keepLoggedIn } from "endpoint-login/tokens";',
      "",
      "await init();",
      "// Vobiz has no token API: its web SDK logs in with SIP credentials.",
      "// rotatePassword() returns them once; your backend hands them to its signed-in user:",
      `const credentials = () => fetch("/your/backend/sip-credentials").then((r) => r.json()); // { username: "${username}", password }`,
      "// The sandbox's signalling server (leave it out for the platform's own):",
      sdkLine,
      "// Logged in, and kept so, in one tab of this browser:",
      'const kept = keepLoggedIn(plivo.client, credentials, { onEvent: (e) => console.log(e.type, e.message) });',
    );
  } else {
    const margin = marginOption();
    const marginLine = margin.refreshMarginSeconds != null ? `\n  refreshMarginSeconds: ${margin.refreshMarginSeconds},` : "";
    lines.push('import init, { TokenProvider, keepLoggedIn } from "endpoint-login/tokens";', "", "await init();");
    if (state.mode === "direct") {
      lines.push(
        "// Development: the JWT API through a direct-mode EndpointClient.",
        `const provider = client.tokenProvider({\n  request: ${JSON.stringify(tokenChoices(), null, 2).replaceAll("\n", "\n  ")},${marginLine}\n});`,
      );
    } else {
      lines.push(
        "// Production: your backend mints tokens for its signed-in user.",
        `const provider = new TokenProvider({\n  tokenUrl: "${tokenUrl()}",${marginLine}\n});`,
      );
    }
    lines.push(
      'provider.addEventListener("tokenError", (e) => console.warn(e.error.code, e.error.message));',
      "",
      "// The sandbox's signalling server (leave it out for the platform's own):",
      sdkLine,
      "// Logged in with the provider, and kept so, in one tab of this browser",
      "// (the others wait; kept.takeOver() moves the registration to this one):",
      'const kept = keepLoggedIn(plivo.client, provider, { onEvent: (e) => console.log(e.type, e.message) });',
    );
  }
  $("#snippet").textContent = lines.join("\n");
}

export function setupLogin() {
  $("#provider-start").addEventListener("click", start);
  $("#provider-stop").addEventListener("click", stop);
  $("#provider-refresh").addEventListener("click", () => {
    attempt($("#provider-error"), () => provider.refresh());
  });
  $("#sdk-login").addEventListener("click", sdkLogin);
  $("#sdk-logout").addEventListener("click", sdkLogout);
  $("#sdk-take").addEventListener("click", () => attempt($("#sdk-error"), () => keeper?.takeOver()));
  $("#call-form").addEventListener("submit", dial);
  $("#call-answer").addEventListener("click", () => sdk?.answer());
  $("#call-decline").addEventListener("click", () => sdk?.reject());
  $("#call-hangup").addEventListener("click", () => sdk?.hangup());
  $("#margin").addEventListener("input", renderSnippet);
  $("#token-form").addEventListener("input", renderSnippet);
  subscribe((_, changes) => {
    if ("client" in changes) {
      stop();
      sdkLogout();
      clearError($("#provider-error"));
      clearError($("#sdk-error"));
      $("#provider-log").replaceChildren();
      const plivo = state.dialect === "plivo";
      $("#provider-controls").hidden = !plivo;
      $("#sdk-how-plivo").hidden = !plivo;
      $("#sdk-how-vobiz").hidden = plivo;
    }
    renderSnippet();
  });
  renderSnippet();
}
