// The README's examples, run as written against the sandbox (SANDBOX_URL) with the packed
// package installed here. What is changed, and only that: the placeholders become the
// sandbox's account (`MA_XXXXXXXX`, `development-only-token`, `http://127.0.0.1:8787`),
// and the platforms' public hosts (the default base URLs) are the sandbox, as a hosts file
// would make them. Examples that run in Node run in a Node process of their own; the page
// examples (relative URLs) run in Chromium on a page whose origin serves /voice/ with the
// README's own backend handler example.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import initServer, { createBackendHandler, nodeListener } from "endpoint-login/server";
import { freePort, serve, untilAnswers } from "../node-http.mjs";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
const HERE = fileURLToPath(new URL(".", import.meta.url));
const RUN = `${HERE}readme-run/`;

/** The README's ```js blocks, the placeholders replaced. */
const EXAMPLES = [...readFileSync(new URL("../../README.md", import.meta.url), "utf8").matchAll(/^```js\n([\s\S]*?)^```/gm)].map(([, code]) =>
  code
    .replaceAll("MA_XXXXXXXX", AUTH_ID)
    .replaceAll("development-only-token", AUTH_TOKEN)
    .replaceAll("http://127.0.0.1:8787", SANDBOX)
    .replaceAll("ws://127.0.0.1:8787", SANDBOX.replace(/^http/, "ws")),
);

/** The examples the tests below have taken. */
const taken = new Set();

/** The example that uses `name`, exactly one. */
function example(name) {
  const found = EXAMPLES.filter((code) => code.includes(name));
  assert.equal(found.length, 1, `one README example uses ${name}`);
  taken.add(found[0]);
  return found[0];
}

/** Loaded first in every Node example: the platforms' public hosts are the sandbox. */
const HOSTS = `
const fetch = globalThis.fetch;
const sandbox = (url) => url.replace(/^https:\\/\\/api\\.(plivo\\.com|vobiz\\.ai)/, ${JSON.stringify(SANDBOX)});
globalThis.fetch = async (input, init) => {
  if (!(input instanceof Request)) return fetch(sandbox(String(input)), init);
  const url = sandbox(input.url);
  if (url === input.url) return fetch(input, init);
  const body = input.method === "GET" || input.method === "HEAD" ? undefined : await input.arrayBuffer();
  return fetch(url, { method: input.method, headers: input.headers, body, signal: input.signal });
};
`;

