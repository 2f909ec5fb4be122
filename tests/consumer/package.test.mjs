// The packed npm package, installed the way a user installs it, used from Node: its
// package.json, its exports and its types resolve, and the library works against the
// sandbox (SANDBOX_URL) through Node's own fetch.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import init, * as pages from "endpoint-login";
import initServer, * as server from "endpoint-login/server";
import initTokens, * as tokens from "endpoint-login/tokens";
import { serve } from "../node-http.mjs";

const { EndpointClient, isEndpointLoginError } = pages;

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const ACCOUNT = { authId: "MASANDBOXACCOUNT0001", authToken: "sandbox_auth_token_0123456789abcdef" };

before(async () => {
  // Exactly what the README shows: nothing passed. In a browser `init()` fetches the
  // .wasm next to the module; in Node the package's `node` entry reads it from disk.
  await init();
  await initServer();
  await initTokens();
});

test("package.json describes an ES module with types", async () => {
  const manifest = JSON.parse(await readFile(new URL(import.meta.resolve("endpoint-login/package.json")), "utf8"));
  assert.equal(manifest.name, "endpoint-login");
  assert.equal(manifest.type, "module");
  assert.equal(manifest.exports["."].types, "./endpoint_login.d.ts");
  assert.equal(manifest.exports["./server"].types, "./server/endpoint_login.d.ts");
  assert.equal(manifest.exports["./tokens"].types, "./tokens/endpoint_login.d.ts");
  for (const [key, folder] of [[".", "./"], ["./tokens", "./tokens/"], ["./server", "./server/"]]) {
    // Workers and Next.js's Edge runtime import the .wasm as a module; Node and server
    // bundles take it embedded; pages and bundlers the glue with the .wasm beside it.
    assert.deepEqual(Object.entries(manifest.exports[key]), [
      ["types", `${folder}endpoint_login.d.ts`],
      ["workerd", `${folder}edge.js`],
      ["edge-light", `${folder}edge.js`],
      ["node", `${folder}node.js`],
      ["default", `${folder}endpoint_login.js`],
    ]);
  }
  assert.ok(import.meta.resolve("endpoint-login").endsWith("/node.js"), "Node takes the node entry");
  assert.equal(manifest.sideEffects, false);
  const dir = new URL(".", import.meta.resolve("endpoint-login"));
  for (const folder of ["", "server/", "tokens/"]) {
    for (const file of ["endpoint_login.js", "endpoint_login.d.ts", "endpoint_login_bg.wasm", "endpoint_login_bg.wasm.js", "glue.js", "node.js", "edge.js"]) {
      assert.ok((await stat(new URL(`${folder}${file}`, dir))).size > 0, `${folder}${file}`);
    }
  }
  assert.ok((await stat(new URL("README.md", dir))).size > 0);
});

test("isEndpointLoginError answers before init(), after a failed init() and after a successful one; the failure names what failed", () => {
  // A process of its own: this file's modules are initialised already.
  const script = `
    import init, { isEndpointLoginError } from "endpoint-login/tokens";
    const out = { before: [isEndpointLoginError(new Error("x")), isEndpointLoginError(null), isEndpointLoginError("EndpointLoginError")] };
    try { await init({ module_or_path: new Uint8Array([0, 97, 115, 109, 9]) }); } catch (e) {
      out.failed = { guard: isEndpointLoginError(e), code: e.code, message: e.message, cause: e.cause instanceof Error };
    }
    try { await init({ module_or_path: "http://127.0.0.1:9/endpoint_login_bg.wasm" }); } catch (e) {
      out.unreachable = { code: e.code, message: e.message };
    }
    await init();
    out.after = isEndpointLoginError(new Error("x"));
    console.log(JSON.stringify(out));
  `;
  const here = fileURLToPath(new URL(".", import.meta.url));
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: here, encoding: "utf8" }));
  assert.deepEqual(out.before, [false, false, false]);
  assert.equal(out.failed.guard, true);
  assert.equal(out.failed.code, "LOAD_FAILED");
  assert.equal(out.failed.cause, true, "the cause is kept");
  assert.match(out.failed.message, /^init\(\) could not load endpoint-login's WebAssembly from what init\(\) was given: .*README: Frameworks/);
  assert.equal(out.unreachable.code, "LOAD_FAILED");
  assert.match(out.unreachable.message, /from http:\/\/127\.0\.0\.1:9\/endpoint_login_bg\.wasm: /, "the URL is named");
  assert.equal(out.after, false);
});

