// The package in a second engine: Debian's Firefox ESR, headless, driven by puppeteer-core
// over WebDriver BiDi, against a sandbox that serves the packed package at /pkg/ (so every
// page here loads what `npm install` gives a user). One browser for the file; a fresh
// browser context per test. What runs: the tokens module (a sandbox token decoded, a
// TokenProvider through the sandbox's token route shared by two tabs), an EndpointClient
// walk and a create/rotate/delete, keepLoggedIn logging the real Plivo browser SDK in and
// back in after a dropped socket, a call answered with audio both ways (Firefox's fake
// microphone), two tabs keeping one registration, and the demo page.
//
// Over BiDi an object that appears twice in one `evaluate` result comes back `null` the
// second time: results that are objects are returned as JSON text.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
const SIGNALLING = `${SANDBOX.replace(/^http/, "ws")}/signalling`;
// What the SDK's calls to Plivo's own hosts (stats, logs, audio files) become in a page
// that cannot reach them (Firefox reports each as a page error too), and the SDK's device
// checks at login, which it logs as errors where the page holds no user-granted microphone
// (Firefox lists devices without ids then).
const OFFLINE = /NetworkError when attempting to fetch resource|Content-Security-Policy|Content Security Policy|plivo\.com|Invalid (input|output) device id/;

let browser;

before(async () => {
  browser = await puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      // A fake microphone (a tone), and no permission prompt for it.
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      // Offline there is no STUN, so a call's only ICE candidates are host ones, which
      // Firefox hides behind mDNS names unless the user granted the page the microphone
      // (WebDriver BiDi cannot grant it here); the SDK rewrites all-mDNS candidates to
      // 192.168.0.1, and media never flows. This stands in for the user's grant (README,
      // "Where it runs").
      "media.peerconnection.ice.obfuscate_host_addresses": false,
    },
  });
});

after(async () => {
  await browser?.close();
});

