// A canvas too large to send whole (4096 x 4096): the page shows only the
// chunks in view, each on a canvas of its own, loads a chunk as it comes
// into view and drops the ones left behind.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  artifacts,
  launchBrowser,
  layerPixel,
  openCanvas,
  redTemplate,
  slideTo,
  startServer,
  waitForLayerPixel,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  // Archived every half second, for time travel's test.
  server = await startServer({
    CANVAS_WIDTH: "4096",
    CANVAS_HEIGHT: "4096",
    SNAPSHOT_INTERVAL_MS: "500",
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const chunk = (cx, cy) => `.chunk-canvas[data-chunk="${cx},${cy}"]`;

const heat = (cx, cy) => `.chunk-heat[data-chunk="${cx},${cy}"]`;

/** Waits until the heatmap over the chunk is a strong red at (x, y). */
async function waitForHeat(page, cx, cy, x, y) {
  const red = ([r, g, b, a]) => r === 255 && g < 60 && b === 0 && a > 200;
  await waitForLayerPixel(page, heat(cx, cy), x, y, red);
}

/** Waits until the chunk's canvas shows `rgb` at its pixel (x, y). */
async function waitForChunkPixel(page, cx, cy, x, y, rgb) {
  const same = (pixel) => rgb.every((value, i) => pixel[i] === value);
  await waitForLayerPixel(page, chunk(cx, cy), x, y, same);
}

/** Drags the view by (dx, dy) screen pixels, `times` times. */
async function drag(page, dx, dy, times) {
  const { width, height } = page.viewportSize();
  const [x, y] = [width / 2, height / 2];
  for (let i = 0; i < times; i++) {
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x + dx, y + dy, { steps: 4 });
    await page.mouse.up();
  }
}

test("panning across chunks loads the new ones, drops the old and shows another page's tiles", async () => {
  // Alice looks at the top-left chunk; Bob at chunk (5, 5).
  const alice = await openCanvas(browser, `${server.base}/?x=128&y=128&zoom=4`);
  await alice.waitForSelector(chunk(0, 0), { state: "attached" });
  assert.equal(await alice.locator(chunk(5, 5)).count(), 0, "only the chunks in view");
  // Under the chunks, the whole canvas shrunk to 1024 x 1024: the first
  // paint, and the view from far out.
  await alice.waitForFunction(() => document.querySelector(".board-image").naturalWidth === 1024);
  assert.equal(
    (await fetch(`${server.base}/api/canvas`)).status,
    409,
    "too large to send whole",
  );

  const bob = await openCanvas(browser, `${server.base}/?x=1400&y=1400&zoom=4`);
  await bob.waitForSelector(chunk(5, 5), { state: "attached" });
  // Yellow (#ffd635) at the centre of Bob's view, placed with the keyboard.
  await bob.click('.swatch[data-color="5"]');
  await bob.locator(".stage").focus();
  await bob.keyboard.press("Enter");
  await waitForChunkPixel(bob, 5, 5, 1400 - 1280, 1400 - 1280, [0xff, 0xd6, 0x35]);

  // Alice drags her view to Bob's area: chunk (5, 5) comes into view with
  // his tile, and the chunks left behind are dropped.
  // Each drag moves the view 200 canvas pixels; the page keeps the view in
  // its URL. Seven take it from (128, 128) to (1528, 1528). (On a loaded
  // machine Chromium has once dropped one of seven: a drag more then.)
  const viewAt = () =>
    alice.evaluate(() => Number(new URL(location.href).searchParams.get("x") ?? 0));
  for (let drags = 0; drags < 10; drags++) {
    await drag(alice, -800, -800, 1);
    await alice.waitForTimeout(300); // the URL follows the view within 250 ms
    if ((await viewAt()) >= 1500) break;
  }
  const search = await alice.evaluate(() => location.search);
  const at = new URLSearchParams(search);
  assert.ok(
    Math.abs(Number(at.get("x")) - 1528) < 40 && Math.abs(Number(at.get("y")) - 1528) < 40,
    `the drags took the view to ${search}`,
  );
  await alice.waitForSelector(chunk(5, 5), { state: "attached", timeout: 30_000 });
  await waitForChunkPixel(alice, 5, 5, 120, 120, [0xff, 0xd6, 0x35]);
  assert.equal(await alice.locator(chunk(0, 0)).count(), 0, "chunk (0, 0) was dropped");

  // Live from now on: Bob's next tile reaches Alice without a reload.
  const palette = (await (await fetch(`${server.base}/api/info`)).json()).palette;
  const rgb = [1, 3, 5].map((i) => parseInt(palette[13].slice(i, i + 2), 16));
  await bob.click('.swatch[data-color="13"]');
  await bob.locator(".stage").focus();
  await bob.keyboard.press("ArrowRight");
  await bob.keyboard.press("Enter");
  await waitForChunkPixel(alice, 5, 5, 121, 120, rgb);
  const pixel = await (await fetch(`${server.base}/api/pixel?x=1401&y=1400`)).json();
  assert.equal(pixel.color, 13);
  // Who placed it shows where Bob's reticle rests.
  await bob.waitForFunction(() =>
    document.querySelector(".pixel-info").textContent.includes("placed by"),
  );

  // The heatmap over the chunks: Bob's first tile (placed before it was
  // shown) from the server's heat of the chunk, his next one live.
  await bob.click(".heatmap-toggle");
  await waitForHeat(bob, 5, 5, 120, 120);
  await bob.keyboard.press("ArrowRight");
  await bob.keyboard.press("Enter");
  await waitForHeat(bob, 5, 5, 122, 120);
  await bob.click(".heatmap-toggle");
  assert.equal(await bob.locator(".chunk-heat").count(), 0, "hidden: its memory let go");
  assert.ok((await alice.locator(".chunk-canvas").count()) <= 64, "memory bounded by the view");

  // The minimap: a click near its top-left corner takes the view there.
  const map = await alice.locator(".minimap").boundingBox();
  await alice.mouse.click(map.x + map.width * 0.02, map.y + map.height * 0.02);
  await alice.waitForSelector(chunk(0, 0), { state: "attached", timeout: 15_000 });
  const frame = await alice.locator(".minimap-view").boundingBox();
  assert.ok(frame.x - map.x < map.width * 0.1, "the view's frame is in the corner");
  await alice.screenshot({ path: `${artifacts}/world.png` });
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.context().close();
  await bob.context().close();
});

test("a template across two chunks counts and draws what differs, and a placement there counts", async () => {
  // A 4x1 template: three red pixels, then a transparent one, its corner
  // at (2046, 2000): two pixels in chunk (7, 7), one in chunk (8, 7).
  const image = await redTemplate(browser, `${server.base}/?x=100&y=100`);

  const link = `${server.base}/?x=2047&y=2000&zoom=8&template=${encodeURIComponent(image)}&tx=2046&ty=2000`;
  const page = await openCanvas(browser, link);
  await page.waitForSelector(chunk(8, 7), { state: "attached" });
  await page.waitForSelector(".template-canvas:not([hidden])");
  // The overlay covers the template's rectangle only, at its place.
  const red = [255, 69, 0, 255];
  assert.deepEqual(await layerPixel(page, ".template-canvas", 0, 0), red);
  assert.deepEqual(await layerPixel(page, ".template-canvas", 2, 0), red);
  assert.equal((await layerPixel(page, ".template-canvas", 3, 0))[3], 0);
  const box = await page.evaluate(() => {
    const style = document.querySelector(".template-canvas").style;
    return [style.left, style.top, style.width];
  });
  assert.deepEqual(box, ["2046px", "2000px", "4px"]);
  await page.click(".template-panel summary");
  await page.waitForFunction(
    () => document.querySelector(".template-progress").textContent === "3 pixels still differ.",
  );

  // Red placed at the view's centre, (2047, 2000): one fewer to do.
  await page.click('.swatch[data-color="3"]');
  await page.locator(".stage").focus();
  await page.keyboard.press("Enter");
  await waitForChunkPixel(page, 7, 7, 2047 - 1792, 2000 - 1792, [255, 69, 0]);
  await page.waitForFunction(
    () => document.querySelector(".template-progress").textContent === "2 pixels still differ.",
  );
  assert.equal((await layerPixel(page, ".template-canvas", 1, 0))[3], 0);
  await page.screenshot({ path: `${artifacts}/world-template.png` });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

const past = (cx, cy) => `.chunk-past[data-chunk="${cx},${cy}"]`;


/** Places the selected color under the reticle; its seq. */
async function placeHere(page, x, y) {
  await page.keyboard.press("Enter");
  for (;;) {
    const pixel = await (await fetch(`${server.base}/api/pixel?x=${x}&y=${y}`)).json();
    if (pixel.seq > 0) {
      return pixel.seq;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("time travel shows each chunk in view as it was, from its archive and the history", async () => {
  // Two chunks side by side: (10, 10) ends at x = 2815, (11, 10) starts at 2816.
  const page = await openCanvas(browser, `${server.base}/?x=2816&y=2600&zoom=8`);
  await page.waitForSelector(chunk(10, 10), { state: "attached" });
  await page.waitForSelector(chunk(11, 10), { state: "attached" });
  await page.locator(".stage").focus();
  // Red at (2816, 2600), archived; then blue at (2815, 2600) and over the red.
  await page.click('.swatch[data-color="3"]');
  await page.locator(".stage").focus();
  const first = await placeHere(page, 2816, 2600);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const list = await (await fetch(`${server.base}/api/snapshots`)).json();
    const entry = list.snapshots.find((s) => s.seq >= first);
    if (entry) {
      assert.equal(entry.by_chunk, true);
      break;
    }
    assert.ok(Date.now() < deadline, "archived by chunk");
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('.swatch[data-color="13"]');
  await page.locator(".stage").focus();
  await page.keyboard.press("ArrowLeft");
  const second = await placeHere(page, 2815, 2600);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Enter");
  await waitForChunkPixel(page, 11, 10, 0, 40, [36, 80, 164]);

  await page.click(".history-panel summary");
  const red = [255, 69, 0, 255];
  const blue = [36, 80, 164, 255];
  const white = [255, 255, 255, 255];
  // Seq `first`: red right of the boundary, white left of it.
  await slideTo(page, first);
  assert.deepEqual(await layerPixel(page, past(11, 10), 0, 40), red);
  assert.deepEqual(await layerPixel(page, past(10, 10), 255, 40), white);
  assert.match(await page.textContent(".history-label"), /rebuilt from the archive of/);
  // Seq `second`: the blue on the left chunk, the red still on the right.
  await slideTo(page, second);
  assert.deepEqual(await layerPixel(page, past(10, 10), 255, 40), blue);
  assert.deepEqual(await layerPixel(page, past(11, 10), 0, 40), red);
  // Before anything was placed there: blank.
  await slideTo(page, first - 1);
  assert.deepEqual(await layerPixel(page, past(11, 10), 0, 40), white);
  await page.screenshot({ path: `${artifacts}/world-history.png` });

  // Back to live: the pasts are gone, the live chunks show the blue.
  await page.click(".history-live");
  assert.equal(await page.locator(".chunk-past").count(), 0);
  await waitForChunkPixel(page, 11, 10, 0, 40, [36, 80, 164]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
