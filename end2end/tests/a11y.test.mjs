// Accessibility: axe-core (the engine of the common checkers) over the
// page, with its panels, the account menu and the first-visit hint open,
// over a canvas served by chunk and over the moderators' page. No serious
// or critical violation may remain.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { launchBrowser, openCanvas, startServer } from "./harness.mjs";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const TOKEN = "an-admin-token-for-the-a11y-test-0123456789abcdef";
let server;
let world;
let browser;

before(async () => {
  server = await startServer({
    ADMIN_TOKEN: TOKEN,
    CHARGES_MAX: "3",
    // The account menu is rendered (its provider is never reached here).
    OIDC_PROVIDERS: "example",
    OIDC_EXAMPLE_ISSUER: "https://id.example",
    OIDC_EXAMPLE_CLIENT_ID: "canvas",
    OIDC_EXAMPLE_NAME: "Example ID",
    PUBLIC_URL: "http://127.0.0.1",
  });
  world = await startServer({ CANVAS_WIDTH: "4096", CANVAS_HEIGHT: "4096" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await world?.stop();
});

/** The serious and critical violations axe finds on the page as it is. */
async function violations(page) {
  await page.addScriptTag({ path: axePath });
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

// axe is injected as a script of its own: the test's context lets it past
// the page's Content-Security-Policy (the page itself is unchanged).
const options = { bypassCSP: true };

test("the page, with its panels open, has no serious accessibility violation, light or dark", async () => {
  for (const colorScheme of ["light", "dark"]) {
    const page = await openCanvas(browser, server.base, { ...options, colorScheme });
    await page.waitForSelector(".place-hint:not([hidden])");
    await page.click(".account-menu summary");
    await page.waitForSelector('a.sign-in[data-provider="example"]');
    await page.click(".chat-panel summary");
    await page.click(".template-panel summary");
    await page.click(".history-panel summary");
    await page.click(".report-panel summary");
    await page.click(".leaderboard-panel summary");
    await page.waitForSelector(".leaderboard-note");
    assert.deepEqual(await violations(page), [], colorScheme);
    await page.context().close();
  }
});

test("a canvas served by chunk has no serious accessibility violation", async () => {
  const page = await openCanvas(browser, world.base, options);
  await page.waitForSelector(".chunk-canvas", { state: "attached" });
  assert.deepEqual(await violations(page), []);
  await page.context().close();
});

test("the moderators' page, signed in, has no serious accessibility violation, light or dark", async () => {
  for (const colorScheme of ["light", "dark"]) {
    const context = await browser.newContext({ ...options, colorScheme });
    const page = await context.newPage();
    await page.goto(`${server.base}/admin`);
    await page.waitForSelector('.admin[data-ready="true"]');
    await page.fill(".admin-token", TOKEN);
    await page.click(".admin-sign-in button");
    await page.waitForSelector(".admin-tools:not([hidden])");
    assert.deepEqual(await violations(page), [], colorScheme);
    await context.close();
  }
});
