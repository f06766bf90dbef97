// Growth mid-event: a moderator enlarges the canvas and every open page
// shows the new area, without a reload, and can place in it.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

const TOKEN = "a-token-for-the-growth-test-0123456789";
let server;
let browser;

before(async () => {
  server = await startServer({ ADMIN_TOKEN: TOKEN });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an enlarged canvas reaches the open pages, which place in the new area", async () => {
  const alice = await openCanvas(browser, server.base);
  const bob = await openCanvas(browser, server.base);
  // Alice's tile before the growth stays where it is.
  await alice.click('.swatch[data-color="5"]');
  await clickPixel(alice, 10, 20);
  await waitForPixel(bob, 10, 20, [0xff, 0xd6, 0x35]);

  const grown = await fetch(`${server.base}/api/admin/grow`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ width: 150, height: 120 }),
  });
  assert.equal(grown.status, 200);
  assert.deepEqual(await grown.json(), { width: 150, height: 120 });

  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelector(".board-canvas").width === 150);
    assert.equal(await page.evaluate(() => document.querySelector(".board-canvas").height), 120);
  }
  await waitForPixel(bob, 10, 20, [0xff, 0xd6, 0x35]);

  // Bob places in the new area; Alice sees it.
  await bob.click('.swatch[data-color="13"]');
  await clickPixel(bob, 120, 70);
  const palette = (await (await fetch(`${server.base}/api/info`)).json()).palette;
  const rgb = [1, 3, 5].map((i) => parseInt(palette[13].slice(i, i + 2), 16));
  await waitForPixel(alice, 120, 70, rgb);
  const pixel = await (await fetch(`${server.base}/api/pixel?x=120&y=70`)).json();
  assert.equal(pixel.color, 13);
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.context().close();
  await bob.context().close();
});
