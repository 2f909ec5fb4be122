// Tabs of one origin on one fake clock, each logging the real Plivo browser SDK in with a
// TokenProvider, the sandbox's clock following theirs: the page tests of the SDK contract
// (tests/page/sdk.test.mjs) and the benchmark's figures for it (bench/chromium.bench.mjs)
// both run on this.
//
// The SDK runs unchanged: it asks `getAccessToken()` at login and again 60 s before `exp`
// by the page's clock, gives up for good on one rejection, and loops when a token has 60 s
// or less left. The simulation only watches (it counts the calls and notes each token
// handed over). Tokens come over real HTTP from the sandbox's backend route.
//
// Without `signalling`, the SDK's WebSocket cannot reach Plivo offline and its token
// handling runs all the same. With it, the SDK logs in to the sandbox's signalling server
// and stays registered: the clock then runs in slices that end just after each keepalive
// the SDK sends (every 5 s; it gives up on one not answered within 2 s of the page's
// time), and each slice waits until every SIP request has its answer.
import { PLIVO_SDK, SANDBOX, SDK_NOISE, SDK_UNCAUGHT, blankPage, requests, sandboxAt, watch } from "./sandbox.mjs";
import { SDK_OFFLINE, signallingOf, sipWatch } from "./signalling.mjs";

/** The SDK's keepalive period, and how long it waits for the answer (signalling.md). */
const KEEPALIVE_MS = 5_000;
const KEEPALIVE_DEADLINE_MS = 2_000;
/** Slices while the SDK opens its socket again, and for how long after one closed. */
const RECONNECTING_SLICE_MS = 200;
const RECONNECTING_FOR_MS = 30_000;

/**
 * Tabs of one origin on one fake clock, the sandbox's clock following it. `skewMs`: how far
 * the platform's clock is ahead of the pages' (negative: behind).
 */
export class Simulation {
  static async start(context, { skewMs = 0, signalling = false, base = SANDBOX } = {}) {
    const sim = new Simulation();
    sim.context = context;
    sim.skewMs = skewMs;
    sim.signalling = signalling;
    // The sandbox the pages talk to (a test's own, or the shared one), and whether it is
    // down now (its clock is not followed then).
    sim.base = base;
    sim.down = false;
    sim.tabs = [];
    sim.inflight = 0;
    if (signalling) {
      await context.addInitScript(sipWatch);
      sim.url = `${base}/__sandbox/page`;
    } else {
      sim.url = await blankPage(context, "sdk-harness");
    }
    sim.started = 0;
    context.on("request", (r) => {
      if (!r.url().startsWith(base)) return;
      sim.inflight += 1;
      sim.started += 1;
    });
    for (const done of ["requestfinished", "requestfailed"]) {
      context.on(done, (r) => r.url().startsWith(base) && (sim.inflight -= 1));
    }
    await context.clock.install({ time: Date.now() });
    await context.clock.pauseAt(Date.now() + 1000);
    await sim.syncSandbox(0);
    return sim;
  }

