// The real Plivo browser SDK (npm `plivo-browser-sdk`, a devDependency) logged in with a
// TokenProvider, in Chromium, on Playwright's fake clock over simulated hours: steady
// refreshes, token-source outages, clocks that disagree, a throttled hidden tab, a sleeping
// laptop, and several tabs of one origin sharing one token.
//
// The SDK runs unchanged: it asks `getAccessToken()` at login and again 60 s before `exp`
// by the page's clock, gives up for good on one rejection, and loops when a token has 60 s
// or less left. The test only watches (it counts the calls and notes each token handed
// over). Its signalling WebSocket cannot reach Plivo offline; its token handling runs all
// the same. Tokens come over real HTTP from the sandbox's backend route, whose clock
// follows the page's fake clock (plus the skew a test asks for).
import assert from "node:assert/strict";
import { PLIVO_SDK, SANDBOX, SDK_NOISE, context, newContext, pageTest, requests, sandbox, setup, until, watchedPage } from "./harness.mjs";

const HARNESS = `${SANDBOX}/sdk-harness.html`;
/** The SDK's own lead: it asks again 60 s before `exp`. */
const SDK_LEAD_S = 60;
/** The provider's default safety margin on top of it. */
const SAFETY_S = 10;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

setup();

/**
 * Tabs of one origin on one fake clock, the sandbox's clock following it. `skewMs`: how far
 * the platform's clock is ahead of the pages' (negative: behind).
 */
class Simulation {
  static async start({ skewMs = 0 } = {}) {
    const sim = new Simulation();
    sim.skewMs = skewMs;
    sim.tabs = [];
    sim.inflight = 0;
    await newContext();
    await context.route(HARNESS, (route) =>
      route.fulfill({ contentType: "text/html", body: "<!doctype html><title>SDK harness</title>" }),
    );
    sim.started = 0;
    context.on("request", (r) => {
      if (!r.url().startsWith(SANDBOX)) return;
      sim.inflight += 1;
      sim.started += 1;
    });
    for (const done of ["requestfinished", "requestfailed"]) {
      context.on(done, (r) => r.url().startsWith(SANDBOX) && (sim.inflight -= 1));
    }
    await context.clock.install({ time: Date.now() });
    await context.clock.pauseAt(Date.now() + 1000);
    await sim.syncSandbox(0);
    return sim;
  }

