// Token: a JWT access token from the JWT API (direct mode) or from the application's
// token URL (backend mode), with the lifetime checked live by the library.
import { decodeAccessToken, validateTokenLifetime } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, clock, duration, el, showError } from "./ui.js";
import { state, subscribe } from "./state.js";

const form = $("#token-form");
const range = $("#ttl-range");
const seconds = $("#ttl-seconds");
const ttlError = $("#ttl-error");
let countdown = null;

/** The choices a token (and the provider in the Login panel) is made with. */
export function tokenChoices() {
  const sub = form.elements.sub.value;
  return {
    ...(sub ? { sub } : {}),
    ttlSeconds: Number(seconds.value),
    incoming: form.elements.incoming.checked,
    outgoing: form.elements.outgoing.checked,
  };
}

/**
 * The application's token URL (backend mode). Only the lifetime is the page's to choose:
 * the backend mints for the user signed in to it, with that user's grants.
 */
export function tokenUrl(choices = tokenChoices()) {
  return `/backend/token?${new URLSearchParams({ ttl: String(choices.ttlSeconds) })}`;
}

/** Checks the lifetime with the library; returns true when it is in the allowed window. */
export function checkLifetime() {
  const value = seconds.value === "" ? Number.NaN : Number(seconds.value);
  const now = Math.floor(Date.now() / 1000);
  try {
    validateTokenLifetime({ exp: now + value, now });
    ttlError.replaceChildren();
    seconds.setAttribute("aria-invalid", "false");
    $("#ttl-human").textContent = duration(value);
    $("#token-button").disabled = !state.client;
    return true;
  } catch (error) {
    showError(ttlError, error);
    seconds.setAttribute("aria-invalid", "true");
    $("#ttl-human").textContent = "";
    $("#token-button").disabled = true;
    return false;
  }
}

async function fetchFromTokenUrl() {
  const response = await fetch(tokenUrl(), { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const reason = typeof body.error === "string" ? body.error : body.error?.message;
    throw new Error(`The token URL answered HTTP ${response.status}: ${reason ?? "no reason given"}`);
  }
  return body.token;
}

function show(token) {
  const { header, claims } = decodeAccessToken(token);
  $("#token-text").value = token;
  $("#token-header").textContent = JSON.stringify(header, null, 2);
  $("#token-claims").textContent = JSON.stringify(claims, null, 2);
  $("#token-result").hidden = false;
  clearInterval(countdown);
  const tick = () => {
    const left = claims.exp - Date.now() / 1000;
    $("#token-countdown").textContent =
      left > 0 ? `Expires in ${clock(left)} (exp ${claims.exp}, ${new Date(claims.exp * 1000).toLocaleTimeString()})` : "Expired";
  };
  tick();
  countdown = setInterval(tick, 1000);
}

function onConnected() {
  const plivo = state.dialect === "plivo";
  form.hidden = !plivo;
  // In backend mode the backend decides who the token is for and what it allows.
  const backend = state.mode === "backend";
  for (const name of ["sub", "incoming", "outgoing"]) form.elements[name].disabled = backend;
  $("#token-backend").hidden = !backend;
  $("#token-vobiz").hidden = plivo;
  $("#token-result").hidden = true;
  clearInterval(countdown);
  clearError($("#token-error"));
  checkLifetime();
}

function onEndpoints() {
  const select = form.elements.sub;
  const keep = select.value;
  select.replaceChildren(
    el("option", { value: "" }, "None (outgoing calls only)"),
    ...state.endpoints.map((e) => el("option", { value: e.username, selected: e.username === keep }, e.username)),
  );
  if (!keep && state.endpoints.length) select.value = state.endpoints[0].username;
}

export function setupToken() {
  range.addEventListener("input", () => {
    seconds.value = range.value;
    checkLifetime();
  });
  seconds.addEventListener("input", () => {
    if (seconds.value !== "") range.value = seconds.value;
    checkLifetime();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkLifetime()) return;
    const button = $("#token-button");
    button.disabled = true;
    const token = await attempt($("#token-error"), async () => {
      const got = state.mode === "direct" ? (await state.client.createToken(tokenChoices())).token : await fetchFromTokenUrl();
      show(got);
      return got;
    });
    button.disabled = false;
    if (!token) $("#token-result").hidden = true;
  });
  subscribe((_, changes) => {
    if ("client" in changes) onConnected();
    if ("endpoints" in changes) onEndpoints();
  });
  checkLifetime();
}
