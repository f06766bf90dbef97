// The page in a real browser: hydration, live tiles between two users,
// placing by click.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  artifacts,
  clickPixel,
  launchBrowser,
  layerPixel,
  openCanvas,
  redTemplate,
  startServer,
  waitForLayerPixel,
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

test("the server-rendered page hydrates without warnings and goes live", async () => {
  const page = await openCanvas(browser, server.base);
  // Under its own Content-Security-Policy: the hydration loader runs by its
  // nonce, the WASM compiles, the socket connects, and nothing is refused.
  const response = await fetch(server.base);
  const policy = response.headers.get("content-security-policy");
  assert.match(policy, /script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.equal(await page.title(), "Canvas");
  assert.equal(await page.locator(".swatch").count(), 32);
  assert.equal(await page.locator(".connection").textContent(), "live");
  await page.screenshot({ path: `${artifacts}/desktop.png` });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a tile placed in one tab appears in another", async () => {
  const alice = await openCanvas(browser, server.base);
  const bob = await openCanvas(browser, server.base);

  // Yellow (#ffd635) at (10, 20), clicked on Alice's canvas.
  await alice.click('.swatch[data-color="5"]');
  assert.equal(await alice.getAttribute('.swatch[data-color="5"]', "aria-checked"), "true");
  await clickPixel(alice, 10, 20);

  await waitForPixel(bob, 10, 20, [0xff, 0xd6, 0x35]);
  await waitForPixel(alice, 10, 20, [0xff, 0xd6, 0x35]);
  const pixel = await (await fetch(`${server.base}/api/pixel?x=10&y=20`)).json();
  assert.equal(pixel.color, 5);
  // Bob's neighbouring pixel is untouched (white).
  await waitForPixel(bob, 11, 20, [0xff, 0xff, 0xff]);
  // Both counters show the placement.
  assert.ok(Number(await bob.locator(".placed").textContent()) >= 1);

  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.context().close();
  await bob.context().close();
});

test("a tile placed over the raw protocol reaches a page that loaded before it", async () => {
  const page = await openCanvas(browser, server.base);
  // Another client speaking the wire protocol directly, from a plain page
  // of the same origin.
  const bot = await browser.newPage();
  await bot.goto(`${server.base}/robots.txt`);
  const status = await bot.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.binaryType = "arraybuffer";
        ws.onerror = reject;
        ws.onopen = () => ws.send(new Uint8Array([0x01, 42, 0, 7, 0, 28])); // (42, 7) black
        ws.onmessage = (event) => {
          const frame = new Uint8Array(event.data);
          if (frame[0] === 0x12) resolve(frame[1]); // PlaceResult status
        };
      }),
  );
  assert.equal(status, 0);
  await waitForPixel(page, 42, 7, [0, 0, 0]);
  await bot.close();
  await page.context().close();
});

