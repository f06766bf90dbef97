// Leaderboards and players' pages: a player who placed shows on the board
// (which updates itself while open), and their name leads to their page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ COOLDOWN_MS: "0" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a player's tiles put them on the board, whose link opens their page", async () => {
  const page = await openCanvas(browser, `${server.base}/?x=40&y=40&zoom=8`);
  await page.fill(".name-form input", "Quinn");
  await page.click(".name-form button");
  await page.waitForFunction(() => document.querySelector(".notice").textContent.includes("Quinn"));
  await page.click(".leaderboard-panel summary");
  await page.waitForSelector(".leaderboard-note");
  // Placed while the panel is open: it updates itself.
  await page.click('.swatch[data-color="13"]');
  for (const x of [40, 41]) {
    await clickPixel(page, x, 40);
    await waitForPixel(page, x, 40, [0x24, 0x50, 0xa4]);
  }
  await page.waitForFunction(
    () => {
      const first = document.querySelector(".leaderboard-list li");
      return first?.textContent.includes("Quinn") && first.querySelector(".leaderboard-score").textContent === "2";
    },
    null,
    { timeout: 15_000 },
  );
  await page.selectOption(".leaderboard-board", { label: "Pixels still standing" });
  await page.waitForFunction(() => document.querySelector(".leaderboard-list .leaderboard-score")?.textContent === "2");

  await page.click(".leaderboard-list a");
  await page.waitForSelector(".player-page");
  assert.equal(await page.textContent(".player-name"), "Quinn");
  assert.equal(await page.textContent(".player-placed"), "2");
  assert.equal(await page.textContent(".player-standing"), "2");
  assert.match(await page.textContent(".player-names"), /Quinn/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