  /** Opens a tab that loads the SDK and this package, and logs the SDK in with a provider. */
  async openTab({ ttl = 300, signIn = this.tabs.length === 0 } = {}) {
    const page = await watchedPage(SDK_NOISE);
    await page.goto(HARNESS);
    await page.addScriptTag({ path: PLIVO_SDK });
    await page.evaluate(
      async ({ ttl, signIn }) => {
        if (signIn) {
          await fetch("/backend/session", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user: "alice" }),
          });
        }
        const lib = await import("/pkg/endpoint_login.js");
        await lib.default();
        const seen = (window.seen = { calls: 0, handed: [], failures: [], events: [] });
        const provider = (window.provider = new lib.TokenProvider({ tokenUrl: `/backend/token?ttl=${ttl}` }));
        for (const type of ["tokenRefreshed", "tokenError", "callersHeld", "callersReleased"]) {
          provider.addEventListener(type, (e) => seen.events.push({ type, at: Date.now(), fromTab: e.fromTab, code: e.error?.code }));
        }
        // Watch what the SDK asks for and what it gets, without changing either.
        const getAccessToken = provider.getAccessToken.bind(provider);
        provider.getAccessToken = () => {
          seen.calls += 1;
          return getAccessToken().then((token) => {
            const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
            seen.handed.push({ at: Date.now(), exp: claims.exp });
            return token;
          });
        };
        const plivo = new window.Plivo({ debug: "OFF" });
        plivo.client.on("onLoginFailed", (cause) => seen.failures.push(cause));
        plivo.client.loginWithAccessTokenGenerator(provider);
      },
      { ttl, signIn },
    );
    this.tabs.push(page);
    await until(page, () => window.seen.handed.length === 1, null, "the SDK logged in with a token");
    this.sliceStarted = undefined;
    await this.settle();
    return page;
  }

  /** Puts the sandbox's clock `aheadMs` ahead of the pages' clock as it is now, plus the skew. */
  async syncSandbox(aheadMs) {
    const page = this.tabs[0];
    const pageNow = page ? await page.evaluate(() => Date.now()) : await this.clockNow();
    await sandbox("PUT", "/__sandbox/clock", { offsetMs: Math.round(pageNow + aheadMs - Date.now() + this.skewMs) });
  }

  async clockNow() {
    const page = await context.newPage();
    const now = await page.evaluate(() => Date.now());
    await page.close();
    return now;
  }

  /**
   * Lets every tab finish what it started: requests answered and their callbacks run. Work
   * that starts without a timer (a lock granted, a message from another tab) shows up
   * within a few turns of the event loop, so quiet means several turns with nothing in flight.
   */
  async settle() {
    const yieldAll = () => Promise.all(this.tabs.map((page) => page.evaluate(() => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(0);
    }))));
    let quiet = 0;
    for (let round = 0; round < 2000; round++) {
      const started = this.started;
      await yieldAll();
      if (this.inflight > 0) {
        quiet = 0;
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      quiet += 1;
      // Nothing was asked for since the last turn, nor is anything pending: quiet at once
      // when the slice made no request at all, else after a few more turns.
      if (started === this.started && (this.sliceStarted === this.started || quiet >= 3)) return;
    }
    throw new Error("requests still in flight after 2000 turns");
  }

  /**
   * Runs the pages' clock `ms` forward in slices (timers fire on time; a request started
   * in a slice is answered before the next), the sandbox's clock following. A slice stays
   * under the provider's 10 s request timeout: the fake time a slice passes while a request
   * is on its way is network latency to the page.
   */
  async run(ms, slice = 5_000) {
    for (let done = 0; done < ms; done += slice) {
      await this.syncSandbox(slice / 2);
      this.sliceStarted = this.started;
      await context.clock.runFor(Math.min(slice, ms - done));
      await this.settle();
    }
  }

  /**
   * Jumps the clock `ms` forward as a throttled or sleeping machine does: each due timer
   * fires once, late, at the end of each jump.
   */
  async jump(ms, step = ms) {
    for (let done = 0; done < ms; done += step) {
      await this.syncSandbox(Math.min(step, ms - done));
      this.sliceStarted = this.started;
      await context.clock.fastForward(Math.min(step, ms - done));
      await this.settle();
    }
  }

  /** What every tab saw: SDK calls, tokens handed over, login failures, provider events. */
  async seen() {
    return Promise.all(this.tabs.map((page) => page.evaluate(() => window.seen)));
  }
}

/** Token requests the sandbox answered for the backend route. */
async function tokenFetches() {
  return (await requests()).filter((r) => r.endsWith(" /backend/token")).length;
}

/** The least time left on any token handed to the SDK, in seconds, by the page's clock and by the platform's. */
function leastLeft(seen, skewMs) {
  const handed = seen.flatMap((s) => s.handed);
  return {
    local: Math.min(...handed.map((h) => h.exp - h.at / 1000)),
    platform: Math.min(...handed.map((h) => h.exp - (h.at + skewMs) / 1000)),
  };
}

/** Every tab's SDK stayed logged in, and was never handed a token it would loop on. */
function assertNeverFailedOrSpun(seen, skewMs = 0) {
  for (const [i, tab] of seen.entries()) {
    assert.deepEqual(tab.failures, [], `tab ${i + 1}: the SDK's login never failed`);
    assert.ok(tab.handed.length >= 1, `tab ${i + 1}: the SDK got a token`);
    assert.equal(tab.handed.length, tab.calls, `tab ${i + 1}: every getAccessToken() call resolved`);
  }
  const least = leastLeft(seen, skewMs);
  assert.ok(least.local > SDK_LEAD_S + SAFETY_S - 1, `least time left by the page's clock: ${least.local} s`);
  assert.ok(least.platform > SDK_LEAD_S + SAFETY_S - 3, `least time left by the platform's clock: ${least.platform} s`);
  return least;
}

