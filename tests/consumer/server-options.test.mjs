// What crosses into `endpoint-login/server`, read with serde-wasm-bindgen since 0.3: every
// field of createBackendHandler's options, of the grants `authorize` answers and of
// verifyAccessToken's options, given the wrong kind, out of range, misspelt, extra,
// `undefined` rather than missing, or lent by a prototype. Each case's code, field and
// message are the ones users saw before the conversion (recorded from the field-by-field
// reading it replaced), and no message carries a value given (an Auth Token given as a
// number is not echoed).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import initServer, {
  EndpointClient,
  createBackendHandler,
  decodeAccessToken,
  isEndpointLoginError,
  verifyAccessToken,
} from "endpoint-login/server";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const AUTH_ID = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN = "sandbox_auth_token_0123456789abcdef";
const ENDPOINTS = `/v1/Account/${AUTH_ID}/Endpoint/`;
/** A value no message may carry: given where a string, number or object belongs. */
const SECRET = 987654321987;
const SECRET_TEXT = "secret-value-9f8e7d";

before(async () => {
  await initServer();
});

const base = () => ({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX, authorize: () => null });
const withProto = (proto, own) => Object.assign(Object.create(proto), own);

/** [case, options, expected: "ok" or [code, field, message]] */
const HANDLER_CASES = [
  ["not an object", () => 5, ["INVALID_CONFIG", "authorize", "Invalid config `authorize`: give a function that answers the signed-in user's grant, or null"]],
  ["an array", () => [], ["INVALID_CONFIG", "authorize", "Invalid config `authorize`: give a function that answers the signed-in user's grant, or null"]],
  ["all fields", () => ({ ...base(), basePath: "/voice/", timeoutMs: 5000, authorizeTimeoutMs: 2000 }), "ok"],
  ["optional fields undefined", () => ({ ...base(), baseUrl: undefined, basePath: undefined, timeoutMs: undefined, authorizeTimeoutMs: undefined }), "ok"],
  ["optional fields null", () => ({ ...base(), baseUrl: null, basePath: null, timeoutMs: null, authorizeTimeoutMs: null }), "ok"],
  ["an object without a prototype", () => Object.assign(Object.create(null), base()), "ok"],
  ["fields the prototype adds are not read", () => withProto({ timeoutMs: "soon", extra: 1 }, base()), "ok"],
  ["a class instance", () => Object.assign(new (class Options {})(), base()), "ok"],
  ["authorize missing", () => ({ ...base(), authorize: undefined }), ["INVALID_CONFIG", "authorize", "Invalid config `authorize`: give a function that answers the signed-in user's grant, or null"]],
  ["authorize a string", () => ({ ...base(), authorize: "yes" }), ["INVALID_CONFIG", "authorize", "Invalid config `authorize`: give a function that answers the signed-in user's grant, or null"]],
  ["authorize lent by a prototype", () => withProto({ authorize: () => ({ sub: "x" }) }, { ...base(), authorize: undefined }), ["INVALID_CONFIG", "authorize", "Invalid config `authorize`: give a function that answers the signed-in user's grant, or null"]],
  ["an extra field", () => ({ ...base(), extra: 1 }), ["INVALID_CONFIG", "extra", "Invalid backend handler options: unknown field \"extra\". Known fields: dialect, authId, authToken, baseUrl, basePath, timeoutMs, authorizeTimeoutMs, authorize."]],
  ["a misspelt field", () => ({ ...base(), authtoken: "x" }), ["INVALID_CONFIG", "authtoken", "Invalid backend handler options: unknown field \"authtoken\". Did you mean `authToken`? Known fields: dialect, authId, authToken, baseUrl, basePath, timeoutMs, authorizeTimeoutMs, authorize."]],
  ["a snake_case field", () => ({ ...base(), base_path: "/v/" }), ["INVALID_CONFIG", "base_path", "Invalid backend handler options: unknown field \"base_path\". Did you mean `basePath`? Known fields: dialect, authId, authToken, baseUrl, basePath, timeoutMs, authorizeTimeoutMs, authorize."]],
  ["dialect missing", () => ({ ...base(), dialect: undefined }), ["INVALID_CONFIG", "dialect", "Invalid config `dialect`: expected \"plivo\" or \"vobiz\", got undefined"]],
  ["dialect null", () => ({ ...base(), dialect: null }), ["INVALID_CONFIG", "dialect", "Invalid config `dialect`: expected \"plivo\" or \"vobiz\", got null"]],
  ["dialect a number", () => ({ ...base(), dialect: SECRET }), ["INVALID_CONFIG", "dialect", "Invalid config `dialect`: expected \"plivo\" or \"vobiz\", got a number"]],
  ["dialect unknown", () => ({ ...base(), dialect: "twilio" }), ["INVALID_CONFIG", "dialect", "Invalid config `dialect`: \"twilio\" is not a dialect; use \"plivo\" or \"vobiz\""]],
  ["dialect lent by a prototype", () => withProto({ dialect: "plivo" }, { ...base(), dialect: undefined }), ["INVALID_CONFIG", "dialect", "Invalid config `dialect`: expected \"plivo\" or \"vobiz\", got undefined"]],
  ["vobiz", () => ({ ...base(), dialect: "vobiz" }), "ok"],
  ["authId missing", () => ({ ...base(), authId: undefined }), ["INVALID_CONFIG", "authId", "Invalid config: `authId` must be a string, not undefined."]],
  ["authId deleted", () => { const o = base(); delete o.authId; return o; }, ["INVALID_CONFIG", "authId", "Invalid config: `authId` must be a string, not undefined."]],
  ["authId null", () => ({ ...base(), authId: null }), ["INVALID_CONFIG", "authId", "Invalid config: `authId` must be a string, not null."]],
  ["authId a number", () => ({ ...base(), authId: SECRET }), ["INVALID_CONFIG", "authId", "Invalid config: `authId` must be a string, not a number."]],
  ["authId lent by a prototype", () => withProto({ authId: AUTH_ID }, { ...base(), authId: undefined }), ["INVALID_CONFIG", "authId", "Invalid config: `authId` must be a string, not undefined."]],
  ["authToken missing", () => ({ ...base(), authToken: undefined }), ["INVALID_CONFIG", "authToken", "Invalid config `authToken`: the handler adds the account's credentials: give the Auth Token (on the server only)"]],
  ["authToken a number", () => ({ ...base(), authToken: SECRET }), ["INVALID_CONFIG", "authToken", "Invalid backend handler options: `authToken` must be a string, not a number."]],
  ["authToken an object", () => ({ ...base(), authToken: { token: SECRET_TEXT } }), ["INVALID_CONFIG", "authToken", "Invalid backend handler options: `authToken` must be a string, not an object."]],
  ["authToken an array", () => ({ ...base(), authToken: [SECRET_TEXT] }), ["INVALID_CONFIG", "authToken", "Invalid backend handler options: `authToken` must be a string, not an array."]],
  ["authToken a bigint", () => ({ ...base(), authToken: BigInt(SECRET) }), ["INVALID_CONFIG", "authToken", "Invalid backend handler options: `authToken` must be a string, not a bigint."]],
  ["authToken empty", () => ({ ...base(), authToken: "" }), ["INVALID_CONFIG", "authToken", "Invalid config `authToken`: it is empty; omit it for backend mode, or pass the account's Auth Token"]],
  ["authToken with a space", () => ({ ...base(), authToken: `${SECRET_TEXT} x` }), ["INVALID_CONFIG", "authToken", "Invalid config `authToken`: it contains spaces or characters that cannot travel in an HTTP header; copy the Auth Token again from the console"]],
  ["authToken lent by a prototype", () => withProto({ authToken: AUTH_TOKEN }, { ...base(), authToken: undefined }), ["INVALID_CONFIG", "authToken", "Invalid config `authToken`: the handler adds the account's credentials: give the Auth Token (on the server only)"]],
  ["baseUrl a number", () => ({ ...base(), baseUrl: SECRET }), ["INVALID_CONFIG", "baseUrl", "Invalid config: `baseUrl` must be a string, not a number."]],
  ["baseUrl plain http elsewhere", () => ({ ...base(), baseUrl: "http://api.example.com" }), ["INVALID_CONFIG", "baseUrl", "Invalid config `baseUrl`: \"http://api.example.com\" is plain http: the account token would cross the network in clear text; use https (plain http is allowed only for localhost, 127.x.y.z and [::1])"]],
  ["basePath a number", () => ({ ...base(), basePath: SECRET }), ["INVALID_CONFIG", "basePath", "Invalid backend handler options: `basePath` must be a string, not a number."]],
  ["basePath relative", () => ({ ...base(), basePath: "voice" }), ["INVALID_CONFIG", "basePath", "Invalid config `basePath`: must be a path such as \"/voice/\": starting with /, without a query, escapes or white space"]],
  ["basePath with a query", () => ({ ...base(), basePath: "/voice?x=1" }), ["INVALID_CONFIG", "basePath", "Invalid config `basePath`: must be a path such as \"/voice/\": starting with /, without a query, escapes or white space"]],
  ["timeoutMs a string", () => ({ ...base(), timeoutMs: "5000" }), ["INVALID_CONFIG", "timeoutMs", "Invalid config: `timeoutMs` must be a number, not a string."]],
  ["timeoutMs a boolean", () => ({ ...base(), timeoutMs: true }), ["INVALID_CONFIG", "timeoutMs", "Invalid config: `timeoutMs` must be a number, not a boolean."]],
  ["timeoutMs a bigint", () => ({ ...base(), timeoutMs: 5000n }), ["INVALID_CONFIG", "timeoutMs", "Invalid config: `timeoutMs` must be a number, not a bigint."]],
  ["timeoutMs zero", () => ({ ...base(), timeoutMs: 0 }), ["INVALID_CONFIG", "timeoutMs", "`timeoutMs` must be a whole number from 1 to 600000; got 0."]],
  ["timeoutMs a fraction", () => ({ ...base(), timeoutMs: 1.5 }), ["INVALID_CONFIG", "timeoutMs", "`timeoutMs` must be a whole number from 1 to 600000; got a number with a fraction."]],
  ["timeoutMs NaN", () => ({ ...base(), timeoutMs: NaN }), ["INVALID_CONFIG", "timeoutMs", "`timeoutMs` must be a whole number from 1 to 600000; got NaN."]],
  ["timeoutMs too long", () => ({ ...base(), timeoutMs: 600_001 }), ["INVALID_CONFIG", "timeoutMs", "`timeoutMs` must be a whole number from 1 to 600000; got 600001."]],
  ["authorizeTimeoutMs a string", () => ({ ...base(), authorizeTimeoutMs: "1000" }), ["INVALID_CONFIG", "authorizeTimeoutMs", "Invalid backend handler options: `authorizeTimeoutMs` must be a number, not a string."]],
  ["authorizeTimeoutMs Infinity", () => ({ ...base(), authorizeTimeoutMs: Infinity }), ["INVALID_CONFIG", "authorizeTimeoutMs", "`authorizeTimeoutMs` must be a whole number from 1 to 600000; got Infinity."]],
  ["authorizeTimeoutMs negative", () => ({ ...base(), authorizeTimeoutMs: -1 }), ["INVALID_CONFIG", "authorizeTimeoutMs", "`authorizeTimeoutMs` must be a whole number from 1 to 600000; got -1."]],
  ["retry, a client option the handler does not take", () => ({ ...base(), retry: { maxRetries: 1 } }), ["INVALID_CONFIG", "retry", "Invalid backend handler options: unknown field \"retry\". Known fields: dialect, authId, authToken, baseUrl, basePath, timeoutMs, authorizeTimeoutMs, authorize."]],
];

