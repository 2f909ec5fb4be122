// A WebKit login smoke test: Debian's WebKitGTK (its MiniBrowser under WebKitWebDriver, on
// an Xvfb display), driven over classic WebDriver, against a sandbox that serves the packed
// package at /pkg/. The package loads, a token decodes, and keepLoggedIn logs the real
// Plivo browser SDK in to the sandbox's registrar. Login only: Debian's WebKit engines
// have no RTCPeerConnection, so no call. The SDK assumes every browser but Firefox has
// `webkitSpeechRecognition` (Safari has since 14.1; this engine does not) and throws at
// `new Plivo()` without it: the test defines a stub class first, as the README tells Safari
// users who hit the same on older versions. The package never does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const MINIBROWSER = process.env.MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

let xvfb;
let driver;
let base;
let session;

/** A free TCP port on this machine. */
async function freePort() {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One WebDriver command; answers its `value`, or throws with the driver's message. */
async function webdriver(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const { value } = await response.json();
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${value?.error}: ${value?.message}`);
  return value;
}

/** Runs `script` (a function body that ends by calling `done(result)`) in the page. */
function run(script, ...args) {
  return webdriver("POST", `/session/${session}/execute/async`, {
    script: `const done = arguments[arguments.length - 1]; (async () => { ${script} })().then(done, (e) => done({ failed: String(e) }));`,
    args,
  });
}

before(async () => {
  // A display of its own: Xvfb picks a free number and writes it to fd 3.
  xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
  const display = await new Promise((resolve, reject) => {
    xvfb.stdio[3].once("data", (data) => resolve(String(data).trim()));
    xvfb.once("exit", (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  const port = await freePort();
  driver = spawn("WebKitWebDriver", [`--port=${port}`], { env: { ...process.env, DISPLAY: `:${display}` }, stdio: "ignore" });
  base = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    try {
      await fetch(`${base}/status`);
      break;
    } catch (error) {
      if (tries > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const created = await webdriver("POST", "/session", {
    capabilities: { alwaysMatch: { "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] } } },
  });
  session = created.sessionId;
  await webdriver("POST", `/session/${session}/timeouts`, { script: 30_000 });
});

after(async () => {
  if (session) await webdriver("DELETE", `/session/${session}`).catch(() => {});
  driver?.kill();
  xvfb?.kill();
});

async function sandbox(method, path) {
  const text = await (await fetch(`${SANDBOX}${path}`, { method })).text();
  return text ? JSON.parse(text) : null;
}

test("WebKitGTK: the tokens module loads and decodes a sandbox token", async () => {
  await webdriver("POST", `/session/${session}/url`, { url: `${SANDBOX}/__sandbox/page` });
  const decoded = await run(`
    const { default: init, decodeAccessToken } = await import("/pkg/tokens/endpoint_login.js");
    await init();
    const account = await (await fetch("/__sandbox/account")).json();
    const now = Math.floor(Date.now() / 1000);
    const response = await fetch("/v1/Account/" + account.authId + "/JWT/Token/", {
      method: "POST",
      headers: { authorization: "Basic " + btoa(account.authId + ":" + account.authToken), "content-type": "application/json" },
      body: JSON.stringify({ sub: "alice", nbf: now - 60, exp: now + 600 }),
    });
    const { header, claims } = decodeAccessToken((await response.json()).token);
    return JSON.stringify({ cty: header.cty, sub: claims.sub, ua: navigator.userAgent });
  `);
  assert.equal(typeof decoded, "string", JSON.stringify(decoded));
  const { cty, sub, ua } = JSON.parse(decoded);
  assert.deepEqual({ cty, sub }, { cty: "plivo;v=1", sub: "alice" });
  assert.match(ua, /AppleWebKit/);
});

test("WebKitGTK: keepLoggedIn logs the real SDK in to the sandbox's registrar, and out", async () => {
  const account = await sandbox("GET", "/__sandbox/account");
  const listed = await (await fetch(`${SANDBOX}/v1/Account/${account.authId}/Endpoint/?limit=1`, { headers: { authorization: `Basic ${Buffer.from(`${account.authId}:${account.authToken}`).toString("base64")}` } })).json();
  const { username } = listed.objects[0];
  await webdriver("POST", `/session/${session}/url`, { url: `${SANDBOX}/__sandbox/page` });
  const outcome = await run(
    `
    const [sub, socket] = arguments;
    // The SDK's assumption, met by the page (never by the package).
    window.webkitSpeechRecognition ??= class {};
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/vendor/plivobrowsersdk.js";
      script.onload = resolve;
      script.onerror = () => reject(new Error("the SDK did not load"));
      document.head.append(script);
    });
    const { default: init, TokenProvider, keepLoggedIn } = await import("/pkg/tokens/endpoint_login.js");
    await init();
    const account = await (await fetch("/__sandbox/account")).json();
    const provider = new TokenProvider({
      fetchToken: async () => {
        const now = Math.floor(Date.now() / 1000);
        const response = await fetch("/v1/Account/" + account.authId + "/JWT/Token/", {
          method: "POST",
          headers: { authorization: "Basic " + btoa(account.authId + ":" + account.authToken), "content-type": "application/json" },
          body: JSON.stringify({ sub, nbf: now - 60, exp: now + 3600 }),
        });
        return (await response.json()).token;
      },
    });
    const plivo = new window.Plivo({ debug: "OFF", registrationDomainSocket: [socket] });
    const events = [];
    window.keeper = keepLoggedIn(plivo.client, provider, { onEvent: (e) => events.push(e.type) });
    for (let waited = 0; window.keeper.status().state !== "loggedIn"; waited += 50) {
      if (waited > 20000) throw new Error("not logged in: " + events.join(","));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return JSON.stringify({ state: window.keeper.status().state, user: plivo.client.userName, events });
  `,
    username,
    `${SANDBOX.replace(/^http/, "ws")}/signalling`,
  );
  assert.equal(typeof outcome, "string", JSON.stringify(outcome));
  const { state, user, events } = JSON.parse(outcome);
  assert.equal(state, "loggedIn");
  assert.equal(user, `${username}_${account.authId}`);
  assert.ok(events.includes("loggedIn"), events.join());
  const bindings = (await sandbox("GET", "/__sandbox/signalling")).registrations.filter((r) => r.username === username);
  assert.equal(bindings.length, 1, "registered at the sandbox");
  assert.match(bindings[0].userAgent, /plivo-browser-sdk/);
  await run(`window.keeper.dispose(); return "disposed";`);
  for (let waited = 0; (await sandbox("GET", "/__sandbox/signalling")).registrations.some((r) => r.username === username); waited += 50) {
    assert.ok(waited < 10_000, "dispose() logs the SDK out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
