// Login: a TokenProvider started from the Token panel's choices, its events, and the
// code that hands it to the web SDK.
import { TokenProvider } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, clock, el } from "./ui.js";
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

/** Adds a line to the event log (the last 50 are kept). */
function note(type, text) {
  const time = new Date().toLocaleTimeString();
  const list = $("#provider-log");
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
  $("#sdk-login").hidden = true;
}

async function start() {
  stop();
  const error = $("#provider-error");
  const created = await attempt(error, async () => makeProvider());
  if (!created) return;
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
  // A web SDK loaded on the page can be logged in for real.
  $("#sdk-login").hidden = !window.Plivo;
  renderSnippet();
}

function renderSnippet() {
  const lines = [];
  if (state.dialect === "vobiz") {
    const username = state.rotatedUsername ?? "ENDPOINT_USERNAME";
    lines.push(
      "// Vobiz has no token API: its web SDK logs in with SIP credentials.",
      "// rotatePassword() returns them once:",
      `const { username, password } = await client.rotatePassword(endpointId);`,
      `await vobizClient.login(username, password); // username: "${username}"`,
    );
  } else {
    const margin = marginOption();
    const marginLine = margin.refreshMarginSeconds != null ? `\n  refreshMarginSeconds: ${margin.refreshMarginSeconds},` : "";
    lines.push('import init, { TokenProvider } from "endpoint-login";', "", "await init();");
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
      "// The provider is the generator the Plivo browser SDK takes:",
      "await plivoClient.loginWithAccessTokenGenerator(provider);",
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
  $("#sdk-login").addEventListener("click", () => {
    // The Plivo browser SDK, when the page loads it: new Plivo(options).client. It asks the
    // provider for a token now and again 60 s before each one expires.
    attempt($("#provider-error"), () => {
      const sdk = new window.Plivo({ debug: "OFF" }).client;
      sdk.on("onLoginFailed", (cause) => note("sdk", `the SDK's login failed: ${cause}`));
      sdk.loginWithAccessTokenGenerator(provider);
      note("sdk", "the SDK logs in with the provider");
    });
  });
  $("#margin").addEventListener("input", renderSnippet);
  $("#token-form").addEventListener("input", renderSnippet);
  subscribe((_, changes) => {
    if ("client" in changes) {
      stop();
      clearError($("#provider-error"));
      $("#provider-log").replaceChildren();
      $("#provider-controls").hidden = state.dialect !== "plivo";
    }
    renderSnippet();
  });
  renderSnippet();
}


