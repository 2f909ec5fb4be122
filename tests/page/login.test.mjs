// The real Plivo browser SDK (npm, unmodified) logging in to the sandbox's signalling
// server in Chromium: token logins and their refusals by name, password logins before and
// after a rotation, logout, and what the endpoint list shows meanwhile. Each refusal is
// also run with the registrar's check for it switched off (`skipChecks`), to show that the
// test fails without the check it covers.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, context, newContext, pageTest, sandbox, secret, setup } from "./harness.mjs";
import {
  endpointNow, foreignToken, issuedToken, plivoApi, plivoEndpoint, registrarSettings, sandboxNow, sdkPage, sipLog, sipLogAfter, untilEvent,
} from "./signalling.mjs";
import { Simulation } from "./simulation.mjs";
import { callContext, sandboxCalls } from "./phones.mjs";

setup();

/** A fresh page whose SDK logs in with `token` (`loginWithAccessToken`, or a generator). */
async function tokenLogin(token, { generator = false } = {}) {
  const page = await sdkPage(context ?? (await newContext()));
  await page.evaluate(
    ({ token, generator }) => {
      if (generator) window.plivo.client.loginWithAccessTokenGenerator({ getAccessToken: () => Promise.resolve(token) });
      else window.plivo.client.loginWithAccessToken(token);
    },
    { token, generator },
  );
  return page;
}

/** The first login event of a page: `onLogin`, or `onLoginFailed` with its cause. */
async function outcome(page) {
  await page.waitForFunction(() => window.events.some((e) => e.name === "onLogin" || e.name === "onLoginFailed"), null, { timeout: 15_000, polling: 20 });
  const event = await page.evaluate(() => window.events.find((e) => e.name === "onLogin" || e.name === "onLoginFailed"));
  await page.close();
  return event.name === "onLogin" ? "onLogin" : event.cause;
}

pageTest("a token login: onLogin, the endpoint registered while logged in, and logout unregisters it", async () => {
  await newContext();
  const endpoint = await plivoEndpoint();
  const now = await sandboxNow();
  const token = await issuedToken({ sub: endpoint.username, nbf: now - 60, exp: now + 600 });
  assert.equal((await endpointNow(endpoint.endpoint_id)).sip_registered, "false");
  const page = await tokenLogin(token);
  await untilEvent(page, "onLogin");
  assert.equal(await page.evaluate(() => window.plivo.client.getTokenExpiryTimeInEpoch()), (now + 600) * 1000, "the registrar told the SDK the token's expiry");

  const shown = await endpointNow(endpoint.endpoint_id);
  assert.equal(shown.sip_registered, "true");
  assert.match(shown.sip_contact, /^sip:\w+@\w+\.invalid;transport=ws$/, "the SDK's own contact");
  assert.equal(shown.sip_user_agent, "plivo-browser-sdk 2.2.21");
  assert.match(shown.sip_expires, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, "Plivo's format");
  const listed = (await plivoApi("GET", "Endpoint/?limit=20")).objects.find((e) => e.endpoint_id === endpoint.endpoint_id);
  assert.equal(listed.sip_registered, "true");
  const register = (await sipLog()).find((m) => m.direction === "in" && m.method === "REGISTER");
  assert.equal(register.user, `${endpoint.username}_${AUTH_ID}`, "the SIP user is sub_iss");
  assert.deepEqual([register.token.sub, register.token.exp], [endpoint.username, now + 600]);

  await page.evaluate(() => window.plivo.client.logout());
  await untilEvent(page, "onLogout");
  const after = await endpointNow(endpoint.endpoint_id);
  assert.equal(after.sip_registered, "false");
  assert.equal(after.sip_contact, undefined, "Plivo omits the registration once it has ended");
  const logout = (await sipLog()).filter((m) => m.direction === "in" && m.method === "REGISTER").at(-1);
  assert.equal(logout.expires, 0, "logout is a REGISTER with Expires: 0");
});

/**
 * Tokens the platform refuses, and the registrar check each one needs: [what, the name the
 * SDK reports, the check, a function making the token from (endpoint, now)].
 */
const REFUSED = [
  ["an expired token", "ACCESS_TOKEN_EXPIRED", "exp", async (e, now) => issuedToken({ sub: e.username, nbf: now - 60, exp: now + 300 }), 301],
  ["a token signed by another key", "INVALID_ACCESS_TOKEN_SIGNATURE", "signature", async (e, now) => foreignToken({ sub: e.username, nbf: now - 60, exp: now + 600 })],
  ["a token not valid yet", "ACCESS_TOKEN_NOT_VALID_YET", "nbf", async (e, now) => issuedToken({ sub: e.username, nbf: now + 120, exp: now + 600 })],
  ["a token for an unknown endpoint", "INVALID_ACCESS_TOKEN_SUBJECT", "subject", async (e, now) => issuedToken({ sub: "nobody", nbf: now - 60, exp: now + 600 })],
];

