// A TokenProvider that is forgotten stops: after `free()`, at the end of a `using` block,
// or once the garbage collector takes it, it gives up its Web Lock (another tab can then
// fetch for all), fetches nothing more however long the page stays open, and a fetch it
// had under way is aborted. Chromium on Playwright's fake clock, against the sandbox.
import assert from "node:assert/strict";
import { blankPage, context, newContext, pageTest, requests, sandbox, setup, watchedPage } from "./harness.mjs";

const HOUR = 3_600_000;

setup();

/** A page on a fake clock, signed in to the sandbox's backend, with the package loaded as `window.lib`. */
async function openPage() {
  await newContext();
  const url = await blankPage(context, "provider-harness");
  await context.clock.install({ time: Date.now() });
  const page = await watchedPage();
  await page.goto(url);
  await page.evaluate(async () => {
    await fetch("/backend/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "alice" }) });
    window.lib = await import("/pkg/endpoint_login.js");
    await window.lib.default();
    window.heldLocks = async () => (await navigator.locks.query()).held.filter((l) => l.name.startsWith("endpoint-login/")).length;
  });
  return page;
}

/** Token requests the sandbox saw over an hour of the page's time, in 30 s steps. */
async function fetchesOverAnHour(page) {
  await sandbox("DELETE", "/__sandbox/requests");
  for (let t = 0; t < HOUR; t += 30_000) {
    await page.clock.runFor(30_000);
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  }
  return (await requests()).filter((r) => r.endsWith(" /backend/token")).length;
}

/** Waits until no lock of the package is held, calling `gc()` between looks when asked. */
async function untilLockReleased(page, collect = false) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const held = await page.evaluate(async (collect) => {
      if (collect) globalThis.gc();
      return window.heldLocks();
    }, collect);
    if (held === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail("the provider's lock is still held");
}

pageTest("a freed provider gives up its lock and fetches nothing more", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.provider = new window.lib.TokenProvider({ tokenUrl: "/backend/token?ttl=300" });
    await window.provider.getAccessToken();
  });
  assert.equal(await page.evaluate(() => window.heldLocks()), 1, "the fetching tab holds the lock");
  await page.evaluate(() => window.provider.free());
  await untilLockReleased(page);
  assert.equal(await fetchesOverAnHour(page), 0);
  assert.deepEqual(page.problems, []);
});

pageTest("a provider declared with `using` stops at the end of its block", async () => {
  const page = await openPage();
  // As page source: Node 20 itself does not parse `using` yet; Chromium does.
  const inside = await page.evaluate(`(async () => {
    let held;
    {
      using provider = new window.lib.TokenProvider({ tokenUrl: "/backend/token?ttl=300" });
      await provider.getAccessToken();
      held = await window.heldLocks();
    }
    return held;
  })()`);
  assert.equal(inside, 1);
  await untilLockReleased(page);
  assert.equal(await fetchesOverAnHour(page), 0);
  assert.deepEqual(page.problems, []);
});

pageTest("a provider nobody refers to any more is collected and stops", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    // The only reference goes out of scope when this function returns.
    const provider = new window.lib.TokenProvider({ tokenUrl: "/backend/token?ttl=300" });
    await provider.getAccessToken();
  });
  assert.equal(await page.evaluate(() => window.heldLocks()), 1);
  await untilLockReleased(page, true);
  assert.equal(await fetchesOverAnHour(page), 0);
  assert.deepEqual(page.problems, []);
});

pageTest("dispose() aborts the fetch under way and rejects its callers with DISPOSED", async () => {
  const page = await openPage();
  await sandbox("POST", "/__sandbox/faults", { path: "/backend/token", latencyMs: 5000 });
  const aborted = new Promise((resolve) => page.on("requestfailed", (r) => r.url().includes("/backend/token") && resolve(r.failure()?.errorText)));
  const started = page.waitForRequest((r) => r.url().includes("/backend/token"));
  await page.evaluate(() => {
    window.provider = new window.lib.TokenProvider({ tokenUrl: "/backend/token?ttl=300" });
    window.pending = window.provider.getAccessToken().then(() => "resolved", (e) => e.code);
  });
  await started;
  await page.evaluate(() => window.provider.dispose());
  assert.equal(await page.evaluate(() => window.pending), "DISPOSED");
  assert.match(await aborted, /ABORTED/);
  await untilLockReleased(page);
  assert.deepEqual(page.problems, []);
});
