// The benchmarks, run in the page: the library against plain-JavaScript peers in the same
// page. Each `run*` function returns raw samples; bench/chromium.bench.mjs drives the page,
// interleaves the runs and computes medians, extremes and ratios.
import init, { EndpointClient, TokenProvider, decodeAccessToken, initSync } from "/pkg/endpoint_login.js";
import { decodeJwt, decodeProtectedHeader } from "/peers/jose/index.js";
import { jwtDecode } from "/peers/jwt-decode.js";

const ACCOUNT = { authId: "MASANDBOXACCOUNT0001", authToken: "sandbox_auth_token_0123456789abcdef" };
const VOBIZ_HEADERS = { "X-Auth-ID": ACCOUNT.authId, "X-Auth-Token": ACCOUNT.authToken };
const PAGE = 100;

let wasm;
let token;
let vobiz;
let total;

/** Loads the package (start-up is measured separately, in fresh pages). */
export async function setUp() {
  wasm = await init();
  const plivo = new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: location.origin });
  ({ token } = await plivo.createToken({ sub: "alice260101000000", ttlSeconds: 3600, incoming: true }));
  vobiz = new EndpointClient({ dialect: "vobiz", ...ACCOUNT, baseUrl: location.origin });
  total = (await vobiz.listEndpoints({ limit: 1 })).meta.totalCount;
  return { total, tokenLength: token.length };
}

/**
 * Start-up in this fresh page: compile and instantiate the module from its bytes, then a
 * first call. `sync` uses `initSync` (`new WebAssembly.Module`), `async` `await init()`
 * (`WebAssembly.instantiate`, which waits for a task of its own), `tokens` `initSync` with
 * the login pages' module (`endpoint-login/tokens`).
 */
export async function startUp(kind) {
  const folder = kind === "tokens" ? "/pkg/tokens/" : "/pkg/";
  const lib = kind === "tokens" ? await import("/pkg/tokens/endpoint_login.js") : { initSync, decodeAccessToken };
  const bytes = await (await fetch(`${folder}endpoint_login_bg.wasm`)).arrayBuffer();
  const first = sampleToken();
  const started = performance.now();
  if (kind === "async") await init({ module_or_path: bytes });
  else lib.initSync({ module: new WebAssembly.Module(bytes) });
  lib.decodeAccessToken(first);
  return performance.now() - started;
}

function sampleToken() {
  const b64 = (s) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  const now = Math.floor(Date.now() / 1000);
  return `${b64('{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}')}.${b64(JSON.stringify({ iss: "MA1", nbf: now - 60, exp: now + 600 }))}.${b64("s".repeat(32))}`;
}

// The checks decodeAccessToken makes, done on a peer's result.
function check(header, claims) {
  if (header.alg !== "HS256" || (header.cty !== undefined && header.cty !== "plivo;v=1")) throw new Error("header");
  if (typeof claims.iss !== "string" || !Number.isSafeInteger(claims.nbf) || !Number.isSafeInteger(claims.exp)) throw new Error("claims");
  if ((claims.sub !== undefined && typeof claims.sub !== "string") || (claims.app !== undefined && typeof claims.app !== "string")) throw new Error("claims");
  const voice = claims.per?.voice ?? {};
  if (voice.incoming_allow !== undefined && typeof voice.incoming_allow !== "boolean") throw new Error("grants");
  if (voice.outgoing_allow !== undefined && typeof voice.outgoing_allow !== "boolean") throw new Error("grants");
  return claims;
}

/** Decodes per second over `ms` milliseconds. */
function rate(decode, ms) {
  for (let i = 0; i < 2000; i++) decode(); // warm-up
  let count = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 500; i++) decode();
    count += 500;
    elapsed = performance.now() - started;
  }
  return (count / elapsed) * 1000;
}

export function decodeRates(ms) {
  return {
    library: rate(() => decodeAccessToken(token), ms),
    jose: rate(() => check(decodeProtectedHeader(token), decodeJwt(token)), ms),
    jwtDecode: rate(() => check(jwtDecode(token, { header: true }), jwtDecode(token)), ms),
  };
}

function pageUrl(offset) {
  return `${location.origin}/api/v1/Account/${ACCOUNT.authId}/Endpoint/?limit=${PAGE}&offset=${offset}`;
}

// The peers learn the count from the first page, as the library does (and as any code
// that walks an account must).
async function getPage(offset) {
  return (await fetch(pageUrl(offset), { headers: VOBIZ_HEADERS })).json();
}

async function sequential() {
  let n = 0;
  for (let offset = 0; ; offset += PAGE) {
    const page = await getPage(offset);
    n += page.objects.length;
    if (offset + PAGE >= page.meta.total_count) return n;
  }
}

async function pool(width) {
  const first = await getPage(0);
  const count = first.meta.total_count;
  let n = first.objects.length;
  let next = PAGE;
  async function worker() {
    while (next < count) {
      const offset = next;
      next += PAGE;
      const page = await getPage(offset);
      n += page.objects.length;
    }
  }
  await Promise.all(Array.from({ length: width }, worker));
  return n;
}

async function library() {
  let n = 0;
  for await (const endpoint of vobiz.endpoints({ limit: PAGE })) if (typeof endpoint.sipRegistered === "boolean") n++;
  return n;
}

