// The demo page in Debian's Chromium, driven by playwright-core, against the sandbox that
// `cargo xtask test` started (see harness.mjs). Each test resets the sandbox and opens a
// fresh browser context, and saves screenshots under SCREENSHOT_DIR.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  AUTH_ID, AUTH_TOKEN, SANDBOX, SDK_UNCAUGHT, context, newContext, pageTest, requests, sandbox, secret, setup, shot, until, untilText, watchedPage,
} from "./harness.mjs";
import { SDK_OFFLINE } from "./signalling.mjs";
import { createThenRotate } from "./demo-steps.mjs";
import { bindingsOf, until as untilTrue } from "./phones.mjs";

const BASIC = "Basic " + Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString("base64");

setup();

async function rawEndpoint(path) {
  const response = await fetch(`${SANDBOX}${path}`, { headers: { authorization: BASIC } });
  return response.json();
}

async function vobizEndpoint(id) {
  const response = await fetch(`${SANDBOX}/api/v1/Account/${AUTH_ID}/Endpoint/${id}/`, {
    headers: { "x-auth-id": AUTH_ID, "x-auth-token": AUTH_TOKEN },
  });
  return response.json();
}

/**
 * Opens the demo page and waits for the first page of endpoints. `clock`: install
 * Playwright's fake clock first (it starts at the real time and runs until told otherwise).
 */
async function open(query = "", { viewport = { width: 1280, height: 800 }, initScripts = [], clock = false, ignore, ignoreUncaught } = {}) {
  await newContext({ viewport });
  for (const script of initScripts) await context.addInitScript(script);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: SANDBOX });
  const page = await watchedPage(ignore, ignoreUncaught);
  if (clock) await page.clock.install({ time: Date.now() });
  await page.goto(`${SANDBOX}/${query}`);
  await page.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  await untilText(page, "#summary-label", /^All /, "the summary is loaded");
  return page;
}

const usernames = (page) => page.$$eval("#endpoint-table tbody tr[data-id] td:first-child", (tds) => tds.map((td) => td.textContent));

pageTest("connects without typing anything and lists the seeded endpoints", async () => {
  const page = await open();
  const api = await rawEndpoint(`/v1/Account/${AUTH_ID}/Endpoint/?limit=20`);
  assert.deepEqual(await usernames(page), api.objects.map((e) => e.username));
  await untilText(page, "#stat-total", /^48$/, "the summary counts the 48 seeded endpoints");
  const registered = Number(await page.textContent("#stat-registered"));
  assert.equal(registered + Number(await page.textContent("#stat-unregistered")), 48);
  assert.match(await page.textContent("#status"), /Connected · Plivo · direct mode/);
  assert.match(await page.textContent("#page-info"), /1–20 of 48/);
  assert.equal(await page.isDisabled("#filters input[name=aliasContains]"), true, "Plivo has no filters");
  await shot(page, "demo-page");
  await shot(page, "panel-connect", "#connect");
  await shot(page, "panel-endpoints-plivo", "#endpoints");
  assert.deepEqual(page.problems, []);
});