/** The SDK asks about once per token; `lifetimes` tokens' worth of simulated time passed. */
function assertNoSpin(tab, lifetimes, extra = 1) {
  assert.ok(tab.calls <= Math.ceil(lifetimes) + extra, `${tab.calls} getAccessToken() calls in ${lifetimes} token lifetimes`);
}

function report(name, figures) {
  console.log(`# ${name}: ${JSON.stringify(figures)}`);
}

pageTest("the SDK stays logged in for hours on 5-minute tokens, asking once per token", async () => {
  const sim = await Simulation.start();
  await sim.openTab({ ttl: 300 });
  await sandbox("DELETE", "/__sandbox/requests");
  await sim.run(2 * HOUR);
  const seen = await sim.seen();
  const least = assertNeverFailedOrSpun(seen);
  // A 5-minute token is refreshed 100 s before it expires: one token per 200 s.
  const lifetimes = (2 * HOUR) / 200_000;
  assertNoSpin(seen[0], lifetimes);
  assert.ok(seen[0].calls >= lifetimes - 1, `${seen[0].calls} calls: the SDK kept asking on its schedule`);
  const fetches = await tokenFetches();
  assert.ok(fetches <= Math.ceil(lifetimes) + 1, `${fetches} token fetches in 2 hours`);
  assert.equal(seen[0].events.filter((e) => e.type === "callersHeld").length, 0, "nobody waited");
  report("steady", { hours: 2, ttl: 300, sdkCalls: seen[0].calls, fetches, leastLocalSecondsLeft: least.local });
  assert.deepEqual(sim.tabs[0].problems, []);
});

pageTest("token-source outages: across the SDK's refresh point, longer than the margin, and mid-life", async () => {
  const sim = await Simulation.start();
  await sim.openTab({ ttl: 300 });
  const outage = async (startAfterMs, lengthMs) => {
    await sim.run(startAfterMs);
    await sandbox("POST", "/__sandbox/faults", { path: "/backend/token", status: 503, times: 100_000 });
    await sim.run(lengthMs);
    await sandbox("DELETE", "/__sandbox/faults");
  };
  // The first token (t = 0) is due at 200 s; the SDK asks at 240 s; it expires at 300 s.
  // 1. 190 s to 280 s: across the provider's refresh point and the SDK's.
  await outage(190_000, 90_000);
  // 2. Four minutes from the next refresh point: the token in hand expires meanwhile.
  await sim.run(2 * MINUTE);
  await outage(60_000, 4 * MINUTE);
  // 3. Two minutes in the middle of a token's life: nothing is due, nothing is seen. (The
  // last outage's retry lands within 30 s of its end, and its token is due 200 s later.)
  await sim.run(60_000);
  const before = (await sim.seen())[0].events.length;
  await outage(5_000, 2 * MINUTE - 5_000);
  const during = (await sim.seen())[0].events.slice(before);
  await sim.run(30 * MINUTE);

  const seen = await sim.seen();
  const least = assertNeverFailedOrSpun(seen);
  const types = seen[0].events.map((e) => e.type);
  assert.ok(types.includes("callersHeld") && types.includes("callersReleased"), types.join());
  assert.equal(types.filter((t) => t === "callersHeld").length, types.filter((t) => t === "callersReleased").length);
  const codes = [...new Set(seen[0].events.filter((e) => e.type === "tokenError").map((e) => e.code))];
  assert.deepEqual(codes, ["SERVER_ERROR"], "the outage is what failed");
  assert.deepEqual(during.filter((e) => e.type !== "tokenRefreshed"), [], "an outage while nothing is due goes unnoticed");
  const simulated = (await sim.tabs[0].evaluate(() => Date.now())) - seen[0].handed[0].at;
  assertNoSpin(seen[0], simulated / 200_000, 3);
  report("outages", { sdkCalls: seen[0].calls, held: types.filter((t) => t === "callersHeld").length, leastLocalSecondsLeft: least.local });
  assert.deepEqual(sim.tabs[0].problems, []);
});

