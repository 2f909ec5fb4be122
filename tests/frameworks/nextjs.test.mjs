// examples/nextjs, built from the packed package (installed here) with default
// configuration by `next build` (Turbopack) and `next build --webpack`, served by
// `next start` against the sandbox: the route handler's token and endpoint calls (with and
// without the trailing slash Next.js takes off), the same handler on the Edge runtime
// with the README's one line, and the page in Chromium listing and creating endpoints and
// logging the real Plivo browser SDK in with a TokenProvider kept by keepLoggedIn.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, SEEDED_USER, freePort, launchChromium, sandbox, startServer } from "./serve.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../examples/nextjs/", import.meta.url));
const NEXT = `${HERE}node_modules/.bin/next`;
/** The README's line for the Edge runtime, added to a copy of the route file. */
const EDGE = 'export const runtime = "edge";';

const env = {
  NEXT_TELEMETRY_DISABLED: "1",
  NEXT_PUBLIC_PLIVO_AUTH_ID: AUTH_ID,
  NEXT_PUBLIC_PLIVO_SIGNALLING: `${SANDBOX.replace(/^http/, "ws")}/signalling`,
  PLIVO_AUTH_ID: AUTH_ID,
  PLIVO_AUTH_TOKEN: AUTH_TOKEN,
  PLIVO_API_URL: SANDBOX,
  VOICE_USER: SEEDED_USER,
};

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** A copy of the example in work/<name>, with the Edge route beside the Node one. */
function copyExample(name) {
  const app = `${HERE}work/${name}/`;
  rmSync(app, { recursive: true, force: true });
  cpSync(EXAMPLE, app, { recursive: true, filter: (path) => !/node_modules|\.next/.test(path) });
  const route = readFileSync(`${app}app/voice/[...path]/route.js`, "utf8");
  assert.ok(route.includes('basePath: "/voice/"'));
  mkdirSync(`${app}app/edge/[...path]`, { recursive: true });
  writeFileSync(`${app}app/edge/[...path]/route.js`, `${route.replace('basePath: "/voice/"', 'basePath: "/edge/"')}\n${EDGE}\n`);
  return app;
}

async function json(url, init) {
  const response = await fetch(url, init);
  const text = await response.text();
  assert.ok(response.ok, `${init?.method ?? "GET"} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

for (const [bundler, flags] of [["Turbopack", []], ["webpack", ["--webpack"]]]) {
  test(`Next.js 16 with ${bundler}: next build and next start, default configuration`, async () => {
    const app = copyExample(bundler.toLowerCase());
    execFileSync(NEXT, ["build", ...flags], { cwd: app, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const server = await startServer(NEXT, ["start", "--port", String(port), "--hostname", "127.0.0.1"], { cwd: app, env, url: origin, name: "next start" });
    try {
      for (const base of ["voice", "edge"]) {
        const { token } = await json(`${origin}/${base}/token`);
        const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
        assert.equal(claims.sub, SEEDED_USER, `${base}: the token is the signed-in user's`);
        for (const path of [`Endpoint/?limit=2`, `Endpoint?limit=2`]) {
          const page = await json(`${origin}/${base}/v1/Account/${AUTH_ID}/${path}`);
          assert.equal(page.objects.length, 2, `${base} ${path}`);
        }
        const created = await json(`${origin}/${base}/v1/Account/${AUTH_ID}/Endpoint/`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: `${base}user`, password: "next-pass-1", alias: base }),
        });
        assert.match(created.username, new RegExp(`^${base}user\\d{12}$`));
      }

      const page = await browser.newPage();
      const problems = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(origin);
      await page.waitForFunction(() => /^\d+: /.test(document.getElementById("endpoints")?.textContent ?? ""));
      await page.click("#create");
      await page.waitForFunction(() => /^desk\d{12}$/.test(document.getElementById("created")?.textContent ?? ""));
      await page.waitForFunction(() => document.getElementById("login")?.textContent.startsWith("loggedIn"), null, { timeout: 20000 });
      const registered = (await sandbox("GET", "/__sandbox/signalling")).registrations.map((r) => r.username);
      assert.ok(registered.includes(SEEDED_USER), `the SDK registered as ${SEEDED_USER}: ${registered}`);
      await page.close();
      assert.deepEqual(problems.filter((p) => !/Failed to fetch/.test(p)), [], "no page error but the SDK's own log shipping offline");
    } finally {
      await server.stop();
    }
  });
}