/** Writes an example as a module beside the installed package and starts it in Node. */
function node(name, code, env = {}) {
  mkdirSync(RUN, { recursive: true });
  writeFileSync(`${RUN}hosts.mjs`, HOSTS);
  writeFileSync(`${RUN}${name}.mjs`, code);
  const child = spawn(process.execPath, ["--import", `${RUN}hosts.mjs`, `${RUN}${name}.mjs`], {
    cwd: HERE,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.output = "";
  child.stdout.on("data", (chunk) => (child.output += chunk));
  child.stderr.on("data", (chunk) => (child.output += chunk));
  child.finished = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  return child;
}

before(async () => {
  await fetch(`${SANDBOX}/__sandbox/reset`, { method: "POST" });
});

test("the direct-mode admin example: create, read, update, rotate, count, delete", async () => {
  const run = node("admin", example("admin.rotatePassword"));
  assert.equal(await run.finished, 0, run.output);
  assert.match(run.output, /^alice\d{12}$/m);
  assert.match(run.output, /log in as alice\d{12} with a 24-character password/);
  assert.match(run.output, /\d+ of \d+ registered/);
});

test("the token example: lifetime checked, a token from the JWT API, decoded and verified", async () => {
  const run = node("tokens", example("verifyAccessToken(token"));
  assert.equal(await run.finished, 0, run.output);
  assert.match(run.output, /^true /m, "incoming allowed");
  assert.match(run.output, /^plivo;v=1$/m);
});

let server;
let browser;
after(async () => {
  server?.kill();
  await browser?.close();
});

test("the backend handler example serves tokens and endpoint reads for its signed-in user", async () => {
  const port = await freePort();
  server = node("server", example("createBackendHandler({"), { PORT: String(port), PLIVO_AUTH_TOKEN: AUTH_TOKEN });
  const origin = `http://127.0.0.1:${port}`;
  await untilAnswers(`${origin}/voice/token`, server).catch((e) => assert.fail(`${e.message}: ${server.output}`));
  assert.equal((await fetch(`${origin}/voice/token`)).status, 401, "no session");
  const session = { headers: { cookie: "session=1" } };
  const { token } = await (await fetch(`${origin}/voice/token`, session)).json();
  assert.equal(JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub, "alice");
  const list = await fetch(`${origin}/voice/v1/Account/${AUTH_ID}/Endpoint/?limit=2`, session);
  assert.equal(list.status, 200);
  assert.equal((await list.json()).objects.length, 2);
  const create = await fetch(`${origin}/voice/v1/Account/${AUTH_ID}/Endpoint/`, { ...session, method: "POST", body: "{}" });
  assert.equal(create.status, 403, "endpoints: read");
});

/** Waits until `condition()` holds (checked every 20 ms), failing with `message` after 10 s. */
async function until(condition, message) {
  for (const start = Date.now(); !(await condition()); ) {
    if (Date.now() - start > 10_000) assert.fail(message());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("the page examples run in Chromium against the README's backend: a Vobiz walk and a TokenProvider", async (t) => {
  // The page's origin: /voice/ is the README's handler for tokens (Plivo) and a Vobiz
  // handler for the endpoint example's calls; the page and the package come from here.
  await initServer();
  const grant = () => ({ sub: "alice", incoming: true, endpoints: "read" });
  const plivo = createBackendHandler({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/voice/", authorize: grant });
  const vobiz = createBackendHandler({ dialect: "vobiz", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/voice/", authorize: grant });
  const pkg = `${HERE}node_modules/endpoint-login/`;
  const files = {
    "/": ["text/html", `<!doctype html><script type="importmap">{"imports": {"endpoint-login": "/pkg/endpoint_login.js", "endpoint-login/tokens": "/pkg/tokens/endpoint_login.js"}}</script>`],
    "/walk.js": ["text/javascript", example("client.endpoints({ aliasContains")],
    "/provider.js": ["text/javascript", example("new TokenProvider({\n  tokenUrl")],
    "/watch.js": ["text/javascript", example("watchRegistrations({ aliasContains")],
  };
  const app = await serve(nodeListener(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/favicon.ico") return new Response(null, { status: 204 });
    if (files[url.pathname]) {
      return new Response(files[url.pathname][1], { headers: { "content-type": files[url.pathname][0] } });
    }
    if (url.pathname.startsWith("/pkg/")) {
      const file = url.pathname.slice("/pkg/".length);
      const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
      return new Response(readFileSync(`${pkg}${file}`), { headers: { "content-type": type } });
    }
    return (url.pathname.startsWith("/voice/api/") ? vobiz : plivo)(request);
  }));
  t.after(app.close);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
  });
  const page = await browser.newPage();
  const lines = [];
  page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
  await page.goto(`${app.origin}/`);

  await page.evaluate(() => import("/walk.js"));
  // Console lines reach this process as events: wait for them.
  await until(() => lines.some((l) => /^log: \d+ endpoints$/.test(l)) && lines.some((l) => /^log: \S+ (online|offline)$/.test(l)), () => lines.join("\n"));

  // The watch example: its snapshot, then it ends when its signal fires.
  const watched = page.evaluate(async () => {
    const { EndpointClient } = await import("endpoint-login");
    const { watchDeskPhones } = await import("/watch.js");
    const stop = (window.stopWatch = new AbortController());
    await watchDeskPhones(new EndpointClient({ dialect: "vobiz", authId: "MASANDBOXACCOUNT0001", baseUrl: "/voice" }), stop.signal);
    return "ended";
  });
  await until(() => lines.some((l) => /^log: \d+ of \d+ registered$/.test(l)), () => lines.join("\n"));
  await page.evaluate(() => window.stopWatch.abort());
  assert.equal(await watched, "ended", "the signal ends the watch quietly");

  const token = await page.evaluate(async () => {
    const { logIn, logOut } = await import("/provider.js");
    // What the browser SDK does with the generator at login.
    const got = new Promise((resolve, reject) => logIn({ loginWithAccessTokenGenerator: (generator) => generator.getAccessToken().then(resolve, reject) }));
    const token = await got;
    logOut();
    return token;
  });
  assert.equal(JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub, "alice");
  assert.deepEqual(lines.filter((l) => /^(error|pageerror)/.test(l)), []);
});

test("the offline login example logs the real Plivo browser SDK in to the sandbox with a TokenProvider", async (t) => {
  await initServer();
  // The application's user owns an endpoint of the sandbox's account: her tokens are for it.
  const basic = `Basic ${Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64")}`;
  const listed = await (await fetch(`${SANDBOX}/v1/Account/${AUTH_ID}/Endpoint/?limit=1`, { headers: { authorization: basic } })).json();
  const { endpoint_id: id, username } = listed.objects[0];
  const voice = createBackendHandler({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/voice/", authorize: () => ({ sub: username }) });
  // A second user of the application, who may receive calls (the calling example).
  const callee = (await (await fetch(`${SANDBOX}/v1/Account/${AUTH_ID}/Endpoint/?limit=2`, { headers: { authorization: basic } })).json()).objects[1].username;
  const voice2 = createBackendHandler({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, basePath: "/voice2/", authorize: () => ({ sub: callee, incoming: true }) });
  const pkg = `${HERE}node_modules/endpoint-login/`;
  const sdk = readFileSync(new URL("../../node_modules/plivo-browser-sdk/dist/plivobrowsersdk.js", import.meta.url));
  const app = await serve(nodeListener(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response(`<!doctype html><script type="importmap">{"imports": {"endpoint-login/tokens": "/pkg/tokens/endpoint_login.js"}}</script><script src="/plivobrowsersdk.js"></script>`, { headers: { "content-type": "text/html" } });
    if (url.pathname === "/plivobrowsersdk.js") return new Response(sdk, { headers: { "content-type": "text/javascript" } });
    if (url.pathname === "/login.js") return new Response(example("logInToTheSandbox"), { headers: { "content-type": "text/javascript" } });
    if (url.pathname === "/stay.js") return new Response(example("keepLoggedIn(plivoClient, provider"), { headers: { "content-type": "text/javascript" } });
    if (url.pathname === "/call.js") return new Response(example("callAnotherTab"), { headers: { "content-type": "text/javascript" } });
    if (url.pathname === "/take.js") return new Response(example("callFromThisTab"), { headers: { "content-type": "text/javascript" } });
    if (url.pathname.startsWith("/pkg/")) {
      const file = url.pathname.slice("/pkg/".length);
      return new Response(readFileSync(`${pkg}${file}`), { headers: { "content-type": file.endsWith(".wasm") ? "application/wasm" : "text/javascript" } });
    }
    if (url.pathname.startsWith("/voice/")) return voice(request);
    if (url.pathname.startsWith("/voice2/")) return voice2(request);
    return new Response(null, { status: 404 });
  }));
  t.after(app.close);
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
  });
  const context = await browser.newContext();
  t.after(() => context.close());
  // This page has no policy: Plivo's own hosts (the SDK's stats and logs) are answered here.
  await context.route(/plivo\.com/, (route) => route.fulfill({ status: 204 }));
  const page = await context.newPage();
  await page.goto(`${app.origin}/`);
  const outcome = await page.evaluate(async () => {
    const { default: init, TokenProvider } = await import("endpoint-login/tokens");
    await init();
    const { logInToTheSandbox } = await import("/login.js");
    const client = (window.client = logInToTheSandbox(window.Plivo, new TokenProvider({ tokenUrl: "/voice/token" })));
    return new Promise((resolve) => {
      client.on("onLogin", () => resolve("onLogin"));
      client.on("onLoginFailed", (cause) => resolve(cause));
    });
  });
  assert.equal(outcome, "onLogin");
  const shown = await (await fetch(`${SANDBOX}/v1/Account/${AUTH_ID}/Endpoint/${id}/`, { headers: { authorization: basic } })).json();
  assert.equal(shown.sip_registered, "true", "the endpoint is registered");

  // The calling example: a second page logged in as the callee answers every call, and
  // the first calls it.
  await context.grantPermissions(["microphone"]);
  const other = await context.newPage();
  const heard = [];
  other.on("console", (m) => heard.push(m.text()));
  await other.goto(`${app.origin}/`);
  await other.evaluate(async () => {
    const { default: init, TokenProvider } = await import("endpoint-login/tokens");
    await init();
    const { logInToTheSandbox } = await import("/login.js");
    const { answerEveryCall } = await import("/call.js");
    const client = logInToTheSandbox(window.Plivo, new TokenProvider({ tokenUrl: "/voice2/token" }));
    answerEveryCall(client);
    client.on("onIncomingCall", () => console.log("incoming"));
    client.on("onCallTerminated", () => console.log("ended"));
    await new Promise((resolve) => client.on("onLogin", resolve));
  });
  const lines = [];
  page.on("console", (m) => lines.push(m.text()));
  const placed = await page.evaluate(async (to) => {
    const { callAnotherTab } = await import("/call.js");
    return callAnotherTab(window.client, to);
  }, `${callee}_${AUTH_ID}`);
  assert.equal(placed, true);
  await until(() => lines.includes("answered"), () => lines.join("\n"));
  assert.ok(lines.includes("ringing"), lines.join("\n"));
  await page.evaluate(() => window.client.hangup());
  await until(() => heard.includes("ended"), () => heard.join("\n"));

  // The keepLoggedIn example, on a page of its own (the SDK makes one client per page).
  const kept = await context.newPage();
  const said = [];
  kept.on("console", (m) => said.push(`${m.type()}: ${m.text()}`));
  await kept.goto(`${app.origin}/`);
  await kept.evaluate(async (socket) => {
    const { stayLoggedIn } = await import("/stay.js");
    window.login = stayLoggedIn(new window.Plivo({ registrationDomainSocket: [socket] }).client);
  }, `${SANDBOX.replace(/^http/, "ws")}/signalling`);
  await until(() => said.some((l) => /^info: \[voice\] Logged in as \w+ \(attempt 1\)\.$/.test(l)), () => said.join("\n"));
  assert.deepEqual(await kept.evaluate(() => window.login.status()), { state: "loggedIn", attempts: 1, cause: null });

  // A second tab of the same user waits; the calling-from-any-tab example moves the
  // registration to it and calls the callee from there.
  const second = await context.newPage();
  await second.goto(`${app.origin}/`);
  await second.evaluate(async (socket) => {
    const { stayLoggedIn } = await import("/stay.js");
    window.client = new window.Plivo({ registrationDomainSocket: [socket] }).client;
    window.login = stayLoggedIn(window.client);
  }, `${SANDBOX.replace(/^http/, "ws")}/signalling`);
  const state = (page) => page.evaluate(() => window.login.status().state);
  await until(async () => (await state(second)) === "inAnotherTab", () => "the second tab waits");
  const fromSecond = await second.evaluate(async (to) => {
    const { callFromThisTab } = await import("/take.js");
    return callFromThisTab(window.login, window.client, to);
  }, `${callee}_${AUTH_ID}`);
  assert.notEqual(fromSecond, false, "the SDK placed the call");
  await until(() => heard.filter((l) => l === "incoming").length === 2, () => heard.join("\n"));
  await until(async () => (await state(kept)) === "inAnotherTab", () => "the first tab waits now");
  await second.evaluate(() => window.client.hangup());
  for (const page of [second, kept]) await page.evaluate(() => window.login.dispose());
});

test("every example of the README ran above", () => {
  assert.equal(taken.size, EXAMPLES.length, `${EXAMPLES.length - taken.size} README example(s) not run: give each a test here`);
});
