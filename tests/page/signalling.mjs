// The real Plivo browser SDK logging in to the sandbox's signalling server (SIP over
// WebSocket at /signalling): pages it runs in, tokens from the sandbox's JWT API (and
// tokens it did not issue), the signalling test controls, and a watch on the SIP traffic
// that lets a fake clock run without starving the SDK's keepalive.
//
// The pages are the sandbox's own (/__sandbox/page, the demo's security policy): Chromium
// refuses the loopback WebSocket to a page a test fulfils itself. The SDK comes from npm,
// unmodified, as the demo serves it (/vendor/plivobrowsersdk.js).
import { createHmac } from "node:crypto";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, SDK_UNCAUGHT, sandbox, watch } from "./sandbox.mjs";

/** The signalling socket of the sandbox at `base`. */
export const signallingOf = (base) => `${base.replace(/^http/, "ws")}/signalling`;
export const SIGNALLING = signallingOf(SANDBOX);

/**
 * What the SDK logs when it cannot reach Plivo's own servers (the page's policy keeps its
 * stats, logs and audio files on this machine), and that headless Chromium has no
 * microphone, or plays its ring tones from Plivo's CDN: none of it is about logging in or calls.
 */
export const SDK_OFFLINE = /Failed to load resource|Content Security Policy|Fetch API cannot load|violates the following|Access to audio failed|Error in getting token from call stats|Failed to fetch|error while playing audio for element/;

/**
 * Counts the SIP requests the page sends and the final answers it receives (in-page, on the
 * page's own WebSocket, the SDK untouched): `window.__sip.pending()` is 0 once every
 * request has been answered and the SDK has handled the answer, and no socket is still
 * being opened. `lastPing` is when the SDK's keepalive last went out, `lastClose` when a
 * socket last closed; `open` counts the open sockets.
 */
export function sipWatch() {
  // Once per document, however many init scripts ask for it.
  if (window.__sip) return;
  const Native = WebSocket;
  // Per socket: requests not answered yet, and whether it is still being opened (that
  // needs real time, not page time). A closed socket answers nothing more: it is dropped.
  const sockets = new Set();
  const sip = (window.__sip = {
    lastPing: 0,
    lastClose: 0,
    open: 0,
    opening: () => [...sockets].some((s) => s.opening),
    // `opening`: whether sockets still being opened count (not while the sandbox is down:
    // Chromium delays new attempts after failed ones, for a long real time).
    pending: (opening = true) => [...sockets].reduce((n, s) => n + s.unanswered + (opening && s.opening ? 1 : 0), 0),
  });
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const socket = (this.sipWatched = { unanswered: 0, opening: true });
      sockets.add(socket);
      this.addEventListener("open", () => {
        socket.opening = false;
        sip.open += 1;
      });
      this.addEventListener("message", (e) => {
        if (typeof e.data === "string" && /^SIP\/2\.0 [2-6]/.test(e.data)) socket.unanswered = Math.max(0, socket.unanswered - 1);
      });
      this.addEventListener("close", () => {
        if (!socket.opening) sip.open -= 1;
        sockets.delete(socket);
        sip.lastClose = Date.now();
      });
    }
    send(data) {
      if (typeof data === "string" && !data.startsWith("SIP/2.0") && !data.startsWith("ACK ")) {
        this.sipWatched.unanswered += 1;
        if (data.startsWith("OPTIONS")) sip.lastPing = Date.now();
      }
      super.send(data);
    }
  };
}

/**
 * A page of `context` with the SDK loaded and one client made (`window.plivo`), its login
 * events noted in `window.events` (`{ name, cause, at }`). `options` go to `new Plivo()`.
 * `watchSip: false` where the context already counts the SIP traffic (a `Simulation`);
 * `base`: another sandbox than the shared one.
 */
