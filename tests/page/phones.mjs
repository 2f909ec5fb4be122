// The real Plivo browser SDK on both ends of a call through the sandbox: pages logged in
// with a token or a password, every call event noted, and what their peer connections
// received. The SDK runs unmodified; `RTCPeerConnection` is only watched (each one made is
// kept in `window.__pcs`), to read the RTP bytes that arrived.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, sandbox } from "./sandbox.mjs";
import { issuedToken, plivoApi, sandboxNow, sdkPage, untilEvent } from "./signalling.mjs";

/** The SDK's call events, each noted in `window.events` as `{ name, cause, at }`. */
const CALL_EVENTS = [
  "onCallRemoteRinging", "onIncomingCall", "onCallAnswered", "onCallTerminated", "onCallFailed",
  "onMediaConnected", "onIncomingCallCanceled", "onDtmfReceived",
];

/** Keeps every peer connection the page makes (an init script). */
function watchPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
}

/** A context whose pages may use the (fake) microphone, their peer connections watched. */
export async function callContext(newContext) {
  const context = await newContext({ permissions: ["microphone"] });
  await context.addInitScript(watchPeerConnections);
  return context;
}

/**
 * A page of `context` with the SDK made and its call events noted: `cause` (a failure's
 * name, or the caller of an incoming call) and the call's `callUUID`, `reason` and `code`
 * (a Q.850 `Reason`'s text and cause), never the headers (they hold the caller's token).
 */
export async function phonePage(context, options = {}) {
  const page = await sdkPage(context, options);
  await page.evaluate((names) => {
    for (const name of names) {
      window.plivo.client.on(name, (...args) => {
        const info = args.find((a) => a && typeof a === "object" && ("callUUID" in a || "reason" in a)) ?? {};
        // A failure's name, an incoming call's caller, a DTMF's digit.
        const cause = typeof args[0] === "string" ? args[0] : (args[0]?.tone ?? null);
        window.events.push({ name, cause, callUUID: info.callUUID ?? null, reason: info.reason ?? null, code: info.code ?? null, at: Date.now() });
      });
    }
  }, CALL_EVENTS);
  return page;
}

/**
 * The `index`th seeded Plivo endpoint logged in with a fresh token of these grants:
 * `{ page, username, address }` (address: `sub_iss`, what callers dial).
 */
export async function tokenPhone(context, index, { incoming = true, outgoing = true } = {}) {
  const endpoint = (await plivoApi("GET", `Endpoint/?limit=${index + 1}`)).objects[index];
  const now = await sandboxNow();
  const token = await issuedToken({ sub: endpoint.username, nbf: now - 60, exp: now + 3600, incoming, outgoing });
  const page = await phonePage(context);
  await page.evaluate((token) => window.plivo.client.loginWithAccessToken(token), token);
  await untilEvent(page, "onLogin");
  return { page, username: endpoint.username, address: `${endpoint.username}_${AUTH_ID}` };
}

