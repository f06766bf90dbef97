// The moderators' page: sign in with the token, draw a rectangle on the
// canvas, wipe it; the wipe reaches the canvas and the audit log; a freeze
// reaches an open page that does not place.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { artifacts, clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

const TOKEN = "an-admin-token-for-the-browser-test-0123456789";
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

async function canvasBytes() {
  const response = await fetch(`${server.base}/api/canvas`);
  return { bytes: new Uint8Array(await response.arrayBuffer()), seq: Number(response.headers.get("x-canvas-seq")) };
}

/** The canvas once its seq reaches `seq`: the snapshot follows the feed,
 * so it is waited for, not read at once. */
async function canvasAt(seq) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const canvas = await canvasBytes();
    if (canvas.seq >= seq) return canvas;
    assert.ok(Date.now() < deadline, `the canvas stayed at seq ${canvas.seq}, not ${seq}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Drags on the admin canvas from pixel `from` to pixel `to`. */
async function drawRectangle(page, from, to) {
  const box = await page.locator(".admin-board").boundingBox();
  const at = ([x, y]) => [box.x + ((x + 0.5) / 100) * box.width, box.y + ((y + 0.5) / 100) * box.height];
  await page.mouse.move(...at(from));
  await page.mouse.down();
  await page.mouse.move(...at([(from[0] + to[0]) / 2, (from[1] + to[1]) / 2]));
  await page.mouse.move(...at(to));
  await page.mouse.up();
}

test("a moderator signs in on /admin, draws a rectangle and wipes it", async () => {
  // Something to wipe: a 30x30 block of red placed by a fill, and a pixel
  // outside the rectangle.
  const fill = (x, y, width, height, color) =>
    fetch(`${server.base}/api/admin/fill`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ x, y, width, height, color }),
    });
  assert.equal((await fill(10, 10, 30, 30, 3)).status, 200);
  assert.equal((await fill(80, 80, 1, 1, 3)).status, 200);

  const viewer = await openCanvas(browser, server.base);
  const page = await viewer.context().newPage();
  page.problems = [];
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && page.problems.push(m.text()));
  page.on("pageerror", (e) => page.problems.push(e.message));
  await page.goto(`${server.base}/admin`);
  await page.waitForSelector('.admin[data-ready="true"]');
  assert.equal(await page.isHidden(".admin-tools"), true);

  // A wrong token is refused; the right one signs in.
  await page.fill(".admin-token", "not-the-token");
  await page.click(".admin-sign-in button");
  await page.waitForFunction(() => document.querySelector(".admin-result").textContent.startsWith("Not signed in"));
  await page.fill(".admin-token", TOKEN);
  await page.fill(".admin-name", "Mia");
  await page.click(".admin-sign-in button");
  await page.waitForSelector(".admin-tools:not([hidden])");

  await drawRectangle(page, [10, 10], [39, 39]);
  assert.equal(await page.textContent(".admin-rect"), "From 10, 10: 30 × 30 pixels");
  await page.screenshot({ path: `${artifacts}/screenshot-admin.png` });
  const before = (await canvasBytes()).seq;
  await page.click(".admin-wipe");
  await page.waitForFunction(() => document.querySelector(".admin-result").textContent.startsWith("Filled 900 pixels"));

  // The canvas, once it holds the wipe's 900 placements: the rectangle is
  // white, the pixel outside still red.
  const { bytes } = await canvasAt(before + 900);
  for (let y = 10; y < 40; y++) {
    for (let x = 10; x < 40; x++) assert.equal(bytes[y * 100 + x], 0, `pixel ${x},${y}`);
  }
  assert.equal(bytes[80 * 100 + 80], 3);
  // Every open page got it through the feed.
  await viewer.waitForFunction(() => {
    const probe = document.createElement("canvas");
    probe.width = probe.height = 1;
    const ctx = probe.getContext("2d");
    ctx.drawImage(document.querySelector(".board-canvas"), 25, 25, 1, 1, 0, 0, 1, 1);
    return ctx.getImageData(0, 0, 1, 1).data[1] === 255;
  });
  // The audit log shows who wiped what.
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".admin-audit li")].some((li) => li.textContent.includes("Mia") && li.textContent.includes("fill") && li.textContent.includes('"width":30')),
  );
  // Freezing reaches a page that only watches, and unfreezing too.
  assert.equal(await viewer.isHidden(".figure.frozen"), true);
  await page.click(".admin-freeze");
  await page.waitForFunction(() => document.querySelector(".admin-result").textContent.startsWith("The canvas is frozen"));
  await viewer.waitForSelector(".figure.frozen:not([hidden])", { timeout: 10_000 });
  await page.click(".admin-freeze");
  await viewer.waitForSelector(".figure.frozen[hidden]", { state: "attached", timeout: 10_000 });

  // The browser logs the wrong token's 401 itself; nothing else.
  assert.deepEqual(page.problems.filter((p) => !p.includes("401 (Unauthorized)")), []);
  assert.deepEqual(viewer.problems, []);
  await viewer.context().close();
});

test("a player's report reaches /admin, where one click bans whoever placed there", async () => {
  const player = await openCanvas(browser, server.base);
  await player.click('.swatch[data-color="13"]'); // dark blue #2450a4
  await clickPixel(player, 50, 50);
  await waitForPixel(player, 50, 50, [0x24, 0x50, 0xa4]);
  await player.click(".report-panel summary");
  await player.fill("#report-reason", "spam from a bot");
  await player.click('.report-form button[type="submit"]');
  await player.waitForFunction(() => document.querySelector(".notice").textContent.includes("pixel 50, 50 is with the moderators"));

  const page = await player.context().newPage();
  page.problems = [];
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && page.problems.push(m.text()));
  page.on("pageerror", (e) => page.problems.push(e.message));
  await page.goto(`${server.base}/admin`);
  await page.waitForSelector('.admin[data-ready="true"]');
  await page.fill(".admin-token", TOKEN);
  await page.fill(".admin-name", "Mia");
  await page.click(".admin-sign-in button");
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".admin-report")].some((li) => li.textContent.includes("(50, 50)") && li.textContent.includes("spam from a bot")),
  );
  const preview = await page.locator(".admin-report-preview").first().getAttribute("style");
  assert.match(preview, /background-image:\s*url\(/);
  await page.locator(".admin-reports-panel").screenshot({ path: `${artifacts}/screenshot-admin-reports.png` });
  await page.click(".admin-report-ban");
  await page.waitForFunction(() => document.querySelector(".admin-result").textContent === "Report resolved: banned.");
  await page.waitForFunction(() => document.querySelectorAll(".admin-report").length === 0);
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".admin-audit li")].some((li) => li.textContent.includes("resolve-report")),
  );

  // The player who placed there is banned now.
  await clickPixel(player, 51, 51);
  await player.waitForFunction(() => document.querySelector(".notice").textContent.includes("banned"));
  assert.deepEqual(page.problems, []);
  await player.context().close();
});

test("without ADMIN_TOKEN there is no /admin page", async () => {
  const plain = await startServer();
  try {
    assert.equal((await fetch(`${plain.base}/admin`)).status, 404);
  } finally {
    await plain.stop();
  }
});
