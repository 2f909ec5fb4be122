// `keepLoggedIn` from `endpoint-login/tokens` (what login pages load) keeping the real
// Plivo browser SDK logged in to the sandbox's registrar, on the page's fake clock: a
// dropped socket, the sandbox stopped for five minutes and started again, a laptop asleep
// for two hours, a tab hidden for an hour, a rotated password, a deleted endpoint. Each
// ends registered again, or stopped with the reason, and the logins it took are bounded.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, newContext, pageTest, sandbox, secret, setup } from "./harness.mjs";
import { sandboxAt, startSandbox, stopSandbox } from "./sandbox.mjs";
import { sdkPage } from "./signalling.mjs";
import { Simulation } from "./simulation.mjs";

setup();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASIC = `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64")}`;

/**
 * A tab of `sim` whose SDK `keepLoggedIn` keeps logged in as the Plivo endpoint `username`
 * with 10-minute tokens from the JWT API (`source: "token"`), or as the Vobiz endpoint `id`
 * with the password `window.password` holds (`source: "password"`). Its events go to
 * `window.kept`.
 */
async function keptTab(sim, { source, username, id }) {
  const page = await sdkPage(sim.context, {}, { watchSip: false, base: sim.base });
  sim.tabs.push(page);
  await page.evaluate(
    ({ source, username, id, BASIC, AUTH_ID }) => {
      window.kept = [];
      window.credentialsAsked = 0;
      window.start = async () => {
        const lib = await import("/pkg/tokens/endpoint_login.js");
        await lib.default();
        const from =
          source === "token"
            ? new lib.TokenProvider({
                shareAcrossTabs: false,
                fetchToken: async () => {
                  const response = await fetch(`/v1/Account/${AUTH_ID}/JWT/Token/`, {
                    method: "POST",
                    headers: { authorization: BASIC, "content-type": "application/json" },
                    // nbf a minute back, as clients do for clocks that disagree a little.
                    body: JSON.stringify({ sub: username, nbf: Math.floor(Date.now() / 1000) - 60, exp: Math.floor(Date.now() / 1000) + 600 }),
                  });
                  if (!response.ok) throw new Error(`the JWT API answered ${response.status}`);
                  return (await response.json()).token;
                },
              })
            : async () => {
                window.credentialsAsked += 1;
                return { username, password: window.password };
              };
        window.keeper = lib.keepLoggedIn(window.plivo.client, from, {
          retry: { baseDelayMs: 1000, maxDelayMs: 60_000 },
          onEvent: (e) => window.kept.push({ type: e.type, at: e.at, attempt: e.attempt, cause: e.cause, code: e.code, message: e.message }),
        });
      };
      void id;
    },
    { source, username, id, BASIC, AUTH_ID },
  );
  return page;
}

const kept = (page) => page.evaluate(() => window.kept);
const status = (page) => page.evaluate(() => window.keeper.status());

/** The registration of an endpoint as the sandbox shows it. */
async function registered(base, platform, id) {
  const path = platform === "vobiz" ? `/api/v1/Account/${AUTH_ID}/Endpoint/${id}/` : `/v1/Account/${AUTH_ID}/Endpoint/${id}/`;
  const headers = platform === "vobiz" ? { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN } : { authorization: BASIC };
  return (await (await fetch(`${base}${path}`, { headers })).json()).sip_registered;
}

async function plivoFirst(base = SANDBOX) {
  return (await (await fetch(`${base}/v1/Account/${AUTH_ID}/Endpoint/?limit=1`, { headers: { authorization: BASIC } })).json()).objects[0];
}

/** Runs the simulation until `condition()` (checked every `step` of the pages' time) holds. */
async function runUntil(sim, condition, what, limitMs = 10 * MINUTE, step = 5_000) {
  for (let waited = 0; !(await condition()); waited += step) {
    assert.ok(waited < limitMs, `${what}: not within ${limitMs / MINUTE} minutes of the pages' time; kept: ${JSON.stringify(await kept(sim.tabs[0]))}`);
    await sim.run(step);
  }
}

function report(name, figures) {
  console.log(`# ${name}: ${JSON.stringify(figures)}`);
}

/** A kept token login on the shared sandbox, logged in. */
async function loggedIn(options = {}) {
  const sim = await Simulation.start(await newContext(), { signalling: true, ...options });
  const endpoint = await plivoFirst(sim.base);
  const page = await keptTab(sim, { source: "token", username: endpoint.username });
  await page.evaluate(() => window.start());
  await runUntil(sim, async () => (await status(page)).state === "loggedIn", "logged in");
  return { sim, page, endpoint };
}