pageTest("Vobiz: a filter and a page change", async () => {
  const page = await open("?dialect=vobiz");
  await page.selectOption("#page-size", "10");
  await untilText(page, "#page-info", /^1–10 of/);
  await page.fill("#filters input[name=aliasContains]", "desk");
  await page.click("#filters button[type=submit]");
  await untilText(page, "#page-info", /^1–10 of 16$/, "the filtered first page");
  const first = await usernames(page);
  const aliases = await page.$$eval("#endpoint-table tbody tr[data-id] td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
  assert.ok(aliases.every((a) => a.includes("desk")), aliases.join());
  await untilText(page, "#stat-total", /^16$/, "the summary counts the filtered endpoints");
  await page.click("#next-page");
  await untilText(page, "#page-info", /^11–16 of 16$/, "the second filtered page");
  const second = await usernames(page);
  assert.equal(second.length, 6);
  assert.ok(second.every((u) => !first.includes(u)), "a different page");
  assert.equal(await page.isDisabled("#next-page"), true);
  await shot(page, "panel-endpoints-vobiz-filtered", "#endpoints");
  assert.deepEqual(page.problems, []);
});

pageTest("create, edit, rotate and delete an endpoint", async () => {
  const page = await open("?dialect=vobiz");
  await page.fill("#create-form input[name=username]", "deskphone7");
  await page.fill("#create-form input[name=password]", secret("first-pass-1"));
  await page.fill("#create-form input[name=alias]", "desk-7");
  await page.click("#create-button");
  await page.waitForSelector("#create-result:not([hidden])");
  assert.match(await page.textContent("#create-result"), /Created deskphone7/);
  const row = page.locator("#endpoint-table tbody tr", { hasText: "deskphone7" });
  await row.waitFor();
  const id = await row.getAttribute("data-id");
  await untilText(page, "#stat-total", /^49$/, "the summary counts the new endpoint");
  await shot(page, "create-done", "#endpoints");

  await row.locator("button[data-action=edit]").click();
  await page.waitForSelector("#edit-dialog[open]");
  await page.fill("#edit-form input[name=alias]", "desk-8");
  await shot(page, "dialog-edit", "#edit-dialog");
  await page.click("#edit-form button[value=save]");
  await page.locator("#endpoint-table tbody tr", { hasText: "desk-8" }).waitFor();
  assert.equal((await vobizEndpoint(id)).alias, "desk-8", "the platform has the new alias");

  await page.locator(`#endpoint-table tbody tr[data-id="${id}"] button[data-action=rotate]`).click();
  await page.waitForSelector("#rotate-dialog[open]");
  const password = secret(await page.inputValue("#rotate-form input[name=password]"));
  assert.equal(password.length, 24);
  assert.equal(await page.inputValue("#rotate-form input[name=username]"), "deskphone7");
  await page.click("#copy-password");
  await until(page, () => document.querySelector("#copy-status").textContent !== "", null, "the copy is confirmed");
  await shot(page, "dialog-rotate", "#rotate-dialog");
  const stored = await vobizEndpoint(id);
  assert.equal(stored.password, createHash("md5").update(password).digest("hex"), "the shown password is the one set");
  await page.click("#rotate-form button[value=close]");
  // The dialog clears the password in its `close` event, which fires after the click.
  await until(
    page,
    () => !document.querySelector("#rotate-dialog").open && document.querySelector("#rotate-form input[name=password]").value === "",
    null,
    "shown once, then gone from the page",
  );

  await page.locator(`#endpoint-table tbody tr[data-id="${id}"] button[data-action=delete]`).click();
  await page.waitForSelector("#delete-dialog[open]");
  assert.match(await page.textContent("#delete-title"), /deskphone7/);
  await shot(page, "dialog-delete", "#delete-dialog");
  await page.click("#delete-form button[value=delete]");
  await untilText(page, "#stat-total", /^48$/, "the summary no longer counts it");
  await page.locator(`#endpoint-table tbody tr[data-id="${id}"]`).waitFor({ state: "detached" });
  assert.deepEqual(page.problems, []);
});

pageTest("an invalid username shows the library's message and sends nothing", async () => {
  // Every fetch the page starts is recorded as it starts (the library calls fetch within
  // the event's microtasks), so the record is complete once the page has answered us.
  const recordFetches = () => {
    window.fetchesStarted = [];
    const fetch = window.fetch;
    window.fetch = function (input, init) {
      window.fetchesStarted.push(`${init?.method ?? input?.method ?? "GET"} ${input?.url ?? input}`);
      return fetch.call(this, input, init);
    };
  };
  const page = await open("?dialect=plivo", { initScripts: [recordFetches] });
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#create-form input[name=username]", "1bad_name");
  await page.fill("#create-form input[name=password]", secret("good-pass"));
  await page.fill("#create-form input[name=alias]", "desk");
  await untilText(page, '#create-form .field-error[data-for="username"]', /Invalid username "1bad_name".*letters and digits/);
  await until(page, () => document.querySelector("#create-button").disabled, null, "the create button is disabled");
  await page.press("#create-form input[name=alias]", "Enter");
  await page.fill("#create-form input[name=password]", "abc");
  await untilText(page, '#create-form .field-error[data-for="password"]', /at least 5/);
  await shot(page, "create-invalid", "#create");
  const started = await page.evaluate(() => window.fetchesStarted);
  assert.deepEqual(started.filter((f) => !f.startsWith("GET")), [], "the page started no create");
  assert.deepEqual((await requests()).filter((r) => r.startsWith("POST")), [], "the sandbox saw no create");
  assert.deepEqual(page.problems, []);
});

pageTest("a token with a chosen lifetime shows its claims and counts down", async () => {
  const page = await open("?dialect=plivo");
  await page.fill("#ttl-seconds", "900");
  await untilText(page, "#ttl-human", /^15 min$/);
  const before = Math.floor(Date.now() / 1000);
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const after = Math.ceil(Date.now() / 1000);
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.ok(claims.exp >= before + 895 && claims.exp <= after + 900, `exp ${claims.exp} for 900 s asked between ${before} and ${after}`);
  assert.equal(claims.iss, AUTH_ID);
  assert.equal(claims.sub, await page.inputValue("#token-form select[name=sub]"));
  assert.deepEqual(claims.per.voice, { incomingAllow: true, outgoingAllow: true });
  assert.deepEqual(JSON.parse(await page.textContent("#token-header")), { alg: "HS256", cty: "plivo;v=1", typ: "JWT" });
  await untilText(page, "#token-countdown", /Expires in 1[45]:\d\d/);
  await shot(page, "panel-token", "#token");
  assert.deepEqual(page.problems, []);
});

pageTest("a lifetime of 24 h + 1 s shows the range message and disables the button", async () => {
  const page = await open("?dialect=plivo");
  await sandbox("DELETE", "/__sandbox/requests");
  await page.fill("#ttl-seconds", "86401");
  const message = await untilText(page, "#ttl-error", /EXP_OUT_OF_RANGE/);
  assert.match(message, /180 to 86400 s/);
  assert.match(message, /86401 s/);
  await until(page, () => document.querySelector("#token-button").disabled, null, "the token button is disabled");
  await shot(page, "token-out-of-range", "#token");
  await page.fill("#ttl-seconds", "86400");
  await until(page, () => !document.querySelector("#token-button").disabled, null, "the token button is enabled again");
  assert.equal((await requests()).filter((r) => r.includes("JWT")).length, 0);
  assert.deepEqual(page.problems, []);
});

pageTest("a started provider refreshes on its own", async () => {
  const page = await open("?dialect=plivo", { clock: true });
  await page.fill("#ttl-seconds", "180");
  // A 3-minute token with a 170 s margin is due 10 s after it arrives.
  await page.fill("#margin", "170");
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  await untilText(page, "#provider-left", /left/);
  assert.match(await page.textContent("#snippet"), /refreshMarginSeconds: 170/);
  assert.match(await page.textContent("#snippet"), /keepLoggedIn\(plivo\.client, provider/);
  // Ten seconds of the page's time pass at once; the refresh is then fetched for real.
  await page.clock.runFor(11_000);
  await until(
    page,
    () => document.querySelectorAll('#provider-log li[data-type="tokenRefreshed"]').length >= 2,
    null,
    "a second token arrives without being asked for",
  );
  assert.equal(await page.locator('#provider-log li[data-type="tokenWillExpire"]').count(), 1);
  await shot(page, "panel-login", "#login");
  await page.click("#provider-stop");
  await untilText(page, "#provider-left", /No provider running/);
  assert.deepEqual(page.problems, []);
});

/** The badge of the row of `username` in the endpoints table. */
const badge = (page, username) => page.locator("#endpoint-table tbody tr", { hasText: username }).locator(".badge").textContent();

pageTest("Plivo: Log in logs the real SDK in with the provider; the row turns Registered and back on Log out", async () => {
  const page = await open("?dialect=plivo", { ignore: SDK_OFFLINE, ignoreUncaught: SDK_UNCAUGHT });
  // What leaves the page for Plivo's own hosts (the SDK's stats, logs and audio files).
  const leaving = [];
  context.on("request", (request) => /plivo\.com/.test(new URL(request.url()).hostname) && leaving.push(request.url()));
  const sub = await page.inputValue("#token-form select[name=sub]");
  assert.equal(await badge(page, sub), "Offline");
  await page.click("#sdk-login");
  await untilText(page, "#sdk-status", /^Logged in as /, "the SDK logged in");
  assert.equal(await page.textContent("#sdk-status"), `Logged in as ${sub}_${AUTH_ID}`, "the SIP user is sub_iss");
  await untilText(page, "#provider-log", /tokenRefreshed/, "the provider started for the login");
  assert.match(await page.textContent("#sdk-log"), /loggedIn\s*Logged in as /, "keepLoggedIn's events are shown");
  // The row turns Registered without a reload: the page watches the registrations
  // (watchRegistrations, a walk every 3 s), and the change shows in its own column.
  await until(page, (sub) => [...document.querySelectorAll("#endpoint-table tbody tr")].some((r) => r.cells[0].textContent === sub && r.querySelector(".badge").textContent === "Registered"), sub, "the row shows the registration");
  assert.match(await page.locator("#endpoint-table tbody tr", { hasText: sub }).locator("td.changed").textContent(), /^registered \d/);
  await untilText(page, "#watch-status", /watched live/);
  assert.equal(await page.textContent("#stat-registered"), "1");
  await untilText(page, "#sdk-registration", /next refresh in 0[01]:\d\d/, "the registration's next refresh");
  await untilText(page, "#sdk-token", /expires .*, (59|60):\d\d left/, "the token the registrar took, one hour");
  const api = await rawEndpoint(`/v1/Account/${AUTH_ID}/Endpoint/?limit=20`);
  assert.equal(api.objects.find((e) => e.username === sub).sip_user_agent, "plivo-browser-sdk 2.2.21");
  await shot(page, "panel-login-logged-in", "#login");
  // The page's policy kept the SDK's calls to Plivo (they carry the token) on this machine.
  assert.deepEqual(leaving, [], "nothing left for Plivo's hosts");
  assert.match(page.consoleLines.join("\n"), /Connecting to 'https:\/\/stats\.plivo\.com\/.*violates the following Content Security Policy/, "the console says the policy refused it");
  await page.click("#sdk-logout");
  await untilText(page, "#sdk-status", /^Logged out$/, "logged out");
  await until(page, (sub) => [...document.querySelectorAll("#endpoint-table tbody tr")].some((r) => r.cells[0].textContent === sub && r.querySelector(".badge").textContent === "Offline"), sub, "the row is Offline again");
  assert.match(await page.locator("#endpoint-table tbody tr", { hasText: sub }).locator("td.changed").textContent(), /^unregistered \d/);
  assert.deepEqual(page.problems, []);
});

pageTest("a call between two tabs of the demo: one logs in as another endpoint, the first calls it, it answers, both show the call, one hangs up", async () => {
  const first = await open("?dialect=plivo", { ignore: SDK_OFFLINE, ignoreUncaught: SDK_UNCAUGHT });
  await context.grantPermissions(["microphone"], { origin: SANDBOX });
  const second = await watchedPage(SDK_OFFLINE, SDK_UNCAUGHT);
  await second.goto(`${SANDBOX}/?dialect=plivo`);
  await second.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  assert.match(await first.textContent("#call .note"), /open this page in a second tab/, "the page says how to receive a call");
  // The second tab's token is for another endpoint.
  const options = await second.$$eval("#token-form select[name=sub] option", (o) => o.map((x) => x.value).filter(Boolean));
  await second.selectOption("#token-form select[name=sub]", options[1]);
  for (const page of [first, second]) {
    await page.click("#sdk-login");
    await untilText(page, "#sdk-status", /^Logged in as /, "the SDK logged in");
  }
  const address = await second.textContent("#call-address");
  assert.equal(address, `${options[1]}_${AUTH_ID}`, "the address to call is shown");
  await first.fill("#call-to", address);
  await first.click("#call-dial");
  await untilText(second, "#call-state", new RegExp(`^Incoming call from ${options[0]}`), "the second tab rings");
  await untilText(first, "#call-state", /^Ringing/, "the first tab hears it ring");
  await second.click("#call-answer");
  await untilText(first, "#call-state", /^In a call/, "the caller's tab shows the call");
  await untilText(second, "#call-state", /^In a call/, "the callee's tab too");
  await shot(first, "panel-call", "#call");
  await second.click("#call-hangup");
  await untilText(first, "#call-state", /^Call ended by the other side$/, "the hang-up reaches the caller");
  await untilText(second, "#call-state", /^Call ended$/);
  assert.equal(await first.isDisabled("#call-dial"), false, "ready to call again");
  assert.deepEqual([first.problems, second.problems], [[], []]);
});

pageTest("two tabs of the demo as one endpoint: one registers, the other says so; Use this tab moves the registration", async () => {
  const first = await open("?dialect=plivo", { ignore: SDK_OFFLINE, ignoreUncaught: SDK_UNCAUGHT });
  const second = await watchedPage(SDK_OFFLINE, SDK_UNCAUGHT);
  await second.goto(`${SANDBOX}/?dialect=plivo`);
  await second.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  const sub = await first.inputValue("#token-form select[name=sub]");
  assert.equal(await second.inputValue("#token-form select[name=sub]"), sub, "the same endpoint");
  const user = `${sub}_${AUTH_ID}`;
  await first.click("#sdk-login");
  await untilText(first, "#sdk-status", /^Logged in as /, "the first tab logged in");
  await second.click("#sdk-login");
  await untilText(second, "#sdk-status", /^Registered in another tab of this browser$/, "the second tab waits");
  assert.equal(await second.isVisible("#sdk-take"), true);
  assert.equal(await first.isVisible("#sdk-take"), false);
  assert.equal((await bindingsOf(sub)).length, 1, "one registration");
  await shot(second, "panel-login-other-tab", "#sdk");
  await second.click("#sdk-take");
  await untilText(second, "#sdk-status", new RegExp(`^Logged in as ${user}$`), "the second tab took it");
  await untilText(first, "#sdk-status", /^Registered in another tab of this browser$/, "the first tab waits now");
  assert.equal(await first.isVisible("#sdk-take"), true);
  await untilTrue(async () => (await bindingsOf(sub)).length === 1, "one registration again: the first tab logged out");
  // A call to the endpoint, from a third tab logged in as another: it rings in the tab
  // that holds the registration, and only there.
  await context.grantPermissions(["microphone"], { origin: SANDBOX });
  const third = await watchedPage(SDK_OFFLINE, SDK_UNCAUGHT);
  await third.goto(`${SANDBOX}/?dialect=plivo`);
  await third.waitForSelector("#endpoint-table tbody tr[data-id]", { timeout: 20000 });
  const other = (await third.$$eval("#token-form select[name=sub] option", (o) => o.map((x) => x.value))).find((v) => v && v !== sub);
  await third.selectOption("#token-form select[name=sub]", other);
  await third.click("#sdk-login");
  await untilText(third, "#sdk-status", /^Logged in as /, "the caller's tab logged in");
  await third.fill("#call-to", user);
  await third.click("#call-dial");
  await untilText(second, "#call-state", new RegExp(`^Incoming call from ${other}`), "it rings in the tab that holds the registration");
  assert.equal(await first.textContent("#call-state"), "No call.", "and not in the other");
  await second.click("#call-decline");
  await untilText(third, "#call-state", /^Call (failed|ended)/, "the caller hears it declined");
  await third.close();
  // Closed, the holder hands it back.
  await second.close();
  await untilText(first, "#sdk-status", /^Logged in as /, "the first tab registers again");
  assert.deepEqual(first.problems, []);
});

pageTest("Vobiz: Log in with the rotated credentials; refusals shown with their reason, a second one stops it", async () => {
  const page = await open("?dialect=vobiz", { ignore: SDK_OFFLINE, ignoreUncaught: SDK_UNCAUGHT });
  await page.click("#sdk-login");
  await untilText(page, "#sdk-error", /Rotate an endpoint's password first/, "no credentials yet");
  await createThenRotate(page, { username: "deskphone", password: "desk-pass-1", alias: "desk" });
  // The registrar refuses twice (a sandbox control): keepLoggedIn tries once more with
  // fresh credentials, then stops, and the page says why.
  await sandbox("POST", "/__sandbox/signalling/refuse", { status: 403, times: 2 });
  await page.click("#sdk-login");
  await untilText(page, "#sdk-status", /^Login failed: Rejected$/, "stopped by the refusals");
  assert.match(await page.textContent("#sdk-error"), /refuses even fresh credentials: Rejected: the username or password is not right/);
  assert.match(await page.textContent("#sdk-log"), /refused\s*The registrar refused the login: Rejected/);
  // Refused once: the second login, with the credentials asked again, gets in.
  await sandbox("POST", "/__sandbox/signalling/refuse", { status: 403 });
  await page.click("#sdk-login");
  await untilText(page, "#sdk-status", /^Logged in as deskphone$/, "the SDK logged in with the rotated password");
  assert.equal(await page.isHidden("#sdk-error"), true, "the error is cleared once logged in");
  await until(page, () => [...document.querySelectorAll("#endpoint-table tbody tr")].some((r) => r.cells[0].textContent === "deskphone" && r.querySelector(".badge").textContent === "Registered"), null, "the row shows the registration");
  await untilText(page, "#sdk-token", /^–$/, "no token in a password login");
  await page.click("#sdk-logout");
  await untilText(page, "#sdk-status", /^Logged out$/, "logged out");
  assert.deepEqual(page.problems, []);
});

pageTest("backend mode: the same flows with no account token in the page", async () => {
  const page = await open("?mode=backend&dialect=plivo&user=alice");
  await sandbox("DELETE", "/__sandbox/requests");
  assert.match(await page.textContent("#status"), /backend mode/);
  assert.equal(await page.isHidden("#connect input[name=authToken]"), true);

  await createThenRotate(page, { username: "viabackend", password: "backend-pass", alias: "backend" });

  await page.fill("#ttl-seconds", "600");
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  const claims = JSON.parse(await page.textContent("#token-claims"));
  assert.equal(claims.iss, AUTH_ID);
  await page.click("#provider-start");
  await page.waitForSelector('#provider-log li[data-type="tokenRefreshed"]');
  await untilText(page, "#snippet", /tokenUrl: "\/backend\/token\?ttl=600/);

  const calls = await requests();
  assert.ok(calls.length > 0 && calls.every((c) => c.includes(" /backend/")), calls.join("\n"));
  const html = await page.content();
  const values = await page.$$eval("input, textarea", (inputs) => inputs.map((i) => i.value).join("\n"));
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  for (const place of [html, values, storage]) assert.ok(!place.includes(AUTH_TOKEN), "no account token in the page");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  await shot(page, "demo-backend-mode");
  assert.deepEqual(page.problems, []);
});

pageTest("nothing is stored, and the page sends its security policy", async () => {
  const response = await fetch(`${SANDBOX}/`);
  const csp = response.headers.get("content-security-policy");
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  const page = await open("?dialect=plivo");
  await page.click("#token-button");
  await page.waitForSelector("#token-result:not([hidden])");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual(page.problems, [], "no CSP violation or error");
});

pageTest("readable on a narrow window", async () => {
  const page = await open("?dialect=vobiz", { viewport: { width: 400, height: 800 } });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
  await shot(page, "demo-narrow");
  assert.deepEqual(page.problems, []);
});
