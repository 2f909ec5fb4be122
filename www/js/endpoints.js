// Endpoints: summary, filters, the paginated table, and create / edit / rotate / delete.
import { validateEndpointFields } from "/pkg/endpoint_login.js";
import { $, attempt, clearError, el } from "./ui.js";
import { state, subscribe, update } from "./state.js";

const PAGE_SIZES = { plivo: [5, 10, 20], vobiz: [10, 20, 50, 100] };
const COLUMNS = 7;
/** How often the live registration status walks the endpoints (the sandbox is local). */
const WATCH_INTERVAL_MS = 3000;

const table = $("#endpoint-table tbody");
const pageSizeSelect = $("#page-size");
const filters = $("#filters");

let offset = 0;
let total = 0;
let query = {};
let highlight = null;
/** The last registration change seen per endpoint id: `{ type, at }`. */
const lastChange = new Map();
let watching = null;
// Answers to superseded requests are dropped, so fast clicks never show stale pages.
let pageRequest = 0;
let countRequest = 0;

function pageSize() {
  return Number(pageSizeSelect.value);
}

// ---- the table ----------------------------------------------------------------------

function skeleton(rows) {
  table.replaceChildren(
    ...Array.from({ length: rows }, () =>
      el("tr", { class: "skeleton" }, ...Array.from({ length: COLUMNS }, () => el("td", {}, el("span")))),
    ),
  );
}

function badge(registered) {
  return el("span", { class: `badge ${registered ? "on" : "off"}` }, el("span", { class: "dot", "aria-hidden": "true" }), registered ? "Registered" : "Offline");
}

function changeText(id) {
  const change = lastChange.get(id);
  return change ? `${change.type} ${new Date(change.at).toLocaleTimeString()}` : "–";
}

function row(endpoint) {
  const application = endpoint.application;
  const app = application ? application.appName ?? application.appId ?? application.uri : "—";
  const actions = el(
    "td",
    { class: "actions-cell" },
    el("button", { type: "button", class: "small", "data-action": "edit" }, "Edit"),
    el("button", { type: "button", class: "small", "data-action": "rotate" }, "Rotate password"),
    el("button", { type: "button", class: "small", "data-action": "delete" }, "Delete"),
  );
  return el(
    "tr",
    { dataset: { id: endpoint.endpointId }, class: endpoint.endpointId === highlight ? "new" : null },
    el("td", {}, endpoint.username),
    el("td", {}, endpoint.alias),
    el("td", { class: "uri", title: endpoint.sipUri ?? "" }, endpoint.sipUri ?? "—"),
    el("td", { class: "registered", title: endpoint.sipRegistered ? `${endpoint.sipUserAgent ?? ""} at ${endpoint.sipContact ?? ""}, until ${endpoint.sipExpires ? new Date(endpoint.sipExpires).toLocaleTimeString() : "?"}` : "" }, badge(endpoint.sipRegistered)),
    el("td", { class: "changed" }, changeText(endpoint.endpointId)),
    el("td", { class: "app" }, app),
    actions,
  );
}

// ---- live registration status -------------------------------------------------------

/** Applies one registration change to the table and the counts, without a reload. */
function applyChange(event) {
  const { endpoint } = event;
  lastChange.set(endpoint.endpointId, { type: event.type, at: event.at });
  const index = state.endpoints.findIndex((e) => e.endpointId === endpoint.endpointId);
  if (index >= 0) {
    const was = state.endpoints[index].sipRegistered;
    const endpoints = state.endpoints.slice();
    endpoints[index] = { ...endpoint };
    table.querySelector(`tr[data-id="${CSS.escape(endpoint.endpointId)}"]`)?.replaceWith(row(endpoint));
    update({ endpoints });
    if (was === endpoint.sipRegistered) return;
  }
  const delta = event.type === "registered" ? 1 : event.type === "unregistered" ? -1 : 0;
  for (const [id, by] of [["#stat-registered", delta], ["#stat-unregistered", -delta]]) {
    const cell = $(id);
    if (delta && cell.textContent !== "–") cell.textContent = String(Number(cell.textContent) + by);
  }
}

/** Watches the registrations of the endpoints the filters match, until the next call. */
function watchRegistrations() {
  watching?.abort();
  const client = state.client;
  if (!client) return;
  const stop = (watching = new AbortController());
  const status = $("#watch-status");
  (async () => {
    try {
      for await (const event of client.watchRegistrations(query, { intervalMs: WATCH_INTERVAL_MS, signal: stop.signal })) {
        if (event.type === "snapshot") {
          status.textContent = `Registrations are watched live (watchRegistrations, a walk every ${WATCH_INTERVAL_MS / 1000} s): ${event.registered} of ${event.total} registered.`;
        } else if (event.type === "error") {
          status.textContent = `Live status paused: ${event.error.code} (${event.error.message}); trying again in ${Math.ceil(event.retryInMs / 1000)} s.`;
        } else {
          applyChange(event);
        }
      }
    } catch (error) {
      if (!stop.signal.aborted) status.textContent = `Live status stopped: ${error.code ?? error.message}.`;
    }
  })();
}