pageTest("a dropped socket: the SDK reconnects on its own, and nothing more is needed", async () => {
  const { sim, page, endpoint } = await loggedIn();
  const dropped = await sandbox("POST", "/__sandbox/signalling/drop");
  assert.equal(dropped.dropped, 1);
  await sim.run(MINUTE);
  assert.equal(await registered(SANDBOX, "plivo", endpoint.endpoint_id), "true");
  const { state, attempts } = await status(page);
  assert.equal(state, "loggedIn");
  // The SDK reconnects on its own; only when its keepalive failed first and it was not back
  // within recoverWithinMs is it logged in once more.
  assert.ok(attempts <= 2, `${attempts} logins for one dropped socket`);
  report("socket dropped", { attempts });
});

pageTest("the sandbox stopped for five minutes and started again: registered again, with a bounded number of logins", async () => {
  let server = await startSandbox();
  try {
    const { sim, page, endpoint } = await loggedIn({ base: server.url });
    // The WebSockets the page opens during the outage: the SDK's own reconnect loop, which
    // keepLoggedIn cannot hold back (README, "Staying logged in"), and its logins.
    await page.evaluate(() => {
      const Native = window.WebSocket;
      window.socketsOpened = 0;
      window.WebSocket = new Proxy(Native, { construct: (target, args) => (window.socketsOpened++, new target(...args)) });
    });
    sim.down = true;
    await stopSandbox(server);
    await sim.run(5 * MINUTE);
    const during = await kept(page);
    const sockets = await page.evaluate(() => window.socketsOpened);
    server = await startSandbox(server.port);
    sim.down = false;
    await runUntil(sim, async () => (await registered(server.url, "plivo", endpoint.endpoint_id)) === "true", "registered again");
    await runUntil(sim, async () => (await status(page)).state === "loggedIn", "logged in again");
    const { attempts } = await status(page);
    assert.ok(attempts >= 2 && attempts <= 12, `${attempts} logins over five minutes of outage`);
    assert.ok(during.some((e) => e.type === "lost"), "the outage was reported");
    report("sandbox restarted", { attempts, socketsOpenedDuringOutage: sockets, events: (await kept(page)).map((e) => e.type).join(",") });
  } finally {
    await stopSandbox(server);
  }
});

pageTest("a laptop asleep for two hours, then a tab hidden for an hour: registered again each time", async () => {
  const { sim, page, endpoint } = await loggedIn();
  await sim.run(MINUTE);
  // Asleep: no timer runs for two hours; on waking they all fire, late.
  await sim.jump(2 * HOUR);
  await page.evaluate(() => {
    window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }));
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await runUntil(sim, async () => (await status(page)).state === "loggedIn" && (await registered(SANDBOX, "plivo", endpoint.endpoint_id)) === "true", "registered after the sleep");
  const afterSleep = (await status(page)).attempts;
  // Hidden for an hour: Chrome runs its timers once a minute, late.
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.jump(HOUR, MINUTE);
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await runUntil(sim, async () => (await status(page)).state === "loggedIn" && (await registered(SANDBOX, "plivo", endpoint.endpoint_id)) === "true", "registered after the hidden hour");
  await sim.run(5 * MINUTE);
  assert.equal(await registered(SANDBOX, "plivo", endpoint.endpoint_id), "true", "and it stays so");
  const { attempts } = await status(page);
  assert.ok(afterSleep <= 4 && attempts <= afterSleep + 4, `${afterSleep} logins by the end of the sleep, ${attempts} by the end of the hidden hour`);
  report("asleep and hidden", { afterSleep, attempts, events: (await kept(page)).map((e) => e.type).join(",") });
});