const walks = { library, sequential, pool6: () => pool(6) };

/** One timed walk over every endpoint. */
export async function walk(name) {
  const started = performance.now();
  const n = await walks[name]();
  const ms = performance.now() - started;
  if (n !== total) throw new Error(`${name} walked ${n} of ${total}`);
  return ms;
}

/**
 * One page of 100 endpoints with the network taken out: `fetch` answers at once with the
 * bytes the sandbox gave for the first page, for the library's `listEndpoints` and for the
 * peer's `fetch` + `json()` alike. What is left is each side's own work on the main thread
 * (building the request, reading and converting the page), in microseconds per page.
 */
export async function pageWork(calls) {
  const body = await (await fetch(pageUrl(0), { headers: VOBIZ_HEADERS })).arrayBuffer();
  const realFetch = window.fetch;
  const headers = { "Content-Type": "application/json" };
  window.fetch = async () => new Response(body, { status: 200, headers });
  const measure = async (one) => {
    await one(); // warm-up
    const started = performance.now();
    for (let i = 0; i < calls; i++) await one();
    return ((performance.now() - started) / calls) * 1000;
  };
  const count = (n) => {
    if (n !== PAGE) throw new Error(`a page of ${n} endpoints`);
  };
  try {
    return {
      library: await measure(async () => count((await vobiz.listEndpoints({ limit: PAGE })).objects.length)),
      peer: await measure(async () => count((await getPage(0)).objects.length)),
    };
  } finally {
    window.fetch = realFetch;
  }
}

/** The wasm memory after the walks, in bytes. */
export function wasmMemory() {
  return wasm.memory.buffer.byteLength;
}

/** Cached getAccessToken() calls per second (peer: awaiting a resolved promise). */
export async function cachedTokens(ms) {
  const provider = new TokenProvider({ fetchToken: () => Promise.resolve(token) });
  await provider.getAccessToken();
  const measure = async (get) => {
    let count = 0;
    const started = performance.now();
    while (performance.now() - started < ms) {
      for (let i = 0; i < 200; i++) await get();
      count += 200;
    }
    return (count / (performance.now() - started)) * 1000;
  };
  const cached = Promise.resolve(token);
  const result = { library: await measure(() => provider.getAccessToken()), peer: await measure(() => cached) };
  provider.dispose();
  return result;
}

/** 1,000 concurrent getAccessToken() calls on a cold provider: the JWT API requests made. */
export async function coldTokens() {
  await fetch("/__sandbox/requests", { method: "DELETE" });
  const client = new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: location.origin });
  const provider = client.tokenProvider({ request: { sub: "alice260101000000", ttlSeconds: 3600 } });
  const started = performance.now();
  const tokens = await Promise.all(Array.from({ length: 1000 }, () => provider.getAccessToken()));
  const ms = performance.now() - started;
  provider.dispose();
  const log = await (await fetch("/__sandbox/requests")).json();
  return {
    ms,
    distinct: new Set(tokens).size,
    requests: log.requests.filter((r) => r.path.includes("/JWT/Token/")).length,
  };
}

/**
 * One walk of `watchRegistrations` over every endpoint of `dialect` (10,000 each, Plivo 20
 * a page and paced, Vobiz 100 a page): the time until its snapshot and the requests it
 * took. The driver measures the page's CPU time around the call.
 */
export async function watchWalk(dialect) {
  const client = dialect === "vobiz" ? vobiz : new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: location.origin });
  await fetch("/__sandbox/requests", { method: "DELETE" });
  const stop = new AbortController();
  const started = performance.now();
  for await (const event of client.watchRegistrations(undefined, { signal: stop.signal })) {
    if (event.type !== "snapshot") continue;
    const ms = performance.now() - started;
    stop.abort();
    const log = await (await fetch("/__sandbox/requests")).json();
    return { ms, total: event.total, requests: log.requests.filter((r) => r.path.includes("/Endpoint/")).length };
  }
  throw new Error("the watch ended before its snapshot");
}

/**
 * The peer of `watchWalk`: what a page without the library would poll with, one plain walk
 * of every page (sequential `fetch` + `json()`, the same page sizes, no pacing) into a Map
 * of each endpoint's registration.
 */
export async function pollWalk(dialect) {
  const plivo = dialect === "plivo";
  const size = plivo ? 20 : PAGE;
  const base = plivo ? `${location.origin}/v1/Account/${ACCOUNT.authId}/Endpoint/` : `${location.origin}/api/v1/Account/${ACCOUNT.authId}/Endpoint/`;
  const headers = plivo ? { Authorization: `Basic ${btoa(`${ACCOUNT.authId}:${ACCOUNT.authToken}`)}` } : VOBIZ_HEADERS;
  const registered = new Map();
  const started = performance.now();
  for (let offset = 0; ; offset += size) {
    const page = await (await fetch(`${base}?limit=${size}&offset=${offset}`, { headers })).json();
    for (const e of page.objects) registered.set(e.endpoint_id, e.sip_registered === "true" || e.sip_registered === true);
    if (offset + size >= page.meta.total_count) break;
  }
  return { ms: performance.now() - started, total: registered.size };
}
