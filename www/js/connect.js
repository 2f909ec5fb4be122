// Connect: builds the EndpointClient from the chosen platform and mode.
import { EndpointClient } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, setStatus } from "./ui.js";
import { state, update } from "./state.js";

const form = $("#connect-form");
const error = $("#connect-error");

function chosen(name) {
  return form.querySelector(`input[name="${name}"]:checked`).value;
}

function showModeFields() {
  const mode = chosen("mode");
  for (const fields of form.querySelectorAll(".mode-fields")) {
    fields.hidden = fields.dataset.mode !== mode;
  }
  if (mode === "backend") {
    // Backend mode keeps no account secret in the page, not even in a hidden field.
    form.elements.authToken.value = "";
  }
}

/** The sandbox publishes its (local, throw-away) account so direct mode is prefilled. */
async function prefillSandboxAccount() {
  if (form.elements.authId.value && form.elements.authToken.value) return;
  const response = await fetch("/__sandbox/account");
  if (!response.ok) throw new Error(`The sandbox did not give its account (HTTP ${response.status}).`);
  const account = await response.json();
  form.elements.authId.value = account.authId;
  form.elements.authToken.value = account.authToken;
}

/** Backend mode: sign in to the application; its backend adds the credentials. */
async function signIn(user) {
  const response = await fetch("/backend/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`Sign-in failed (HTTP ${response.status}): ${body.error ?? "no reason given"}`);
  return body.authId;
}

async function connect() {
  const dialect = chosen("dialect");
  const mode = chosen("mode");
  setStatus("working", "Connecting…");
  let client;
  if (mode === "direct") {
    await prefillSandboxAccount();
    client = new EndpointClient({
      dialect,
      authId: form.elements.authId.value.trim(),
      authToken: form.elements.authToken.value.trim(),
      baseUrl: location.origin,
    });
  } else {
    const authId = await signIn(form.elements.user.value.trim());
    client = new EndpointClient({ dialect, authId, baseUrl: `${location.origin}/backend` });
  }
  state.client?.free();
  update({ client, dialect, mode, rotated: null });
  const platform = dialect === "plivo" ? "Plivo" : "Vobiz";
  setStatus("connected", `Connected · ${platform} · ${mode} mode`);
}

export function setupConnect() {
  const params = new URLSearchParams(location.search);
  for (const name of ["dialect", "mode"]) {
    const input = form.querySelector(`input[name="${name}"][value="${params.get(name)}"]`);
    if (input) input.checked = true;
  }
  if (params.get("user")) form.elements.user.value = params.get("user");
  showModeFields();
  form.addEventListener("change", (event) => {
    if (event.target.name === "mode") showModeFields();
    clearError(error);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await attempt(error, async () => {
      await connect();
      return true;
    });
    if (!done) setStatus("error", "Not connected");
  });
  // Without typing anything: connect at once with the chosen (default) settings.
  form.requestSubmit();
}