function renderPage(page) {
  total = page.meta.totalCount;
  if (page.objects.length === 0) {
    table.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: COLUMNS }, "No endpoints match.")));
  } else {
    table.replaceChildren(...page.objects.map(row));
  }
  const first = page.objects.length ? offset + 1 : 0;
  $("#page-info").textContent = `${first}–${offset + page.objects.length} of ${total}`;
  $("#prev-page").disabled = offset === 0;
  $("#next-page").disabled = offset + pageSize() >= total;
  update({ endpoints: page.objects });
}

export async function loadPage(errorTarget = $("#list-error")) {
  const client = state.client;
  if (!client) return;
  const request = ++pageRequest;
  skeleton(pageSize());
  $(".table-wrap").setAttribute("aria-busy", "true");
  $("#prev-page").disabled = true;
  $("#next-page").disabled = true;
  clearError($("#list-error"));
  const page = await attempt(errorTarget, () => client.listEndpoints({ ...query, limit: pageSize(), offset }));
  if (request !== pageRequest) return;
  $(".table-wrap").removeAttribute("aria-busy");
  if (page) renderPage(page);
  else table.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: COLUMNS }, "Could not load this page.")));
}

// ---- the summary --------------------------------------------------------------------

export async function recount() {
  const client = state.client;
  if (!client) return;
  const request = ++countRequest;
  const progress = $("#summary-progress");
  const label = $("#summary-label");
  progress.value = 0;
  label.textContent = "Counting…";
  const summary = await attempt($("#summary-error"), () =>
    client.summary(query, {
      onProgress: ({ loaded, total }) => {
        if (request !== countRequest) return;
        progress.max = Math.max(total, 1);
        progress.value = loaded;
        label.textContent = `Counted ${loaded} of ${total}`;
      },
    }),
  );
  if (request !== countRequest) return;
  if (!summary) {
    label.textContent = "Count failed";
    return;
  }
  $("#stat-total").textContent = summary.total;
  $("#stat-registered").textContent = summary.registered;
  $("#stat-unregistered").textContent = summary.unregistered;
  progress.max = Math.max(summary.total, 1);
  progress.value = summary.total;
  label.textContent = `All ${summary.total} counted`;
}

function refreshAll() {
  loadPage();
  recount();
}

// ---- filters ------------------------------------------------------------------------

function readFilters() {
  const next = {};
  for (const input of filters.querySelectorAll("input")) {
    if (input.type === "checkbox") {
      if (input.checked) next[input.name] = true;
    } else if (input.value.trim()) {
      next[input.name] = input.value.trim();
    }
  }
  return next;
}

function setupFilters() {
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    query = readFilters();
    offset = 0;
    loadPage($("#filters-error"));
    recount();
    watchRegistrations();
  });
  filters.addEventListener("reset", () => {
    query = {};
    offset = 0;
    clearError($("#filters-error"));
    setTimeout(() => {
      refreshAll();
      watchRegistrations();
    });
  });
}

// ---- create -------------------------------------------------------------------------

/** Shows the library's verdict on each field; returns true when the form can be sent. */
function checkFields(form) {
  const fields = {};
  for (const name of ["username", "password", "alias"]) {
    const value = form.elements[name]?.value ?? "";
    if (value !== "" || form.elements[name]?.dataset.touched) fields[name] = value;
  }
  const problems = validateEndpointFields(fields);
  for (const message of form.querySelectorAll(".field-error")) {
    const problem = problems.find((p) => p.field === message.dataset.for);
    message.textContent = problem ? problem.message : "";
    form.elements[message.dataset.for].setAttribute("aria-invalid", problem ? "true" : "false");
  }
  return problems.length === 0;
}

function setupCreate() {
  const form = $("#create-form");
  const button = $("#create-button");
  const ready = () => {
    const ok = checkFields(form);
    const filled = ["username", "password", "alias"].every((name) => form.elements[name].value !== "");
    button.disabled = !(ok && filled);
    return !button.disabled;
  };
  form.addEventListener("input", (event) => {
    if (event.target.name) event.target.dataset.touched = "true";
    $("#create-result").hidden = true;
    ready();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ready()) return;
    const fields = {
      username: form.elements.username.value,
      password: form.elements.password.value,
      alias: form.elements.alias.value,
    };
    if (form.elements.appId.value.trim()) fields.appId = form.elements.appId.value.trim();
    button.disabled = true;
    const created = await attempt($("#create-error"), () => state.client.createEndpoint(fields));
    if (!created) {
      ready();
      return;
    }
    const result = $("#create-result");
    result.textContent = `Created ${created.username} (id ${created.endpointId}).`;
    result.hidden = false;
    form.reset();
    for (const input of form.elements) delete input.dataset.touched;
    checkFields(form);
    button.disabled = true;
    // Show the page that holds it: new endpoints come last.
    highlight = created.endpointId;
    offset = Math.floor(total / pageSize()) * pageSize();
    refreshAll();
  });
}

