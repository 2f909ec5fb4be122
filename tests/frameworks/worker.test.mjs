// examples/worker, the backend handler as a Cloudflare Worker written as the README shows
// it, run offline by `wrangler dev` (workerd, Miniflare) with the packed package installed
// here: the package's `workerd` entry is what wrangler resolves, and the token and the
// endpoint calls answer from the sandbox.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, SEEDED_USER, freePort, startServer } from "./serve.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../examples/worker/", import.meta.url));

test("Cloudflare Workers: the example Worker answers a token and endpoint pages under wrangler dev", async () => {
  const app = `${HERE}work/worker/`;
  rmSync(app, { recursive: true, force: true });
  cpSync(EXAMPLE, app, { recursive: true, filter: (path) => !/node_modules|\.wrangler/.test(path) });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const vars = { PLIVO_AUTH_ID: AUTH_ID, PLIVO_AUTH_TOKEN: AUTH_TOKEN, PLIVO_API_URL: SANDBOX, VOICE_USER: SEEDED_USER };
  const server = await startServer(
    `${HERE}node_modules/.bin/wrangler`,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false", ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
    {
      cwd: app,
      // Offline: no metrics, no fetch of the `request.cf` object from Cloudflare.
      env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" },
      url: `${origin}/voice/token`,
      name: "wrangler dev",
    },
  );
  try {
    const response = await fetch(`${origin}/voice/token`);
    assert.equal(response.status, 200, await response.clone().text());
    const { token } = await response.json();
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    assert.equal(claims.sub, SEEDED_USER);
    assert.equal(claims.per.voice.incoming_allow, true);
    for (const path of ["Endpoint/?limit=3", "Endpoint?limit=3"]) {
      const page = await (await fetch(`${origin}/voice/v1/Account/${AUTH_ID}/${path}`)).json();
      assert.equal(page.objects.length, 3, path);
    }
    const refused = await fetch(`${origin}/voice/v1/Account/${AUTH_ID}/Endpoint/`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(refused.status, 403, "the grant is read-only");
    assert.doesNotMatch(server.output(), /Uncaught|Invalid URL/);
  } finally {
    await server.stop();
  }
});