test("the heatmap toggles over the canvas and marks where tiles were just placed", async () => {
  // A tile placed before the page opens comes from the server's heatmap.
  const earlier = await openCanvas(browser, server.base);
  await clickPixel(earlier, 34, 12);
  await waitForPixel(earlier, 34, 12, [0, 0, 0]);
  await earlier.context().close();

  const page = await openCanvas(browser, server.base);
  assert.equal(await page.isHidden(".heat-canvas"), true);
  await page.click('.swatch[data-color="3"]');
  await clickPixel(page, 30, 12);

  await page.click(".heatmap-toggle");
  assert.equal(await page.getAttribute(".heatmap-toggle", "aria-pressed"), "true");
  assert.equal(await page.isVisible(".heat-canvas"), true);
  // The placed pixel is marked, and the one placed before the page opened;
  // their neighbour is not. The pixel buffer underneath is not touched.
  const marked = (x, y) =>
    page.waitForFunction(
      ([x, y]) => {
        const probe = document.createElement("canvas");
        probe.width = probe.height = 1;
        const ctx = probe.getContext("2d");
        ctx.drawImage(document.querySelector(".heat-canvas"), x, y, 1, 1, 0, 0, 1, 1);
        return ctx.getImageData(0, 0, 1, 1).data[3] > 0;
      },
      [x, y],
      { timeout: 10_000 },
    );
  await marked(30, 12);
  await marked(34, 12);
  assert.equal((await layerPixel(page, ".heat-canvas", 31, 12))[3], 0);
  await page.screenshot({ path: `${artifacts}/screenshot-heatmap.png` });

  await page.click(".heatmap-toggle");
  assert.equal(await page.isHidden(".heat-canvas"), true);
  assert.equal(await page.getAttribute(".heatmap-toggle", "aria-pressed"), "false");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a template from the page's URL shows the pixels that still differ and picks their color", async () => {
  // A 4x1 template: three red pixels, then a transparent one.
  const image = await redTemplate(browser, server.base);

  const link = `${server.base}/?x=61&y=72&zoom=8&template=${encodeURIComponent(image)}&tx=60&ty=70&to=0.8`;
  const page = await openCanvas(browser, link);
  await page.waitForSelector(".template-canvas:not([hidden])");
  const red = [255, 69, 0, 255];
  assert.deepEqual(await layerPixel(page, ".template-canvas", 60, 70), red);
  assert.deepEqual(await layerPixel(page, ".template-canvas", 62, 70), red);
  // Transparent in the template, and outside it: nothing drawn.
  assert.equal((await layerPixel(page, ".template-canvas", 63, 70))[3], 0);
  assert.equal((await layerPixel(page, ".template-canvas", 60, 71))[3], 0);
  await page.click(".template-panel summary");
  assert.equal(await page.textContent(".template-progress"), "3 pixels still differ.");
  assert.equal(await page.textContent(".template-pace"), "0 of 3 pixels right (0%).");
  const loaded = Date.now();
  assert.equal(await page.inputValue(".template-x"), "60");
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector(".template-canvas")).opacity), "0.8");
  await page.screenshot({ path: `${artifacts}/screenshot-template.png` });

  // Black is selected; pointing at a template pixel picks its red, and
  // the placed pixel leaves the overlay.
  await page.click('.swatch[data-color="28"]');
  await clickPixel(page, 61, 70);
  assert.equal(await page.getAttribute('.swatch[data-color="3"]', "aria-checked"), "true");
  await waitForPixel(page, 61, 70, [255, 69, 0]);
  await page.waitForFunction(
    () => document.querySelector(".template-progress").textContent === "2 pixels still differ.",
  );
  assert.equal(await page.textContent(".template-pace"), "1 of 3 pixels right (33%).");
  assert.equal((await layerPixel(page, ".template-canvas", 61, 70))[3], 0);
  // Ten seconds of progress tell the pace: the last pixel at it is under a
  // minute away.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, loaded + 10_500 - Date.now())));
  await clickPixel(page, 62, 70);
  await page.waitForFunction(
    () =>
      document.querySelector(".template-pace").textContent ===
      "2 of 3 pixels right (66%). Under a minute left at the recent pace.",
  );
  // One color at a time: the overlay shows only the selected color's
  // pixels, following the palette.
  await page.check(".template-one-color input");
  assert.deepEqual(await layerPixel(page, ".template-canvas", 60, 70), red);
  await page.click('.swatch[data-color="28"]');
  await waitForLayerPixel(page, ".template-canvas", 60, 70, (p) => p[3] === 0);
  await page.click('.swatch[data-color="3"]');
  await waitForLayerPixel(page, ".template-canvas", 60, 70, (p) => p[3] === 255 && p[0] === 255);
  await page.uncheck(".template-one-color input");
  // The dotted style: a dot per pixel to do, the mask repeating once per
  // canvas pixel (100 across).
  await page.check(".template-dotted input");
  const dots = await page.evaluate(() => {
    const overlay = document.querySelector(".template-canvas");
    const style = getComputedStyle(overlay);
    return {
      dotted: overlay.classList.contains("dotted"),
      mask: style.maskImage || style.webkitMaskImage,
      cols: style.getPropertyValue("--cols").trim(),
    };
  });
  assert.deepEqual({ ...dots, mask: dots.mask.startsWith("radial-gradient") }, { dotted: true, mask: true, cols: "100" });
  await page.screenshot({ path: `${artifacts}/screenshot-template-dotted.png` });
  await page.uncheck(".template-dotted input");
  assert.equal(await page.evaluate(() => document.querySelector(".template-canvas").classList.contains("dotted")), false);
  // The symbols style: each pixel still to do (only 60 now) a 5 × 5 cell,
  // red around red's glyph (a dash, in white), over the image alone.
  await page.check(".template-symbols input");
  await page.waitForSelector("canvas.template-glyphs");
  const cells = await page.evaluate(() => {
    const symbols = document.querySelector("canvas.template-glyphs");
    return [symbols.width, symbols.height, symbols.style.left, symbols.style.width];
  });
  assert.deepEqual(cells, [20, 5, "60%", "4%"]);
  assert.deepEqual(await layerPixel(page, "canvas.template-glyphs", 2, 2), [255, 255, 255, 255], "a dash's middle, pixel 60");
  assert.deepEqual(await layerPixel(page, "canvas.template-glyphs", 2, 0), red, "around it");
  assert.equal((await layerPixel(page, "canvas.template-glyphs", 7, 2))[3], 0, "pixel 61 is right: no symbol");
  await page.screenshot({ path: `${artifacts}/screenshot-template-symbols.png` });
  await page.uncheck(".template-symbols input");
  assert.equal(await page.locator("canvas.template-glyphs").count(), 0);
  // The view's own URL updates keep the template in the link.
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => new URL(location.href).searchParams.has("zoom"));
  assert.equal(new URL(page.url()).searchParams.get("template"), image);

  // The next pixel to fix: the view goes to it and its color is picked;
  // placing it is still the player's click.
  await page.click('.swatch[data-color="28"]');
  await page.click(".template-next");
  assert.equal(await page.getAttribute('.swatch[data-color="3"]', "aria-checked"), "true");
  await page.waitForFunction(() => {
    const query = new URL(location.href).searchParams;
    return Math.abs(Number(query.get("x")) - 60) <= 1 && Math.abs(Number(query.get("y")) - 70) <= 1;
  });

  // Kept in this browser: the canvas's plain address opens with it again.
  const again = await page.context().newPage();
  await again.goto(server.base);
  await again.waitForSelector(".template-canvas:not([hidden])");
  assert.equal(new URL(again.url()).searchParams.get("template"), image);
  assert.equal(new URL(again.url()).searchParams.get("tx"), "60");
  await again.close();

  await page.click(".template-remove");
  assert.equal(await page.isHidden(".template-canvas"), true);
  assert.equal(new URL(page.url()).searchParams.has("template"), false);
  // And forgotten once removed.
  const later = await page.context().newPage();
  await later.goto(server.base);
  await later.waitForSelector('.app[data-connection="live"]');
  const kept = await later.evaluate(() =>
    Object.keys(localStorage).filter((key) => key.startsWith("canvas.template")),
  );
  assert.deepEqual(kept, []);
  assert.equal(await later.isHidden(".template-canvas"), true);
  await later.close();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a template's shades can be dithered, and its link says so", async () => {
  // 16 x 16 of one shade between the palette's light gray and white.
  const scratch = await openCanvas(browser, server.base);
  const image = await scratch.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 16;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#eaeaea";
    ctx.fillRect(0, 0, 16, 16);
    return canvas.toDataURL("image/png");
  });
  await scratch.context().close();
  const progress = (page) => page.textContent(".template-progress");
  const link = `${server.base}/?x=88&y=88&zoom=4&template=${encodeURIComponent(image)}&tx=80&ty=80`;
  const page = await openCanvas(browser, link);
  await page.waitForSelector(".template-canvas:not([hidden])");
  await page.click(".template-panel summary");
  // Each pixel the nearest color: all light gray, none the canvas's white.
  assert.equal(await progress(page), "256 pixels still differ.");
  assert.equal(await page.isChecked(".template-dither input"), false);

  await page.check(".template-dither input");
  await page.waitForFunction(
    () => document.querySelector(".template-progress").textContent !== "256 pixels still differ.",
  );
  // Dithered: light gray and white mixed, about half each.
  const differ = Number((await progress(page)).split(" ")[0]);
  assert.ok(differ > 64 && differ < 192, `${differ} pixels differ`);
  assert.equal(new URL(page.url()).searchParams.get("td"), "1");

  // The link carries it: a page opened from it dithers the same way.
  const shared = await openCanvas(browser, page.url());
  await shared.waitForSelector(".template-canvas:not([hidden])");
  await shared.click(".template-panel summary");
  await shared.waitForFunction(
    (text) => document.querySelector(".template-progress").textContent === text,
    await progress(page),
  );
  assert.equal(await shared.isChecked(".template-dither input"), true);

  await page.uncheck(".template-dither input");
  await page.waitForFunction(
    () => document.querySelector(".template-progress").textContent === "256 pixels still differ.",
  );
  assert.equal(new URL(page.url()).searchParams.has("td"), false);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(shared.problems, []);
  await page.context().close();
  await shared.context().close();
});

