// The demo page in Debian's Chromium, driven by playwright-core, against the sandbox that
// `cargo xtask test` started (SANDBOX_URL). Each test resets the sandbox and opens a fresh
// browser context (no cookies), and saves screenshots under SCREENSHOT_DIR. A test that
// fails leaves a screenshot of the page and its console under FAILURE_DIR.
//
// Everything the page does after an action happens asynchronously: assertions on the page
// wait for the state they expect (`until`), never for a fixed time, and time itself is
// faked (`page.clock`) where it is the subject.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const SHOTS = process.env.SCREENSHOT_DIR ?? "target/screenshots";
const FAILURES = process.env.FAILURE_DIR ?? "target/page-failures";
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
const BASIC = "Basic " + Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64");

let browser;
let context;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
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

/**
 * A test on pages of one browser context. When it fails, every page it opened is saved as
 * FAILURE_DIR/<test>[-n].png with its console and page errors in <test>[-n].log.
 */
function pageTest(name, body) {
  test(name, async () => {
    try {
      await body();
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
 * Waits until `predicate(arg)`, run in the page, is truthy; fails with `message` (and the
 * last value seen by `describe`, when given) after `timeout` ms.
 */
async function until(page, predicate, arg, message, timeout = 10000) {
  try {
    await page.waitForFunction(predicate, arg, { timeout, polling: 50 });
  } catch (error) {
    if (!String(error?.message).includes("Timeout")) throw error;
    throw new assert.AssertionError({ message: `${message} (not reached within ${timeout} ms)` });
  }
}

/** Waits until the text of `selector` matches `pattern`. */
async function untilText(page, selector, pattern, message = `${selector} matches ${pattern}`) {
  await until(
    page,
    ([selector, source, flags]) => new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ""),
    [selector, pattern.source, pattern.flags],
    message,
  );
  return page.textContent(selector);
}

async function sandbox(method, path, body) {
  const response = await fetch(`${SANDBOX}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

/** API requests the sandbox received since the last clear, as "METHOD path". */
async function requests() {
  const log = await sandbox("GET", "/__sandbox/requests");
  return log.requests.map((r) => `${r.method} ${r.path}`);
}

async function rawEndpoint(path) {
  const response = await fetch(`${SANDBOX}${path}`, { headers: { authorization: BASIC } });
  return response.json();
}

async function vobizEndpoint(id) {
  const response = await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/Endpoint/${id}/`, {
    headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN },
  });
  return response.json();
}

/**
 * Opens the demo page and waits for the first page of endpoints. `clock`: install
 * Playwright's fake clock first (it starts at the real time and runs until told otherwise).
 */
async function open(query = "", { viewport = { width: 1280, height: 800 }, initScript = null, clock = false } = {}) {
  context = await browser.newContext({ viewport });
  if (initScript) await context.addInitScript(initScript);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: SANDBOX });
  const page = await context.newPage();
  if (clock) await page.clock.install({ time: Date.now() });
  page.problems = [];
  page.consoleLines = [];
  page.on("pageerror", (e) => {
    page.problems.push(e.message);
    page.consoleLines.push(`[pageerror] ${e.stack ?? e.message}`);
  });
  page.on("console", (m) => {
    page.consoleLines.push(`[${m.type()}] ${m.text()}`);
    if (m.type() === "error" && !m.text().includes("Failed to load resource")) page.problems.push(m.text());
  });
  await page.goto(`${SANDBOX}/${query}`);
  await page.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  await untilText(page, "#summary-label", /^All /, "the summary is loaded");
  return page;
}

const usernames = (page) => page.$$eval("#endpoint-table tbody tr[data-id] td:first-child", (tds) => tds.map((td) => td.textContent));

