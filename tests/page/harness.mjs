// What the page tests share: Debian's Chromium through playwright-core, the sandbox that
// `cargo xtask test` started (SANDBOX_URL), a fresh browser context per test, the pages'
// console and errors, waiting on conditions, and what a failing test leaves behind.
//
// Everything a page does after an action happens asynchronously: assertions wait for the
// state they expect (`until`), never for a fixed time, and time itself is faked
// (`context.clock`) where it is the subject.
import { before, after, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { AUTH_TOKEN, sandbox, watch, watchedPages } from "./sandbox.mjs";

export { AUTH_ID, AUTH_TOKEN, PLIVO_SDK, SANDBOX, SDK_NOISE, SDK_UNCAUGHT, blankPage, requests, sandbox } from "./sandbox.mjs";

export const SHOTS = process.env.SCREENSHOT_DIR ?? "target/screenshots";
const FAILURES = process.env.FAILURE_DIR ?? "target/page-failures";

let browser;
/** The current test's browser context (see `newContext`). */
export let context = null;

/** Registers the hooks: one browser for the file, a reset sandbox and no context per test. */
export function setup() {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
        // `gc()` in pages, for the tests of what the garbage collector frees.
        "--js-flags=--expose-gc",
        // Calls: a fake microphone (a tone), granted without a prompt.
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    await context?.close();
    context = null;
    await sandbox("POST", "/__sandbox/reset");
  });
}

/** A new browser context for this test (no cookies, no storage); the last one is closed. */
export async function newContext(options = {}) {
  await context?.close();
  context = await browser.newContext(options);
  return context;
}

/**
 * A new page of the current context whose console lines are kept (`page.consoleLines`) and
 * whose errors are collected (`page.problems`: uncaught errors and console errors, less
 * the lines `ignore` matches).
 */
export async function watchedPage(ignore, ignoreUncaught) {
  return watch(await context.newPage(), ignore, ignoreUncaught);
}

/** What must never reach a console line or browser storage: the account's auth token and
 * every password a test hands to the library or the demo (`secret`). */
const SECRETS = new Set([AUTH_TOKEN]);

/** Marks values as secrets for the sweep that ends every page test; answers the first. */
export function secret(...values) {
  for (const value of values) SECRETS.add(String(value));
  return values[0];
}

/**
 * Ends every page test: no secret in any console line of the pages it watched, nor in
 * the storage of its pages (local and session storage, cookies, IndexedDB and Cache
 * Storage names). Error messages are checked by the tests that provoke them.
 */
async function sweepSecrets() {
  const found = [];
  const look = (where, text) => {
    for (const value of SECRETS) if (text.includes(value)) found.push(`${where} holds ${value.slice(0, 4)}…`);
  };
  for (const page of watchedPages) look(`the console of ${page.url()}`, page.consoleLines.join("\n"));
  for (const page of context?.pages() ?? []) {
    const stored = await page
      .evaluate(async () => {
        const out = [document.cookie];
        for (const storage of [localStorage, sessionStorage]) {
          for (let i = 0; i < storage.length; i++) out.push(storage.key(i), storage.getItem(storage.key(i)));
        }
        for (const db of (await globalThis.indexedDB?.databases?.()) ?? []) out.push(db.name);
        for (const name of (await globalThis.caches?.keys()) ?? []) out.push(name);
        return out.join("\n");
      })
      .catch(() => "");
    look(`the storage of ${page.url()}`, stored);
  }
  for (const cookie of (await context?.cookies()) ?? []) look(`cookie ${cookie.name}`, cookie.value);
  assert.deepEqual(found, [], "secrets where they must never be");
}

/**
 * A test on pages of one browser context. When it fails, every page it opened is saved as
 * FAILURE_DIR/<test>[-n].png with its console and page errors in <test>[-n].log. Every
 * test ends with the secrets sweep.
 */
export function pageTest(name, body) {
  test(name, async () => {
    watchedPages.length = 0;
    try {
      await body();
      await sweepSecrets();
    } catch (error) {
      await saveFailure(name, error);
      throw error;
    }
  });
}

async function saveFailure(name, error) {
  const pages = context?.pages() ?? [];
  if (pages.length === 0) return;
  mkdirSync(FAILURES, { recursive: true });
  const slug = name.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").toLowerCase();
  for (const [i, page] of pages.entries()) {
    const base = join(FAILURES, pages.length === 1 ? slug : `${slug}-${i + 1}`);
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => {});
    const lines = [`test: ${name}`, `url: ${page.url()}`, `failure: ${error?.stack ?? error}`, "", "console:", ...(page.consoleLines ?? [])];
    writeFileSync(`${base}.log`, lines.join("\n") + "\n");
  }
  console.log(`# page state saved under ${FAILURES}/${slug}*`);
}

/**
 * Waits until `predicate(arg)`, run in the page, is truthy; fails with `message` after
 * `timeout` ms.
 */
export async function until(page, predicate, arg, message, timeout = 10000) {
  try {
    await page.waitForFunction(predicate, arg, { timeout, polling: 50 });
  } catch (error) {
    if (!String(error?.message).includes("Timeout")) throw error;
    throw new assert.AssertionError({ message: `${message} (not reached within ${timeout} ms)` });
  }
}

/** Waits until the text of `selector` matches `pattern`. */
export async function untilText(page, selector, pattern, message = `${selector} matches ${pattern}`) {
  await until(
    page,
    ([selector, source, flags]) => new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ""),
    [selector, pattern.source, pattern.flags],
    message,
  );
  return page.textContent(selector);
}

export async function shot(page, name, selector) {
  const path = join(SHOTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}
