// A Vite 7 application that depends on the packed tarball (cargo xtask test installs it
// here): built in production mode, served by `vite preview`, driven in Chromium against
// the sandbox (SANDBOX_URL): list endpoints, create one, get a token, run a provider.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { freePort, untilAnswers } from "../node-http.mjs";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const APP = fileURLToPath(new URL(".", import.meta.url));
const VITE = fileURLToPath(new URL("../../node_modules/vite/bin/vite.js", import.meta.url));

let preview;
let browser;
let url;

before(async () => {
  execFileSync(process.execPath, [VITE, "build", "--logLevel", "warn"], { cwd: APP, stdio: "inherit" });
  const port = await freePort();
  preview = spawn(process.execPath, [VITE, "preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"], {
    cwd: APP,
    stdio: ["ignore", "inherit", "inherit"],
  });
  url = `http://127.0.0.1:${port}/`;
  await untilAnswers(url, preview);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  preview?.kill();
});

test("the production build emits the WebAssembly of both modules as assets", () => {
  const assets = readdirSync(new URL("dist/assets/", import.meta.url));
  assert.equal(assets.filter((name) => name.endsWith(".wasm")).length, 2, assets.join(", "));
});

test("the built app lists, creates, gets a token and runs providers of both modules against the sandbox", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("out")?.textContent === "ready");
  const result = await page.evaluate(
    (options) => window.run(options),
    { sandbox: SANDBOX, authId: "MASANDBOXACCOUNT0001", authToken: "sandbox_auth_token_0123456789abcdef" },
  );
  assert.equal(result.listed, 5);
  assert.match(result.created, /^viteuser/);
  assert.equal(result.tokenSub, result.created);
  assert.equal(result.providerSub, result.created);
  assert.equal(result.loginSub, result.created);
  assert.equal(result.error, "INVALID_ID");
  assert.deepEqual(problems, []);
});
