// createBackendHandler from the packed package, in Node against the sandbox (SANDBOX_URL):
// every route and permission, the refusals, the attempt to choose another `sub`, and the
// handler mounted in a plain Node server behind a backend-mode EndpointClient and a
// TokenProvider, as the README shows.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import init, { EndpointClient, TokenProvider, decodeAccessToken } from "endpoint-login";
import initServer, { createBackendHandler, isEndpointLoginError, nodeListener } from "endpoint-login/server";
import { serve } from "../node-http.mjs";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
const APP = "http://app.example";

/** The application's directory: who may do what. The "session" is a test header here. */
const USERS = {
  alice: { sub: "alice", incoming: true, ttlSeconds: 600, endpoints: "manage" },
  reader: { sub: "reader", endpoints: "read" },
  caller: { sub: "caller" },
};

let handler;
before(async () => {
  await init();
  await initServer();
  handler = createBackendHandler({
    dialect: "plivo",
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: SANDBOX,
    basePath: "/voice/",
    authorize: async (request) => USERS[request.headers.get("x-user")] ?? null,
  });
  await fetch(`${SANDBOX}/__sandbox/reset`, { method: "POST" });
});

/** Asks the handler as `user`; answers the status and the parsed body. */
async function ask(user, path, init = {}) {
  const headers = { ...(user ? { "x-user": user } : {}), ...(init.headers ?? {}) };
  const response = await handler(new Request(`${APP}${path}`, { ...init, headers }));
  assert.ok(response instanceof Response);
  const text = await response.text();
  assert.ok(!text.includes(AUTH_TOKEN), `${path}: the auth token is in an answer`);
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

const ENDPOINTS = `/voice/v1/Account/${AUTH_ID}/Endpoint/`;

test("GET {basePath}token: a token for the signed-in user, with that user's grants", async () => {
  const { status, body, headers } = await ask("alice", "/voice/token");
  assert.equal(status, 200);
  assert.equal(headers.get("cache-control"), "no-store");
  const { claims } = decodeAccessToken(body.token);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.per.voice.incomingAllow, true);
  assert.ok(claims.exp - claims.nbf <= 600 + 60 && claims.exp - claims.nbf >= 600, `${claims.exp - claims.nbf} s`);
  const caller = decodeAccessToken((await ask("caller", "/voice/token")).body.token).claims;
  assert.equal(caller.per.voice.incomingAllow, false, "incoming is off unless granted");
  assert.equal(caller.per.voice.outgoingAllow, true);
});

test("the request cannot choose the sub: ?sub=bob still gets the session's user", async () => {
  const { status, body } = await ask("caller", "/voice/token?sub=alice");
  assert.equal(status, 200);
  assert.equal(decodeAccessToken(body.token).claims.sub, "caller");
});

test("paths as frameworks deliver them: with or without the trailing slash, forwarded in the platform's form", async () => {
  const token = await ask("alice", "/voice/token/");
  assert.equal(token.status, 200, "token/ (Next.js with trailingSlash: true)");
  assert.equal(decodeAccessToken(token.body.token).claims.sub, "alice");
  const base = ENDPOINTS.slice(0, -1);
  const listed = await ask("reader", `${base}?limit=3`);
  assert.equal(listed.status, 200, "Endpoint?limit=3 (Next.js's default redirect takes the slash off)");
  assert.equal(listed.body.objects.length, 3);
  const post = { method: "POST", body: JSON.stringify({ username: "noslash", password: "handler-pass-1", alias: "n" }), headers: { "content-type": "application/json" } };
  const created = await ask("alice", base, post);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const one = await ask("reader", `${ENDPOINTS}${created.body.endpoint_id}`);
  assert.equal(one.body.username, created.body.username);
  assert.equal((await ask("alice", `${ENDPOINTS}${created.body.endpoint_id}`, { method: "DELETE" })).status, 204);
  const seen = (await (await fetch(`${SANDBOX}/__sandbox/requests`)).json()).requests.slice(-5).map((r) => `${r.method} ${r.path}`);
  assert.ok(seen.every((line) => line.endsWith("/")), `the platform saw its own form: ${seen.join(", ")}`);
});

test("refusals: nobody signed in, wrong method, another account, other resources, outside basePath", async () => {
  const table = [
    [null, "/voice/token", {}, 401],
    ["alice", "/voice/token", { method: "POST", body: "{}" }, 405],
    ["alice", `/voice/v1/Account/MAOTHERACCOUNT/Endpoint/`, {}, 403],
    ["alice", `/voice/v1/Account/${AUTH_ID}/Call/`, {}, 404],
    ["alice", `/voice/v1/Account/${AUTH_ID}/Endpoint/../Call/`, {}, 404],
    ["alice", `/voice/v1/Account/${AUTH_ID}/Endpoint/a%2Fb/`, {}, 400],
    ["alice", "/voice/", {}, 404],
    ["alice", "/elsewhere/token", {}, 404],
    ["alice", `${ENDPOINTS}1/`, { method: "PUT", body: "{}" }, 405],
    ["alice", "/voice/token//", {}, 404],
    ["alice", "/voice/tokens", {}, 404],
    ["alice", `/voice/v1/Account/${AUTH_ID}/Endpoints`, {}, 404],
    ["alice", `/voice/v1/Account/MAOTHERACCOUNT/Endpoint`, {}, 403],
  ];
  for (const [user, path, init, expected] of table) {
    const { status, body } = await ask(user, path, init);
    assert.equal(status, expected, `${init.method ?? "GET"} ${path} as ${user}: ${JSON.stringify(body)}`);
    assert.equal(typeof body.error, "string");
  }
});

