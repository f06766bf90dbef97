// "Your tile is ready": once a wait ends the tab's title and icon say so,
// and a player who opted in gets a browser notification. The permission is
// asked for only when they opt in, never on load.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, startServer, waitForPixel } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ COOLDOWN_MS: "1500" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the tab says a tile is ready, and notifies only a player who opted in", async () => {
  const page = await openCanvas(browser, `${server.base}/?x=30&y=30&zoom=8`, { permissions: ["notifications"] });
  // Every permission request and notification is recorded (and still made).
  await page.context().addInitScript(() => {
    window.asked = 0;
    window.notified = [];
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title, options) {
        super(title, options);
        window.notified.push(title);
      }
    }
    Recorded.requestPermission = (...args) => {
      window.asked += 1;
      return Real.requestPermission(...args);
    };
    Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
    window.Notification = Recorded;
  });
  await page.reload();
  await page.waitForSelector('.app[data-connection="live"]');
  assert.equal(await page.evaluate(() => window.asked), 0, "not asked on load");
  const title = await page.title();
  const icon = await page.evaluate(() => document.querySelector("link[rel=icon]").href);

  // Not opted in: the title and icon change, no notification.
  await page.click('.swatch[data-color="3"]');
  await clickPixel(page, 30, 30);
  await waitForPixel(page, 30, 30, [0xff, 0x45, 0x00]);
  await page.waitForFunction(() => document.title.includes("Tile ready"), null, { timeout: 10_000 });
  assert.match(await page.getAttribute("link[rel=icon]", "href"), /^data:image\/svg\+xml/);
  assert.deepEqual(await page.evaluate(() => window.notified), []);

  // Opting in asks once; the next wait ends with a notification.
  await page.check(".notify-ready");
  assert.equal(await page.evaluate(() => window.asked), 0, "already granted: nothing to ask");
  await clickPixel(page, 31, 30);
  await page.waitForFunction(
    ([title, icon]) => document.title === title && document.querySelector("link[rel=icon]").href === icon,
    [title, icon],
  );
  await page.waitForFunction(() => window.notified.includes("Your tile is ready"), null, { timeout: 10_000 });
  // Placing again put the tab back as it was until the next wait ended.

  // The choice is kept by this browser.
  await page.reload();
  await page.waitForSelector('.app[data-connection="live"]');
  assert.equal(await page.isChecked(".notify-ready"), true);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a player who opts in on a page that may not notify yet is asked then", async () => {
  const page = await openCanvas(browser, server.base);
  await page.context().addInitScript(() => {
    window.asked = 0;
    const real = Notification.requestPermission.bind(Notification);
    Notification.requestPermission = (...args) => {
      window.asked += 1;
      return real(...args);
    };
  });
  await page.reload();
  await page.waitForSelector('.app[data-connection="live"]');
  assert.equal(await page.evaluate(() => window.asked), 0);
  await page.check(".notify-ready");
  await page.waitForFunction(() => window.asked === 1);
  await page.context().close();
});
