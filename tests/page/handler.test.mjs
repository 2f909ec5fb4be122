// The demo's backend mode on createBackendHandler: a small Node application server plays
// the application (its own sign-in and session cookie) and mounts the handler at
// /backend/, which forwards to the sandbox as the platform. Everything else (the demo's
// files, the package) it relays from the sandbox.
import assert from "node:assert/strict";
import http from "node:http";
import { randomBytes } from "node:crypto";
import initServer, { createBackendHandler } from "../../pkg/server/node.js";
import {
  AUTH_ID, AUTH_TOKEN, SANDBOX, newContext, pageTest, requests, sandbox, secret, setup, watchedPage,
} from "./harness.mjs";

setup();

/** The application's sessions: cookie value → user. */
const sessions = new Map();
const SESSION = "app_session";

function sessionUser(request) {
  const cookie = request.headers.get("cookie") ?? "";
  const id = cookie.split(/;\s*/).find((c) => c.startsWith(`${SESSION}=`))?.slice(SESSION.length + 1);
  return id ? sessions.get(id) : undefined;
}

let origin;
let server;

async function startApplication() {
  await initServer();
  const voice = createBackendHandler({
    dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/backend/",
    authorize: (request) => {
      const user = sessionUser(request);
      return user ? { sub: user, incoming: user === "alice", endpoints: "manage" } : null;
    },
  });
  server = http.createServer(async (req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const url = new URL(req.url, `http://${req.headers.host}`);
    let answer;
    if (url.pathname === "/backend/session" && req.method === "POST") {
      // The application's own sign-in (a real one checks a password).
      const { user } = JSON.parse(String(body ?? "{}"));
      const id = randomBytes(32).toString("hex");
      sessions.set(id, user);
      answer = new Response(JSON.stringify({ user, authId: AUTH_ID }), {
        headers: { "content-type": "application/json", "set-cookie": `${SESSION}=${id}; HttpOnly; SameSite=Strict; Path=/` },
      });
    } else if (url.pathname.startsWith("/backend/")) {
      answer = await voice(new Request(url, { method: req.method, headers, body }));
    } else {
      // The demo's files and the package, as the sandbox serves them.
      const relayed = await fetch(`${SANDBOX}${url.pathname}${url.search}`, { method: req.method, body });
      const kept = new Headers(relayed.headers);
      kept.delete("content-encoding");
      kept.delete("content-length");
      answer = new Response(relayed.body, { status: relayed.status, headers: kept });
    }
    answer.headers.forEach((value, name) => res.setHeader(name, value));
    res.writeHead(answer.status).end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
}

pageTest("the demo in backend mode on createBackendHandler: endpoints, a token and a provider, no secret in the page", async () => {
  await startApplication();
  try {
    await newContext();
    const page = await watchedPage();
    await page.goto(`${origin}/?mode=backend&dialect=plivo&user=alice`);
    await page.waitForSelector("#status:has-text('backend mode')");
    await sandbox("DELETE", "/__sandbox/requests");

    await page.fill("#create-form input[name=username]", "viahandler");
    await page.fill("#create-form input[name=password]", secret("handler-pass-1"));
    await page.fill("#create-form input[name=alias]", "handler");
    await page.click("#create-button");
    await page.waitForSelector("#create-result:not([hidden])");
    const row = page.locator("#endpoint-table tbody tr", { hasText: "viahandler" });
    await row.waitFor();
    await row.locator("button[data-action=rotate]").click();
    await page.waitForSelector("#rotate-dialog[open]");
    assert.equal(secret(await page.inputValue("#rotate-form input[name=password]")).length, 24);
    await page.click("#rotate-form button[value=close]");
    await page.waitForSelector("#rotate-dialog", { state: "hidden" });

    await page.click("#token-button");
    await page.waitForSelector("#token-result:not([hidden])");
    const claims = JSON.parse(await page.textContent("#token-claims"));
    assert.equal(claims.iss, AUTH_ID);
    assert.equal(claims.sub, "alice", "the handler's token is for the signed-in user");
    await page.click("#provider-start");
    await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');

    // The platform saw the handler's forwarded calls and token requests, nothing else.
    const calls = await requests();
    assert.ok(calls.some((c) => c.startsWith("POST /v1/Account/") && c.endsWith("/Endpoint/")), calls.join("\n"));
    assert.ok(calls.some((c) => c.endsWith("/JWT/Token/")), calls.join("\n"));
    const html = await page.content();
    const values = await page.$$eval("input, textarea", (inputs) => inputs.map((i) => i.value).join("\n"));
    for (const place of [html, values]) assert.ok(!place.includes(AUTH_TOKEN), "no account token in the page");
    assert.deepEqual(page.problems, []);
  } finally {
    server.close();
  }
});
