// Hostile input through the JavaScript API, in Chromium, against the sandbox: each case
// gets its typed error (the `code` in the table), no panic, and no request when the input
// is the problem. Then the same module instance still lists endpoints, and nothing secret
// appears in any message, console line or storage.
import assert from "node:assert/strict";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, blankPage, context, newContext, pageTest, requests, sandbox, secret, setup, watchedPage } from "./harness.mjs";

const SECRET_PASSWORD = secret("918273645", "s3cret-pass", "sneaky-pass", "query-secret-123", "t0ken");
const PAGE = (meta, objects = []) => JSON.stringify({ api_id: "x", meta: { limit: 20, offset: 0, next: null, previous: null, ...meta }, objects });
const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const GOOD_HEADER = { alg: "HS256", cty: "plivo;v=1", typ: "JWT" };
const GOOD_CLAIMS = { iss: AUTH_ID, sub: "alice", nbf: 1_800_000_000, exp: 1_800_003_600, per: { voice: { incoming_allow: true, outgoing_allow: true } } };
const jwt = (header, claims) => `${b64(header)}.${b64(claims)}.c2ln`;
const withClaim = (name, value) => jwt(GOOD_HEADER, { ...GOOD_CLAIMS, [name]: value });

setup();

/** Another origin, where a followed redirect would take the credentials. */
const ELSEWHERE = "http://127.0.0.1:9";

/**
 * The cases: [what, expected code, a call made in the page with `{ lib, vobiz, plivo, now }`
 * (as source, since it runs there), the fault the sandbox answers with, if any].
 * `sends: false` (the default for input cases) means no request may reach the sandbox.
 */
const username = (value) => `({ vobiz }) => vobiz.createEndpoint({ username: ${JSON.stringify(value)}, password: "s3cret-pass", alias: "desk" })`;
const password = (value) => `({ vobiz }) => vobiz.createEndpoint({ username: "alice1", password: ${value}, alias: "desk" })`;
const alias = (value) => `({ vobiz }) => vobiz.createEndpoint({ username: "alice1", password: "s3cret-pass", alias: ${JSON.stringify(value)} })`;
const id = (value) => `({ vobiz }) => vobiz.getEndpoint(${JSON.stringify(value)})`;
const list = (query) => `({ vobiz }) => vobiz.listEndpoints(${query})`;
const lifetime = (exp) => `({ lib, now }) => lib.validateTokenLifetime({ exp: ${exp}, now })`;
const decode = (token) => `({ lib }) => lib.decodeAccessToken(${JSON.stringify(token)})`;
const faulted = (rule, call = `({ vobiz }) => vobiz.listEndpoints()`) => ({ call, rule });

