// The packed package (installed here by cargo xtask test) in the bundlers most pages are
// built with, each with the README's recipe and nothing more: esbuild (one plugin), Rollup
// (one plugin) and webpack 5 (nothing) bundle page/main.js, which runs in Chromium against
// the sandbox; esbuild bundles a Node program with the package inside, run from a folder
// with no node_modules.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import webpack from "webpack";
import { AUTH_ID, AUTH_TOKEN, SANDBOX, SEEDED_USER, launchChromium, serveStatic } from "./serve.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const PAGE = `${HERE}page/`;
const BIN = `${HERE}node_modules/.bin/`;

let browser;
before(async () => {
  rmSync(`${PAGE}dist`, { recursive: true, force: true });
  browser = await launchChromium();
});
after(() => browser?.close());

/** Builds with `build`, serves `dist/<name>` with `script` as its page, runs `window.run`. */
async function runBundle(name, script) {
  const dist = `${PAGE}dist/${name}/`;
  writeFileSync(`${dist}index.html`, readFileSync(`${PAGE}index.html`, "utf8").replace('<script type="module" src="./main.js"></script>', script));
  const server = await serveStatic(dist);
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent === "ready");
    const result = await page.evaluate((options) => window.run(options), { sandbox: SANDBOX, authId: AUTH_ID, authToken: AUTH_TOKEN });
    assert.deepEqual(problems, []);
    return { result, files: readdirSync(dist, { recursive: true }).map(String) };
  } finally {
    await page.close();
    server.close();
  }
}

/** What every bundle must do, whatever bundled it. */
function checkPage({ result, files }, name) {
  assert.deepEqual(result.beforeInit, [false, false, false], `${name}: isEndpointLoginError answers before init()`);
  assert.equal(result.failed.guard, true, `${name}: a failed init() rejects with an EndpointLoginError`);
  assert.equal(result.failed.code, "LOAD_FAILED");
  assert.match(result.failed.message, /\/no-such\.wasm.*404/, `${name}: the message names the URL and status`);
  assert.equal(result.listed, 5);
  assert.match(result.created, /^bundled\d{12}$/);
  assert.equal(result.loginSub, result.created);
  assert.equal(result.afterInit, "INVALID_ID");
  const emitted = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(emitted.length, 2, `${name} emits the WebAssembly of both modules: ${files.join(", ")}`);
  assert.equal(result.wasm.filter((p) => !p.includes("no-such")).length, 2, `${name}: the page loads both: ${result.wasm.join(", ")}`);
}

test("esbuild: a page bundle with the meta-url plugin loads both modules", async () => {
  execFileSync(process.execPath, ["esbuild.mjs"], { cwd: PAGE, stdio: "inherit" });
  checkPage(await runBundle("esbuild", '<script type="module" src="./main.js"></script>'), "esbuild");
});

test("Rollup: a page bundle with importMetaAssets loads both modules", async () => {
  execFileSync(`${BIN}rollup`, ["--config", "rollup.config.mjs", "--silent"], { cwd: PAGE, stdio: "inherit" });
  checkPage(await runBundle("rollup", '<script type="module" src="./main.js"></script>'), "Rollup");
});

test("webpack 5: a page bundle with no configuration for the package loads both modules", async () => {
  const { default: config } = await import(`${PAGE}webpack.config.mjs`);
  const stats = await new Promise((resolve, reject) =>
    webpack({ ...config, context: PAGE }, (error, stats) => (error ? reject(error) : resolve(stats))),
  );
  assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
  checkPage(await runBundle("webpack", '<script src="./main.js"></script>'), "webpack");
});

test("esbuild --platform=node: the package bundled into a Node program that runs without node_modules", () => {
  const out = `${HERE}node/dist/main.mjs`;
  execFileSync(`${BIN}esbuild`, ["node/main.js", "--bundle", "--platform=node", "--format=esm", `--outfile=${out}`, "--log-level=warning"], {
    cwd: HERE,
    stdio: "inherit",
  });
  const alone = mkdtempSync(`${tmpdir()}/endpoint-login-bundle-`);
  try {
    cpSync(out, `${alone}/main.mjs`);
    const printed = execFileSync(process.execPath, [`${alone}/main.mjs`, SANDBOX, AUTH_ID, AUTH_TOKEN], { cwd: alone, encoding: "utf8" });
    assert.deepEqual(JSON.parse(printed), { guardBeforeInit: false, sub: SEEDED_USER, listed: 3 });
  } finally {
    rmSync(alone, { recursive: true, force: true });
  }
});

test("the README's Frameworks table gives the recipes these tests use, line for line", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("### Frameworks"), readme.indexOf("### Where it runs"));
  for (const [file, line] of [
    ["page/esbuild.mjs", "plugins: [metaUrl()]"],
    ["page/esbuild.mjs", 'format: "esm"'],
    ["page/esbuild.mjs", "@chialab/esbuild-plugin-meta-url"],
    ["page/rollup.config.mjs", "importMetaAssets()"],
    ["page/rollup.config.mjs", "@web/rollup-plugin-import-meta-assets"],
    ["nextjs.test.mjs", 'export const runtime = "edge";'],
  ]) {
    assert.ok(readFileSync(`${HERE}${file}`, "utf8").includes(line), `${file} uses ${line}`);
    assert.ok(table.includes(line), `the README's Frameworks table gives ${line}`);
  }
});
