// The sandbox that `cargo xtask test` (or `cargo xtask bench`) started, at SANDBOX_URL: its
// test controls, and the real Plivo browser SDK the page tests load. No test runner here:
// the benchmark uses it too.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
export const AUTH_ID = "MASANDBOXACCOUNT0001";
export const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
/** The real Plivo browser SDK from npm (a devDependency): a script that sets `window.Plivo`. */
export const PLIVO_SDK = fileURLToPath(new URL("../../node_modules/plivo-browser-sdk/dist/plivobrowsersdk.js", import.meta.url));
/**
 * What that SDK prints when it cannot reach Plivo's servers (this machine is offline, and
 * the demo page's policy allows its own origin only).
 */
export const SDK_NOISE = /Failed to load resource|'(wss|https):\/\/[a-z.]*plivo\.com\/|ERR_NAME_NOT_RESOLVED/;

/** A call to the sandbox's test controls (or any route), answering its JSON. */
export function sandbox(method, path, body) {
  return sandboxAt(SANDBOX, method, path, body);
}

const BINARY = process.env.SANDBOX_BIN ?? "target/debug/endpoint-sandbox";
const LISTENING = "endpoint-sandbox listening on ";

/**
 * Starts a sandbox of a test's own (SANDBOX_BIN, which `cargo xtask test` sets) on `port`
 * (0: a free one) with the flags `args`, once it listens: `{ child, url, port }`.
 */
export function startSandbox(port = 0, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, ["--port", String(port), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let said = "";
    child.stderr.on("data", (chunk) => (said += chunk));
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`the sandbox stopped (${code}) before listening: ${said}`)));
    createInterface({ input: child.stdout }).once("line", (line) => {
      if (!line.startsWith(LISTENING)) return reject(new Error(`the sandbox said ${line}`));
      const url = line.slice(LISTENING.length).trim();
      resolve({ child, url, port: Number(new URL(url).port) });
    });
  });
}

/** Stops a sandbox `startSandbox` started and waits until its process is gone. */
export function stopSandbox(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once("exit", resolve);
    server.child.kill();
  });
}

/** The same for the sandbox at `base` (a test's own). */
export async function sandboxAt(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

/** API requests the sandbox received since the last clear, as "METHOD path". */
export async function requests() {
  const log = await sandbox("GET", "/__sandbox/requests");
  return log.requests.map((r) => `${r.method} ${r.path}`);
}


/** Every page `watch` was given (the page tests' secrets sweep reads their consoles). */
export const watchedPages = [];

/**
 * What the Plivo browser SDK throws on its own, uncaught, when this page's policy refuses it
 * Plivo's log server (it ships its logs with a `fetch` whose rejection nobody handles).
 */
export const SDK_UNCAUGHT = /^Failed to fetch$/;

/**
 * Keeps a page's console lines (`page.consoleLines`) and collects its errors
 * (`page.problems`: uncaught errors and console errors, less the console lines `ignore`
 * matches and the uncaught errors `ignoreUncaught` matches).
 */
export function watch(page, ignore = /Failed to load resource/, ignoreUncaught = null) {
  watchedPages.push(page);
  page.problems = [];
  page.consoleLines = [];
  page.on("pageerror", (e) => {
    if (!ignoreUncaught?.test(e.message)) page.problems.push(e.message);
    page.consoleLines.push(`[pageerror] ${e.stack ?? e.message}`);
  });
  page.on("console", (m) => {
    page.consoleLines.push(`[${m.type()}] ${m.text()}`);
    if (m.type() === "error" && !ignore.test(m.text())) page.problems.push(m.text());
  });
  return page;
}

/**
 * Serves an empty page at `${SANDBOX}/<name>.html` in `context` (no policy, the sandbox's
 * origin, so `/pkg/` and the backend routes are same-origin) and answers its URL.
 */
export async function blankPage(context, name) {
  const url = `${SANDBOX}/${name}.html`;
  await context.route(url, (route) => route.fulfill({ contentType: "text/html", body: `<!doctype html><title>${name}</title>` }));
  return url;
}
