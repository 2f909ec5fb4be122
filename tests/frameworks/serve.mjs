// What the framework tests share: a static file server for built pages, the sandbox's
// account, a browser, and servers started as child processes and stopped with the test.
import http from "node:http";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";
import { freePort, untilAnswers } from "../node-http.mjs";

export { freePort, untilAnswers };

export const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
export const AUTH_ID = "MASANDBOXACCOUNT0001";
export const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
/** A seeded Plivo endpoint of the sandbox (the seed is deterministic). */
export const SEEDED_USER = "alice260101000000";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

/** Serves the files of `dir` on a free port of 127.0.0.1 (404 for anything else): `{ url, close }`. */
export async function serveStatic(dir) {
  const server = http.createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    try {
      const body = await readFile(join(dir, path.endsWith("/") ? `${path}index.html` : path));
      response.writeHead(200, { "content-type": TYPES[extname(path) || ".html"] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

/** Headless Chromium, as the page tests start it. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * Starts `command` with `args` in `cwd` (its output passed on, prefixed) and resolves once
 * `url` answers: `{ child, stop }`.
 */
export async function startServer(command, args, { cwd, env, url, name }) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const said = [];
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk) => said.push(String(chunk)));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      process.kill(-child.pid, "SIGTERM");
    });
  try {
    await untilAnswers(url, child);
  } catch (error) {
    await stop();
    throw new Error(`${name}: ${error.message}\n${said.join("")}`);
  }
  return { child, stop, output: () => said.join("") };
}

/** The sandbox's answer to a test control or REST call, as JSON. */
export async function sandbox(method, path, body) {
  const response = await fetch(`${SANDBOX}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64")}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}
