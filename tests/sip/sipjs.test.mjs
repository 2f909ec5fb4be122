// RFC 3261 registration against the sandbox's registrar by a SIP stack nobody here wrote:
// sip.js (pinned in the root package.json), in Node over its own WebSocket transport.
// Password logins (digest) on both platforms' endpoints, a token login (X-Plivo-Jwt),
// refreshes with no moment unregistered, two bindings of one address at once, and
// unregistering. Run by `cargo xtask test` against a sandbox of its own (SANDBOX_URL).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Registerer, RegistererState, UserAgent } from "sip.js";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const SIGNALLING = `${SANDBOX.replace(/^http/, "ws")}/signalling`;
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
const HEADERS = {
  plivo: { authorization: `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64")}` },
  vobiz: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN },
};
const BASE = { plivo: `/v1/Account/${AUTH_ID}/`, vobiz: `/api/v1/Account/${AUTH_ID}/` };

async function call(method, path, body, headers = {}) {
  const response = await fetch(`${SANDBOX}${path}`, {
    method,
    headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** An endpoint of `platform` with a password this test set: `{ id, username, password }`. */
async function endpoint(platform, index) {
  const page = await call("GET", `${BASE[platform]}Endpoint/?limit=${index + 1}`, null, HEADERS[platform]);
  const { endpoint_id: id, username } = page.objects[index];
  const password = `sipjs-${platform}-${index}`;
  await call("POST", `${BASE[platform]}Endpoint/${id}/`, { password }, HEADERS[platform]);
  return { id, username, password };
}

/** The sandbox's live registrations. */
async function registrations() {
  return (await call("GET", "/__sandbox/signalling")).registrations;
}

const agents = [];

/** A started sip.js user agent for `user`, with a password or none. */
async function agent(user, password) {
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@phone.plivo.com`),
    transportOptions: { server: SIGNALLING },
    ...(password ? { authorizationUsername: user, authorizationPassword: password } : {}),
    logLevel: "error",
  });
  await ua.start();
  agents.push(ua);
  return ua;
}

/** Registers and resolves once sip.js says so (or rejects when it is refused). */
async function register(ua, options = {}) {
  const registerer = new Registerer(ua, options);
  const settled = new Promise((resolve, reject) => {
    registerer.stateChange.addListener((state) => {
      if (state === RegistererState.Registered) resolve(registerer);
      if (state === RegistererState.Unregistered || state === RegistererState.Terminated) reject(new Error(`sip.js: ${state}`));
    });
  });
  await registerer.register();
  return settled;
}

async function until(predicate, what, timeoutMs = 10_000) {
  const started = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new assert.AssertionError({ message: `${what} (not within ${timeoutMs} ms)` });
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

before(() => call("POST", "/__sandbox/reset"));
after(async () => {
  for (const ua of agents) await ua.stop().catch(() => {});
  await call("POST", "/__sandbox/reset");
});

for (const platform of ["plivo", "vobiz"]) {
  test(`${platform}: a password login registers, shows in REST, and unregisters`, async () => {
    const { id, username, password } = await endpoint(platform, 1);
    const ua = await agent(username, password);
    const registerer = await register(ua, { expires: 120 });
    const rest = await call("GET", `${BASE[platform]}Endpoint/${id}/`, null, HEADERS[platform]);
    assert.ok([true, "true"].includes(rest.sip_registered), JSON.stringify(rest));
    assert.equal(rest.sip_user_agent.startsWith("SIP.js/"), true);
    assert.equal((await registrations()).filter((r) => r.username === username).length, 1);
    await registerer.unregister();
    await until(async () => (await registrations()).every((r) => r.username !== username), "the binding is gone after unregistering");
  });
}

test("a wrong password is refused, and the endpoint is not registered", async () => {
  const { username } = await endpoint("vobiz", 2);
  const ua = await agent(username, "not-the-password");
  await assert.rejects(register(ua));
  assert.equal((await registrations()).some((r) => r.username === username), false);
});

test("a token login (X-Plivo-Jwt, no digest) registers the address sub_iss", async () => {
  const { username } = await endpoint("plivo", 3);
  const now = Math.floor((await call("GET", "/__sandbox/clock")).nowMs / 1000);
  const { token } = await call("POST", `${BASE.plivo}JWT/Token/`, {
    iss: AUTH_ID, sub: username, nbf: now - 60, exp: now + 600, per: { voice: { incoming_allow: true, outgoing_allow: true } },
  }, HEADERS.plivo);
  const ua = await agent(`${username}_${AUTH_ID}`);
  const registerer = await register(ua, { expires: 120, extraHeaders: [`X-Plivo-Jwt: ${token}`] });
  const bound = (await registrations()).find((r) => r.username === username);
  assert.ok(bound, "registered as the token's endpoint");
  assert.equal(bound.tokenExp, now + 600);
  await registerer.unregister({ requestOptions: { extraHeaders: [`X-Plivo-Jwt: ${token}`] } });
  await until(async () => (await registrations()).every((r) => r.username !== username), "unregistered");
});

test("two sip.js agents hold two bindings of one address at once, and each 200 lists both", async () => {
  const { username, password } = await endpoint("vobiz", 4);
  const first = await register(await agent(username, password), { expires: 300 });
  const second = await register(await agent(username, password), { expires: 300 });
  const bound = (await registrations()).filter((r) => r.username === username);
  assert.equal(bound.length, 2, JSON.stringify(bound));
  assert.notEqual(bound[0].contact, bound[1].contact);
  // RFC 3261 10.3 step 8: the 200 lists every binding of the address of record.
  const listed = second.contacts.map((contact) => contact.replace(/^.*<|>.*$/g, "")).sort();
  assert.deepEqual(listed, bound.map((b) => b.contact).sort(), `the second 200 lists both: ${second.contacts}`);
  await first.unregister();
  await until(async () => (await registrations()).filter((r) => r.username === username).length === 1, "one binding left after the first unregisters");
  await second.unregister();
});

test("refreshes keep the binding with no moment unregistered (expiry kept to the millisecond)", async () => {
  const { username, password } = await endpoint("plivo", 5);
  // A short lifetime granted by the registrar: sip.js refreshes at 99% of it, 20-30 ms early.
  await call("PUT", "/__sandbox/signalling/settings", { expires: 2 });
  try {
    const ua = await agent(username, password);
    await register(ua, { expires: 60 });
    let lapses = 0;
    const refreshed = until(async () => {
      const now = (await registrations()).filter((r) => r.username === username);
      if (now.length === 0) lapses += 1;
      const log = (await call("GET", "/__sandbox/signalling/log?limit=1000")).messages;
      return log.filter((m) => m.direction === "out" && m.status === 200 && m.user === username && m.expires === 2).length >= 4;
    }, "three refreshes after the first registration", 20_000);
    await refreshed;
    assert.equal(lapses, 0, "the endpoint read unregistered between refreshes");
  } finally {
    await call("PUT", "/__sandbox/signalling/settings", { expires: null });
  }
});
