// One registration per browser (keepLoggedIn's `tabs: "one"`, the default), with the real
// Plivo browser SDK in several tabs of one Chromium context: one binding at the registrar
// through hours of token refreshes however many tabs keep the endpoint, a new holder within
// 3 s of the holder closing, crashing or freezing (and an incoming call ringing there and
// nowhere else), takeOver() make before break and never during a call, the registration
// following the visible tab, endpoints independent of each other, and each tab on its own
// where the browser has no Web Locks.
import assert from "node:assert/strict";
import { newContext, pageTest, sandbox, setup } from "./harness.mjs";
import { Simulation } from "./simulation.mjs";
import { bindingsOf, callContext, dial, events, keptTab, tokenPhone, until, untilEvent } from "./phones.mjs";

setup();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The states of the tabs, in order. */
const states = (tabs) => Promise.all(tabs.map((t) => t.status()));

/** Waits until exactly one tab of `tabs` holds the registration and the others wait. */
async function oneHolder(tabs, what = "one tab holds the registration") {
  await until(async () => {
    const now = await states(tabs);
    return now.filter((s) => s === "loggedIn").length === 1 && now.filter((s) => s === "inAnotherTab").length === tabs.length - 1;
  }, what);
  return tabs[(await states(tabs)).indexOf("loggedIn")];
}

/** `count` tabs keeping endpoint `index` logged in, the first of them the holder. */
async function tabsOf(context, index, count, options = {}) {
  const first = await keptTab(context, index, options);
  await until(async () => (await first.status()) === "loggedIn", "the first tab logs in");
  const tabs = [first];
  for (let i = 1; i < count; i++) tabs.push(await keptTab(context, index, options));
  await oneHolder(tabs);
  return tabs;
}

pageTest("five tabs keep one binding through two hours of token refreshes; token fetches are shared", async () => {
  const sim = await Simulation.start(await callContext(newContext), { signalling: true });
  const tabs = [];
  for (let i = 0; i < 5; i++) {
    const tab = await keptTab(sim.context, 0);
    sim.tabs.push(tab.page);
    tabs.push(tab);
    await sim.run(2_000);
  }
  const holder = await oneHolder(tabs);
  const index = tabs.indexOf(holder);
  const fetches = async () => (await sandbox("GET", "/__sandbox/requests")).requests.filter((r) => r.path.endsWith("/JWT/Token/")).length;
  const before = await fetches();
  let most = 0;
  for (let minutes = 0; minutes < 120; minutes += 10) {
    await sim.run(10 * MINUTE);
    const bound = await bindingsOf(holder.username);
    most = Math.max(most, bound.length);
    assert.equal(bound.length, 1, `one binding at minute ${minutes + 10}`);
    assert.deepEqual(await states(tabs), tabs.map((_, i) => (i === index ? "loggedIn" : "inAnotherTab")), `the same holder at minute ${minutes + 10}`);
  }
  const tokens = (await fetches()) - before;
  assert.ok(tokens >= 2 && tokens <= 3, `${tokens} token fetches in two hours of one-hour tokens, for five tabs`);
  const waiting = await tabs[(index + 1) % 5].page.evaluate(() => window.kept.find((e) => e.type === "inAnotherTab"));
  assert.match(waiting.message, /Registered in another tab of this browser/);
  console.log(`# 5 tabs, 2 hours: at most ${most} binding, ${tokens} token fetches`);
});

for (const how of ["closed", "crashed"]) {
  pageTest(`the holder ${how}: another tab registers within 3 s, and an incoming call rings there and nowhere else`, async () => {
    const context = await callContext(newContext);
    const tabs = await tabsOf(context, 1, 3);
    const [holder, ...others] = tabs;
    // The caller logs in first: a crashed page in the context refuses new init scripts.
    const caller = await tokenPhone(context, 0);
    const gone = Date.now();
    if (how === "closed") await holder.page.close();
    else await holder.page.goto("chrome://crash").catch(() => {});
    const next = await oneHolder(others, "a waiting tab takes the registration");
    const took = await until(async () => (await bindingsOf(next.username)).some((b) => b.loggedInAtMs >= gone), "a new binding");
    const seconds = (Date.now() - gone) / 1000;
    assert.ok(seconds < 3, `a new binding ${seconds} s after the holder ${how}`);
    // A call to the endpoint rings in the new holder only.
    await dial(caller, next.address);
    await untilEvent(next.page, "onIncomingCall");
    for (const other of others.filter((t) => t !== next)) assert.deepEqual(await events(other, "onIncomingCall"), []);
    await caller.page.evaluate(() => window.plivo.client.hangup());
    console.log(`# holder ${how}: new binding after ${seconds.toFixed(2)} s (${took} ms after the new holder was seen)`);
  });
}

