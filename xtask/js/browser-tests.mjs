// Runs a wasm-bindgen test page in headless Chromium through playwright-core and prints its
// output as wasm-bindgen-test-runner would (`test result: ok. N passed; ...`).
//
//   node xtask/js/browser-tests.mjs http://127.0.0.1:PORT/
//
// The page is served by `wasm-bindgen-test-runner` in interactive mode (NO_HEADLESS=1);
// `cargo xtask wasm-browser-runner` starts it and then this script. Chromium never opens
// a connection to that server: it loads the page from a local server here, which fetches
// each file from the runner one at a time on a fresh connection closed after the answer.
// The runner's file server (tiny_http) can leave a new connection unread while its
// threads sit on idle keep-alive connections, and Chromium opens several at once for the
// test's JS modules: the page then never finishes loading (seen on fresh machines:
// "Loading scripts...", then ChromeDriver's 300 s timeout). Requests to the sandbox go
// straight to it.
import http from "node:http";
import { chromium } from "playwright-core";

const base = new URL(process.argv[2] ?? "");
const timeoutMs = Number(process.env.WASM_BINDGEN_TEST_TIMEOUT ?? "180") * 1000;

/** What the page printed to its console, shown when the tests fail. */
const console_ = [];

/** One request to the runner's server at a time. */
let queue = Promise.resolve();
function serially(task) {
  const result = queue.then(task);
  queue = result.catch(() => {});
  return result;
}

/** GET `url` from the runner on a connection of its own, closed after the answer. */
function fetchFromRunner(url) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "GET", agent: false, headers: { connection: "close" }, timeout: 30_000 },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ response, body: Buffer.concat(chunks) }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer from the runner for ${url}`)));
    request.on("error", reject);
    request.end();
  });
}

// The page's own server: a local one that forwards each request to the runner's.
const proxy = http.createServer(async (request, response) => {
  if (request.method !== "GET") {
    response.writeHead(405).end();
    return;
  }
  try {
    const answer = await serially(() => fetchFromRunner(new URL(request.url, base).href));
    const headers = {};
    for (const [name, value] of Object.entries(answer.response.headers)) {
      if (!["connection", "content-length", "transfer-encoding", "keep-alive"].includes(name)) {
        headers[name] = value;
      }
    }
    response.writeHead(answer.response.statusCode, headers).end(answer.body);
  } catch (error) {
    console_.push(`fetching ${request.url} from the runner failed: ${error.message}`);
    response.writeHead(502).end();
  }
});
await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
  ],
});
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (m) => console_.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console_.push(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${proxy.address().port}/`, { waitUntil: "commit" });

  // Print the page's output as it grows, until the harness prints its summary.
  const deadline = Date.now() + timeoutMs;
  let shown = "";
  let text = "";
  while (Date.now() < deadline) {
    text = await page.evaluate(() => document.getElementById("output")?.textContent ?? "");
    if (text.startsWith(shown)) {
      process.stdout.write(text.slice(shown.length));
    } else {
      process.stdout.write(`\n${text}`);
    }
    shown = text;
    if (text.includes("test result: ")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!text.includes("test result: ")) {
    console.log(`\nerror: the tests did not finish within ${timeoutMs / 1000} s (WASM_BINDGEN_TEST_TIMEOUT)`);
  } else if (text.includes("test result: ok")) {
    exitCode = 0;
  }
  if (exitCode !== 0 && console_.length > 0) {
    console.log("\nthe page's console:");
    for (const line of console_) console.log(`    ${line}`);
  }
} finally {
  await browser.close();
  proxy.close();
}
process.exit(exitCode);
