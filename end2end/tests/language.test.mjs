// Two languages: a French browser gets the page in French, rendered so by
// the server (a crawler too); the switch goes to English and the choice
// stays; what the page says as it goes follows the language.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ COOLDOWN_MS: "60000", ADMIN_TOKEN: "a-token-for-the-language-test-0123456789abcdef" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a French browser gets the page in French and may switch to English", async () => {
  // The server renders it in French: without JavaScript too.
  const html = await (await fetch(server.base, { headers: { "accept-language": "fr-FR,fr;q=0.9,en;q=0.5" } })).text();
  assert.match(html, /<html lang="fr"/);
  assert.match(html, /Prêt à poser/);
  assert.match(html, /Pixels posés/);
  const admin = await (await fetch(`${server.base}/admin`, { headers: { "accept-language": "fr" } })).text();
  assert.match(admin, /Modération de Canvas/);
  assert.match(admin, /Se connecter/);

  const page = await openCanvas(browser, `${server.base}/?x=50&y=50&zoom=8`, { locale: "fr-FR" });
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  assert.equal(await page.textContent(".cooldown-text"), "Prêt à poser");
  assert.equal(await page.getAttribute('.swatch[data-color="3"]', "aria-label"), "rouge");
  // What the browser says itself is in French too.
  await clickPixel(page, 50, 50);
  await clickPixel(page, 51, 50);
  await page.waitForFunction(() => document.querySelector(".notice").textContent === "Encore un peu de patience.");

  // The switch: English, and it stays so on the next visit.
  await Promise.all([page.waitForNavigation(), page.selectOption(".language-switch", "en")]);
  await page.waitForSelector('.app[data-connection="live"]');
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.match(await page.textContent(".cooldown-text"), /^(Ready to place|Next tile in)/);
  assert.equal(await page.textContent(".template-panel summary"), "Template");
  await page.goto(server.base);
  await page.waitForSelector('.app[data-connection="live"]');
  assert.equal(await page.getAttribute("html", "lang"), "en", "the choice is kept");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