test("a template the server watches alerts its open page when another player damages it", async () => {
  // Three red pixels at (80, 70): made right, then watched.
  const image = await redTemplate(browser, server.base);
  const link = `${server.base}/?x=81&y=72&zoom=8&template=${encodeURIComponent(image)}&tx=80&ty=70`;
  const page = await openCanvas(browser, link);
  await page.waitForSelector(".template-canvas:not([hidden])");
  await page.click('.swatch[data-color="3"]');
  for (const x of [80, 81, 82]) {
    await clickPixel(page, x, 70);
    await waitForPixel(page, x, 70, [0xff, 0x45, 0x00]);
  }
  await page.click(".template-panel summary");
  await page.click(".template-watch-button");
  await page.waitForFunction(() => document.querySelector(".template-watch").textContent.includes("3 of 3 right, 0 damaged"));
  const watched = new URL(page.url()).searchParams.get("tw");
  assert.match(watched ?? "", /^\d+$/);
  const progress = await (await fetch(`${server.base}/api/templates/${watched}`)).json();
  assert.deepEqual([progress.total, progress.right, progress.threshold], [3, 3, 2]);

  // Another player paints two of them black: the page is told.
  const vandal = await openCanvas(browser, `${server.base}/?x=81&y=72&zoom=8`);
  await vandal.click('.swatch[data-color="0"]');
  for (const x of [80, 81]) {
    await clickPixel(vandal, x, 70);
    await waitForPixel(vandal, x, 70, [0xff, 0xff, 0xff]);
  }
  await page.waitForFunction(() => document.querySelector(".notice").textContent.includes("was damaged: 2 pixels"));
  await page.waitForFunction(() => document.querySelector(".template-watch").textContent.includes("1 of 3 right, 2 damaged"), null, {
    timeout: 15_000,
  });
  assert.deepEqual(page.problems, []);
  await page.context().close();
  await vandal.context().close();
});