test("endpoint calls go as far as the user's permission", async () => {
  const listed = await ask("reader", `${ENDPOINTS}?limit=5`);
  assert.equal(listed.status, 200);
  assert.equal(listed.body.objects.length, 5);
  assert.equal((await ask("caller", `${ENDPOINTS}?limit=5`)).status, 403, "endpoints: none");
  const fields = JSON.stringify({ username: "viahandler", password: "handler-pass-1", alias: "h" });
  const post = { method: "POST", body: fields, headers: { "content-type": "application/json" } };
  assert.equal((await ask("reader", ENDPOINTS, post)).status, 403, "read may not create");
  const created = await ask("alice", ENDPOINTS, post);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.endpoint_id;
  assert.equal((await ask("reader", `${ENDPOINTS}${id}/`, { method: "DELETE" })).status, 403);
  assert.equal((await ask("alice", `${ENDPOINTS}${id}/`, { method: "DELETE" })).status, 204);
  const huge = { ...post, body: JSON.stringify({ username: "big", password: "x".repeat(20_000), alias: "a" }) };
  assert.equal((await ask("alice", ENDPOINTS, huge)).status, 413);
});

test("bad options are INVALID_CONFIG before anything is served", () => {
  const base = { dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, authorize: () => null };
  for (const [options, field] of [
    [{ ...base, authorize: undefined }, "authorize"],
    [{ ...base, authToken: undefined }, "authToken"],
    [{ ...base, basePath: "voice" }, "basePath"],
    [{ ...base, baseUrl: "http://api.example.com" }, "baseUrl"],
    [{ ...base, extra: 1 }, "extra"],
  ]) {
    assert.throws(() => createBackendHandler(options), (e) => isEndpointLoginError(e) && e.code === "INVALID_CONFIG" && e.field === field && !e.message.includes(AUTH_TOKEN), field);
  }
});

test("mounted in a Node server: a backend-mode EndpointClient and a TokenProvider work through it", async (t) => {
  const mounted = createBackendHandler({
    dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/voice/",
    // A real application checks its session cookie here.
    authorize: () => ({ sub: "alice", incoming: true, endpoints: "manage" }),
  });
  // Behind a Node server, as in the README's example.
  const { origin, close } = await serve(nodeListener(mounted));
  t.after(close);

  const client = new EndpointClient({ dialect: "plivo", authId: AUTH_ID, baseUrl: `${origin}/voice` });
  assert.equal(client.isDirect, false);
  const page = await client.listEndpoints({ limit: 3 });
  assert.equal(page.objects.length, 3);
  const created = await client.createEndpoint({ username: "mounted", password: "mounted-pass-1", alias: "m" });
  await client.deleteEndpoint(created.endpointId);

  const provider = new TokenProvider({ tokenUrl: `${origin}/voice/token`, shareAcrossTabs: false });
  const token = await provider.getAccessToken();
  assert.equal(decodeAccessToken(token).claims.sub, "alice");
  provider.dispose();
});

test("nodeListener: any Fetch handler in a Node server, bodies, headers and cookies both ways, a throwing handler is a 500", async (t) => {
  let seen;
  const { origin, close } = await serve(nodeListener(async (request) => {
    if (request.url.endsWith("/throw")) throw new Error("a secret detail");
    seen = { method: request.method, url: request.url, cookie: request.headers.get("cookie"), body: await request.text() };
    const headers = new Headers({ "content-type": "text/plain", "x-one": "1" });
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Path=/");
    return new Response("ünïcode answer", { status: 201, headers });
  }));
  t.after(close);
  const answer = await fetch(`${origin}/some/path?q=1`, { method: "POST", headers: { cookie: "session=x" }, body: "a body" });
  assert.equal(answer.status, 201);
  assert.equal(await answer.text(), "ünïcode answer");
  assert.equal(answer.headers.get("x-one"), "1");
  assert.deepEqual(answer.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
  assert.deepEqual(seen, { method: "POST", url: `${origin}/some/path?q=1`, cookie: "session=x", body: "a body" });
  const failed = await fetch(`${origin}/throw`);
  assert.equal(failed.status, 500);
  assert.doesNotMatch(await failed.text(), /secret/);
  assert.equal((await fetch(`${origin}/after`)).status, 201, "the server goes on");
  assert.throws(() => nodeListener("not a function"), (e) => isEndpointLoginError(e) && e.code === "INVALID_ARGUMENT");
});
