// The backend half probed as an attacker would, from the packed package in Node: a table of
// hostile requests and hostile platform answers through `createBackendHandler`, each with
// the status it must get; then the attacks one by one (an unauthenticated upload of
// hundreds of MB, redirects that would carry the credentials elsewhere, a polluted
// prototype, echoed credentials, raw request targets, answers that never end), through
// `nodeListener` in a real Node server where the wire matters. The platform is the
// sandbox (SANDBOX_URL) or a small local server that answers as a test scripts it and logs
// what reaches it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import init, { EndpointClient, isEndpointLoginError } from "endpoint-login";
import initServer, { createBackendHandler, nodeListener } from "endpoint-login/server";
import { serve } from "../node-http.mjs";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
/** Every form the credentials travel in: none may come back out. */
const BASIC = Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64");
const SECRETS = [AUTH_TOKEN, BASIC, Buffer.from(AUTH_TOKEN).toString("base64")];
const ENDPOINTS = `/v1/Account/${AUTH_ID}/Endpoint/`;
const VOBIZ_ENDPOINTS = `/api/v1/Account/${AUTH_ID}/Endpoint/`;

/**
 * A platform that answers as `script(request, body)` says (`{ status, headers, body }`, or
 * `"hang"` to answer headers and then stream without end) and logs every request.
 */
async function scriptedPlatform(script) {
  const log = [];
  const { origin, close } = await serve(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString();
    log.push({ method: req.method, url: req.url, headers: req.headers, body });
    const answer = await script(req, body);
    if (answer.stream) {
      res.writeHead(answer.status ?? 200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 32);
      let written = 0;
      const pump = () => {
        while (written < answer.stream) {
          written += chunk.length;
          if (!res.write(chunk)) return res.once("drain", pump);
        }
        res.end();
      };
      res.on("close", () => (log.at(-1).written = written));
      return pump();
    }
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(answer.body ?? "");
  });
  return { origin, close, log };
}

/** A handler with these options over `baseUrl`; `authorize` answers `grant`. */
function handlerFor(baseUrl, options = {}) {
  return createBackendHandler({
    dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl, basePath: "/voice/",
    authorize: (request) => USERS[request.headers.get("x-user")] ?? null,
    ...options,
  });
}

const USERS = {
  manager: { sub: "alice", endpoints: "manage" },
  reader: { sub: "reader", endpoints: "read" },
  caller: { sub: "caller" },
};

