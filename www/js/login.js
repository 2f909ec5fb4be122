// Login: a TokenProvider started from the Token panel's choices, its events, and the
// code that hands it to the web SDK.
import { TokenProvider } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, clock, el } from "./ui.js";
import { state, subscribe } from "./state.js";
import { tokenChoices, tokenUrl } from "./token.js";

let provider = null;
let ticker = null;

function log(event) {
  const time = new Date().toLocaleTimeString();
  let detail = "";
  if (event.type === "tokenRefreshed") detail = `${clock(event.secondsLeft)} left, sub ${event.claims.sub || "none"}`;
  else if (event.type === "tokenWillExpire") detail = `${clock(event.secondsLeft)} left: refreshing`;
  else {
    detail = `${event.error.code}: ${event.error.message}`;
    detail += event.willRetry ? ` (retry in ${Math.round(event.retryInMs / 100) / 10} s)` : " (no retry)";
  }
  const list = $("#provider-log");
  list.prepend(el("li", { dataset: { type: event.type } }, el("time", {}, time), el("span", { class: "type" }, event.type), el("span", {}, detail)));
  while (list.children.length > 50) list.lastChild.remove();
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
  ticker = setInterval(() => {
    const current = provider?.current();
    $("#provider-left").textContent = current ? `Token in hand: ${clock(current.secondsLeft)} left` : "Fetching…";
  }, 500);
  // What the SDK does at login: ask for a token.
  await attempt(error, () => provider.getAccessToken());
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
    // The Plivo browser SDK, when the page loads it: new Plivo(options).client.
    attempt($("#provider-error"), () => new window.Plivo({}).client.loginWithAccessTokenGenerator(provider));
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


