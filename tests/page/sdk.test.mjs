// The real Plivo browser SDK (npm `plivo-browser-sdk`, a devDependency) logged in with a
// TokenProvider, in Chromium, on Playwright's fake clock over simulated hours (see
// simulation.mjs): steady refreshes, token-source outages, clocks that disagree, a
// throttled hidden tab, a sleeping laptop, and several tabs of one origin sharing one token.
import assert from "node:assert/strict";
import { newContext, pageTest, sandbox, setup } from "./harness.mjs";
import { Simulation, leastLeft, tokenFetches } from "./simulation.mjs";

/** The SDK's own lead: it asks again 60 s before `exp`. */
const SDK_LEAD_S = 60;
/** The provider's default safety margin on top of it. */
const SAFETY_S = 10;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

setup();

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
  const sim = await Simulation.start(await newContext());
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
  const sim = await Simulation.start(await newContext());
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
    const sim = await Simulation.start(await newContext(), { skewMs });
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
  const sim = await Simulation.start(await newContext());
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

// With 5 tabs, every other one loads endpoint-login/tokens (a calling page beside admin
// pages): the modules share one token all the same.
const TOKENS_MODULE = "/pkg/tokens/endpoint_login.js";
for (const [tabs, mixed] of [[2, false], [5, true]]) {
  const which = mixed ? ", every other one on endpoint-login/tokens" : "";
  pageTest(`${tabs} tabs of one origin${which}: one token fetch per token, the fetching tab closed midway`, async () => {
    const sim = await Simulation.start(await newContext());
    await sim.openTab({ ttl: 300 });
    await sandbox("DELETE", "/__sandbox/requests");
    for (let i = 1; i < tabs; i++) await sim.openTab({ ttl: 300, ...(mixed && i % 2 === 1 && { module: TOKENS_MODULE }) });
    assert.equal(await tokenFetches(), 0, "a new tab takes the current token from the others");
    const half = 20 * MINUTE;
    await sim.run(half);
    const firstHalf = await tokenFetches();
    // The first tab held the lock: closing it hands the fetching to another.
    const [leader] = sim.tabs.splice(0, 1);
    await leader.close();
    await sim.run(half);
    const fetches = await tokenFetches();
    const seen = await sim.seen();
    const least = assertNeverFailedOrSpun(seen);
    // One token per 200 s (a 5-minute token refreshed 100 s early), whatever the tabs.
    const perHalf = half / 200_000;
    assert.ok(firstHalf <= perHalf + 1, `${firstHalf} fetches in ${half / MINUTE} minutes for ${tabs} tabs`);
    assert.ok(fetches <= 2 * perHalf + 1, `${fetches} fetches in ${(2 * half) / MINUTE} minutes for ${tabs} tabs`);
    for (const tab of seen) assertNoSpin(tab, (2 * half) / 200_000);
    const shared = seen.flatMap((s) => s.events).filter((e) => e.type === "tokenRefreshed" && e.fromTab).length;
    assert.ok(shared > 0, "tokens arrived from another tab");
    report(`${tabs} tabs`, { minutes: (2 * half) / MINUTE, fetches, sdkCallsPerTab: seen.map((s) => s.calls), leastLocalSecondsLeft: least.local });
    for (const page of sim.tabs) assert.deepEqual(page.problems, []);
  });
}
