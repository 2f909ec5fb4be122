// Library benchmarks in Node, each against a peer doing the same work in plain JavaScript
// in the same run: prints figures and ratios, passes or fails nothing.
//   node bench/library.bench.mjs   (cargo xtask bench starts the sandbox and sets SANDBOX_URL)
import { readFile } from "node:fs/promises";
import { createHmac } from "node:crypto";
import { gzipSync } from "node:zlib";
import init, { EndpointClient, decodeAccessToken, verifyAccessToken } from "../pkg/endpoint_login.js";

const SANDBOX = process.env.SANDBOX_URL ?? "http://127.0.0.1:8787";
const ACCOUNT = { authId: "MASANDBOXACCOUNT0001", authToken: "sandbox_auth_token_0123456789abcdef" };

const wasm = await readFile(new URL("../pkg/endpoint_login_bg.wasm", import.meta.url));
await init({ module_or_path: wasm });

function time(fn, iterations) {
  for (let i = 0; i < Math.min(iterations, 1000); i++) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e3 / iterations; // µs per call
}

async function timeAsync(fn, runs) {
  await fn(); // warm-up
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(runs / 2)]; // median ms
}

const rows = [];
const row = (what, ours, peer, unit, peerName) =>
  rows.push([what, `${ours.toFixed(unit === "ms" ? 1 : 2)} ${unit}`, `${peer.toFixed(unit === "ms" ? 1 : 2)} ${unit}`, peerName, `${(ours / peer).toFixed(2)}x`]);

// A real token from the sandbox's JWT API.
const client = new EndpointClient({ dialect: "plivo", ...ACCOUNT, baseUrl: SANDBOX });
const { token } = await client.createToken({ sub: "alice", ttlSeconds: 3600 });

// Peer: what a page would write by hand, with the same checks that matter.
function jsDecode(t) {
  const parts = t.split(".");
  if (parts.length !== 3) throw new Error("parts");
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  if (header.alg !== "HS256" || typeof claims.iss !== "string" || typeof claims.exp !== "number" || typeof claims.nbf !== "number") {
    throw new Error("claims");
  }
  return { header, claims };
}
function jsVerify(t, key) {
  const decoded = jsDecode(t);
  const [h, c, s] = t.split(".");
  const expected = createHmac("sha256", key).update(`${h}.${c}`).digest("base64url");
  if (expected !== s) throw new Error("signature");
  const now = Date.now() / 1000;
  if (decoded.claims.exp + 60 < now || decoded.claims.nbf - 60 > now) throw new Error("time");
  return decoded;
}
row("decodeAccessToken", time(() => decodeAccessToken(token), 20000), time(() => jsDecode(token), 20000), "µs", "split + atob + JSON.parse");
row("verifyAccessToken", time(() => verifyAccessToken(token, ACCOUNT.authToken), 20000), time(() => jsVerify(token, ACCOUNT.authToken), 20000), "µs", "the same + node:crypto HMAC");

// Walking every endpoint of a 10,000-endpoint account, 100 a page.
const vobiz = new EndpointClient({ dialect: "vobiz", ...ACCOUNT, baseUrl: SANDBOX });
const total = (await vobiz.listEndpoints({ limit: 1 })).meta.totalCount;
async function ourWalk() {
  let n = 0;
  for await (const endpoint of vobiz.endpoints({ limit: 100 })) if (endpoint.sipRegistered !== undefined) n++;
  if (n !== total) throw new Error(`walked ${n} of ${total}`);
}
async function plainWalk() {
  let n = 0;
  for (let offset = 0; offset < total; offset += 100) {
    const response = await fetch(`${SANDBOX}/api/v1/Account/${ACCOUNT.authId}/Endpoint/?limit=100&offset=${offset}`, {
      headers: { "X-Auth-ID": ACCOUNT.authId, "X-Auth-Token": ACCOUNT.authToken },
    });
    const page = await response.json();
    for (const endpoint of page.objects) if (endpoint.sip_registered === "true" || endpoint.sip_registered === "false") n++;
  }
  if (n !== total) throw new Error(`walked ${n} of ${total}`);
}
row(`endpoints() over ${total}`, await timeAsync(ourWalk, 5), await timeAsync(plainWalk, 5), "ms", "fetch + JSON.parse, page by page");
row(`summary() over ${total}`, await timeAsync(() => vobiz.summary({ limit: 100 }), 5), await timeAsync(plainWalk, 5), "ms", "fetch + JSON.parse, page by page");

const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...[["benchmark", "library", "peer", "peer is", "ratio"], ...rows].map((r) => r[i].length)));
const line = (r) => r.map((cell, i) => (i === 0 || i === 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
console.log(line(["benchmark", "library", "peer", "peer is", "ratio"]));
for (const r of rows) console.log(line(r));

const glue = await readFile(new URL("../pkg/endpoint_login.js", import.meta.url));
console.log(
  `\npackage size: endpoint_login_bg.wasm ${wasm.length} bytes (${gzipSync(wasm, { level: 9 }).length} gzip -9), ` +
    `endpoint_login.js ${glue.length} bytes (${gzipSync(glue, { level: 9 }).length} gzip -9)`,
);