/** Asks `handler` and answers `{ status, text, headers }`, checking no secret came back. */
async function ask(handler, path, { user, ...init } = {}) {
  const headers = new Headers(init.headers);
  if (user) headers.set("x-user", user);
  const response = await handler(new Request(`http://app.example${path}`, { ...init, headers }));
  assert.ok(response instanceof Response, `${path}: a Response`);
  const text = await response.text();
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${path}: a secret in the answer: ${text}`);
  for (const [name, value] of response.headers) {
    for (const secret of SECRETS) assert.ok(!value.includes(secret), `${path}: a secret in ${name}`);
  }
  return { status: response.status, text, headers: response.headers };
}

let echo;
let sandboxHandler;
before(async () => {
  await init();
  await initServer();
  await fetch(`${SANDBOX}/__sandbox/reset`, { method: "POST" });
  sandboxHandler = handlerFor(SANDBOX);
  // A platform that answers every request by the path's last segment.
  echo = await scriptedPlatform((req) => {
    const last = req.url.split("?")[0].split("/").filter(Boolean).at(-1);
    switch (last) {
      case "echo":
        return { status: 400, body: JSON.stringify({ error: `invalid credentials ${AUTH_TOKEN}, Basic ${BASIC}, ${SECRETS[2]}` }) };
      case "echo-header":
        return { status: 429, headers: { "retry-after": AUTH_TOKEN }, body: "{}" };
      case "status600":
        return { status: 600, body: "{}" };
      case "status999":
        return { status: 999, body: "{}" };
      case "huge":
        return { stream: 64 * 1024 * 1024 };
      case "empty":
        return { status: 204 };
      case "html":
        return { status: 503, headers: { "content-type": "text/html" }, body: "<h1>down</h1>" };
      default:
        return { status: 200, body: JSON.stringify({ query: req.url.split("?")[1] ?? "" }) };
    }
  });
});
after(() => echo?.close());

const post = (body, headers = {}) => ({ method: "POST", body, headers: { "content-type": "application/json", ...headers } });
const grant = (value) => ({ authorize: () => value });

/**
 * The table: [what, path, request init (with `user`), expected status, handler options, the
 * platform (the sandbox unless `echo`)].
 */
const CASES = [
  // Paths.
  ["no session", "/voice/token", {}, 401],
  ["outside basePath", "/elsewhere/token", { user: "manager" }, 404],
  ["a sibling of basePath", "/voicemail/token", { user: "manager" }, 404],
  ["basePath itself", "/voice/", { user: "manager" }, 404],
  ["basePath in other case", "/VOICE/token", { user: "manager" }, 404],
  ["a near miss of token", "/voice/tokens", { user: "manager" }, 404],
  ["token with a parameter", "/voice/token;sub=bob", { user: "manager" }, 404],
  ["an empty segment after basePath", `/voice/${ENDPOINTS}`, { user: "manager" }, 404],
  ["another account", "/voice/v1/Account/MAOTHERACCOUNT/Endpoint/", { user: "manager" }, 403],
  ["another resource", `/voice/v1/Account/${AUTH_ID}/Call/`, { user: "manager" }, 404],
  ["dot segments to another resource", `/voice${ENDPOINTS}../Call/`, { user: "manager" }, 404],
  // The URL parser reads %2E%2E as a dot segment: this is the path above, not an escape.
  ["encoded dot segments", `/voice${ENDPOINTS}%2E%2E/Call/`, { user: "manager" }, 404],
  ["an encoded dot: the list itself", `/voice${ENDPOINTS}%2E/`, { user: "reader" }, 200],
  ["an escaped character", `/voice${ENDPOINTS}%41/`, { user: "manager" }, 400],
  ["an encoded slash", `/voice${ENDPOINTS}a%2Fb/`, { user: "manager" }, 400],
  ["the other dialect's path", `/voice/api${ENDPOINTS}`, { user: "manager" }, 404],
  ["an unknown endpoint", `/voice${ENDPOINTS}99/`, { user: "manager" }, 404],
  // Methods.
  ["POST to token", "/voice/token", { user: "manager", ...post("{}") }, 405],
  ["DELETE to token", "/voice/token", { user: "manager", method: "DELETE" }, 405],
  ["HEAD to token", "/voice/token", { user: "manager", method: "HEAD" }, 405],
  ["PUT an endpoint", `/voice${ENDPOINTS}1/`, { user: "manager", method: "PUT", body: "{}" }, 405],
  ["PATCH an endpoint", `/voice${ENDPOINTS}1/`, { user: "manager", method: "PATCH", body: "{}" }, 405],
  ["OPTIONS", `/voice${ENDPOINTS}`, { user: "manager", method: "OPTIONS" }, 405],
  // Grants.
  ["endpoints: none, a list", `/voice${ENDPOINTS}`, { user: "caller" }, 403],
  ["endpoints: read, a delete", `/voice${ENDPOINTS}1/`, { user: "reader", method: "DELETE" }, 403],
  ["endpoints: read, a create", `/voice${ENDPOINTS}`, { user: "reader", ...post("{}") }, 403],
  ["a grant with an unknown field", "/voice/token", {}, 500, grant({ sub: "alice", admin: true })],
  ["a grant whose sub is a number", "/voice/token", {}, 500, grant({ sub: 42 })],
  ["a grant without sub", "/voice/token", {}, 500, grant({ endpoints: "manage" })],
  ["a grant with a 10 s lifetime", "/voice/token", {}, 500, grant({ sub: "alice", ttlSeconds: 10 })],
  ["a grant with endpoints: admin", `/voice${ENDPOINTS}`, {}, 500, grant({ sub: "alice", endpoints: "admin" })],
  ["a grant that inherits everything", `/voice${ENDPOINTS}`, {}, 500, grant(Object.create({ sub: "alice", endpoints: "manage" }))],
  ["a grant of false", "/voice/token", {}, 401, grant(false)],
  ["authorize throws", "/voice/token", {}, 500, { authorize: () => { throw new Error("session store down"); } }],
  ["authorize rejects", "/voice/token", {}, 500, { authorize: async () => { throw new Error("session store down"); } }],
  ["authorize never settles", "/voice/token", {}, 503, { authorize: () => new Promise(() => {}), authorizeTimeoutMs: 50 }],
  // Bodies.
  ["a body over 16 KB", `/voice${ENDPOINTS}`, { user: "manager", ...post("x".repeat(17_000)) }, 413],
  ["a body that is not UTF-8", `/voice${ENDPOINTS}`, { user: "manager", ...post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])) }, 400],
  ["a body the platform refuses", `/voice${ENDPOINTS}`, { user: "manager", ...post('{"username": "x"}') }, 400],
  // Headers.
  ["a Host header of another site", "/voice/token", { user: "manager", headers: { host: "evil.example" } }, 200],
  ["a forged session header", "/voice/token", { user: "nobody", headers: { "x-user": "manager, nobody" } }, 401],
  // Platform answers (the scripted platform).
  ["an error echoing the credentials", `/voice${ENDPOINTS}echo/`, { user: "manager" }, 400, {}, "echo"],
  ["a Retry-After echoing the token", `/voice${ENDPOINTS}echo-header/`, { user: "manager" }, 429, {}, "echo"],
  ["status 600", `/voice${ENDPOINTS}status600/`, { user: "manager" }, 502, {}, "echo"],
  ["status 999", `/voice${ENDPOINTS}status999/`, { user: "manager" }, 502, {}, "echo"],
  ["a 204 without body", `/voice${ENDPOINTS}empty/`, { user: "manager", method: "DELETE" }, 204, {}, "echo"],
  ["an HTML 503", `/voice${ENDPOINTS}html/`, { user: "manager" }, 503, {}, "echo"],
  ["a 64 MB answer without a length", `/voice${ENDPOINTS}huge/`, { user: "manager" }, 502, {}, "echo"],
  ["a platform that is not there", `/voice${ENDPOINTS}`, { user: "manager" }, 502, { baseUrl: "http://127.0.0.1:9" }],
];

test(`${CASES.length} hostile requests and platform answers: each gets its status, none a secret`, async () => {
  assert.ok(CASES.length >= 40, `${CASES.length} cases`);
  const wrong = [];
  for (const [what, path, init, expected, options = {}, platform] of CASES) {
    const handler = platform === "echo" || Object.keys(options).length > 0 ? handlerFor(platform === "echo" ? echo.origin : SANDBOX, options) : sandboxHandler;
    const { status, text, headers } = await ask(handler, path, init);
    if (status !== expected) wrong.push(`${what}: ${status} (expected ${expected}): ${text.slice(0, 200)}`);
    if (status >= 400 && status !== 413 && init.method !== "HEAD" && !headers.get("content-type")?.includes("json")) wrong.push(`${what}: not JSON`);
  }
  assert.deepEqual(wrong, [], wrong.join("\n"));
});

test("echoed credentials are cut out of relayed bodies, headers and the token route's message", async () => {
  const handler = handlerFor(echo.origin);
  const relayed = await ask(handler, `/voice${ENDPOINTS}echo/`, { user: "manager" });
  assert.equal(relayed.status, 400);
  assert.match(relayed.text, /invalid credentials \[redacted\], Basic \[redacted\], \[redacted\]/);
  const header = await ask(handler, `/voice${ENDPOINTS}echo-header/`, { user: "manager" });
  assert.equal(header.headers.get("retry-after"), "[redacted]");
  // The token route: the platform's words come back in the 502's message, cut.
  const tokens = await scriptedPlatform(() => ({ status: 500, body: JSON.stringify({ error: `auth ${AUTH_TOKEN} (${BASIC}) rejected` }) }));
  try {
    const failed = await ask(handlerFor(tokens.origin), "/voice/token", { user: "manager" });
    assert.equal(failed.status, 502);
    assert.match(JSON.parse(failed.text).error, /auth \[redacted\] \(\[redacted\]\) rejected/);
  } finally {
    tokens.close();
  }
});

test("only the list parameters reach the platform", async () => {
  const handler = handlerFor(echo.origin);
  const answer = await ask(handler, `/voice${ENDPOINTS}?limit=5&auth_token=x&callback=//evil.example&offset=10`, { user: "manager" });
  assert.equal(answer.status, 200);
  assert.equal(echo.log.at(-1).url, `${ENDPOINTS}?limit=5&offset=10`);
  const vobiz = createBackendHandler({ dialect: "vobiz", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: echo.origin, basePath: "/voice/", authorize: () => USERS.manager });
  await ask(vobiz, `/voice${VOBIZ_ENDPOINTS}?alias__contains=desk&format=xml&sub_account=SA1`, { user: "manager" });
  assert.equal(echo.log.at(-1).url, `${VOBIZ_ENDPOINTS}?alias__contains=desk&sub_account=SA1`);
});

