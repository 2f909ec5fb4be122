// The demo page in Debian's Chromium, driven by playwright-core, against the sandbox
// that `cargo xtask test` started (SANDBOX_URL).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const SHOTS = process.env.SCREENSHOT_DIR ?? "target/screenshots";
const AUTH = "Basic " + Buffer.from("MASANDBOXACCOUNT0001:sandbox_auth_token_0123456789abcdef").toString("base64");

let browser;

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

test("the demo page lists the seeded endpoints", async () => {
  const response = await fetch(`${SANDBOX}/v1/Account/MASANDBOXACCOUNT0001/Endpoint/?limit=20`, {
    headers: { authorization: AUTH },
  });
  const seeded = (await response.json()).objects.map((e) => e.username);
  assert.equal(seeded.length, 20);

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${SANDBOX}/`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  const shown = await page.$$eval("#endpoints tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(shown, seeded);
  assert.match(await page.textContent("#status"), /20 of 48 endpoints/);
  await page.screenshot({ path: join(SHOTS, "demo-endpoints.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