pageTest("a rotated password: refused, fresh credentials fetched once, registered again; stale ones stop it with the reason", async () => {
  const sim = await Simulation.start(await newContext(), { signalling: true });
  const vobiz = (await (await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/Endpoint/?limit=1`, { headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN } })).json()).objects[0];
  const setPassword = async (password) => {
    const response = await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/Endpoint/${vobiz.endpoint_id}/`, {
      method: "POST",
      headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ password: secret(password) }),
    });
    assert.equal(response.status, 202);
  };
  await setPassword("first-password-1");
  const page = await keptTab(sim, { source: "password", username: vobiz.username, id: vobiz.endpoint_id });
  await page.evaluate(() => {
    window.password = "first-password-1";
    return window.start();
  });
  await runUntil(sim, async () => (await status(page)).state === "loggedIn", "logged in");
  // The password changes; the application's credentials callback knows the new one.
  await setPassword("second-password-2");
  await page.evaluate(() => (window.password = "second-password-2"));
  await runUntil(sim, async () => (await kept(page)).some((e) => e.type === "refused"), "the next registration is refused");
  await runUntil(sim, async () => (await status(page)).state === "loggedIn" && (await registered(SANDBOX, "vobiz", vobiz.endpoint_id)) === "true", "registered with the new password");
  const refused = (await kept(page)).find((e) => e.type === "refused");
  assert.equal(refused.cause, "Rejected");
  assert.match(refused.message, /username or password/);
  assert.equal(await page.evaluate(() => window.credentialsAsked), 2, "fresh credentials asked once");
  // Changed again, and the callback still answers the old one: it stops, saying why.
  await setPassword("third-password-3");
  await runUntil(sim, async () => (await status(page)).state === "stopped", "stopped");
  const stopped = (await kept(page)).at(-1);
  assert.equal(stopped.type, "stopped");
  assert.match(stopped.message, /refuses even fresh credentials: Rejected/);
  const { attempts } = await status(page);
  assert.ok(attempts <= 4, `${attempts} logins`);
  await sim.run(10 * MINUTE);
  assert.equal((await status(page)).attempts, attempts, "nothing more once stopped");
  report("rotated password", { attempts });
});

pageTest("a deleted endpoint: refused with INVALID_ACCESS_TOKEN_SUBJECT, a fresh token once, then stopped", async () => {
  const { sim, page, endpoint } = await loggedIn();
  const deleted = await fetch(`${SANDBOX}/v1/Account/${AUTH_ID}/Endpoint/${endpoint.endpoint_id}/`, { method: "DELETE", headers: { authorization: BASIC } });
  assert.equal(deleted.status, 204);
  await runUntil(sim, async () => (await status(page)).state === "stopped", "stopped");
  const events = await kept(page);
  const refused = events.find((e) => e.type === "refused");
  const stopped = events.at(-1);
  // A refused re-REGISTER drops the socket first: that is not announced as a lost connection.
  assert.deepEqual(events.slice(0, events.indexOf(refused)).filter((e) => e.type === "lost"), [], "no `lost` before the refusal");
  assert.deepEqual([refused.cause, refused.code], ["INVALID_ACCESS_TOKEN_SUBJECT", 10004], "the registrar's reason, which the SDK hides in generator mode");
  assert.equal(stopped.type, "stopped");
  assert.match(stopped.message, /INVALID_ACCESS_TOKEN_SUBJECT \(10004\): the token's endpoint does not exist/);
  const { attempts } = await status(page);
  assert.equal(attempts, 2, "the first login and one with a fresh token");
  await sim.run(10 * MINUTE);
  assert.equal((await status(page)).attempts, 2, "nothing more once stopped");
  // dispose() logs out and stops.
  await page.evaluate(() => window.keeper.dispose());
  assert.equal((await status(page)).state, "disposed");
  report("deleted endpoint", { attempts });
  await sandboxAt(SANDBOX, "POST", "/__sandbox/reset");
});

pageTest("a call in progress holds the login until it ends; dispose() logs out and stops", async () => {
  const { sim, page, endpoint } = await loggedIn();
  // The SDK's client says a call is on (on the fake clock, simpler than a real call, which
  // tabs.test.mjs places; the SDK refuses to log in during one, and keepLoggedIn asks it
  // before each login).
  await page.evaluate(() => (window.plivo.client.getCallUUID = () => "a-call-in-progress"));
  // The registrar fails the refreshes: a new login is due, and waits for the call.
  await sandbox("POST", "/__sandbox/signalling/refuse", { status: 503, times: 1000 });
  await runUntil(sim, async () => (await kept(page)).some((e) => e.type === "waiting"), "waiting for the call");
  await sandbox("DELETE", "/__sandbox/signalling/refuse");
  const during = (await status(page)).attempts;
  await sim.run(5 * MINUTE);
  assert.equal((await status(page)).attempts, during, "no login while the call goes on");
  assert.match((await kept(page)).find((e) => e.type === "waiting").message, /call is in progress/);
  await page.evaluate(() => (window.plivo.client.getCallUUID = () => null));
  await runUntil(sim, async () => (await status(page)).state === "loggedIn" && (await registered(SANDBOX, "plivo", endpoint.endpoint_id)) === "true", "registered after the call");
  await page.evaluate(() => window.keeper.dispose());
  await sim.run(10_000);
  assert.equal(await registered(SANDBOX, "plivo", endpoint.endpoint_id), "false", "dispose() logged the SDK out");
  const attempts = (await status(page)).attempts;
  await sim.run(30 * MINUTE);
  assert.deepEqual(await status(page), { state: "disposed", attempts, cause: null });
  report("call in progress", { attempts });
});