/** The outcome of `run`: "ok", or the error's code, field and message. */
function outcome(run) {
  try {
    run();
    return "ok";
  } catch (e) {
    assert.ok(isEndpointLoginError(e), `an EndpointLoginError, not ${e}`);
    return [e.code, e.field ?? null, e.message];
  }
}

function assertNoSecret(message) {
  for (const secret of [AUTH_TOKEN, String(SECRET), SECRET_TEXT]) assert.ok(!message.includes(secret), `${message} carries a value given`);
}

test("createBackendHandler: each field's wrong kinds, ranges and spellings, said as before", () => {
  for (const [name, options, expected] of HANDLER_CASES) {
    const got = outcome(() => createBackendHandler(options()));
    if (got !== "ok") assertNoSecret(got[2]);
    assert.deepEqual(got, expected, name);
  }
});

/**
 * [case, what `authorize` answers, expected: the status of an endpoint list through the
 * handler, and for a 500 the message the server's log got]
 */
const GRANT_CASES = [
  ["null: not signed in", () => null, [401, null]],
  ["undefined: not signed in", () => undefined, [401, null]],
  ["false: not signed in", () => false, [401, null]],
  ["true", () => true, [500, "endpoint-login: Invalid the grant authorize answered: expected an object, got a boolean."]],
  ["a string", () => "alice", [500, "endpoint-login: Invalid the grant authorize answered: expected an object, got a string."]],
  ["a number", () => SECRET, [500, "endpoint-login: Invalid the grant authorize answered: expected an object, got a number."]],
  ["an array", () => [{ sub: "alice" }], [500, "endpoint-login: Invalid the grant authorize answered: expected an object, got an array."]],
  ["sub missing", () => ({ endpoints: "read" }), [500, "endpoint-login: Invalid the grant authorize answered: `sub` must be a string, not undefined."]],
  ["sub undefined", () => ({ sub: undefined, endpoints: "read" }), [500, "endpoint-login: Invalid the grant authorize answered: `sub` must be a string, not undefined."]],
  ["sub null", () => ({ sub: null, endpoints: "read" }), [500, "endpoint-login: Invalid the grant authorize answered: `sub` must be a string, not null."]],
  ["sub a number", () => ({ sub: SECRET, endpoints: "read" }), [500, "endpoint-login: Invalid the grant authorize answered: `sub` must be a string, not a number."]],
  ["sub lent by a prototype", () => withProto({ sub: "alice" }, { endpoints: "read" }), [500, "endpoint-login: Invalid the grant authorize answered: `sub` must be a string, not undefined."]],
  ["an extra field", () => ({ sub: "alice", admin: true }), [500, "endpoint-login: Invalid the grant authorize answered: unknown field \"admin\". Known fields: sub, incoming, outgoing, ttlSeconds, endpoints."]],
  ["a misspelt field", () => ({ sub: "alice", Endpoints: "manage" }), [500, "endpoint-login: Invalid the grant authorize answered: unknown field \"Endpoints\". Did you mean `endpoints`? Known fields: sub, incoming, outgoing, ttlSeconds, endpoints."]],
  ["incoming a string", () => ({ sub: "alice", incoming: "yes" }), [500, "endpoint-login: Invalid the grant authorize answered: `incoming` must be true or false, not a string."]],
  ["outgoing a number", () => ({ sub: "alice", outgoing: 1 }), [500, "endpoint-login: Invalid the grant authorize answered: `outgoing` must be true or false, not a number."]],
  ["ttlSeconds a string", () => ({ sub: "alice", ttlSeconds: "600" }), [500, "endpoint-login: Invalid the grant authorize answered: `ttlSeconds` must be a number, not a string."]],
  ["ttlSeconds too short", () => ({ sub: "alice", ttlSeconds: 179 }), [500, "endpoint-login: `ttlSeconds` must be a whole number from 180 to 86400; got 179."]],
  ["ttlSeconds a fraction", () => ({ sub: "alice", ttlSeconds: 600.5 }), [500, "endpoint-login: `ttlSeconds` must be a whole number from 180 to 86400; got a number with a fraction."]],
  ["endpoints unknown", () => ({ sub: "alice", endpoints: "all" }), [500, "endpoint-login: Invalid config `endpoints`: must be \"none\", \"read\" or \"manage\""]],
  ["endpoints a boolean", () => ({ sub: "alice", endpoints: true }), [500, "endpoint-login: Invalid the grant authorize answered: `endpoints` must be a string, not a boolean."]],
  ["endpoints: read", () => ({ sub: "alice", endpoints: "read" }), [200, null]],
  ["optional fields undefined", () => ({ sub: "alice", endpoints: "read", incoming: undefined, outgoing: undefined, ttlSeconds: undefined }), [200, null]],
  ["optional fields null", () => ({ sub: "alice", endpoints: "read", incoming: null, outgoing: null, ttlSeconds: null }), [200, null]],
  ["endpoints left out: none", () => ({ sub: "alice" }), [403, null]],
  ["endpoints lent by a prototype: none", () => withProto({ endpoints: "manage" }, { sub: "alice" }), [403, null]],
  ["a polluted Object.prototype grants nothing", () => {
    Object.prototype.endpoints = "manage";
    return { sub: "alice" };
  }, [403, null]],
  ["an object without a prototype", () => Object.assign(Object.create(null), { sub: "alice", endpoints: "read" }), [200, null]],
  ["a class instance", () => Object.assign(new (class Grant {})(), { sub: "alice", endpoints: "read" }), [200, null]],
  ["a promise of a grant", () => Promise.resolve({ sub: "alice", endpoints: "read" }), [200, null]],
];

