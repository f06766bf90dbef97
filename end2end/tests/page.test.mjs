// The page as people use it: navigating, the keyboard, a phone, and what
// shows without JavaScript.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  artifacts,
  clickPixel,
  launchBrowser,
  openCanvas,
  startServer,
  waitForPixel,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The board's current CSS transform scale. */
const scale = (page) =>
  page.evaluate(() => new DOMMatrix(getComputedStyle(document.querySelector(".board")).transform).a);

/** Draws a small picture over the raw protocol, as another user would. */
async function drawPicture(page) {
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.binaryType = "arraybuffer";
        ws.onerror = reject;
        const tiles = [];
        for (let y = 0; y < 100; y++) {
          for (let x = 0; x < 100; x++) {
            const d = Math.hypot(x - 50, y - 50);
            const ring = Math.floor(d / 7);
            if (d < 42) tiles.push([x, y, [3, 4, 5, 8, 14, 17, 20, 23][ring % 8]]);
          }
        }
        let answered = 0;
        ws.onopen = () => {
          for (const [x, y, c] of tiles) ws.send(new Uint8Array([0x01, x, 0, y, 0, c]));
        };
        ws.onmessage = (event) => {
          if (new Uint8Array(event.data)[0] === 0x12 && ++answered === tiles.length) {
            ws.close();
            resolve();
          }
        };
      }),
  );
}

test("screenshots of desktop and phone", async () => {
  const bot = await browser.newPage();
  await bot.goto(`${server.base}/robots.txt`);
  await drawPicture(bot);
  await bot.close();
  for (const [name, options] of [
    ["desktop", { viewport: { width: 1280, height: 800 } }],
    ["phone", { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }],
  ]) {
    const page = await openCanvas(browser, server.base, options);
    await waitForPixel(page, 50, 50, [0xff, 0x45, 0x00]);
    await page.screenshot({ path: `${artifacts}/screenshot-${name}.png` });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test("zooming and panning move the view and the URL, and the view restores", async () => {
  const page = await openCanvas(browser, server.base);
  const before = await scale(page);
  const stage = await page.locator(".stage").boundingBox();
  const centre = { x: stage.x + stage.width / 2, y: stage.y + stage.height / 2 };

  await page.mouse.move(centre.x, centre.y);
  await page.mouse.wheel(0, -500);
  await page.waitForFunction((before) => {
    const m = new DOMMatrix(getComputedStyle(document.querySelector(".board")).transform);
    return m.a > before * 1.5;
  }, before);
  await page.click(".zoom-in");
  assert.ok((await scale(page)) > before * 2);

  // Drag to pan: the view moves, and the drag places nothing.
  const placedBefore = await page.locator(".placed").textContent();
  await page.mouse.move(centre.x, centre.y);
  await page.mouse.down();
  await page.mouse.move(centre.x + 120, centre.y + 60, { steps: 6 });
  await page.mouse.up();
  await page.waitForFunction(() => location.search.includes("zoom="));
  const url = new URL(page.url());
  const [x, y, zoom] = ["x", "y", "zoom"].map((k) => Number(url.searchParams.get(k)));
  assert.ok(x < 50 && y < 50, `panned left and up: ${url.search}`);
  assert.ok(zoom > before * 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await page.locator(".placed").textContent(), placedBefore);

  // The same URL opens the same view.
  const shared = await openCanvas(browser, page.url());
  const restored = await scale(shared);
  assert.ok(Math.abs(restored - zoom) < 0.05, `${restored} vs ${zoom}`);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(shared.problems, []);
  await page.context().close();
  await shared.context().close();
});

test("the keyboard moves the reticle, picks a color and places", async () => {
  const page = await openCanvas(browser, `${server.base}/?x=20&y=30&zoom=4`);
  await page.focus(".stage");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("4"); // the fourth color: red #ff4500
  assert.equal(await page.getAttribute('.swatch[data-color="3"]', "aria-checked"), "true");
  assert.equal(await page.locator(".coords").textContent(), "21, 31");
  await page.keyboard.press("Enter");
  await waitForPixel(page, 21, 31, [0xff, 0x45, 0x00]);
  // Who placed it shows once the reticle rests there.
  await page.waitForFunction(() =>
    document.querySelector(".pixel-info").textContent.includes("placed by"),
  );
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a phone-sized screen can place by tap", async () => {
  const page = await openCanvas(browser, server.base, {
    viewport: { width: 360, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const palette = await page.locator(".palette").boundingBox();
  assert.ok(palette.width <= 360, `palette fits: ${palette.width}`);
  // Every control under the thumb, the panels' too, is at least 44 px tall
  // (a checkbox's target is its label).
  for (const panel of [".template-panel", ".history-panel", ".report-panel", ".leaderboard-panel"]) {
    await page.tap(`${panel} summary`);
  }
  const small = await page.evaluate(() =>
    [...document.querySelectorAll(
      ".dock button, .dock summary, .dock input:not([type=checkbox]), .dock select, .ready-alerts label, .zoom-controls button",
    )]
      .filter((e) => e.checkVisibility())
      .map((e) => [e.className || e.tagName, e.getBoundingClientRect().height])
      .filter(([, height]) => height < 44),
  );
  assert.deepEqual(small, []);
  for (const panel of [".template-panel", ".history-panel", ".report-panel", ".leaderboard-panel"]) {
    await page.tap(`${panel} summary`);
  }
  await page.tap('.swatch[data-color="8"]'); // green #00cc78
  const canvas = await page.locator(".board-canvas").boundingBox();
  await page.touchscreen.tap(
    canvas.x + (50.5 / 100) * canvas.width,
    canvas.y + (50.5 / 100) * canvas.height,
  );
  await waitForPixel(page, 50, 50, [0x00, 0xcc, 0x78]);
  await page.screenshot({ path: `${artifacts}/phone.png` });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a first visit shows how to place until the canvas is touched, then never again", async () => {
  const page = await openCanvas(browser, server.base);
  await page.waitForSelector(".place-hint:not([hidden])");
  assert.match(await page.textContent(".place-hint"), /Pick a color below/);
  const stage = await page.locator(".stage").boundingBox();
  // Picking a color, as it says, leaves it up; touching the canvas does not.
  await page.click('.swatch[data-color="5"]');
  assert.equal(await page.isVisible(".place-hint"), true);
  await clickPixel(page, 30, 30);
  await page.waitForSelector(".place-hint", { state: "hidden" });
  assert.deepEqual(await page.locator(".stage").boundingBox(), stage, "the hint moved nothing");
  await page.reload();
  await page.waitForSelector('.app[data-connection="live"]');
  await page.waitForTimeout(300);
  assert.equal(await page.isVisible(".place-hint"), false);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("without JavaScript the page shows the canvas, the figures and its meta tags", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(server.base);
  const image = page.locator("img.board-image");
  await image.waitFor();
  const loaded = await image.evaluate((img) => img.complete && img.naturalWidth);
  assert.equal(loaded, 100, "the canvas image loaded at its real size");
  assert.match(await page.locator(".placed").textContent(), /^\d+$/);
  assert.match(await page.locator(".online").textContent(), /^\d+$/);
  const og = await page.getAttribute('meta[property="og:image"]', "content");
  assert.ok(og.startsWith(`${server.base}/api/canvas.png`), og);
  assert.ok(await page.getAttribute('meta[name="description"]', "content"));
  await page.screenshot({ path: `${artifacts}/no-javascript.png` });
  await context.close();
});
