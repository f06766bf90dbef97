// The page over time: reconnecting after the server goes away, the display
// name, the cooldown countdown.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test("the page reconnects by itself and shows it", async () => {
  const server = await startServer();
  try {
    const page = await openCanvas(browser, server.base);
    // Record every connection state the page shows.
    await page.evaluate(() => {
      window.states = [];
      const app = document.querySelector(".app");
      new MutationObserver(() => window.states.push(app.dataset.connection)).observe(app, {
        attributes: true,
        attributeFilter: ["data-connection"],
      });
    });
    await server.stop();
    await page.waitForSelector('.app[data-connection="reconnecting"]');
    await server.start(); // the embedded store starts a new, blank epoch
    await page.waitForSelector('.app[data-connection="live"]', { timeout: 20_000 });
    const states = await page.evaluate(() => window.states);
    assert.ok(states.includes("reconnecting"), states.join(","));

    // Placing works on the new connection, and the old canvas is gone.
    await page.click('.swatch[data-color="13"]'); // dark blue #2450a4
    await clickPixel(page, 6, 6);
    await waitForPixel(page, 6, 6, [0x24, 0x50, 0xa4]);
    await page.context().close();
  } finally {
    await server.stop();
  }
});

test("a display name set on the page shows as placed_by", async () => {
  const server = await startServer();
  try {
    const page = await openCanvas(browser, server.base);
    await page.fill("#display-name", "Hedy");
    await page.click('.name-form button[type="submit"]');
    await page.waitForFunction(() =>
      document.querySelector(".notice").textContent.includes("Hedy"),
    );
    await clickPixel(page, 9, 9);
    await waitForPixel(page, 9, 9, [0, 0, 0]);
    const pixel = await (await fetch(`${server.base}/api/pixel?x=9&y=9`)).json();
    assert.equal(pixel.placed_by, "Hedy");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  } finally {
    await server.stop();
  }
});

test("a click during the cooldown shows the countdown", async () => {
  const server = await startServer({ COOLDOWN_MS: "60000" });
  try {
    const page = await openCanvas(browser, server.base);
    await clickPixel(page, 1, 1);
    await waitForPixel(page, 1, 1, [0, 0, 0]);
    await page.waitForSelector(".cooldown.waiting");
    const text = await page.locator(".cooldown-text").textContent();
    assert.match(text, /Next tile in \d+\.\d s/);
    await clickPixel(page, 2, 2);
    await page.waitForFunction(() =>
      document.querySelector(".notice").textContent.includes("cooling down"),
    );
    assert.deepEqual(page.problems, []);
    await page.context().close();
  } finally {
    await server.stop();
  }
});

test("a placement that asks for a challenge is solved in a worker, with progress, then placed", async () => {
  // Every new session must solve one; the shipped difficulty.
  const server = await startServer({ CHALLENGE: "always" });
  try {
    const page = await openCanvas(browser, server.base);
    await page.evaluate(() => {
      window.notices = [];
      const notice = document.querySelector(".notice");
      new MutationObserver(() => window.notices.push(notice.textContent)).observe(notice, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.click('.swatch[data-color="13"]'); // dark blue #2450a4
    await clickPixel(page, 4, 7);
    await waitForPixel(page, 4, 7, [0x24, 0x50, 0xa4], 30_000);
    const notices = await page.evaluate(() => window.notices);
    assert.ok(
      notices.some((n) => /proving this is a browser \(\d+ %\)/.test(n)),
      notices.join(" | "),
    );
    const verified = notices.find((n) => n.startsWith("Verified in"));
    assert.ok(verified, notices.join(" | "));
    console.log(`challenge solved in Chromium: ${verified}`);
    // The session is verified now: the next tile places at once.
    await clickPixel(page, 5, 7);
    await waitForPixel(page, 5, 7, [0x24, 0x50, 0xa4]);
    const answers = await (await fetch(`${server.base}/metrics`)).text();
    assert.match(answers, /canvas_challenge_answers_total\{answer="solved"\} 1\b/);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  } finally {
    await server.stop();
  }
});
