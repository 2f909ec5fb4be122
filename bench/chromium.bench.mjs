// `cargo xtask bench`: the library against plain-JavaScript peers, in one headless Chromium
// page, against a release sandbox seeded with 10,000 endpoints (SANDBOX_URL, which also
// serves bench/page). Prints figures and ratios and rewrites BENCHMARKS.md and the README's
// table; passes or fails nothing.
import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const SANDBOX = process.env.SANDBOX_URL;
const ROOT = new URL("..", import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;

async function gzip(path) {
  return gzipSync(await readFile(new URL(path, ROOT)), { level: 9 }).length;
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ARGS });
const open = async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${SANDBOX}/`);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
  return { context, page };
};

const results = {};
async function snippets(dir) {
  const { readdir } = await import("node:fs/promises");
  const found = [];
  for (const entry of await readdir(new URL(dir, ROOT), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".js")) found.push(`${entry.parentPath ?? entry.path}/${entry.name}`);
  }
  return found;
}
let glue = await gzip("pkg/endpoint_login.js");
for (const file of await snippets("pkg/snippets/")) glue += gzipSync(await readFile(file), { level: 9 }).length;
results.download = { wasm: await gzip("pkg/endpoint_login_bg.wasm"), glue };

// Start-up, each sample in a fresh page.
const startUps = { sync: [], async: [] };
for (let i = 0; i < 30; i++) {
  const { context, page } = await open();
  const sync = i % 2 === 0;
  startUps[sync ? "sync" : "async"].push(await page.evaluate((s) => window.bench.startUp(s), sync));
  await context.close();
}
results.startUp = { sync: spread(startUps.sync), async: spread(startUps.async) };

const { page } = await open();
const setUp = await page.evaluate(() => window.bench.setUp());

const decode = { library: [], jose: [], jwtDecode: [] };
for (let round = 0; round < ROUNDS; round++) {
  const rates = await page.evaluate(() => window.bench.decodeRates(300));
  for (const name in decode) decode[name].push(rates[name]);
}
results.decode = Object.fromEntries(Object.entries(decode).map(([k, v]) => [k, spread(v)]));

const walks = { library: [], sequential: [], pool6: [] };
const names = Object.keys(walks);
await page.evaluate(() => window.bench.walk("pool6")); // warm the connections
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(round + i) % names.length];
    walks[name].push(await page.evaluate((n) => window.bench.walk(n), name));
  }
}
results.walk = Object.fromEntries(Object.entries(walks).map(([k, v]) => [k, spread(v)]));
results.memoryAfterWalks = await page.evaluate(() => window.bench.wasmMemory());

const cached = { library: [], peer: [] };
for (let round = 0; round < 5; round++) {
  const r = await page.evaluate(() => window.bench.cachedTokens(200));
  cached.library.push(r.library);
  cached.peer.push(r.peer);
}
results.cachedTokens = { library: spread(cached.library), peer: spread(cached.peer) };
results.coldTokens = await page.evaluate(() => window.bench.coldTokens());
results.chromium = browser.version();
await browser.close();

// ---- report ---------------------------------------------------------------------------

const fmt = (s, unit, digits = 0) => `${s.median.toFixed(digits)} ${unit} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const w = results.walk;
const d = results.decode;
const rows = [
  ["download: wasm + JS glue and snippets, gzip -9", `${kb(results.download.wasm + results.download.glue)} (wasm ${kb(results.download.wasm)} + glue ${kb(results.download.glue)})`, "Twilio Voice SDK 65.8 KB; Plivo browser SDK 220.8 KB", ""],
  ["start-up: instantiate from bytes (`initSync`) + first call, fresh page", fmt(results.startUp.sync, "ms", 2), "", ""],
  ["start-up: the same with `await init(bytes)`", fmt(results.startUp.async, "ms", 2), "", ""],
  ["`decodeAccessToken` rate", fmt(d.library, "/s"), `jose decodeJwt + decodeProtectedHeader + the same checks: ${fmt(d.jose, "/s")}`, ratio(d.library.median, d.jose.median)],
  ["", "", `jwt-decode, header + payload + the same checks: ${fmt(d.jwtDecode, "/s")}`, ratio(d.library.median, d.jwtDecode.median)],
  [`walk ${setUp.total} Vobiz endpoints, ${100} a page, \`endpoints()\``, fmt(w.library, "ms"), `sequential \`fetch\` + \`json()\` loop, count from the first page: ${fmt(w.sequential, "ms")}`, ratio(w.library.median, w.sequential.median)],
  ["", "", `6-connection JS pool, count from the first page: ${fmt(w.pool6, "ms")}`, ratio(w.library.median, w.pool6.median)],
  ["cached `getAccessToken()` calls", fmt(results.cachedTokens.library, "/s"), `awaiting a resolved promise: ${fmt(results.cachedTokens.peer, "/s")}`, ratio(results.cachedTokens.library.median, results.cachedTokens.peer.median)],
  ["1,000 concurrent cold `getAccessToken()`", `${results.coldTokens.ms.toFixed(0)} ms, ${results.coldTokens.distinct} token`, `requests seen by the sandbox: ${results.coldTokens.requests}`, ""],
  ["wasm memory after the walks", kb(results.memoryAfterWalks), "", ""],
];
const table = [
  "| benchmark | library (median, min-max) | peer in the same page | ratio |",
  "| --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
console.log(table);

const cpu = cpus();
const machine = `${cpu.length} cores (${cpu[0]?.model ?? "unknown CPU"}), Chromium ${results.chromium}, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
await writeFile(
  new URL("BENCHMARKS.md", ROOT),
  `# Benchmarks

Written by \`cargo xtask bench\` on ${date}: ${machine}. Headless Chromium, one page that
loads only the package and the peers, against a release sandbox seeded with 10,000
endpoints per platform on the same machine. Medians of ${ROUNDS} interleaved runs (15 fresh
pages for each start-up), with min-max; ratios are library / peer (for rates, above 1 is faster;
for times, below 1 is faster). The machine is shared and noisy: compare within one run.

${table}
`,
);

const readme = await readFile(new URL("README.md", ROOT), "utf8");
const start = "<!-- benchmarks: written by cargo xtask bench -->";
const end = "<!-- end of benchmarks -->";
if (readme.includes(start) && readme.includes(end)) {
  const before = readme.slice(0, readme.indexOf(start) + start.length);
  const after = readme.slice(readme.indexOf(end));
  await writeFile(new URL("README.md", ROOT), `${before}\n${table}\n\n(${date}, ${machine}; see BENCHMARKS.md)\n${after}`);
}