/** The sandbox's test controls. */
async function sandbox(method, path, body) {
  const response = await fetch(`${SANDBOX}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** The live registrations of an endpoint at the sandbox. */
async function bindingsOf(username) {
  return (await sandbox("GET", "/__sandbox/signalling")).registrations.filter((r) => r.username === username);
}

/** Waits until `predicate()` holds (polled every 50 ms). */
async function until(predicate, what, timeout = 20_000) {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeout) assert.fail(`${what} (not within ${timeout} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A fresh context's page at `path` of the sandbox, its uncaught errors and console errors
 * kept in `page.problems` (the SDK's unreachable Plivo hosts left out).
 */
async function open(context, path = "/__sandbox/page") {
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => OFFLINE.test(String(error?.message ?? error)) || page.problems.push(`pageerror: ${error?.message ?? error}`));
  page.on("console", (message) => message.type() === "error" && !OFFLINE.test(message.text()) && page.problems.push(`console: ${message.text()}`));
  await page.goto(`${SANDBOX}${path}`);
  return page;
}

/** A fresh browser context, closed after the test. */
async function freshContext(t) {
  const context = await browser.createBrowserContext();
  t.after(() => context.close());
  return context;
}

const ACCOUNT = await sandbox("GET", "/__sandbox/account");
const BASIC = `Basic ${Buffer.from(`${ACCOUNT.authId}:${ACCOUNT.authToken}`).toString("base64")}`;

/** The `index`th seeded Plivo endpoint. */
async function plivoEndpoint(index) {
  const response = await fetch(`${SANDBOX}/v1/Account/${ACCOUNT.authId}/Endpoint/?limit=${index + 1}`, { headers: { authorization: BASIC } });
  return (await response.json()).objects[index];
}

/** A one-hour token for `sub` from the sandbox's JWT API, that may call and be called. */
async function tokenFor(sub) {
  const now = Math.floor(Date.now() / 1000);
  const response = await fetch(`${SANDBOX}/v1/Account/${ACCOUNT.authId}/JWT/Token/`, {
    method: "POST",
    headers: { authorization: BASIC, "content-type": "application/json" },
    body: JSON.stringify({ sub, nbf: now - 60, exp: now + 3600, per: { voice: { incoming_allow: true, outgoing_allow: true } } }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).token;
}

/** Loads the SDK the sandbox serves and makes its client, pointed at the sandbox. */
async function withSdk(page) {
  await page.addScriptTag({ url: "/vendor/plivobrowsersdk.js" });
  await page.evaluate((socket) => {
    window.events = [];
    window.plivo = new window.Plivo({ debug: "ERROR", registrationDomainSocket: [socket] });
    for (const name of ["onLogin", "onLoginFailed", "onLogout", "onIncomingCall", "onCallAnswered", "onCallTerminated", "onCallFailed", "onMediaConnected"]) {
      window.plivo.client.on(name, (cause) => window.events.push({ name, cause: typeof cause === "string" ? cause : null }));
    }
    // The SDK's tones are files on Plivo's CDN, which this machine cannot reach.
    window.plivo.client.setRingTone(false);
    window.plivo.client.setRingToneBack(false);
    window.plivo.client.setConnectTone(false);
  }, SIGNALLING);
}

const eventsOf = async (page, name) => JSON.parse(await page.evaluate((name) => JSON.stringify(window.events.filter((e) => e.name === name)), name));

test("the tokens module decodes a token of the sandbox's JWT API", async (t) => {
  const page = await open(await freshContext(t));
  const token = await tokenFor("alice");
  const decoded = JSON.parse(
    await page.evaluate(async (token) => {
      const { default: init, decodeAccessToken } = await import("/pkg/tokens/endpoint_login.js");
      await init();
      const { header, claims } = decodeAccessToken(token);
      return JSON.stringify({ header, claims });
    }, token),
  );
  assert.equal(decoded.header.cty, "plivo;v=1");
  assert.equal(decoded.claims.sub, "alice");
  assert.equal(decoded.claims.iss, ACCOUNT.authId);
  assert.equal(decoded.claims.per.voice.incomingAllow, true);
  // A malformed one is a typed error.
  const error = JSON.parse(
    await page.evaluate(async () => {
      const { default: init, decodeAccessToken } = await import("/pkg/tokens/endpoint_login.js");
      await init();
      try {
        decodeAccessToken("not.a.token");
        return "null";
      } catch (e) {
        return JSON.stringify({ name: e.name, code: e.code });
      }
    }),
  );
  assert.deepEqual(error, { name: "EndpointLoginError", code: "MALFORMED_TOKEN" });
  assert.deepEqual(page.problems, []);
});

test("a TokenProvider through the sandbox's token route, shared by two tabs: one fetch", async (t) => {
  const context = await freshContext(t);
  const pages = [await open(context), await open(context)];
  // Signed in to the sandbox's backend as alice (a session cookie for this context).
  await pages[0].evaluate(() => fetch("/backend/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "alice" }) }));
  await sandbox("DELETE", "/__sandbox/requests");
  const start = (page) =>
    page.evaluate(async () => {
      const { default: init, TokenProvider } = await import("/pkg/tokens/endpoint_login.js");
      await init();
      window.provider = new TokenProvider({ tokenUrl: "/backend/token?ttl=600" });
      const token = await window.provider.getAccessToken();
      const { role, tabs } = await window.provider.sharing();
      return JSON.stringify({ sub: JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub, role, tabs });
    });
  const first = JSON.parse(await start(pages[0]));
  const second = JSON.parse(await start(pages[1]));
  assert.equal(first.sub, second.sub, "the same token's endpoint");
  assert.deepEqual([first.role, second.role].sort(), ["follower", "leader"], "one tab fetches for both");
  assert.equal(second.tabs, 2);
  const fetched = (await sandbox("GET", "/__sandbox/requests")).requests.filter((r) => r.path === "/backend/token");
  assert.equal(fetched.length, 1, "one token fetch for two tabs");
  for (const page of pages) await page.evaluate(() => window.provider.dispose());
  assert.deepEqual(pages.flatMap((p) => p.problems), []);
});

test("an EndpointClient walks every Vobiz endpoint, then creates, rotates and deletes one", async (t) => {
  const page = await open(await freshContext(t));
  const outcome = JSON.parse(
    await page.evaluate(async () => {
      const { default: init, EndpointClient } = await import("/pkg/endpoint_login.js");
      await init();
      const account = await (await fetch("/__sandbox/account")).json();
      const client = new EndpointClient({ dialect: "vobiz", ...account, baseUrl: location.origin });
      let walked = 0;
      for await (const endpoint of client.endpoints({ limit: 20 })) if (endpoint.username) walked += 1;
      const created = await client.createEndpoint({ username: "firefoxuser", password: "first-pass-1", alias: "firefox" });
      const rotated = await client.rotatePassword(created.endpointId);
      const read = await client.getEndpoint(created.endpointId);
      await client.deleteEndpoint(created.endpointId);
      let gone = null;
      try {
        await client.getEndpoint(created.endpointId);
      } catch (e) {
        gone = e.code;
      }
      return JSON.stringify({ walked, username: rotated.username, passwordLength: rotated.password.length, alias: read.alias, gone });
    }),
  );
  const total = (await (await fetch(`${SANDBOX}/api/v1/Account/${ACCOUNT.authId}/Endpoint/?limit=1`, { headers: { "x-auth-id": ACCOUNT.authId, "x-auth-token": ACCOUNT.authToken } })).json()).meta.total_count;
  assert.equal(outcome.walked, total, "every endpoint, page after page");
  assert.deepEqual({ ...outcome, walked: undefined }, { walked: undefined, username: "firefoxuser", passwordLength: 24, alias: "firefox", gone: "NOT_FOUND" });
  assert.deepEqual(page.problems, []);
});

/** keepLoggedIn in `page` for the endpoint `sub`, with tokens from the JWT API; events in `window.kept`. */
async function keep(page, sub) {
  await withSdk(page);
  await page.evaluate(async (sub) => {
    const { default: init, TokenProvider, keepLoggedIn } = await import("/pkg/tokens/endpoint_login.js");
    await init();
    const account = await (await fetch("/__sandbox/account")).json();
    const provider = new TokenProvider({
      fetchToken: async () => {
        const now = Math.floor(Date.now() / 1000);
        const response = await fetch(`/v1/Account/${account.authId}/JWT/Token/`, {
          method: "POST",
          headers: { authorization: `Basic ${btoa(`${account.authId}:${account.authToken}`)}`, "content-type": "application/json" },
          body: JSON.stringify({ sub, nbf: now - 60, exp: now + 3600 }),
        });
        return (await response.json()).token;
      },
    });
    window.kept = [];
    window.keeper = keepLoggedIn(window.plivo.client, provider, { onEvent: (e) => window.kept.push(e.type) });
  }, sub);
}

const stateOf = (page) => page.evaluate(() => window.keeper.status().state);

test("keepLoggedIn logs the real SDK in, and it is registered again after the socket drops", async (t) => {
  const page = await open(await freshContext(t));
  const endpoint = await plivoEndpoint(0);
  await keep(page, endpoint.username);
  const state = () => stateOf(page);
  await until(async () => (await state()) === "loggedIn", "logged in");
  const [first] = await bindingsOf(endpoint.username);
  assert.ok(first, "registered at the sandbox");
  const dropped = await sandbox("POST", "/__sandbox/signalling/drop");
  assert.equal(dropped.dropped, 1);
  await until(async () => (await bindingsOf(endpoint.username)).some((b) => b.connection !== first.connection), "registered again on a new socket");
  await until(async () => (await state()) === "loggedIn", "logged in again");
  await page.evaluate(() => window.keeper.dispose());
  await until(async () => (await bindingsOf(endpoint.username)).length === 0, "dispose() logged out");
  assert.deepEqual(page.problems, []);
});

test("keepLoggedIn in two tabs: one registration; the holder closed, the other registers", async (t) => {
  const context = await freshContext(t);
  const endpoint = await plivoEndpoint(2);
  const first = await open(context);
  await keep(first, endpoint.username);
  await until(async () => (await stateOf(first)) === "loggedIn", "the first tab logs in");
  const second = await open(context);
  await keep(second, endpoint.username);
  await until(async () => (await stateOf(second)) === "inAnotherTab", "the second tab waits");
  assert.equal((await bindingsOf(endpoint.username)).length, 1, "one registration");
  const closed = Date.now();
  await first.close();
  await until(async () => (await bindingsOf(endpoint.username)).some((b) => b.loggedInAtMs >= closed), "the second tab registers", 3_000);
  await until(async () => (await stateOf(second)) === "loggedIn", "and says so");
  await second.evaluate(() => window.keeper.dispose());
  assert.deepEqual(second.problems, []);
});

/** The RTP bytes the page's peer connection has received (Firefox's own statistics). */
const rtpBytes = (page) =>
  page.evaluate(async () => {
    const pc = window.plivo.client.getPeerConnection().pc;
    if (!pc) return 0;
    let bytes = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") bytes += s.bytesReceived;
    });
    return bytes;
  });

test("a call between two Firefox tabs: rung, answered, audio both ways, hung up", async (t) => {
  const context = await freshContext(t);
  const [caller, callee] = [await open(context), await open(context)];
  const [from, to] = [await plivoEndpoint(0), await plivoEndpoint(1)];
  for (const [page, endpoint] of [[caller, from], [callee, to]]) {
    await withSdk(page);
    await page.evaluate((token) => window.plivo.client.loginWithAccessToken(token), await tokenFor(endpoint.username));
    await until(async () => (await eventsOf(page, "onLogin")).length === 1, `${endpoint.username} logged in`);
  }
  await callee.evaluate(() => window.plivo.client.on("onIncomingCall", () => window.plivo.client.answer()));
  const placed = await caller.evaluate((address) => window.plivo.client.call(address, {}), `${to.username}_${ACCOUNT.authId}`);
  assert.notEqual(placed, false, "the SDK placed the call");
  await until(async () => (await eventsOf(caller, "onCallAnswered")).length === 1, "answered");
  await until(async () => (await rtpBytes(caller)) > 2000 && (await rtpBytes(callee)) > 2000, "audio both ways");
  await caller.evaluate(() => window.plivo.client.hangup());
  await until(async () => (await eventsOf(callee, "onCallTerminated")).length === 1, "the hang-up reaches the callee");
  assert.deepEqual([...caller.problems, ...callee.problems], []);
});

test("the demo page: the endpoint table fills, and Log in logs the SDK in", async (t) => {
  const page = await open(await freshContext(t), "/?dialect=plivo");
  await page.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20_000 });
  const rows = await page.$$eval("#endpoint-table tbody tr[data-id]", (rows) => rows.length);
  assert.equal(rows, 20);
  const sub = await page.$eval("#token-form select[name=sub]", (select) => select.value);
  await page.click("#sdk-login");
  await until(async () => /^Logged in as /.test(await page.$eval("#sdk-status", (e) => e.textContent)), "the demo logged the SDK in");
  assert.equal(await page.$eval("#sdk-status", (e) => e.textContent), `Logged in as ${sub}_${ACCOUNT.authId}`);
  await until(async () => (await bindingsOf(sub)).length === 1, "registered at the sandbox");
  await page.click("#sdk-logout");
  await until(async () => (await bindingsOf(sub)).length === 0, "logged out");
  assert.deepEqual(page.problems, []);
});
