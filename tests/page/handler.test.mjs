// The demo's backend mode on createBackendHandler: a small Node application server plays
// the application (its own sign-in and session cookie) and mounts the handler at
// /backend/, which forwards to the sandbox as the platform. Everything else (the demo's
// files, the package) it relays from the sandbox.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import initServer, { createBackendHandler, nodeListener } from "../../pkg/server/node.js";
import { serve } from "../node-http.mjs";
import {
  AUTH_ID, AUTH_TOKEN, SANDBOX, newContext, pageTest, requests, sandbox, setup, watchedPage,
} from "./harness.mjs";
import { createThenRotate } from "./demo-steps.mjs";

setup();

/** The application's sessions: cookie value → user. */
const sessions = new Map();
const SESSION = "app_session";

function sessionUser(request) {
  const cookie = request.headers.get("cookie") ?? "";
  const id = cookie.split(/;\s*/).find((c) => c.startsWith(`${SESSION}=`))?.slice(SESSION.length + 1);
  return id ? sessions.get(id) : undefined;
}

/** Starts the application; answers `{ origin, close }`. */
async function startApplication() {
  await initServer();
  const voice = createBackendHandler({
    dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/backend/",
    authorize: (request) => {
      const user = sessionUser(request);
      return user ? { sub: user, incoming: user === "alice", endpoints: "manage" } : null;
    },
  });
  return serve(nodeListener(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/backend/session" && request.method === "POST") {
      // The application's own sign-in (a real one checks a password).
      const { user } = await request.json();
      const id = randomBytes(32).toString("hex");
      sessions.set(id, user);
      return new Response(JSON.stringify({ user, authId: AUTH_ID }), {
        headers: { "content-type": "application/json", "set-cookie": `${SESSION}=${id}; HttpOnly; SameSite=Strict; Path=/` },
      });
    }
    if (url.pathname.startsWith("/backend/")) return voice(request);
    // The demo's files and the package, as the sandbox serves them.
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    const relayed = await fetch(`${SANDBOX}${url.pathname}${url.search}`, { method: request.method, body });
    const kept = new Headers(relayed.headers);
    kept.delete("content-encoding");
    kept.delete("content-length");
    return new Response(relayed.body, { status: relayed.status, headers: kept });
  }));
}

pageTest("the demo in backend mode on createBackendHandler: endpoints, a token and a provider, no secret in the page", async () => {
  const { origin, close } = await startApplication();
  try {
    await newContext();
    const page = await watchedPage();
    await page.goto(`${origin}/?mode=backend&dialect=plivo&user=alice`);
    await page.waitForSelector("#status:has-text('backend mode')");
    await sandbox("DELETE", "/__sandbox/requests");

    await createThenRotate(page, { username: "viahandler", password: "handler-pass-1", alias: "handler" });

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
    close();
  }
});