test("two templates at once, each with its own progress, from one link", async () => {
  const image = encodeURIComponent(await redTemplate(browser, server.base));
  const link = `${server.base}/?x=20&y=90&zoom=8&template=${image}&tx=10&ty=90&template2=${image}&tx2=25&ty2=90`;
  const page = await openCanvas(browser, link);
  await page.waitForFunction(() => document.querySelectorAll(".template-canvas:not([hidden])").length === 2);
  await page.click(".template-panel summary");
  const slots = () => page.$$eval(".template-slot", (buttons) => buttons.map((b) => b.textContent));
  await page.waitForFunction(() => document.querySelectorAll(".template-slot")[1].textContent === "2: 0%");
  assert.deepEqual(await slots(), ["1: 0%", "2: 0%", "3: empty"]);

  // The second template's three pixels placed: its progress alone moves.
  await page.click('.swatch[data-color="3"]');
  for (const x of [25, 26, 27]) {
    await clickPixel(page, x, 90);
    await waitForPixel(page, x, 90, [0xff, 0x45, 0x00]);
  }
  await page.waitForFunction(() => document.querySelectorAll(".template-slot")[1].textContent === "2: 100%");
  assert.deepEqual(await slots(), ["1: 0%", "2: 100%", "3: empty"]);
  await page.click(".template-slot >> nth=1");
  assert.equal(await page.textContent(".template-pace"), "3 of 3 pixels right (100%).");
  assert.equal(await page.inputValue(".template-x"), "25");
  // Removing the second keeps the first, in the page and in its link.
  await page.click(".template-remove");
  await page.waitForFunction(() => document.querySelectorAll(".template-canvas:not([hidden])").length === 1);
  const url = new URL(page.url());
  assert.equal(url.searchParams.has("template2"), false);
  assert.equal(url.searchParams.get("tx"), "10");
  // An empty slot keeps no canvas-sized overlay: its canvas is one pixel.
  const widths = await page.$$eval(".template-canvas", (all) => all.map((canvas) => canvas.width));
  assert.ok(widths[0] > 1, `${widths}`);
  assert.deepEqual(widths.slice(1), [1, 1]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
