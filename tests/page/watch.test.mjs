// `watchRegistrations` in Chromium on the page's fake clock, against the sandbox, with the
// real Plivo browser SDK logging in and out for the registrations it sees: the snapshot,
// a login within one interval, a logout, a second device, a failed walk reported and
// recovered from, slower polling while hidden, at once on `visible` and `online`, and the
// end by `break` or the signal.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, newContext, pageTest, sandbox, setup } from "./harness.mjs";
import { issuedToken, plivoEndpoint, sandboxNow, sdkPage } from "./signalling.mjs";
import { Simulation } from "./simulation.mjs";

setup();

const INTERVAL = 10_000;

/** A tab that watches the Plivo account's registrations into `window.changes`. */
async function watchingTab(sim, options = { intervalMs: INTERVAL }) {
  const page = await sdkPage(sim.context, {}, { watchSip: false });
  sim.tabs.push(page);
  await page.evaluate(
    async ({ AUTH_ID, AUTH_TOKEN, origin, options }) => {
      const lib = await import("/pkg/endpoint_login.js");
      await lib.default();
      window.client = new lib.EndpointClient({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: origin, retry: { maxRetries: 0 } });
      window.stop = new AbortController();
      window.changes = [];
      window.watching = (async () => {
        try {
          for await (const e of window.client.watchRegistrations(undefined, { ...options, signal: window.stop.signal })) {
            window.changes.push({ type: e.type, at: e.at, username: e.endpoint?.username, removed: e.removed, total: e.total, registered: e.registered, code: e.error?.code, retryInMs: e.retryInMs, previous: e.previous, sipExpires: e.endpoint?.sipExpires });
          }
          window.changes.push({ type: "ended" });
        } catch (e) {
          window.changes.push({ type: "thrown", code: e.code });
        }
      })();
    },
    { AUTH_ID, AUTH_TOKEN, origin: SANDBOX, options },
  );
  return page;
}

const changes = (page) => page.evaluate(() => window.changes);
/** Walks started since the log was cleared: list requests for the first page. */
const walks = async () =>
  (await sandbox("GET", "/__sandbox/requests")).requests.filter((r) => r.method === "GET" && /\/Endpoint\/$/.test(r.path) && !/offset=[1-9]/.test(r.query)).length;

/** Runs the simulation until `page`'s watch has reported `count` events; answers them. */
async function untilChanges(sim, page, count, limitMs = 60_000) {
  for (let waited = 0; (await changes(page)).length < count; waited += 1000) {
    assert.ok(waited < limitMs, `${count} events within ${limitMs / 1000} s of the page's time: ${JSON.stringify(await changes(page))}`);
    await sim.run(1000);
  }
  return changes(page);
}

pageTest("a snapshot, then a login within one interval, a second device as a change, a logout; a failed walk reported and recovered from", async () => {
  const sim = await Simulation.start(await newContext(), { signalling: true });
  const page = await watchingTab(sim);
  const [snapshot] = await untilChanges(sim, page, 1);
  assert.deepEqual([snapshot.type, snapshot.total, snapshot.registered], ["snapshot", 48, 0]);

  // The SDK logs in from this page.
  const endpoint = await plivoEndpoint();
  const now = await sandboxNow();
  const token = await issuedToken({ sub: endpoint.username, nbf: now - 60, exp: now + 3600 });
  const loggedInAt = await page.evaluate((token) => {
    window.plivo.client.loginWithAccessToken(token);
    return Date.now();
  }, token);
  const [, registered] = await untilChanges(sim, page, 2);
  assert.deepEqual([registered.type, registered.username], ["registered", endpoint.username]);
  assert.ok(registered.at - loggedInAt <= INTERVAL + 2_000, `seen ${registered.at - loggedInAt} ms after the login`);
  assert.match(registered.sipExpires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "ISO 8601 UTC");

  // A second device logs the same endpoint in: a change of contact.
  const second = await sdkPage(sim.context, {}, { watchSip: false });
  sim.tabs.push(second);
  await second.evaluate((token) => window.plivo.client.loginWithAccessToken(token), token);
  const [, , changed] = await untilChanges(sim, page, 3);
  assert.equal(changed.type, "changed");
  assert.match(changed.previous.sipContact, /^sip:/);
  await second.evaluate(() => window.plivo.client.logout());
  sim.tabs.pop();
  await second.close();

  // The platform fails the walks: reported with its error, and the watch goes on.
  await sandbox("POST", "/__sandbox/faults", { path: "/Endpoint/", method: "GET", status: 503, times: 1000 });
  const [, , , , error] = await untilChanges(sim, page, 5);
  assert.deepEqual([error.type, error.code], ["error", "SERVER_ERROR"], JSON.stringify(await changes(page)));
  assert.ok(error.retryInMs > 0 && error.retryInMs <= 4 * INTERVAL, `${error.retryInMs} ms`);
  await sandbox("DELETE", "/__sandbox/faults");
  await page.evaluate(() => window.plivo.client.logout());
  const all = await untilChanges(sim, page, 6);
  const last = all.at(-1);
  assert.deepEqual([last.type, last.username], ["unregistered", endpoint.username], JSON.stringify(all));
  assert.equal(all.filter((e) => e.type === "error").length >= 1, true);
});