pageTest("the holder frozen: another tab registers within 3 s; thawed, the frozen one logs out", async () => {
  const context = await callContext(newContext);
  const [holder, other] = await tabsOf(context, 1, 2);
  // What Chrome does to a background tab it stops: `freeze`, then nothing runs until
  // `resume`. The test plays the browser's part (Page.setWebLifecycleState does not reach
  // headless Chromium's pages: no `freeze`, timers go on): the event, then the page busy.
  const frozen = Date.now();
  await holder.page.evaluate(() => document.dispatchEvent(new Event("freeze")));
  const still = holder.page.evaluate(() => {
    const end = Date.now() + 5_000;
    while (Date.now() < end);
  });
  await until(async () => (await bindingsOf(holder.username)).some((b) => b.loggedInAtMs >= frozen), "a new binding", 3_000);
  const seconds = (Date.now() - frozen) / 1000;
  await until(async () => (await other.status()) === "loggedIn", "the other tab says it is logged in");
  assert.match((await other.page.evaluate(() => window.kept.findLast((e) => e.type === "loggingIn"))).message, /the tab that held the registration is gone \(closed, crashed or frozen\)/);
  await still;
  await holder.page.evaluate(() => document.dispatchEvent(new Event("resume")));
  await until(async () => (await holder.status()) === "inAnotherTab", "the thawed tab waits");
  await until(async () => (await bindingsOf(holder.username)).length === 1, "one binding again: the thawed tab logged out");
  console.log(`# holder frozen: a new binding after ${seconds.toFixed(2)} s`);
});

pageTest("takeOver(): make before break (the new binding is there before the old one ends), and never during a call", async () => {
  const context = await callContext(newContext);
  const [holder, other] = await tabsOf(context, 1, 2);
  const old = (await bindingsOf(holder.username))[0];
  await other.page.evaluate(() => window.keeper.takeOver());
  assert.equal(await other.status(), "loggedIn", "takeOver() resolves once this tab is registered");
  await oneHolder([holder, other], "the old holder logs out");
  assert.equal(await holder.status(), "inAnotherTab");
  // The SIP log: the new tab's REGISTER was accepted before the old one's logout.
  const log = (await sandbox("GET", "/__sandbox/signalling/log")).messages;
  const registered = log.find((m) => m.direction === "out" && m.status === 200 && m.connection !== old.connection && m.user === holder.address && m.expires > 0);
  const logout = log.find((m) => m.direction === "in" && m.method === "REGISTER" && m.connection === old.connection && m.expires === 0);
  assert.ok(registered && logout && registered.seq < logout.seq, "registered here, then logged out there");
  await until(async () => (await bindingsOf(holder.username)).length === 1, "one binding");

  // During a call in the holder's tab (now `other`), nothing moves: takeOver() waits.
  const caller = await tokenPhone(context, 0);
  await dial(caller, other.address);
  await untilEvent(other.page, "onIncomingCall");
  await other.page.evaluate(() => window.plivo.client.answer());
  await untilEvent(caller.page, "onCallAnswered");
  const moving = holder.page.evaluate(() => window.keeper.takeOver().then(() => Date.now()));
  await until(() => holder.page.evaluate(() => window.kept.some((e) => e.type === "waiting" && /call is in progress/.test(e.message))), "the tab says it waits for the call");
  assert.deepEqual(await states([holder, other]), ["waiting", "loggedIn"], "no move during the call");
  const ended = Date.now();
  await caller.page.evaluate(() => window.plivo.client.hangup());
  const moved = await moving;
  assert.ok(moved >= ended, "it moved after the call ended");
  await oneHolder([holder, other]);
  assert.equal(await holder.status(), "loggedIn");
  // The README's two lines: a tab that waited places a call once takeOver() resolves.
  const placed = await other.page.evaluate(async (to) => {
    await window.keeper.takeOver();
    return window.plivo.client.call(to, {});
  }, caller.address);
  assert.notEqual(placed, false, "the SDK placed the call");
  await untilEvent(caller.page, "onIncomingCall");
  await other.page.evaluate(() => window.plivo.client.hangup());
});

pageTest("followVisibleTab: the registration follows the tab that stays visible", async () => {
  const context = await callContext(newContext);
  const [holder, other] = await tabsOf(context, 1, 2, { followVisibleTab: true });
  // The other tab becomes visible (the holder hidden), and stays so.
  for (const [tab, state] of [[holder, "hidden"], [other, "visible"]]) {
    await tab.page.evaluate((state) => {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
      document.dispatchEvent(new Event("visibilitychange"));
    }, state);
  }
  await until(async () => (await other.status()) === "loggedIn", "the visible tab takes the registration", 10_000);
  await oneHolder([holder, other]);
});

pageTest("two endpoints in one origin are independent: each has its holder", async () => {
  const context = await callContext(newContext);
  const alice = await tabsOf(context, 0, 2);
  const bob = await tabsOf(context, 1, 2);
  await oneHolder(alice);
  await oneHolder(bob);
  assert.equal((await bindingsOf(alice[0].username)).length, 1);
  assert.equal((await bindingsOf(bob[0].username)).length, 1);
});

pageTest("without Web Locks each tab registers on its own, and says so", async () => {
  const context = await callContext(newContext);
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined });
  });
  const tabs = [await keptTab(context, 1), await keptTab(context, 1)];
  await until(async () => (await states(tabs)).every((s) => s === "loggedIn"), "both tabs register");
  assert.equal((await bindingsOf(tabs[0].username)).length, 2);
  for (const tab of tabs) {
    const alone = await tab.page.evaluate(() => window.kept.find((e) => e.type === "alone"));
    assert.match(alone.message, /no Web Locks or BroadcastChannel: this tab registers on its own/);
  }
});

pageTest(`tabs: "each" registers every tab, as before`, async () => {
  const context = await callContext(newContext);
  const tabs = [await keptTab(context, 1, { tabs: "each" }), await keptTab(context, 1, { tabs: "each" }), await keptTab(context, 1, { tabs: "each" })];
  await until(async () => (await states(tabs)).every((s) => s === "loggedIn"), "every tab registers");
  await until(async () => (await bindingsOf(tabs[0].username)).length === 3, "three bindings");
});