for (const [what, name, check, make, ageSeconds = 0] of REFUSED) {
  pageTest(`${what} fails with ${name}, and with RELOGIN_FAILED_INVALID_TOKEN from a generator; with the registrar's ${check} check off, it logs in`, async () => {
    await newContext();
    const endpoint = await plivoEndpoint();
    const now = await sandboxNow();
    const token = await make(endpoint, now);
    // An expired token: the platform's clock has moved past its exp since it was issued.
    if (ageSeconds) await sandbox("PUT", "/__sandbox/clock", { offsetMs: ageSeconds * 1000 });
    assert.equal(await outcome(await tokenLogin(token)), name);
    assert.equal(await outcome(await tokenLogin(token, { generator: true })), "RELOGIN_FAILED_INVALID_TOKEN");
    const refusals = (await sipLog()).filter((m) => m.jwtError).map((m) => m.jwtError);
    assert.equal(refusals.length, 2);
    await registrarSettings({ skipChecks: [check] });
    assert.equal(await outcome(await tokenLogin(token)), "onLogin", `without the ${check} check the same token logs in: the test above depends on it`);
  });
}

pageTest("a password login works with the current password, not with the one before a rotation; the old one logs in only with the password check off", async () => {
  await newContext();
  const page = await sdkPage(context);
  // Vobiz: rotatePassword() gives the credentials its web SDK logs in with.
  const rotate = (id) =>
    page.evaluate(async ({ id, AUTH_ID, AUTH_TOKEN, origin }) => {
      const lib = await import("/pkg/endpoint_login.js");
      await lib.default();
      const client = new lib.EndpointClient({ dialect: "vobiz", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: origin });
      return client.rotatePassword(id);
    }, { id, AUTH_ID, AUTH_TOKEN, origin: SANDBOX });
  const vobizApi = async (path) => (await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/${path}`, { headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN } })).json();
  const vobiz = (await vobizApi("Endpoint/?limit=1")).objects[0];
  const first = await rotate(vobiz.endpoint_id);
  secret(first.password);
  await page.evaluate(({ username, password }) => window.plivo.client.login(username, password), first);
  await untilEvent(page, "onLogin");
  const shown = await vobizApi(`Endpoint/${vobiz.endpoint_id}/`);
  assert.equal(shown.sip_registered, "true");
  assert.match(shown.sip_contact, /^127\.0\.0\.1:\d+$/, "Vobiz shows ip:port");
  assert.ok(!JSON.stringify(await sipLog()).includes(first.password), "the SIP log holds no password");
  await page.evaluate(() => window.plivo.client.logout());
  await untilEvent(page, "onLogout");

  const second = await rotate(vobiz.endpoint_id);
  secret(second.password);
  const loginWith = async (credentials) => {
    const fresh = await sdkPage(context);
    await fresh.evaluate(({ username, password }) => window.plivo.client.login(username, password), credentials);
    return outcome(fresh);
  };
  assert.equal(await loginWith(first), "Rejected", "the password before the rotation is refused");
  assert.equal(await loginWith(second), "onLogin", "the new one logs in");
  await registrarSettings({ skipChecks: ["password"] });
  assert.equal(await loginWith(first), "onLogin", "without the password check the old one logs in: the test above depends on it");
});

pageTest("logout ends the registration; with the registrar's logout check off it would not", async () => {
  await newContext();
  const endpoint = await plivoEndpoint();
  const now = await sandboxNow();
  const token = await issuedToken({ sub: endpoint.username, nbf: now - 60, exp: now + 600 });
  const registeredAfterLogout = async () => {
    const page = await tokenLogin(token);
    await untilEvent(page, "onLogin");
    assert.equal((await endpointNow(endpoint.endpoint_id)).sip_registered, "true");
    await page.evaluate(() => window.plivo.client.logout());
    await untilEvent(page, "onLogout");
    await page.close();
    return (await endpointNow(endpoint.endpoint_id)).sip_registered;
  };
  assert.equal(await registeredAfterLogout(), "false");
  // Off, neither the logout's REGISTER (Expires: 0) nor the socket's close after it ends
  // the registration: the SDK closes its socket as it logs out.
  await registrarSettings({ skipChecks: ["logout"] });
  assert.equal(await registeredAfterLogout(), "true", "without it the endpoint stays registered: the test above depends on it");
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

pageTest("six simulated hours on 10-minute tokens, the token source down across a refresh point: registered throughout, every REGISTER's token valid then, never onLoginFailed, and a call every hour connects", async () => {
  const sim = await Simulation.start(await callContext(newContext), { signalling: true });
  // The sandbox's backend signs alice in; her tokens are for the endpoint created as alice,
  // and may receive calls. She answers every call. Bob's tokens come from the JWT API.
  const page = await sim.openTab({ ttl: 600 });
  const [alice, bob] = (await plivoApi("GET", "Endpoint/?limit=2")).objects;
  const caller = await sim.openTab({ ttl: 600, signIn: false, sub: bob.username });
  await sim.run(5_000);
  assert.ok(await page.evaluate(() => window.seen.events.some((e) => e.type === "onLogin")), "logged in");
  const endpoint = (await plivoApi("GET", "Endpoint/?limit=20")).objects.find((e) => /^alice\d{12}$/.test(e.username));
  assert.equal(endpoint.username, alice.username);
  const registered = async () => (await endpointNow(endpoint.endpoint_id)).sip_registered;
  assert.equal(await registered(), "true");
  const noted = () => {
    window.calls = [];
    for (const name of ["onIncomingCall", "onCallAnswered", "onCallTerminated", "onCallFailed"]) {
      window.plivo.client.on(name, () => window.calls.push(name));
    }
  };
  await page.evaluate(noted);
  await caller.evaluate(noted);
  await page.evaluate(() => window.plivo.client.on("onIncomingCall", () => window.plivo.client.answer()));
  const count = (tab, name) => tab.evaluate((name) => window.calls.filter((c) => c === name).length, name);
  const until = async (tab, name, n) => {
    for (const started = Date.now(); (await count(tab, name)) < n; ) {
      if (Date.now() - started > 20_000) assert.fail(`${name} ${n} never came: ${await tab.evaluate(() => window.calls.join(", "))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  // The SIP log as it goes: it keeps 8 MB, and six hours of two SDKs' keepalives are more.
  const log = [];
  let read = 0;
  const readLog = async () => {
    const { messages, last } = await sipLogAfter(read);
    log.push(...messages);
    read = last;
  };
  // A call from bob to alice, answered and hung up (the pages' clock stands still meanwhile).
  let calls = 0;
  const call = async () => {
    calls += 1;
    await caller.evaluate((address) => window.plivo.client.call(address, {}), `${alice.username}_${AUTH_ID}`);
    await until(page, "onCallAnswered", calls);
    await until(caller, "onCallAnswered", calls);
    await caller.evaluate(() => window.plivo.client.hangup());
    await until(page, "onCallTerminated", calls);
  };

  // Two hours, a call each; then the token source fails from 10 s before a refresh point,
  // across it and across the SDK's own request 60 s before exp, until 20 s before the token
  // expires; then a call an hour to the sixth.
  for (let hour = 0; hour < 2; hour++) {
    await call();
    await sim.run(HOUR);
    await readLog();
  }
  const handed = (await sim.seen())[0].handed;
  const exp = handed.at(-1).exp * 1000;
  const pageNow = await page.evaluate(() => Date.now());
  await sim.run(exp - 110_000 - pageNow);
  await sandbox("POST", "/__sandbox/faults", { path: "/backend/token", status: 503, times: 100_000 });
  await sim.run(90_000);
  assert.equal(await registered(), "true", "registered through the outage");
  await sandbox("DELETE", "/__sandbox/faults");
  const elapsed = 2 * HOUR + (exp - 110_000 - pageNow) + 90_000;
  await call();
  await sim.run(3 * HOUR - elapsed);
  await readLog();
  for (let hour = 3; hour < 6; hour++) {
    await call();
    await sim.run(HOUR);
    await readLog();
  }
  assert.equal(await registered(), "true");

  const seen = await sim.seen();
  assert.deepEqual(seen.map((s) => s.failures), [[], []], "neither SDK fired onLoginFailed");
  assert.equal(seen[0].events.filter((e) => e.type === "onLogin").length, 1, "one login, never a new one");
  const types = seen[0].events.map((e) => e.type);
  assert.ok(types.includes("callersHeld") && types.includes("callersReleased"), "the outage held the SDK's request until a fresh token came");
  assert.equal(await count(caller, "onCallFailed"), 0);
  assert.equal((await sandboxCalls()).filter((c) => c.answeredAtMs).length, 6, "six calls answered");

  // The registrar's log, by the sandbox's clock: every REGISTER of alice carried a token
  // valid at that moment, and each registration was refreshed before it ran out.
  const user = `${alice.username}_${AUTH_ID}`;
  const hers = log.filter((m) => m.user === user);
  const registers = hers.filter((m) => m.direction === "in" && m.method === "REGISTER");
  const granted = hers.filter((m) => m.direction === "out" && m.status === 200 && m.expires);
  assert.ok(registers.length >= (6 * HOUR) / 120_000, `${registers.length} REGISTERs in 6 hours`);
  for (const m of registers) {
    assert.ok(m.token.nbf * 1000 <= m.at && m.at < m.token.exp * 1000, `a REGISTER at ${m.at} carried a token valid ${m.token.nbf}-${m.token.exp}`);
  }
  assert.equal(hers.filter((m) => m.jwtError).length, 0, "no refusal");
  assert.equal(granted.length, registers.length, "every REGISTER was accepted");
  for (let i = 1; i < granted.length; i++) {
    const gap = granted[i].at - granted[i - 1].at;
    assert.ok(gap < granted[i - 1].expires * 1000, `refreshed ${gap} ms after a registration of ${granted[i - 1].expires} s`);
  }
  const tokens = new Set(registers.map((m) => m.token.exp)).size;
  console.log(`# 6 hours registered: ${registers.length} REGISTERs, ${tokens} tokens, ${seen[0].calls} getAccessToken() calls, no lapse; 6 calls answered`);

  await page.evaluate(() => window.plivo.client.logout());
  await sim.run(2_000);
  assert.equal(await registered(), "false", "logged out: no longer registered");
});
