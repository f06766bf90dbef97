// Time travel on the page: the history slider shows the canvas as it was
// (from an archived PNG, then placements replayed from the history), plays
// it as a timelapse, and returns to the live canvas without a reload.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  artifacts,
  clickPixel,
  launchBrowser,
  layerPixel,
  openCanvas,
  slideTo,
  startServer,
  waitForPixel,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  // Archive every half second so the test sees one.
  server = await startServer({ SNAPSHOT_INTERVAL_MS: "500" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function archivedSeqs() {
  const list = await (await fetch(`${server.base}/api/snapshots`)).json();
  return list.snapshots.map((s) => s.seq);
}


const white = [255, 255, 255, 255];
const red = [255, 69, 0, 255];
const blue = [36, 80, 164, 255];

test("the history slider shows an older canvas, plays it, and returns to live", async () => {
  // Zoomed in on the pixels the test places, for the screenshot.
  const page = await openCanvas(browser, `${server.base}/?x=6&y=6&zoom=20`);
  // Seq 1: red at (5,5), archived; then seqs 2 and 3: blue at (5,5) and (6,5).
  await page.click('.swatch[data-color="3"]');
  await clickPixel(page, 5, 5);
  await waitForPixel(page, 5, 5, red.slice(0, 3));
  const deadline = Date.now() + 10_000;
  while (!(await archivedSeqs()).includes(1)) {
    assert.ok(Date.now() < deadline, "seq 1 was archived");
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('.swatch[data-color="13"]');
  await clickPixel(page, 5, 5);
  await clickPixel(page, 6, 5);
  await waitForPixel(page, 6, 5, blue.slice(0, 3));
  await page.evaluate(() => (window.notReloaded = true));

  await page.click(".history-panel summary");
  await page.waitForSelector(".travel-canvas:not([hidden])");
  // The archived canvas itself.
  await slideTo(page, 1);
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 5, 5), red);
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 6, 5), white);
  assert.match(await page.textContent(".history-label"), /rebuilt from the archive of/);
  // The archive plus one placement replayed from the history.
  await slideTo(page, 2);
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 5, 5), blue);
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 6, 5), white);
  await page.screenshot({ path: `${artifacts}/screenshot-history.png` });
  // Before anything was placed: blank.
  await slideTo(page, 0);
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 5, 5), white);
  // Placing is for the live canvas only.
  await clickPixel(page, 8, 8);
  assert.match(await page.textContent(".notice"), /go back to live to place/);

  // The timelapse runs from the start to now.
  await page.click(".history-play");
  await page.waitForFunction(() =>
    document.querySelector(".history-play").textContent === "Play" &&
    document.querySelector(".history-label").textContent.startsWith("Tile 3 of 3"),
  );
  assert.deepEqual(await layerPixel(page, ".travel-canvas", 6, 5), blue);

  // Back to live, without a reload; tiles placed meanwhile show.
  await page.click(".history-live");
  await page.waitForSelector(".travel-canvas[hidden]", { state: "attached" });
  assert.equal(await page.getAttribute(".history-panel", "open"), null);
  await clickPixel(page, 7, 5);
  await waitForPixel(page, 7, 5, blue.slice(0, 3));
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
