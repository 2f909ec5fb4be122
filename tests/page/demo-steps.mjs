// Steps on the demo page that more than one test takes.
import assert from "node:assert/strict";
import { secret } from "./harness.mjs";

/**
 * Creates an endpoint through the page's form, then rotates its password: the new one is
 * shown once (24 characters) and the dialog closes. `password` is marked a secret.
 */
export async function createThenRotate(page, { username, password, alias }) {
  await page.fill("#create-form input[name=username]", username);
  await page.fill("#create-form input[name=password]", secret(password));
  await page.fill("#create-form input[name=alias]", alias);
  await page.click("#create-button");
  await page.waitForSelector("#create-result:not([hidden])");
  const row = page.locator("#endpoint-table tbody tr", { hasText: username });
  await row.waitFor();
  await row.locator("button[data-action=rotate]").click();
  await page.waitForSelector("#rotate-dialog[open]");
  assert.equal(secret(await page.inputValue("#rotate-form input[name=password]")).length, 24);
  await page.click("#rotate-form button[value=close]");
  await page.waitForSelector("#rotate-dialog", { state: "hidden" });
}
