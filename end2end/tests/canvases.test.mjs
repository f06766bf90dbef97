// Several canvases on one deployment: the default at /, another at
// /c/moon, each its own page, size and tiles, side by side in one browser.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

const TOKEN = "an-admin-token-for-the-canvases-test-0123456789";
let server;
let browser;

before(async () => {
  server = await startServer({ CANVASES: "moon:50x40:0:16", ADMIN_TOKEN: TOKEN });
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

test("the moon's own moderators' page wipes a rectangle of the moon only", async () => {
  const fill = (base, x, y, width, height, color) =>
    fetch(`${server.base}${base}/api/admin/fill`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ x, y, width, height, color }),
    });
  assert.equal((await fill("/c/moon", 20, 20, 10, 10, 3)).status, 200);
  assert.equal((await fill("", 20, 20, 10, 10, 3)).status, 200);

  const viewer = await openCanvas(browser, `${server.base}/c/moon`);
  const page = await viewer.context().newPage();
  page.problems = [];
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && page.problems.push(m.text()));
  page.on("pageerror", (e) => page.problems.push(e.message));
  await page.goto(`${server.base}/c/moon/admin`);
  await page.waitForSelector('.admin[data-ready="true"]');
  await page.fill(".admin-token", TOKEN);
  await page.click(".admin-sign-in button");
  await page.waitForSelector(".admin-tools:not([hidden])");
  assert.equal(await page.getAttribute(".topbar a", "href"), "/c/moon/");
  // The moon is 50 x 40: a drag from pixel (20, 20) to (29, 29) of it.
  const box = await page.locator(".admin-board").boundingBox();
  const at = ([x, y]) => [box.x + ((x + 0.5) / 50) * box.width, box.y + ((y + 0.5) / 40) * box.height];
  await page.mouse.move(...at([20, 20]));
  await page.mouse.down();
  await page.mouse.move(...at([25, 25]));
  await page.mouse.move(...at([29, 29]));
  await page.mouse.up();
  assert.equal(await page.textContent(".admin-rect"), "From 20, 20: 10 × 10 pixels");
  await page.click(".admin-wipe");
  await page.waitForFunction(() => document.querySelector(".admin-result").textContent.startsWith("Filled 100 pixels"));

  // The moon's rectangle is white again (on the open page too); the
  // default canvas's, wiped by nobody, is still red.
  await waitForPixel(viewer, 25, 25, [255, 255, 255]);
  const moon = await (await fetch(`${server.base}/c/moon/api/pixel?x=25&y=25`)).json();
  assert.equal(moon.color, 0);
  const earth = await (await fetch(`${server.base}/api/pixel?x=25&y=25`)).json();
  assert.equal(earth.color, 3);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(viewer.problems, []);
  await viewer.context().close();
});
