// Several canvases on one deployment: the default at /, another at
// /c/moon, each its own page, size and tiles, side by side in one browser.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ CANVASES: "moon:50x40:0:16" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("two canvases side by side keep their own tiles", async () => {
  const listed = await (await fetch(`${server.base}/api/canvases`)).json();
  assert.deepEqual(
    listed.canvases.map((c) => [c.name, c.path, c.width, c.height]),
    [
      ["default", "/", 100, 100],
      ["moon", "/c/moon", 50, 40],
    ],
  );
  const earth = await openCanvas(browser, server.base);
  const moon = await openCanvas(browser, `${server.base}/c/moon`);
  assert.equal(await moon.evaluate(() => document.querySelector(".board-canvas").width), 50);
  assert.equal(await moon.locator(".swatch").count(), 16, "its palette");
  assert.equal(await earth.locator(".swatch").count(), 32);
  // A color of its own is selected when it opens, and the keys that step
  // through the colors stay among its 16.
  const checked = '.swatch[aria-checked="true"]';
  assert.equal(await moon.locator(checked).count(), 1, "black is not among them");
  await moon.locator(".stage").focus();
  await moon.click('.swatch[data-color="15"]');
  await moon.locator(".stage").focus();
  await moon.keyboard.press("]");
  assert.equal(await moon.getAttribute(checked, "data-color"), "0", "after its last, its first");
  await moon.keyboard.press("[");
  assert.equal(await moon.getAttribute(checked, "data-color"), "15");

  // Yellow on the default canvas, blue on the moon, at the same pixel.
  await earth.click('.swatch[data-color="5"]');
  await clickPixel(earth, 20, 20);
  await moon.click('.swatch[data-color="13"]');
  await clickPixel(moon, 20, 20);
  await waitForPixel(earth, 20, 20, [0xff, 0xd6, 0x35]);
  const palette = (await (await fetch(`${server.base}/c/moon/api/info`)).json()).palette;
  const blue = [1, 3, 5].map((i) => parseInt(palette[13].slice(i, i + 2), 16));
  await waitForPixel(moon, 20, 20, blue);
  // A second page of the moon sees the moon's tile, not the earth's.
  const other = await openCanvas(browser, `${server.base}/c/moon`);
  await waitForPixel(other, 20, 20, blue);
  assert.equal((await (await fetch(`${server.base}/c/moon/api/pixel?x=20&y=20`)).json()).color, 13);
  assert.equal((await (await fetch(`${server.base}/api/pixel?x=20&y=20`)).json()).color, 5);
  for (const page of [earth, moon, other]) {
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});