test("lists and walks endpoints from the sandbox", async () => {
  const client = new EndpointClient({ dialect: "vobiz", ...ACCOUNT, baseUrl: SANDBOX });
  const page = await client.listEndpoints({ limit: 5 });
  assert.equal(page.objects.length, 5);
  assert.equal(typeof page.objects[0].sipRegistered, "boolean");
  const seen = [];
  for await (const endpoint of client.endpoints({ aliasContains: "desk" })) {
    seen.push(endpoint.alias);
    if (seen.length === 3) break;
  }
  assert.equal(seen.length, 3);
  assert.ok(seen.every((alias) => alias.includes("desk")));
});

test("free() while calls are pending: the calls settle, and the freed client is not used again", async () => {
  const client = new EndpointClient({ dialect: "vobiz", ...ACCOUNT, baseUrl: SANDBOX });
  const page = client.listEndpoints({ limit: 3 });
  const walk = client.endpoints({ limit: 2 })[Symbol.asyncIterator]();
  const first = walk.next();
  assert.doesNotThrow(() => client.free());
  assert.equal((await page).objects.length, 3);
  assert.equal(typeof (await first).value.username, "string");
  assert.equal(typeof (await walk.next()).value.username, "string", "a walk started before free() goes on");
  await walk.return();
  assert.throws(() => client.listEndpoints());
});

test("an AbortSignal cancels calls in Node", async () => {
  const client = new EndpointClient({ dialect: "vobiz", ...ACCOUNT, baseUrl: SANDBOX });
  const aborted = (e) => isEndpointLoginError(e) && e.code === "ABORTED";
  await assert.rejects(client.listEndpoints({}, { signal: AbortSignal.abort() }), aborted);
  const stop = new AbortController();
  const walk = (async () => {
    for await (const endpoint of client.endpoints({}, { signal: stop.signal })) if (endpoint) stop.abort();
  })();
  await assert.rejects(walk, aborted);
  await assert.rejects(client.getEndpoint("1", { signal: {} }), (e) => e.code === "INVALID_ARGUMENT" && e.field === "signal");
});

test("errors are typed", async () => {
  assert.throws(() => new EndpointClient({ dialect: "plivo", authId: "MA1" }), (e) => {
    assert.ok(isEndpointLoginError(e));
    assert.equal(e.code, "INVALID_CONFIG");
    assert.equal(e.field, "baseUrl");
    return true;
  });
  const client = new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: SANDBOX });
  await assert.rejects(client.getEndpoint("404404"), (e) => isEndpointLoginError(e) && e.code === "NOT_FOUND" && e.status === 404);
  assert.equal(isEndpointLoginError(new Error("plain")), false);
});

test("server-only functions are in endpoint-login/server, not in the pages' module", async () => {
  assert.equal(pages.verifyAccessToken, undefined, "pages never get a function that needs the Auth Token");
  const client = new server.EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: SANDBOX });
  const { token } = await client.createToken({ sub: "alice", ttlSeconds: 600 });
  const verified = server.verifyAccessToken(token, ACCOUNT.authToken);
  assert.equal(verified.claims.sub, "alice");
  assert.throws(() => server.verifyAccessToken(token, "another-key"), (e) => server.isEndpointLoginError(e) && e.code === "INVALID_SIGNATURE");
  assert.ok(server.isEndpointLoginError(tryDecode()), "one error type across modules");
});

function tryDecode() {
  try {
    pages.decodeAccessToken("not a token");
  } catch (e) {
    return e;
  }
  return null;
}

test("endpoint-login/tokens logs users in without the endpoint client", async () => {
  const issuer = new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: SANDBOX });
  const { token } = await issuer.createToken({ sub: "alice260101000000", ttlSeconds: 600 });
  // A tokenUrl that answers {"token": ...}, as an application's backend does.
  const backend = await serve((request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ token }));
  });
  try {
    const fromUrl = new tokens.TokenProvider({ tokenUrl: `${backend.origin}/token` });
    assert.equal(await fromUrl.getAccessToken(), token);
    fromUrl.dispose();
  } finally {
    backend.close();
  }
  const fromCallback = new tokens.TokenProvider({ fetchToken: async () => token });
  assert.equal(await fromCallback.getAccessToken(), token);
  fromCallback.dispose();
  assert.equal(tokens.decodeAccessToken(token).claims.sub, "alice260101000000");
  assert.throws(() => tokens.decodeAccessToken("not a token"), (e) => tokens.isEndpointLoginError(e) && e.code === "MALFORMED_TOKEN");
  // What issues tokens or manages endpoints is in the main module only.
  for (const name of ["EndpointClient", "validateTokenLifetime", "verifyAccessToken", "createBackendHandler"]) {
    assert.equal(name in tokens, false, name);
  }
  assert.equal(typeof pages.validateTokenLifetime, "function");
});