test("a chunked answer is cut off at 4 MB, not read whole, in the handler and in direct mode", async () => {
  const handler = handlerFor(echo.origin);
  const answer = await ask(handler, `/voice${ENDPOINTS}huge/`, { user: "manager" });
  assert.equal(answer.status, 502);
  assert.match(JSON.parse(answer.text).error, /longer than 4000000 bytes/);
  await until(() => echo.log.at(-1).written !== undefined, "the platform saw the connection close");
  assert.ok(echo.log.at(-1).written < 32 * 1024 * 1024, `${echo.log.at(-1).written} bytes were sent before the reader stopped`);
  const direct = new EndpointClient({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: echo.origin });
  await assert.rejects(direct.getEndpoint("huge"), (e) => isEndpointLoginError(e) && e.code === "BAD_RESPONSE" && /longer than 4000000 bytes/.test(e.message));
  await until(() => echo.log.at(-1).written !== undefined, "the platform saw the connection close");
  assert.ok(echo.log.at(-1).written < 32 * 1024 * 1024, `${echo.log.at(-1).written} bytes were sent before the reader stopped`);
});

/** Waits until `condition()` holds (polled every 10 ms), failing with `what` after 10 s. */
async function until(condition, what) {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) assert.fail(`${what}: not within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("redirects are not followed with the credentials: nothing reaches the other origin", async () => {
  const elsewhere = await scriptedPlatform(() => ({ status: 200, body: JSON.stringify({ api_id: "x", meta: { limit: 20, offset: 0, total_count: 0 }, objects: [] }) }));
  // Vobiz's credentials are headers, which a followed redirect would carry to any host.
  const redirecting = await scriptedPlatform((req) => ({
    status: 302,
    headers: { location: req.url.includes("/Endpoint/local/") ? `/v1/Account/MAOTHERACCOUNT/Call/` : `${elsewhere.origin}${req.url}` },
  }));
  try {
    const vobiz = createBackendHandler({ dialect: "vobiz", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: redirecting.origin, basePath: "/voice/", authorize: () => USERS.manager });
    const answer = await ask(vobiz, `/voice${VOBIZ_ENDPOINTS}`, { user: "manager" });
    assert.equal(answer.status, 502);
    assert.match(JSON.parse(answer.text).error, /redirect, which is not followed/);
    // Plivo: a same-origin redirect around the path checks, to another account's calls.
    const plivo = handlerFor(redirecting.origin);
    const around = await ask(plivo, `/voice${ENDPOINTS}local/`, { user: "reader" });
    assert.equal(around.status, 502);
    assert.equal(redirecting.log.filter((r) => r.url.includes("OTHERACCOUNT")).length, 0, "the redirect was not followed");
    // Direct mode (Node keeps every header on a redirect; browsers keep X-Auth-Token).
    for (const dialect of ["vobiz", "plivo"]) {
      const direct = new EndpointClient({ dialect, authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: redirecting.origin, retry: { maxRetries: 0 } });
      await assert.rejects(direct.listEndpoints(), (e) => isEndpointLoginError(e) && e.code === "REDIRECT" && e.status === 302 && !e.message.includes(AUTH_TOKEN));
    }
    assert.deepEqual(elsewhere.log, [], "the other origin received nothing");
  } finally {
    elsewhere.close();
    redirecting.close();
  }
});

test("a polluted Object.prototype grants nothing", async () => {
  const handler = handlerFor(SANDBOX, { authorize: () => ({ sub: "alice" }) });
  const created = await new EndpointClient({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX })
    .createEndpoint({ username: "polluted", password: "polluted-pass-1", alias: "p" });
  Object.prototype.endpoints = "manage";
  Object.prototype.incoming = true;
  Object.prototype.ttlSeconds = 86_400;
  try {
    const deleted = await ask(handler, `/voice${ENDPOINTS}${created.endpointId}/`, { method: "DELETE" });
    assert.equal(deleted.status, 403, deleted.text);
    const token = JSON.parse((await ask(handler, "/voice/token")).text).token;
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
    assert.equal(claims.per.voice.incoming_allow, false, "incoming stays off");
    assert.ok(claims.exp - claims.nbf <= 3600 + 60, "the default lifetime");
  } finally {
    delete Object.prototype.endpoints;
    delete Object.prototype.incoming;
    delete Object.prototype.ttlSeconds;
  }
});

/** Sends `raw` (a whole HTTP/1.1 request) to `origin` over a socket; answers the reply's status line. */
function rawRequest(origin, raw) {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    // Written, not ended: the server closes the connection after its answer.
    const socket = net.connect(Number(port), hostname, () => socket.write(raw));
    let reply = "";
    socket.on("data", (d) => (reply += d));
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

test("nodeListener: a request target that is not a path on this server is refused", async (t) => {
  const { origin, close } = await serve(nodeListener(handlerFor(SANDBOX, { authorize: () => USERS.manager })));
  t.after(close);
  for (const target of ["//evil.example/voice/token", "http://evil.example/voice/token", "*"]) {
    const reply = await rawRequest(origin, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 400 /, `${target}: ${reply.split("\r\n")[0]}`);
    assert.match(reply, /the request target must be a path/);
  }
  const served = await rawRequest(origin, "GET /voice/token HTTP/1.1\r\nHost: evil.example/x?y\r\nConnection: close\r\n\r\n");
  assert.match(served, /^HTTP\/1\.1 200 /, "a hostile Host header is not the URL's host");
});

test("nodeListener: bodies are streamed to the handler, counted, and never read for a refused request", async (t) => {
  const { origin, close } = await serve(nodeListener(handlerFor(SANDBOX, { authorize: (request) => (request.headers.get("x-user") ? USERS.manager : null) })));
  t.after(close);
  const big = JSON.stringify({ username: "big", password: "x".repeat(20_000), alias: "a" });
  // Announced too large: 413 at once. Chunked without a length: 413 once 16 KB have come.
  for (const headers of [{ "content-length": String(Buffer.byteLength(big)) }, { "transfer-encoding": "chunked" }]) {
    const reply = await upload(`${origin}/voice${ENDPOINTS}`, { "x-user": "m", ...headers }, Buffer.from(big));
    assert.equal(reply.status, 413, JSON.stringify(headers));
  }
  const small = JSON.stringify({ username: "streamed", password: "streamed-pass", alias: "s" });
  const created = await upload(`${origin}/voice${ENDPOINTS}`, { "x-user": "m", "transfer-encoding": "chunked" }, Buffer.from(small));
  assert.equal(created.status, 201, created.body);
});

/**
 * POSTs `body` (`repeat` times) to `url` with `headers` through node:http; answers `{ status,
 * body, connection }` as soon as the answer has come, whatever becomes of the rest of the upload.
 */
function upload(url, headers, body, repeat = 1) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } });
    let answered = false;
    request.on("response", (response) => {
      answered = true;
      let text = "";
      const done = () => resolve({ status: response.statusCode, body: text, connection: response.headers.connection });
      response.on("data", (d) => (text += d));
      response.on("end", done);
      response.on("aborted", done);
    });
    // Once the answer has come, the server may cut the rest of the upload.
    request.on("error", (e) => (answered ? undefined : reject(e)));
    let sent = 0;
    const pump = () => {
      while (!answered && sent < repeat) {
        sent += 1;
        if (!request.write(body)) return request.once("drain", pump);
      }
      if (!answered) request.end();
    };
    pump();
  });
}

test("nodeListener: a 256 MB unauthenticated upload leaves the server's memory as it was", async (t) => {
  const child = fork(fileURLToPath(new URL("./upload-target.mjs", import.meta.url)), [], {
    execArgv: ["--expose-gc"],
    env: { ...process.env, SANDBOX_URL: SANDBOX },
  });
  t.after(() => child.disconnect());
  const next = () => new Promise((resolve) => child.once("message", resolve));
  const { port } = await next();
  const memory = async () => {
    child.send("memory");
    return (await next()).rss;
  };
  const MB = 1024 * 1024;
  const chunk = Buffer.alloc(MB, 120);
  // Warm up: the first request compiles the handler's code and grows the heap once.
  await upload(`http://127.0.0.1:${port}/voice/token`, {}, chunk);
  const before = await memory();
  const outside = await upload(`http://127.0.0.1:${port}/not-voice/anything`, { "transfer-encoding": "chunked" }, chunk, 128);
  const noSession = await upload(`http://127.0.0.1:${port}/voice${ENDPOINTS}`, { "transfer-encoding": "chunked" }, chunk, 128);
  const grown = (await memory()) - before;
  assert.equal(outside.status, 404);
  assert.equal(noSession.status, 401);
  assert.ok(grown < 16 * MB, `the server's memory grew by ${(grown / MB).toFixed(1)} MB for 256 MB uploaded`);
  console.log(`# memory after 2 x 128 MB unauthenticated uploads: ${(grown / MB).toFixed(1)} MB more`);
});