/** Runs `run` with console.error recorded; answers its result and what was logged. */
async function logged(run) {
  const said = [];
  const error = console.error;
  console.error = (...args) => said.push(args.map(String).join(" "));
  try {
    return [await run(), said];
  } finally {
    console.error = error;
  }
}

test("authorize's grants: each field's wrong kinds and ranges, extra fields, prototypes", async () => {
  await fetch(`${SANDBOX}/__sandbox/reset`, { method: "POST" });
  for (const [name, grant, expected] of GRANT_CASES) {
    const handler = createBackendHandler({ ...base(), authorize: grant });
    const [status, said] = await logged(async () => {
      try {
        return (await handler(new Request(`http://app.example${ENDPOINTS}?limit=1`))).status;
      } finally {
        delete Object.prototype.endpoints;
      }
    });
    const message = status === 500 ? said.join("\n") : null;
    if (message) assertNoSecret(message);
    assert.deepEqual([status, message], expected, name);
  }
});

test("a grant's ttlSeconds, incoming and outgoing reach the token", async () => {
  const handler = createBackendHandler({ ...base(), authorize: () => ({ sub: "alice", ttlSeconds: 900, incoming: true, outgoing: false }) });
  const answer = await handler(new Request("http://app.example/token"));
  assert.equal(answer.status, 200);
  const { claims } = decodeAccessToken((await answer.json()).token);
  assert.equal(claims.sub, "alice");
  // The client dates nbf a minute back, for clocks a little apart.
  assert.equal(claims.exp - claims.nbf, 900 + 60);
  assert.deepEqual(claims.per.voice, { incomingAllow: true, outgoingAllow: false });
});

