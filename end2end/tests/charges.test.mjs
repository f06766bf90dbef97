// Charges and undo on the page: a player holds three tiles, places two in a
// row, sees what is left, undoes the last (its pixel comes back and so
// does the tile), and is told when there is nothing more to undo.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { artifacts, clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ CHARGES_MAX: "3", COOLDOWN_MS: "60000", UNDO_MS: "30000" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const cooldownText = (page) => page.textContent(".cooldown-text");

test("a player places two of three charges, undoes the last and gets it back", async () => {
  const page = await openCanvas(browser, `${server.base}/?x=20&y=20&zoom=8`);
  await page.waitForFunction(() => document.querySelector(".cooldown-text").textContent === "3 of 3 tiles ready");
  assert.equal(await page.isHidden(".undo"), true, "nothing to undo yet");

  const stage = await page.locator(".stage").boundingBox();
  await page.click('.swatch[data-color="3"]'); // #ff4500
  await clickPixel(page, 20, 20);
  await waitForPixel(page, 20, 20, [0xff, 0x45, 0x00]);
  await clickPixel(page, 21, 20);
  await waitForPixel(page, 21, 20, [0xff, 0x45, 0x00]);
  await page.waitForFunction(() => document.querySelector(".cooldown-text").textContent === "1 of 3 tiles ready");
  await page.waitForSelector(".undo:not([hidden])");
  assert.match(await page.textContent(".undo"), /^Undo \(\d+ s\)$/);
  // The undo and the countdown came without moving the canvas.
  assert.deepEqual(await page.locator(".stage").boundingBox(), stage);
  await page.screenshot({ path: `${artifacts}/charges.png` });

  await page.click(".undo");
  await waitForPixel(page, 21, 20, [0xff, 0xff, 0xff]);
  await page.waitForFunction(() => document.querySelector(".cooldown-text").textContent === "2 of 3 tiles ready");
  assert.match(await page.textContent(".notice"), /Undone/);
  await page.waitForSelector(".undo[hidden]", { state: "attached" });
  const pixel = await (await fetch(`${server.base}/api/pixel?x=21&y=20`)).json();
  assert.equal(pixel.color, 0);
  // The first tile stays; its undo went with the second placement.
  const first = await (await fetch(`${server.base}/api/pixel?x=20&y=20`)).json();
  assert.equal(first.color, 3);

  // The keyboard's undo, with nothing left to undo, says so.
  await page.locator(".stage").focus();
  await page.keyboard.press("u");
  await page.waitForFunction(() => document.querySelector(".notice").textContent.startsWith("Nothing to undo"));
  assert.equal(await cooldownText(page), "2 of 3 tiles ready");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