for (const [name, skewMs] of [["ahead of", -3 * MINUTE], ["behind", 3 * MINUTE]]) {
  pageTest(`the page's clock three minutes ${name} the platform's`, async () => {
    const sim = await Simulation.start({ skewMs });
    await sim.openTab({ ttl: 600 });
    await sandbox("DELETE", "/__sandbox/requests");
    await sim.run(HOUR);
    const seen = await sim.seen();
    const least = assertNeverFailedOrSpun(seen, skewMs);
    const current = await sim.tabs[0].evaluate(() => window.provider.current());
    assert.ok(Math.abs(current.clockOffsetMs - skewMs) < 5000, `estimated offset ${current.clockOffsetMs} ms, real ${skewMs} ms`);
    // Refreshed when either clock reaches the margin: a 10-minute token lasts 9 minutes less the skew's share.
    assertNoSpin(seen[0], HOUR / (6 * MINUTE), 2);
    report(`clock ${name}`, { skewMs, sdkCalls: seen[0].calls, fetches: await tokenFetches(), least });
    assert.deepEqual(sim.tabs[0].problems, []);
  });
}

pageTest("a hidden tab whose timers fire a minute late, then a laptop asleep for an hour", async () => {
  const sim = await Simulation.start();
  const page = await sim.openTab({ ttl: 300 });
  await sim.run(MINUTE);
  // Hidden for 40 minutes: Chrome then runs chained timers once a minute, late.
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.jump(40 * MINUTE, MINUTE);
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.run(10 * MINUTE);
  const hidden = (await sim.seen())[0];
  // Asleep for an hour: no timer runs; on waking, the page is shown again.
  await sim.jump(HOUR);
  await page.evaluate(() => {
    window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }));
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await sim.settle();
  await sim.run(20 * MINUTE);

  const seen = await sim.seen();
  const least = assertNeverFailedOrSpun(seen);
  // After the sleep the SDK's overdue timer asks at once; it is answered with a fresh token
  // (never the expired one), and it does not loop.
  const afterSleep = seen[0].handed.slice(hidden.handed.length);
  assert.ok(afterSleep.length >= 1 && afterSleep.length <= 8, `${afterSleep.length} tokens handed after the sleep`);
  assertNoSpin(seen[0], (MINUTE + 40 * MINUTE + 10 * MINUTE + HOUR + 20 * MINUTE) / 200_000, 12);
  report("hidden and asleep", { sdkCalls: seen[0].calls, leastLocalSecondsLeft: least.local });
  assert.deepEqual(page.problems, []);
});

for (const tabs of [2, 5]) {
  pageTest(`${tabs} tabs of one origin: one token fetch per token, the fetching tab closed midway`, async () => {
    const sim = await Simulation.start();
    await sim.openTab({ ttl: 300 });
    await sandbox("DELETE", "/__sandbox/requests");
    for (let i = 1; i < tabs; i++) await sim.openTab({ ttl: 300 });
    assert.equal(await tokenFetches(), 0, "a new tab takes the current token from the others");
    await sim.run(30 * MINUTE);
    const firstHalf = await tokenFetches();
    // The first tab held the lock: closing it hands the fetching to another.
    const [leader] = sim.tabs.splice(0, 1);
    await leader.close();
    await sim.run(30 * MINUTE);
    const fetches = await tokenFetches();
    const seen = await sim.seen();
    const least = assertNeverFailedOrSpun(seen);
    // One token per 200 s (a 5-minute token refreshed 100 s early): 9 in half an hour.
    assert.ok(firstHalf <= 10, `${firstHalf} fetches in the first half hour for ${tabs} tabs`);
    assert.ok(fetches <= 19, `${fetches} fetches in an hour for ${tabs} tabs`);
    for (const tab of seen) assertNoSpin(tab, HOUR / 200_000);
    const shared = seen.flatMap((s) => s.events).filter((e) => e.type === "tokenRefreshed" && e.fromTab).length;
    assert.ok(shared > 0, "tokens arrived from another tab");
    report(`${tabs} tabs`, { fetchesPerHour: fetches, sdkCallsPerTab: seen.map((s) => s.calls), leastLocalSecondsLeft: least.local });
    for (const page of sim.tabs) assert.deepEqual(page.problems, []);
  });
}