const CASES = [
  // Usernames.
  ["username: empty", "INVALID_USERNAME", username("")],
  ["username: 26 characters", "INVALID_USERNAME", username("a".repeat(26))],
  ["username: leading digit", "INVALID_USERNAME", username("1alice")],
  ["username: non-ASCII", "INVALID_USERNAME", username("jösé")],
  ["username: fullwidth letters", "INVALID_USERNAME", username("ａｌｉｃｅ")],
  ["username: a space", "INVALID_USERNAME", username("al ice")],
  ["username: a quote", "INVALID_USERNAME", username('al"ice')],
  ["username: ../", "INVALID_USERNAME", username("../admin")],
  // A value of the wrong type is INVALID_ARGUMENT, naming the field, never echoing the value.
  ["username: not a string", "INVALID_ARGUMENT", `({ vobiz }) => vobiz.createEndpoint({ username: 42, password: "s3cret-pass", alias: "desk" })`],
  // Passwords.
  ["password: empty", "INVALID_PASSWORD", password('""')],
  ["password: 4 characters", "INVALID_PASSWORD", password('"abcd"')],
  ["password: 100,000 characters", "INVALID_PASSWORD", password('"p".repeat(100000)')],
  ["password: a number", "INVALID_ARGUMENT", password(SECRET_PASSWORD)],
  ["password: an object", "INVALID_ARGUMENT", password("{ toString() { return 'sneaky-pass' } }")],
  // Aliases.
  ["alias: spaces", "INVALID_ALIAS", alias("front desk")],
  ["alias: emoji", "INVALID_ALIAS", alias("desk📞")],
  ["alias: <script>", "INVALID_ALIAS", alias("<script>alert(1)</script>")],
  ["alias: 65 characters", "INVALID_ALIAS", alias("a".repeat(65))],
  // Ids: never spliced into a path.
  ["id: /", "INVALID_ID", id("a/b")],
  ["id: ?", "INVALID_ID", id("a?b")],
  ["id: #", "INVALID_ID", id("a#b")],
  ["id: ..", "INVALID_ID", id("..")],
  ["id: percent-encoded slash", "INVALID_ID", id("a%2Fb")],
  ["id: empty", "INVALID_ID", id("")],
  ["id: a number", "INVALID_ID", `({ vobiz }) => vobiz.getEndpoint(12)`],
  ["id: delete ../", "INVALID_ID", `({ vobiz }) => vobiz.deleteEndpoint("../../Account")`],
  // Queries.
  ["query: limit 0", "INVALID_QUERY", list("{ limit: 0 }")],
  ["query: limit -1", "INVALID_QUERY", list("{ limit: -1 }")],
  ["query: limit over the maximum", "INVALID_QUERY", list("{ limit: 101 }")],
  ["query: limit NaN", "INVALID_QUERY", list("{ limit: NaN }")],
  ["query: limit 1e300", "INVALID_QUERY", list("{ limit: 1e300 }")],
  ["query: limit a string", "INVALID_QUERY", list('{ limit: "5" }')],
  ["query: offset negative", "INVALID_QUERY", list("{ offset: -20 }")],
  ["query: offset a fraction", "INVALID_QUERY", list("{ offset: 2.5 }")],
  ["query: unknown key", "INVALID_QUERY", list("{ usernameStartWith: 'a' }")],
  ["query: not an object", "INVALID_QUERY", list('"limit=5"')],
  // Timestamps.
  ["exp: NaN", "INVALID_TIMESTAMP", lifetime("NaN")],
  ["exp: Infinity", "INVALID_TIMESTAMP", lifetime("Infinity")],
  ["exp: a fraction", "INVALID_TIMESTAMP", lifetime("now + 600.5")],
  ["exp: negative", "INVALID_TIMESTAMP", lifetime("-5")],
  ["exp: a string", "INVALID_TIMESTAMP", lifetime('"1800000000"')],
  ["exp: milliseconds", "INVALID_TIMESTAMP", lifetime("(now + 600) * 1000")],
  ["exp: 179 s ahead", "EXP_OUT_OF_RANGE", lifetime("now + 179")],
  ["exp: 86,401 s ahead", "EXP_OUT_OF_RANGE", lifetime("now + 86401")],
  ["nbf after exp", "NBF_AFTER_EXP", `({ lib, now }) => lib.validateTokenLifetime({ exp: now + 600, nbf: now + 500, now })`],
  // Tokens.
  ["token: empty", "MALFORMED_TOKEN", decode("")],
  ["token: 2 parts", "MALFORMED_TOKEN", decode("a.b")],
  ["token: 4 parts", "MALFORMED_TOKEN", decode("a.b.c.d")],
  ["token: bad base64", "MALFORMED_TOKEN", decode("!!!.***.$$$")],
  ["token: not JSON", "MALFORMED_TOKEN", decode(`${b64("hello")}.${b64("world")}.c2ln`)],
  ["token: alg none", "MALFORMED_TOKEN", decode(jwt({ ...GOOD_HEADER, alg: "none" }, GOOD_CLAIMS))],
  ["token: RS256", "MALFORMED_TOKEN", decode(jwt({ ...GOOD_HEADER, alg: "RS256" }, GOOD_CLAIMS))],
  ["token: iss a number", "MALFORMED_TOKEN", decode(withClaim("iss", 5))],
  ["token: sub a number", "MALFORMED_TOKEN", decode(withClaim("sub", 5))],
  ["token: exp a string", "MALFORMED_TOKEN", decode(withClaim("exp", "soon"))],
  ["token: nbf a string", "MALFORMED_TOKEN", decode(withClaim("nbf", "now"))],
  ["token: app a number", "MALFORMED_TOKEN", decode(withClaim("app", 7))],
  ["token: grants not booleans", "MALFORMED_TOKEN", decode(withClaim("per", { voice: { incoming_allow: "yes" } }))],
  ["token: no iss", "MALFORMED_TOKEN", decode(jwt(GOOD_HEADER, { ...GOOD_CLAIMS, iss: undefined }))],
  ["token: 1 MB", "MALFORMED_TOKEN", `({ lib }) => lib.decodeAccessToken("a".repeat(1_000_000))`],
  ["token: not a string", "MALFORMED_TOKEN", `({ lib }) => lib.decodeAccessToken({ token: 1 })`],
  // Configuration.
  ["baseUrl: http://127.evil.com", "INVALID_CONFIG", `({ lib }) => new lib.EndpointClient({ dialect: "plivo", authId: "MA1", authToken: "t0ken", baseUrl: "http://127.evil.com" })`],
  ["baseUrl: http://127.0.0.1.nip.io", "INVALID_CONFIG", `({ lib }) => new lib.EndpointClient({ dialect: "plivo", authId: "MA1", authToken: "t0ken", baseUrl: "http://127.0.0.1.nip.io" })`],
  ["tokenUrl: white space, a secret in the query", "INVALID_CONFIG", `({ lib }) => new lib.TokenProvider({ tokenUrl: "/to ken?key=query-secret-123" })`],
  // Responses.
  ["answer: an HTML 502 page", "SERVER_ERROR", faulted({ status: 502, body: "<!doctype html><h1>Bad gateway</h1>" }), true],
  ["answer: truncated JSON", "BAD_RESPONSE", faulted({ body: '{"api_id": "x", "meta": {"lim', contentType: "application/json" }), true],
  ["answer: objects not a list", "BAD_RESPONSE", faulted({ body: '{"meta": {"limit": 20, "offset": 0, "total_count": 1}, "objects": 5}', contentType: "application/json" }), true],
  ["answer: empty 200", "BAD_RESPONSE", faulted({ body: "", contentType: "application/json" }), true],
  ["answer: plain text", "BAD_RESPONSE", faulted({ body: "OK", contentType: "text/plain" }), true],
  ["answer: 30 MB", "BAD_RESPONSE", faulted({ body: PAGE({ total_count: 0 }), contentType: "application/json", padBytes: 30_000_000 }), true],
  ["answer: a lying total_count", "BAD_RESPONSE", faulted({ body: PAGE({ total_count: 500 }), contentType: "application/json" }, `async ({ vobiz }) => { for await (const _ of vobiz.endpoints()) {} }`), true],
  ["answer: endpoint of the wrong shape", "BAD_RESPONSE", faulted({ body: '{"username": 5}', contentType: "application/json" }, `({ vobiz }) => vobiz.getEndpoint("abc")`), true],
  // The credentials never travel on: a redirect is not followed (ELSEWHERE must see nothing),
  // and an error body echoing them reaches no message.
  ["answer: a redirect to another origin", "REDIRECT", faulted({ status: 302, location: `${ELSEWHERE}/api/v1/Account/${AUTH_ID}/Endpoint/` }), true],
  ["answer: a same-origin redirect", "REDIRECT", faulted({ status: 307, location: `/v1/Account/MAOTHERACCOUNT/Call/` }, `({ plivo }) => plivo.listEndpoints()`), true],
  ["answer: a 401 echoing the credentials", "UNAUTHORIZED", faulted({ status: 401, body: `{"error": "bad token ${AUTH_TOKEN} (${btoa(`${AUTH_ID}:${AUTH_TOKEN}`)})"}`, contentType: "application/json" }), true],
  ["answer: token that is not a JWT", "BAD_RESPONSE", faulted({ body: '{"api_id": "x", "token": "not-a-jwt"}', contentType: "application/json" }, `({ plivo }) => plivo.createToken({ ttlSeconds: 600 })`), true],
];

