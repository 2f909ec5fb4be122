// A fault no fault rule can make: the platform goes away in the middle of a walk and comes
// back. This test starts a sandbox of its own (SANDBOX_BIN, which `cargo xtask test` sets),
// stops it from inside the walk and starts it again on the same port.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, blankPage, context, newContext, pageTest, setup, watchedPage } from "./harness.mjs";
import { startSandbox, stopSandbox } from "./sandbox.mjs";

setup();

const SEEDED = 1000;

/** A sandbox with SEEDED endpoints on `port` (0: a free one), once it listens. */
const start = (port = 0) => startSandbox(port, ["--seed", String(SEEDED)]);

pageTest("the platform stopped in the middle of a walk: the iterator reports it, and a new walk succeeds once it is back", async () => {
  let server = await start();
  try {
    // The page is the shared sandbox's (served by the test), the platform another port of
    // this machine: Chromium asks the user before such a page reaches a loopback address.
    await newContext({ permissions: ["local-network-access"] });
    const url = await blankPage(context, "restart-walk");
    // Chromium's own lines for the requests that find nobody listening.
    const page = await watchedPage(/Failed to load resource|ERR_CONNECTION_REFUSED|blocked by CORS policy/);
    await page.goto(url);
    await page.exposeFunction("stopPlatform", () => stopSandbox(server));
    const walked = await page.evaluate(async ({ AUTH_ID, AUTH_TOKEN, base }) => {
      const lib = await import("/pkg/endpoint_login.js");
      await lib.default();
      const options = { dialect: "vobiz", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: base, retry: { maxRetries: 1, baseDelayMs: 10 } };
      window.client = new lib.EndpointClient(options);
      let seen = 0;
      try {
        for await (const _ of window.client.endpoints({ limit: 20 })) {
          seen += 1;
          if (seen === 50) await window.stopPlatform();
        }
        return { seen, error: null };
      } catch (e) {
        return { seen, error: { name: e?.name, code: e?.code, message: String(e?.message) } };
      }
    }, { AUTH_ID, AUTH_TOKEN, base: server.url });
    assert.ok(walked.seen >= 50 && walked.seen < SEEDED, `the walk stopped partway: ${JSON.stringify(walked)}`);
    assert.equal(walked.error?.name, "EndpointLoginError", JSON.stringify(walked));
    assert.equal(walked.error.code, "NETWORK", walked.error.message);
    assert.match(walked.error.message, /could not reach/);

    server = await start(server.port);
    const again = await page.evaluate(async () => {
      const ids = new Set();
      for await (const endpoint of window.client.endpoints({ limit: 20 })) ids.add(endpoint.endpointId);
      return ids.size;
    });
    assert.equal(again, SEEDED, "the new walk saw every endpoint once");
    assert.deepEqual(page.problems, []);
  } finally {
    await stopSandbox(server);
  }
});