export async function sdkPage(context, options = {}, { watchSip = true, base = SANDBOX } = {}) {
  if (watchSip) await context.addInitScript(sipWatch);
  const page = watch(await context.newPage(), SDK_OFFLINE, SDK_UNCAUGHT);
  await page.goto(`${base}/__sandbox/page`);
  await page.addScriptTag({ url: "/vendor/plivobrowsersdk.js" });
  await page.evaluate(
    ({ url, options }) => {
      window.events = [];
      const plivo = (window.plivo = new window.Plivo({ debug: "ERROR", registrationDomainSocket: [url], ...options }));
      for (const name of ["onLogin", "onLoginFailed", "onLogout"]) {
        plivo.client.on(name, (cause) => window.events.push({ name, cause: cause ?? null, at: Date.now() }));
      }
    },
    { url: signallingOf(base), options },
  );
  return page;
}

/** Waits until the page's SDK has fired `name` `count` times; answers that event. */
export async function untilEvent(page, name, count = 1, timeout = 15_000) {
  await page.waitForFunction(
    ([name, count]) => window.events.filter((e) => e.name === name).length >= count,
    [name, count],
    { timeout, polling: 20 },
  );
  return page.evaluate(([name, count]) => window.events.filter((e) => e.name === name)[count - 1], [name, count]);
}

const BASIC = `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64")}`;

/** A call to the sandbox's Plivo API in direct mode, answering the parsed body. */
export async function plivoApi(method, path, body) {
  const response = await fetch(`${SANDBOX}/v1/Account/${AUTH_ID}/${path}`, {
    method,
    headers: { authorization: BASIC, ...(body && { "content-type": "application/json" }) },
    body: body && JSON.stringify(body),
  });
  return response.status === 204 ? null : response.json();
}

/** The first seeded Plivo endpoint: `{ endpoint_id, username, ... }`. */
export async function plivoEndpoint(index = 0) {
  return (await plivoApi("GET", "Endpoint/?limit=20")).objects[index];
}

/** A token from the sandbox's JWT API. `sub`, `nbf`, `exp` (Unix seconds) and the grants as given. */
export async function issuedToken({ sub, nbf, exp, incoming = true, outgoing = true }) {
  const body = await plivoApi("POST", "JWT/Token/", { iss: AUTH_ID, sub, nbf, exp, per: { voice: { incoming_allow: incoming, outgoing_allow: outgoing } } });
  if (!body.token) throw new Error(`the JWT API refused: ${JSON.stringify(body)}`);
  return body.token;
}

/** A token of the JWT API's exact shape, signed by another key: what the platform refuses. */
export function foreignToken({ sub, nbf, exp }, key = "not-the-account-auth-token") {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part({ alg: "HS256", cty: "plivo;v=1", typ: "JWT" })}.${part({ app: "", exp, iss: AUTH_ID, nbf, per: { voice: { incoming_allow: true, outgoing_allow: true } }, sub })}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** The sandbox's clock, in Unix seconds. */
export async function sandboxNow() {
  return Math.floor((await sandbox("GET", "/__sandbox/clock")).nowMs / 1000);
}

/** The SIP log (`direction`, `method` / `status`, `at`, `token` claims, `jwtError`, ...), every page of it. */
export async function sipLog() {
  return (await sipLogAfter(0)).messages;
}

/**
 * The SIP log's entries after `seq` `after`, every page of them, and the last seq read:
 * a test of hours reads it as it goes, the log keeping a bounded number of bytes.
 */
export async function sipLogAfter(after) {
  const messages = [];
  let last = after;
  for (let next = after; next !== null; ) {
    const page = await sandbox("GET", `/__sandbox/signalling/log?after=${next}`);
    messages.push(...page.messages);
    last = page.messages.at(-1)?.seq ?? last;
    next = page.next;
  }
  return { messages, last };
}

/** Changes the registrar's settings (`expires`, `maxRegistrations`, `skipChecks`). */
export function registrarSettings(settings) {
  return sandbox("PUT", "/__sandbox/signalling/settings", settings);
}

/** An endpoint as the sandbox's REST API shows it now. */
export function endpointNow(id) {
  return plivoApi("GET", `Endpoint/${id}/`);
}