pageTest("slower while hidden, at once when visible or back online, never two walks at once; break and the signal end it", async () => {
  const sim = await Simulation.start(await newContext(), { signalling: true });
  const page = await watchingTab(sim);
  await untilChanges(sim, page, 1);
  await sandbox("DELETE", "/__sandbox/requests");
  await sim.run(4 * INTERVAL);
  const visibleWalks = await walks();
  assert.ok(visibleWalks >= 3 && visibleWalks <= 5, `${visibleWalks} walks in 4 intervals`);

  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.run(INTERVAL);
  await sandbox("DELETE", "/__sandbox/requests");
  await sim.run(8 * INTERVAL);
  const hiddenWalks = await walks();
  assert.ok(hiddenWalks >= 1 && hiddenWalks <= 3, `${hiddenWalks} walks in 8 intervals while hidden: four times slower`);

  // Shown again: a walk at once, before any interval has passed.
  await sandbox("DELETE", "/__sandbox/requests");
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.settle();
  await sim.run(100);
  assert.equal(await walks(), 1, "a walk at once when the page is shown");
  await sandbox("DELETE", "/__sandbox/requests");
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await sim.settle();
  await sim.run(100);
  assert.equal(await walks(), 1, "a walk at once when the page comes back online");

  // Never two walks at once: five wake-ups while a slow walk is under way start one more
  // walk at most (the one after it), not five.
  await sandbox("POST", "/__sandbox/faults", { path: "/Endpoint/", latencyMs: 300 });
  await sandbox("DELETE", "/__sandbox/requests");
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  for (let i = 0; i < 5; i++) await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await sim.settle();
  await sim.run(100);
  await sandbox("DELETE", "/__sandbox/faults");
  const overlapping = await walks();
  assert.ok(overlapping >= 1 && overlapping <= 2, `${overlapping} walks for six wake-ups during one walk`);

  // The signal ends it with ABORTED; nothing is fetched after.
  await page.evaluate(() => window.stop.abort());
  await sim.run(100);
  assert.deepEqual((await changes(page)).at(-1), { type: "thrown", code: "ABORTED" });
  await sandbox("DELETE", "/__sandbox/requests");
  await sim.run(3 * INTERVAL);
  assert.equal(await walks(), 0, "nothing after the signal");

  // `break` ends another, the same way.
  const broken = await page.evaluate(async () => {
    for await (const e of window.client.watchRegistrations(undefined, { intervalMs: 1000 })) {
      if (e.type === "snapshot") break;
    }
    return "broken";
  });
  assert.equal(broken, "broken");
  await sandbox("DELETE", "/__sandbox/requests");
  await sim.run(3 * INTERVAL);
  assert.equal(await walks(), 0, "nothing after break");
  // Bad options are refused at once.
  const refused = await page.evaluate(() => {
    try {
      window.client.watchRegistrations(undefined, { intervalMs: 10 });
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(refused, "INVALID_ARGUMENT");
});