async function shot(page, name, selector) {
  const path = join(SHOTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

pageTest("connects without typing anything and lists the seeded endpoints", async () => {
  const page = await open();
  const api = await rawEndpoint(`/v1/Account/${AUTH_ID}/Endpoint/?limit=20`);
  assert.deepEqual(await usernames(page), api.objects.map((e) => e.username));
  await untilText(page, "#stat-total", /^48$/, "the summary counts the 48 seeded endpoints");
  const registered = Number(await page.textContent("#stat-registered"));
  assert.equal(registered + Number(await page.textContent("#stat-unregistered")), 48);
  assert.match(await page.textContent("#status"), /Connected · Plivo · direct mode/);
  assert.match(await page.textContent("#page-info"), /1–20 of 48/);
  assert.equal(await page.isDisabled("#filters input[name=aliasContains]"), true, "Plivo has no filters");
  await shot(page, "demo-page");
  await shot(page, "panel-connect", "#connect");
  await shot(page, "panel-endpoints-plivo", "#endpoints");
  assert.deepEqual(page.problems, []);
});

pageTest("Vobiz: a filter and a page change", async () => {
  const page = await open("?dialect=vobiz");
  await page.selectOption("#page-size", "10");
  await untilText(page, "#page-info", /^1–10 of/);
  await page.fill("#filters input[name=aliasContains]", "desk");
  await page.click("#filters button[type=submit]");
  await untilText(page, "#page-info", /^1–10 of 16$/, "the filtered first page");
  const first = await usernames(page);
  const aliases = await page.$$eval("#endpoint-table tbody tr[data-id] td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
  assert.ok(aliases.every((a) => a.includes("desk")), aliases.join());
  await untilText(page, "#stat-total", /^16$/, "the summary counts the filtered endpoints");
  await page.click("#next-page");
  await untilText(page, "#page-info", /^11–16 of 16$/, "the second filtered page");
  const second = await usernames(page);
  assert.equal(second.length, 6);
  assert.ok(second.every((u) => !first.includes(u)), "a different page");
  assert.equal(await page.isDisabled("#next-page"), true);
  await shot(page, "panel-endpoints-vobiz-filtered", "#endpoints");
  assert.deepEqual(page.problems, []);
});

pageTest("create, edit, rotate and delete an endpoint", async () => {
  const page = await open("?dialect=vobiz");
  await page.fill("#create-form input[name=username]", "deskphone7");
  await page.fill("#create-form input[name=password]", "first-pass-1");
  await page.fill("#create-form input[name=alias]", "desk-7");
  await page.click("#create-button");
  await page.waitForSelector("#create-result:not([hidden])");
  assert.match(await page.textContent("#create-result"), /Created deskphone7/);
  const row = page.locator("#endpoint-table tbody tr", { hasText: "deskphone7" });
  await row.waitFor();
  const id = await row.getAttribute("data-id");
  await untilText(page, "#stat-total", /^49$/, "the summary counts the new endpoint");
  await shot(page, "create-done", "#endpoints");

  await row.locator("button[data-action=edit]").click();
  await page.waitForSelector("#edit-dialog[open]");
  await page.fill("#edit-form input[name=alias]", "desk-8");
  await shot(page, "dialog-edit", "#edit-dialog");
  await page.click("#edit-form button[value=save]");
  await page.locator("#endpoint-table tbody tr", { hasText: "desk-8" }).waitFor();
  assert.equal((await vobizEndpoint(id)).alias, "desk-8", "the platform has the new alias");

  await page.locator(`#endpoint-table tbody tr[data-id="${id}"] button[data-action=rotate]`).click();
  await page.waitForSelector("#rotate-dialog[open]");
  const password = await page.inputValue("#rotate-form input[name=password]");
  assert.equal(password.length, 24);
  assert.equal(await page.inputValue("#rotate-form input[name=username]"), "deskphone7");
  await page.click("#copy-password");
  await until(page, () => document.querySelector("#copy-status").textContent !== "", null, "the copy is confirmed");
  await shot(page, "dialog-rotate", "#rotate-dialog");
  const stored = await vobizEndpoint(id);
  assert.equal(stored.password, createHash("md5").update(password).digest("hex"), "the shown password is the one set");
  await page.click("#rotate-form button[value=close]");
  // The dialog clears the password in its `close` event, which fires after the click.
  await until(
    page,
    () => !document.querySelector("#rotate-dialog").open && document.querySelector("#rotate-form input[name=password]").value === "",
    null,
    "shown once, then gone from the page",
  );

  await page.locator(`#endpoint-table tbody tr[data-id="${id}"] button[data-action=delete]`).click();
  await page.waitForSelector("#delete-dialog[open]");
  assert.match(await page.textContent("#delete-title"), /deskphone7/);
  await shot(page, "dialog-delete", "#delete-dialog");
  await page.click("#delete-form button[value=delete]");
  await untilText(page, "#stat-total", /^48$/, "the summary no longer counts it");
  await page.locator(`#endpoint-table tbody tr[data-id="${id}"]`).waitFor({ state: "detached" });
  assert.deepEqual(page.problems, []);
});

pageTest("an invalid username shows the library's message and sends nothing", async () => {
  // Every fetch the page starts is recorded as it starts (the library calls fetch within
  // the event's microtasks), so the record is complete once the page has answered us.
  const recordFetches = () => {
    window.fetchesStarted = [];
    const fetch = window.fetch;
    window.fetch = function (input, init) {
      window.fetchesStarted.push(`${init?.method ?? input?.method ?? "GET"} ${input?.url ?? input}`);
      return fetch.call(this, input, init);
    };
  };
  const page = await open("?dialect=plivo", { initScript: recordFetches });
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#create-form input[name=username]", "1bad_name");
  await page.fill("#create-form input[name=password]", "good-pass");
  await page.fill("#create-form input[name=alias]", "desk");
  await untilText(page, '#create-form .field-error[data-for="username"]', /Invalid username "1bad_name".*letters and digits/);
  await until(page, () => document.querySelector("#create-button").disabled, null, "the create button is disabled");
  await page.press("#create-form input[name=alias]", "Enter");
  await page.fill("#create-form input[name=password]", "abc");
  await untilText(page, '#create-form .field-error[data-for="password"]', /at least 5/);
  await shot(page, "create-invalid", "#create");
  const started = await page.evaluate(() => window.fetchesStarted);
  assert.deepEqual(started.filter((f) => !f.startsWith("GET")), [], "the page started no create");
  assert.deepEqual((await requests()).filter((r) => r.startsWith("POST")), [], "the sandbox saw no create");
  assert.deepEqual(page.problems, []);
});

pageTest("a token with a chosen lifetime shows its claims and counts down", async () => {
  const page = await open("?dialect=plivo");
  await page.fill("#ttl-seconds", "900");
  await untilText(page, "#ttl-human", /^15 min$/);
  const before = Math.floor(Date.now() / 1000);
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const after = Math.ceil(Date.now() / 1000);
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.ok(claims.exp >= before + 895 && claims.exp <= after + 900, `exp ${claims.exp} for 900 s asked between ${before} and ${after}`);
  assert.equal(claims.iss, AUTH_ID);
  assert.equal(claims.sub, await page.inputValue("#token-form select[name=sub]"));
  assert.deepEqual(claims.per.voice, { incomingAllow: true, outgoingAllow: true });
  assert.deepEqual(JSON.parse(await page.textContent("#token-header")), { alg: "HS256", cty: "plivo;v=1", typ: "JWT" });
  await untilText(page, "#token-countdown", /Expires in 1[45]:\d\d/);
  await shot(page, "panel-token", "#token");
  assert.deepEqual(page.problems, []);
});

pageTest("a lifetime of 24 h + 1 s shows the range message and disables the button", async () => {
  const page = await open("?dialect=plivo");
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#ttl-seconds", "86401");
  const message = await untilText(page, "#ttl-error", /EXP_OUT_OF_RANGE/);
  assert.match(message, /180 to 86400 s/);
  assert.match(message, /86401 s/);
  await until(page, () => document.querySelector("#token-button").disabled, null, "the token button is disabled");
  await shot(page, "token-out-of-range", "#token");
  await page.fill("#ttl-seconds", "86400");
  await until(page, () => !document.querySelector("#token-button").disabled, null, "the token button is enabled again");
  assert.equal((await requests()).filter((r) => r.includes("JWT")).length, 0);
  assert.deepEqual(page.problems, []);
});

pageTest("a started provider refreshes on its own", async () => {
  const page = await open("?dialect=plivo", { clock: true });
  await page.fill("#ttl-seconds", "180");
  // A 3-minute token with a 170 s margin is due 10 s after it arrives.
  await page.fill("#margin", "170");
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  await untilText(page, "#provider-left", /left/);
  assert.match(await page.textContent("#snippet"), /refreshMarginSeconds: 170/);
  assert.match(await page.textContent("#snippet"), /loginWithAccessTokenGenerator\(provider\)/);
  // Ten seconds of the page's time pass at once; the refresh is then fetched for real.
  await page.clock.runFor(11_000);
  await until(
    page,
    () => document.querySelectorAll('#provider-log li[data-type="tokenRefreshed"]').length >= 2,
    null,
    "a second token arrives without being asked for",
  );
  assert.equal(await page.locator('#provider-log li[data-type="tokenWillExpire"]').count(), 1);
  await shot(page, "panel-login", "#login");
  await page.click("#provider-stop");
  await untilText(page, "#provider-left", /No provider running/);
  assert.deepEqual(page.problems, []);
});

pageTest("a web SDK loaded on the page is logged in with the provider", async () => {
  // A stand-in for the Plivo browser SDK: it calls getAccessToken() as the real one does.
  const fakeSdk = () => {
    window.Plivo = class {
      constructor() {
        this.client = {
          loginWithAccessTokenGenerator: async (generator) => {
            window.sdkToken = await generator.getAccessToken();
          },
        };
      }
    };
  };
  const page = await open("?dialect=plivo", { initScript: fakeSdk });
  await page.click("#provider-start");
  await page.waitForSelector("#sdk-login:not([hidden])");
  await page.click("#sdk-login");
  await until(page, () => typeof window.sdkToken === "string", null, "the SDK got a token");
  const token = await page.evaluate(() => window.sdkToken);
  assert.equal(token.split(".").length, 3);
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  assert.equal(claims.iss, AUTH_ID);
  assert.deepEqual(page.problems, []);
});

pageTest("backend mode: the same flows with no account token in the page", async () => {
  const page = await open("?mode=backend&dialect=plivo&user=alice");
  await sandbox("DELETE", "/__sandbox/requests");
  assert.match(await page.textContent("#status"), /backend mode/);
  assert.equal(await page.isHidden("#connect input[name=authToken]"), true);

  await page.fill("#create-form input[name=username]", "viabackend");
  await page.fill("#create-form input[name=password]", "backend-pass");
  await page.fill("#create-form input[name=alias]", "backend");
  await page.click("#create-button");
  await page.waitForSelector("#create-result:not([hidden])");
  const row = page.locator("#endpoint-table tbody tr", { hasText: "viabackend" });
  await row.waitFor();
  await row.locator("button[data-action=rotate]").click();
  await page.waitForSelector("#rotate-dialog[open]");
  assert.equal((await page.inputValue("#rotate-form input[name=password]")).length, 24);
  await page.click("#rotate-form button[value=close]");
  await page.waitForSelector("#rotate-dialog", { state: "hidden" });

  await page.fill("#ttl-seconds", "600");
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.equal(claims.iss, AUTH_ID);
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  await untilText(page, "#snippet", /tokenUrl: "\/backend\/token\?ttl=600/);

  const calls = await requests();
  assert.ok(calls.length > 0 && calls.every((c) => c.includes(" /backend/")), calls.join("\n"));
  const html = await page.content();
  const values = await page.$$eval("input, textarea", (inputs) => inputs.map((i) => i.value).join("\n"));
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  for (const place of [html, values, storage]) assert.ok(!place.includes(AUTH_TOKEN), "no account token in the page");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  await shot(page, "demo-backend-mode");
  assert.deepEqual(page.problems, []);
});

pageTest("nothing is stored, and the page sends its security policy", async () => {
  const response = await fetch(`${SANDBOX}/`);
  const csp = response.headers.get("content-security-policy");
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  const page = await open("?dialect=plivo");
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual(page.problems, [], "no CSP violation or error");
});

pageTest("readable on a narrow window", async () => {
  const page = await open("?dialect=vobiz", { viewport: { width: 400, height: 800 } });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
  await shot(page, "demo-narrow");
  assert.deepEqual(page.problems, []);
});