/** A password login of the `index`th seeded endpoint of `dialect`: `{ page, username, address }`. */
export async function passwordPhone(context, dialect, index) {
  const endpoint =
    dialect === "vobiz"
      ? (await (await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/Endpoint/?limit=${index + 1}`, { headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN } })).json()).objects[index]
      : (await plivoApi("GET", `Endpoint/?limit=${index + 1}`)).objects[index];
  const page = await phonePage(context);
  await page.evaluate(({ username, password }) => window.plivo.client.login(username, password), { username: endpoint.username, password: `seed-password-${index}` });
  await untilEvent(page, "onLogin");
  return { page, username: endpoint.username, address: endpoint.username };
}

/** Places a call from `phone` to `address` (`{}`: the SDK throws without it under a token login). */
export function dial(phone, address) {
  return phone.page.evaluate((address) => window.plivo.client.call(address, {}), address);
}

/** The events of a page named `name`. */
export function events(phone, name) {
  return phone.page.evaluate((name) => window.events.filter((e) => e.name === name), name);
}

/** RTP bytes the page's peer connections received so far. */
export function rtpBytes(phone) {
  return phone.page.evaluate(async () => {
    let bytes = 0;
    for (const pc of window.__pcs) {
      (await pc.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp") bytes += report.bytesReceived;
      });
    }
    return bytes;
  });
}

/** Waits until the page's peer connections have received more than `bytes` RTP bytes; answers how many. */
export async function untilAudio(phone, bytes = 2000, timeout = 15_000) {
  const started = Date.now();
  for (;;) {
    const received = await rtpBytes(phone);
    if (received > bytes) return received;
    if (Date.now() - started > timeout) assert.fail(`only ${received} RTP bytes arrived within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The sandbox's calls, newest first. */
export async function sandboxCalls() {
  return (await sandbox("GET", "/__sandbox/calls")).calls;
}

/** Waits until the newest call the sandbox lists is in `state`; answers it. */
export async function untilCall(state, timeout = 15_000) {
  const started = Date.now();
  for (;;) {
    const [call] = await sandboxCalls();
    if (call?.state === state) return call;
    if (Date.now() - started > timeout) assert.fail(`the call never reached ${state}: ${JSON.stringify(call)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { untilEvent };

/**
 * A tab of `context` whose SDK `keepLoggedIn` (from endpoint-login/tokens) keeps logged in
 * as the `index`th seeded Plivo endpoint with tokens of `ttl` seconds (default one hour)
 * from the JWT API, shared by the tabs of that endpoint (one fetch per token) unless
 * `share` is false, and `options` (`tabs`, `followVisibleTab`). Its call events are noted
 * as `phonePage` notes them, its kept-login events in `window.kept`:
 * `{ page, username, address, status() }`.
 */
export async function keptTab(context, index, options = {}, { ttl = 3600, share = true } = {}) {
  const endpoint = (await plivoApi("GET", `Endpoint/?limit=${index + 1}`)).objects[index];
  const page = await phonePage(context);
  await page.evaluate(
    async ({ sub, options, ttl, share }) => {
      const lib = await import("/pkg/tokens/endpoint_login.js");
      await lib.default();
      const account = await (await fetch("/__sandbox/account")).json();
      const provider = new lib.TokenProvider({
        shareAcrossTabs: share ? `tokens of ${sub}` : false,
        fetchToken: async () => {
          const now = Math.floor(Date.now() / 1000);
          const response = await fetch(`/v1/Account/${account.authId}/JWT/Token/`, {
            method: "POST",
            headers: { authorization: `Basic ${btoa(`${account.authId}:${account.authToken}`)}`, "content-type": "application/json" },
            body: JSON.stringify({ sub, nbf: now - 60, exp: now + ttl, per: { voice: { incoming_allow: true, outgoing_allow: true } } }),
          });
          return (await response.json()).token;
        },
      });
      window.kept = [];
      window.keeper = lib.keepLoggedIn(window.plivo.client, provider, {
        ...options,
        onEvent: (e) => window.kept.push({ type: e.type, at: e.at, message: e.message }),
      });
    },
    { sub: endpoint.username, options, ttl, share },
  );
  return {
    page,
    username: endpoint.username,
    address: `${endpoint.username}_${AUTH_ID}`,
    status: () => page.evaluate(() => window.keeper.status().state),
  };
}

/** The live registrations of an endpoint at the sandbox: `{ contact, connection, loggedInAtMs }`. */
export async function bindingsOf(username) {
  return (await sandbox("GET", "/__sandbox/signalling")).registrations.filter((r) => r.username === username);
}

/** Waits until `predicate()` holds (polled every 20 ms); answers how long it took, ms. */
export async function until(predicate, what, timeout = 15_000) {
  const started = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - started;
    if (Date.now() - started > timeout) assert.fail(`${what} (not within ${timeout} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
