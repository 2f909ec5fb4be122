// The demo page in Debian's Chromium, driven by playwright-core, against the sandbox that
// `cargo xtask test` started (SANDBOX_URL). Each test resets the sandbox and opens a fresh
// browser context (no cookies), and saves screenshots under SCREENSHOT_DIR.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const SHOTS = process.env.SCREENSHOT_DIR ?? "target/screenshots";
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
  await sandbox("POST", "/__sandbox/reset");
});

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

/** Opens the demo page and waits for the first page of endpoints. */
async function open(query = "", viewport = { width: 1280, height: 800 }, initScript = null) {
  context = await browser.newContext({ viewport });
  if (initScript) await context.addInitScript(initScript);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: SANDBOX });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("Failed to load resource")) page.problems.push(m.text());
  });
  await page.goto(`${SANDBOX}/${query}`);
  await page.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("#summary-label").textContent.startsWith("All "));
  return page;
}

const usernames = (page) => page.$$eval("#endpoint-table tbody tr[data-id] td:first-child", (tds) => tds.map((td) => td.textContent));

async function shot(page, name, selector) {
  const path = join(SHOTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

test("connects without typing anything and lists the seeded endpoints", async () => {
  const page = await open();
  const api = await rawEndpoint(`/v1/Account/${AUTH_ID}/Endpoint/?limit=20`);
  assert.deepEqual(await usernames(page), api.objects.map((e) => e.username));
  assert.equal(await page.textContent("#stat-total"), "48");
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

test("Vobiz: a filter and a page change", async () => {
  const page = await open("?dialect=vobiz");
  await page.selectOption("#page-size", "10");
  await page.waitForFunction(() => document.querySelector("#page-info").textContent.startsWith("1–10 of"));
  await page.fill("#filters input[name=aliasContains]", "desk");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#page-info").textContent === "1–10 of 16");
  const first = await usernames(page);
  const aliases = await page.$$eval("#endpoint-table tbody tr[data-id] td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
  assert.ok(aliases.every((a) => a.includes("desk")), aliases.join());
  await page.waitForFunction(() => document.querySelector("#stat-total").textContent === "16");
  await page.click("#next-page");
  await page.waitForFunction(() => document.querySelector("#page-info").textContent === "11–16 of 16");
  const second = await usernames(page);
  assert.equal(second.length, 6);
  assert.ok(second.every((u) => !first.includes(u)), "a different page");
  assert.equal(await page.isDisabled("#next-page"), true);
  await shot(page, "panel-endpoints-vobiz-filtered", "#endpoints");
  assert.deepEqual(page.problems, []);
});

test("create, edit, rotate and delete an endpoint", async () => {
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
  await page.waitForFunction(() => document.querySelector("#stat-total").textContent === "49");
  await shot(page, "create-done", "#endpoints");

  await row.locator("button[data-action=edit]").click();
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
  await page.waitForFunction(() => document.querySelector("#copy-status").textContent !== "");
  await shot(page, "dialog-rotate", "#rotate-dialog");
  const stored = await vobizEndpoint(id);
  assert.equal(stored.password, createHash("md5").update(password).digest("hex"), "the shown password is the one set");
  await page.click("#rotate-form button[value=close]");
  assert.equal(await page.inputValue("#rotate-form input[name=password]"), "", "shown once, then gone from the page");

  await page.locator(`#endpoint-table tbody tr[data-id="${id}"] button[data-action=delete]`).click();
  await page.waitForSelector("#delete-dialog[open]");
  assert.match(await page.textContent("#delete-title"), /deskphone7/);
  await shot(page, "dialog-delete", "#delete-dialog");
  await page.click("#delete-form button[value=delete]");
  await page.waitForFunction(() => document.querySelector("#stat-total").textContent === "48");
  assert.equal(await page.locator(`#endpoint-table tbody tr[data-id="${id}"]`).count(), 0);
  assert.deepEqual(page.problems, []);
});

test("an invalid username shows the library's message and sends nothing", async () => {
  const page = await open("?dialect=plivo");
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#create-form input[name=username]", "1bad_name");
  await page.fill("#create-form input[name=password]", "good-pass");
  await page.fill("#create-form input[name=alias]", "desk");
  const message = page.locator('#create-form .field-error[data-for="username"]');
  assert.match(await message.textContent(), /Invalid username "1bad_name".*letters and digits/);
  assert.equal(await page.isDisabled("#create-button"), true);
  await page.press("#create-form input[name=alias]", "Enter");
  await page.fill("#create-form input[name=password]", "abc");
  assert.match(await page.locator('#create-form .field-error[data-for="password"]').textContent(), /at least 5/);
  await shot(page, "create-invalid", "#create");
  assert.deepEqual((await requests()).filter((r) => r.startsWith("POST")), [], "the sandbox saw no create");
  assert.deepEqual(page.problems, []);
});

test("a token with a chosen lifetime shows its claims and counts down", async () => {
  const page = await open("?dialect=plivo");
  await page.fill("#ttl-seconds", "900");
  assert.equal(await page.textContent("#ttl-human"), "15 min");
  const before = Math.floor(Date.now() / 1000);
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.ok(claims.exp >= before + 899 && claims.exp <= before + 905, `exp ${claims.exp} for 900 s`);
  assert.equal(claims.iss, AUTH_ID);
  assert.equal(claims.sub, await page.inputValue("#token-form select[name=sub]"));
  assert.deepEqual(claims.per.voice, { incomingAllow: true, outgoingAllow: true });
  assert.deepEqual(JSON.parse(await page.textContent("#token-header")), { alg: "HS256", cty: "plivo;v=1", typ: "JWT" });
  assert.match(await page.textContent("#token-countdown"), /Expires in 1[45]:\d\d/);
  await shot(page, "panel-token", "#token");
  assert.deepEqual(page.problems, []);
});

test("a lifetime of 24 h + 1 s shows the range message and disables the button", async () => {
  const page = await open("?dialect=plivo");
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#ttl-seconds", "86401");
  const message = await page.textContent("#ttl-error");
  assert.match(message, /EXP_OUT_OF_RANGE/);
  assert.match(message, /180 to 86400 s/);
  assert.match(message, /86401 s/);
  assert.equal(await page.isDisabled("#token-button"), true);
  await shot(page, "token-out-of-range", "#token");
  await page.fill("#ttl-seconds", "86400");
  assert.equal(await page.isDisabled("#token-button"), false);
  assert.equal((await requests()).filter((r) => r.includes("JWT")).length, 0);
  assert.deepEqual(page.problems, []);
});

test("a started provider refreshes on its own", async () => {
  const page = await open("?dialect=plivo");
  await page.fill("#ttl-seconds", "180");
  // A 3-minute token with a 170 s margin is due 10 s after it arrives.
  await page.fill("#margin", "170");
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  await page.waitForFunction(() => /left/.test(document.querySelector("#provider-left").textContent));
  assert.match(await page.textContent("#snippet"), /refreshMarginSeconds: 170/);
  assert.match(await page.textContent("#snippet"), /loginWithAccessTokenGenerator\(provider\)/);
  await page.waitForFunction(
    () => document.querySelectorAll('#provider-log li[data-type="tokenRefreshed"]').length >= 2,
    null,
    { timeout: 25000 },
  );
  assert.equal(await page.locator('#provider-log li[data-type="tokenWillExpire"]').count(), 1);
  await shot(page, "panel-login", "#login");
  await page.click("#provider-stop");
  assert.match(await page.textContent("#provider-left"), /No provider running/);
  assert.deepEqual(page.problems, []);
});

test("a web SDK loaded on the page is logged in with the provider", async () => {
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
  const page = await open("?dialect=plivo", undefined, fakeSdk);
  await page.click("#provider-start");
  await page.waitForSelector("#sdk-login:not([hidden])");
  await page.click("#sdk-login");
  await page.waitForFunction(() => typeof window.sdkToken === "string");
  const token = await page.evaluate(() => window.sdkToken);
  assert.equal(token.split(".").length, 3);
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  assert.equal(claims.iss, AUTH_ID);
  assert.deepEqual(page.problems, []);
});

test("backend mode: the same flows with no account token in the page", async () => {
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

  await page.fill("#ttl-seconds", "600");
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.equal(claims.iss, AUTH_ID);
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  assert.match(await page.textContent("#snippet"), /tokenUrl: "\/backend\/token\?ttl=600/);

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

test("nothing is stored, and the page sends its security policy", async () => {
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

test("readable on a narrow window", async () => {
  const page = await open("?dialect=vobiz", { width: 400, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
  await shot(page, "demo-narrow");
  assert.deepEqual(page.problems, []);
});