pageTest(`${CASES.length} hostile inputs and answers: each its typed error, no panic, then the module still works`, async () => {
  assert.ok(CASES.length >= 60, `${CASES.length} cases`);
  await newContext();
  const elsewhere = [];
  await context.route(`${ELSEWHERE}/**`, (route) => {
    elsewhere.push(`${route.request().method()} ${route.request().url()}`);
    return route.abort();
  });
  const url = await blankPage(context, "hostile-harness");
  const page = await watchedPage();
  await page.goto(url);
  await page.evaluate(async ({ AUTH_ID, AUTH_TOKEN, SANDBOX }) => {
    const lib = await import("/pkg/endpoint_login.js");
    await lib.default();
    const client = (dialect) => new lib.EndpointClient({ dialect, authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, retry: { maxRetries: 0 } });
    window.ctx = { lib, vobiz: client("vobiz"), plivo: client("plivo") };
    window.messages = [];
  }, { AUTH_ID, AUTH_TOKEN, SANDBOX });

  const wrong = [];
  for (const [name, code, what, answer = false] of CASES) {
    const { call, rule } = typeof what === "string" ? { call: what } : what;
    await sandbox("DELETE", "/__sandbox/faults");
    await sandbox("DELETE", "/__sandbox/requests");
    if (rule) await sandbox("POST", "/__sandbox/faults", rule);
    const got = await page.evaluate(async (source) => {
      const ctx = { ...window.ctx, now: Math.floor(Date.now() / 1000) };
      try {
        const result = await eval(`(${source})`)(ctx);
        return { returned: typeof result };
      } catch (e) {
        window.messages.push(String(e?.message));
        return { code: e?.code ?? null, name: e?.name, message: String(e?.message), typed: e instanceof Error && typeof e.code === "string" };
      }
    }, call);
    const sent = (await requests()).length;
    if (got.code !== code || !got.typed) wrong.push(`${name}: expected ${code}, got ${JSON.stringify(got)}`);
    else if (!answer && sent > 0) wrong.push(`${name}: ${sent} request(s) sent for bad input`);
    else if (answer && sent !== 1) wrong.push(`${name}: ${sent} requests for one call (no retries were asked for)`);
  }
  await sandbox("DELETE", "/__sandbox/faults");
  assert.deepEqual(wrong, [], wrong.join("\n"));
  assert.deepEqual(elsewhere, [], "nothing reached the other origin");

  // The same instance still works.
  const listed = await page.evaluate(async () => (await window.ctx.vobiz.listEndpoints({ limit: 5 })).objects.length);
  assert.equal(listed, 5);
  // No panic, no error escaped, nothing secret said.
  const console = page.consoleLines.join("\n");
  assert.doesNotMatch(console, /panicked|RuntimeError|unreachable/);
  assert.deepEqual(page.problems, []);
  const messages = await page.evaluate(() => window.messages.join("\n"));
  for (const secret of [AUTH_TOKEN, btoa(`${AUTH_ID}:${AUTH_TOKEN}`), SECRET_PASSWORD, "sneaky-pass", "query-secret-123", "t0ken"]) {
    assert.ok(!messages.includes(secret) && !console.includes(secret), `${secret} appears in a message`);
  }
  const storage = await page.evaluate(() => localStorage.length + sessionStorage.length);
  assert.equal(storage, 0);
});