/** [case, verifyAccessToken's options given the token's claims, expected (given them too where it names a time)] */
const VERIFY_CASES = [
  ["left out", () => undefined, "ok"],
  ["null", () => null, "ok"],
  ["empty", () => ({}), "ok"],
  ["fields undefined", () => ({ now: undefined, leewaySeconds: undefined }), "ok"],
  ["fields null", () => ({ now: null, leewaySeconds: null }), "ok"],
  ["a number", () => SECRET, ["INVALID_ARGUMENT", null, "Invalid verify options: expected an object, got a number."]],
  ["a string", () => SECRET_TEXT, ["INVALID_ARGUMENT", null, "Invalid verify options: expected an object, got a string."]],
  ["an array", () => [], ["INVALID_ARGUMENT", null, "Invalid verify options: expected an object, got an array."]],
  ["an extra field", () => ({ strict: true }), ["INVALID_ARGUMENT", "strict", "Invalid verify options: unknown field \"strict\". Known fields: now, leewaySeconds."]],
  ["a snake_case field", () => ({ leeway_seconds: 5 }), ["INVALID_ARGUMENT", "leeway_seconds", "Invalid verify options: unknown field \"leeway_seconds\". Did you mean `leewaySeconds`? Known fields: now, leewaySeconds."]],
  ["now a string", () => ({ now: String(SECRET) }), ["INVALID_TIMESTAMP", "now", "`now` must be Unix seconds (a whole number, 0 or more): got a string."]],
  ["now a boolean", () => ({ now: true }), ["INVALID_TIMESTAMP", "now", "`now` must be Unix seconds (a whole number, 0 or more): got a boolean."]],
  ["now a fraction", () => ({ now: 1.5 }), ["INVALID_TIMESTAMP", "now", "`now` must be Unix seconds (a whole number, 0 or more): got a number with a fraction."]],
  ["now negative", () => ({ now: -1 }), ["INVALID_TIMESTAMP", "now", "`now` must be Unix seconds (a whole number, 0 or more): got -1."]],
  ["now in milliseconds", () => ({ now: 1_796_310_282_716 }), ["INVALID_TIMESTAMP", "now", "`now` must be Unix seconds (a whole number, 0 or more): got 1796310282716, which looks like milliseconds; divide by 1000 (Date.now() / 1000)."]],
  ["now past exp and the leeway", (c) => ({ now: c.exp + 61 }), (c) => ["TOKEN_EXPIRED", null, `The access token expired 61 s ago (exp ${c.exp}); get a new one.`]],
  ["now past exp within the leeway", (c) => ({ now: c.exp + 59 }), "ok"],
  ["now past exp, no leeway", (c) => ({ now: c.exp + 1, leewaySeconds: 0 }), (c) => ["TOKEN_EXPIRED", null, `The access token expired 1 s ago (exp ${c.exp}); get a new one.`]],
  ["now before nbf and the leeway", (c) => ({ now: c.nbf - 61 }), (c) => ["TOKEN_NOT_YET_VALID", null, `The access token is not valid for another 61 s (nbf ${c.nbf}); check the clock.`]],
  ["now lent by a prototype is not read", (c) => withProto({ now: c.exp + 3600 }, {}), "ok"],
  ["leewaySeconds a string", () => ({ leewaySeconds: "60" }), ["INVALID_ARGUMENT", "leewaySeconds", "Invalid verify options: `leewaySeconds` must be a number, not a string."]],
  ["leewaySeconds negative", () => ({ leewaySeconds: -1 }), ["INVALID_ARGUMENT", "leewaySeconds", "`leewaySeconds` must be a whole number from 0 to 86400; got -1."]],
  ["leewaySeconds over a day", () => ({ leewaySeconds: 86_401 }), ["INVALID_ARGUMENT", "leewaySeconds", "`leewaySeconds` must be a whole number from 0 to 86400; got 86401."]],
  ["leewaySeconds a fraction", () => ({ leewaySeconds: 0.5 }), ["INVALID_ARGUMENT", "leewaySeconds", "`leewaySeconds` must be a whole number from 0 to 86400; got a number with a fraction."]],
];

test("verifyAccessToken: its options' wrong kinds, ranges and spellings; its answer is decodeAccessToken's", async () => {
  const client = new EndpointClient({ dialect: "plivo", authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: SANDBOX });
  const { token } = await client.createToken({ sub: "alice", ttlSeconds: 900 });
  client.free();
  const decoded = decodeAccessToken(token);
  for (const [name, options, expected] of VERIFY_CASES) {
    let verified;
    const got = outcome(() => (verified = verifyAccessToken(token, AUTH_TOKEN, options(decoded.claims))));
    if (got === "ok") assert.deepEqual(verified, decoded, name);
    else assertNoSecret(got[2]);
    assert.deepEqual(got, typeof expected === "function" ? expected(decoded.claims) : expected, name);
  }
  for (const authToken of [SECRET, { token: SECRET_TEXT }, undefined]) {
    const got = outcome(() => verifyAccessToken(token, authToken));
    assert.equal(got[0], "INVALID_ARGUMENT");
    assertNoSecret(got[2]);
  }
});