// ---- edit, rotate, delete -----------------------------------------------------------

function endpointOf(button) {
  const id = button.closest("tr").dataset.id;
  return state.endpoints.find((e) => e.endpointId === id);
}

/** Runs a dialog's async action on submit, keeping it open (with the error) on failure. */
function dialogAction(dialog, action) {
  const form = dialog.querySelector("form");
  const error = form.querySelector(".error");
  form.addEventListener("submit", async (event) => {
    if (event.submitter?.value === "cancel") return;
    event.preventDefault();
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    const done = await attempt(error, () => action(form).then(() => true));
    for (const b of form.querySelectorAll("button")) b.disabled = false;
    if (done) dialog.close();
  });
}

let editing = null;

function setupRowActions() {
  const editDialog = $("#edit-dialog");
  const deleteDialog = $("#delete-dialog");
  const rotateDialog = $("#rotate-dialog");

  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    editing = endpointOf(button);
    if (!editing) return;
    if (button.dataset.action === "edit") {
      const form = $("#edit-form");
      form.querySelector("[data-name]").textContent = editing.username;
      form.elements.alias.value = editing.alias;
      form.elements.password.value = "";
      clearError(form.querySelector(".error"));
      checkFields(form);
      editDialog.showModal();
    } else if (button.dataset.action === "delete") {
      deleteDialog.querySelector("[data-name]").textContent = editing.username;
      clearError(deleteDialog.querySelector(".error"));
      deleteDialog.showModal();
    } else if (button.dataset.action === "rotate") {
      button.disabled = true;
      const credentials = await attempt($("#list-error"), () => state.client.rotatePassword(editing.endpointId));
      button.disabled = false;
      if (!credentials) return;
      const form = $("#rotate-form");
      form.elements.username.value = credentials.username;
      form.elements.password.value = credentials.password;
      $("#copy-status").textContent = "";
      // Kept in this page's memory for the Login panel's Vobiz login (never stored).
      update({ rotated: credentials });
      rotateDialog.showModal();
    }
  });

  $("#edit-form").addEventListener("input", (event) => {
    if (event.target.name) event.target.dataset.touched = "true";
    checkFields($("#edit-form"));
  });
  dialogAction(editDialog, async (form) => {
    if (!checkFields(form)) throw new Error("Fix the fields above first.");
    const changes = {};
    if (form.elements.alias.value !== editing.alias) changes.alias = form.elements.alias.value;
    if (form.elements.password.value) changes.password = form.elements.password.value;
    if (Object.keys(changes).length) await state.client.updateEndpoint(editing.endpointId, changes);
    form.elements.password.value = "";
    highlight = editing.endpointId;
    loadPage();
  });
  dialogAction(deleteDialog, async () => {
    await state.client.deleteEndpoint(editing.endpointId);
    if (state.endpoints.length === 1 && offset > 0) offset -= pageSize();
    refreshAll();
  });

  $("#copy-password").addEventListener("click", async () => {
    const input = $("#rotate-form").elements.password;
    try {
      await navigator.clipboard.writeText(input.value);
      $("#copy-status").textContent = "Copied to the clipboard.";
    } catch {
      input.select();
      $("#copy-status").textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  });
  // Shown once: the password leaves the page when the dialog closes.
  rotateDialog.addEventListener("close", () => {
    $("#rotate-form").elements.password.value = "";
  });
}

// ---- wiring -------------------------------------------------------------------------

function onConnected() {
  const sizes = PAGE_SIZES[state.dialect];
  pageSizeSelect.replaceChildren(...sizes.map((n) => el("option", { value: n, selected: n === 20 }, String(n))));
  const vobiz = state.dialect === "vobiz";
  for (const input of filters.elements) input.disabled = !vobiz;
  $("#filters-note").hidden = vobiz;
  for (const input of filters.querySelectorAll("input")) {
    if (input.type === "checkbox") input.checked = false;
    else input.value = "";
  }
  query = {};
  offset = 0;
  highlight = null;
  lastChange.clear();
  refreshAll();
  watchRegistrations();
}

export function setupEndpoints() {
  setupFilters();
  setupCreate();
  setupRowActions();
  pageSizeSelect.addEventListener("change", () => {
    offset = 0;
    loadPage();
  });
  $("#prev-page").addEventListener("click", () => {
    offset = Math.max(0, offset - pageSize());
    loadPage();
  });
  $("#next-page").addEventListener("click", () => {
    offset += pageSize();
    loadPage();
  });
  $("#recount").addEventListener("click", recount);
  subscribe((_, changes) => {
    if ("client" in changes) onConnected();
  });
}