  /**
   * Opens a tab that loads the SDK and this package (`module`: the main module, or
   * `/pkg/tokens/endpoint_login.js`, the login pages' one), and logs the SDK in with a
   * provider.
   */
  async openTab({ ttl = 300, signIn = this.tabs.length === 0, module = "/pkg/endpoint_login.js", sub = null } = {}) {
    const page = this.signalling ? watch(await this.context.newPage(), SDK_OFFLINE, SDK_UNCAUGHT) : watch(await this.context.newPage(), SDK_NOISE);
    await page.goto(this.url);
    await page.addScriptTag(this.signalling ? { url: "/vendor/plivobrowsersdk.js" } : { path: PLIVO_SDK });
    await page.evaluate(
      async ({ ttl, signIn, module, sub, signalling }) => {
        if (signIn) {
          await fetch("/backend/session", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user: "alice" }),
          });
        }
        const lib = await import(module);
        await lib.default();
        const seen = (window.seen = { calls: 0, handed: [], failures: [], events: [] });
        // The backend's signed-in user's tokens, or (`sub`) another endpoint's from the JWT
        // API in direct mode, the sandbox's account in this page.
        const provider = (window.provider = sub
          ? new lib.EndpointClient({ dialect: "plivo", ...(await (await fetch("/__sandbox/account")).json()), baseUrl: location.origin })
              .tokenProvider({ request: { sub, ttlSeconds: ttl, incoming: true } })
          : new lib.TokenProvider({ tokenUrl: `/backend/token?ttl=${ttl}` }));
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
        const plivo = (window.plivo = new window.Plivo({ debug: "OFF", ...(signalling && { registrationDomainSocket: [signalling] }) }));
        plivo.client.on("onLoginFailed", (cause) => seen.failures.push(cause));
        for (const name of ["onLogin", "onLogout"]) plivo.client.on(name, () => seen.events.push({ type: name, at: Date.now() }));
        plivo.client.loginWithAccessTokenGenerator(provider);
      },
      { ttl, signIn, module, sub, signalling: this.signalling && signallingOf(this.base) },
    );
    this.tabs.push(page);
    await page.waitForFunction(() => window.seen.handed.length === 1, null, { timeout: 10_000, polling: 20 });
    this.sliceStarted = undefined;
    await this.settle();
    return page;
  }

  /**
   * Puts the sandbox's clock `aheadMs` ahead of the pages' clock as it is now (`pageNow`, read
   * from the first tab when not given), plus the skew.
   */
  async syncSandbox(aheadMs, pageNow) {
    const page = this.tabs[0];
    if (this.down) return;
    pageNow ??= page ? await page.evaluate(() => Date.now()) : await this.clockNow();
    await sandboxAt(this.base, "PUT", "/__sandbox/clock", { offsetMs: Math.round(pageNow + aheadMs - Date.now() + this.skewMs) });
  }

  async clockNow() {
    const page = await this.context.newPage();
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
    if (this.signalling) return this.runRegistered(ms);
    for (let done = 0; done < ms; done += slice) {
      await this.syncSandbox(slice / 2);
      this.sliceStarted = this.started;
      await this.context.clock.runFor(Math.min(slice, ms - done));
      await this.settle();
    }
  }

  /**
   * Runs the pages' clock `ms` forward while their SDKs are logged in to the sandbox: each
   * slice ends just after the first tab's next keepalive (or lasts less than the keepalive's
   * deadline when it is not known yet), then waits for every SIP answer and every request.
   */
  async runRegistered(ms) {
    const [first] = this.tabs;
    const end = (await first.evaluate(() => Date.now())) + ms;
    for (;;) {
      const { now, lastPing, open, opening, lastClose } = await first.evaluate(() => {
        const sip = window.__sip;
        return { now: Date.now(), lastPing: sip.lastPing, open: sip.open, opening: sip.opening(), lastClose: sip.lastClose };
      });
      if (now >= end) return;
      const known = lastPing > 0 && now - lastPing < KEEPALIVE_MS;
      // While the SDK opens its socket (again) to a sandbox that is up: short slices, so that
      // its own checks do not close a socket still being opened in real time.
      const reconnecting = !this.down && open === 0 && (opening || now - lastClose < RECONNECTING_FOR_MS);
      const longest = reconnecting ? RECONNECTING_SLICE_MS : known ? lastPing + KEEPALIVE_MS + 50 - now : KEEPALIVE_DEADLINE_MS - 100;
      const slice = Math.max(1, Math.min(longest, KEEPALIVE_MS, end - now));
      await this.syncSandbox(slice / 2, now);
      this.sliceStarted = this.started;
      await this.context.clock.runFor(slice);
      await this.settleSignalling();
    }
  }

  /** Waits until every tab's SIP requests have their answers, and every HTTP request is done. */
  async settleSignalling() {
    for (;;) {
      await Promise.all(
        this.tabs.map((page) =>
          page.waitForFunction((opening) => window.__sip.pending(opening) === 0, !this.down, { polling: 5, timeout: 30_000 }).catch(async (error) => {
            const sip = await page.evaluate(() => JSON.stringify(window.__sip)).catch(() => "?");
            throw new Error(`SIP traffic never settled (${sip}): ${error.message}`);
          }),
        ),
      );
      if (this.started === this.sliceStarted && this.inflight === 0) return;
      await this.settle();
      this.sliceStarted = this.started;
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
      await this.context.clock.fastForward(Math.min(step, ms - done));
      if (this.signalling) await this.settleSignalling();
      else await this.settle();
    }
  }

  /** What every tab saw: SDK calls, tokens handed over, login failures, provider events. */
  async seen() {
    return Promise.all(this.tabs.map((page) => page.evaluate(() => window.seen)));
  }
}

/** Token requests the sandbox answered for the backend route. */
export async function tokenFetches() {
  return (await requests()).filter((r) => r.endsWith(" /backend/token")).length;
}

/** The least time left on any token handed to the SDK, in seconds, by the page's clock and by the platform's. */
export function leastLeft(seen, skewMs) {
  const handed = seen.flatMap((s) => s.handed);
  return {
    local: Math.min(...handed.map((h) => h.exp - h.at / 1000)),
    platform: Math.min(...handed.map((h) => h.exp - (h.at + skewMs) / 1000)),
  };
}

