// Starts a real canvas-server (the debug build `cargo leptos build` made) on
// a free loopback port, and Debian's Chromium through playwright-core.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const artifacts = `${root}end2end/test-results`;
mkdirSync(artifacts, { recursive: true });

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitUntil(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Starts the server with `env` on top of test defaults, on `port` if given
 * (a test that must name the server's address before it starts).
 */
export async function startServer(env = {}, { port } = {}) {
  port ??= await freePort();
  const server = {
    base: `http://127.0.0.1:${port}`,
    child: null,
    async start() {
      this.child = launch(port, env);
      await waitUntil(async () => (await fetch(`${this.base}/readyz`)).ok, "the server");
    },
    async stop() {
      const child = this.child;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
  await server.start();
  return server;
}

function launch(port, env) {
  return spawn(`${root}target/debug/canvas-server`, [], {
    env: {
      ...process.env,
      APP_HOST: "127.0.0.1",
      APP_PORT: String(port),
      LEPTOS_SITE_ROOT: `${root}target/site`,
      LEPTOS_OUTPUT_NAME: "canvas",
      CANVAS_WIDTH: "100",
      CANVAS_HEIGHT: "100",
      COOLDOWN_MS: "0",
      PLACE_RATE_PER_SEC: "100000",
      MAX_NEW_SESSIONS_PER_IP: "0",
      RUST_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/**
 * Starts a private `redis-server` on a free loopback port (nothing saved
 * to disk), for tests that run several instances on one store.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const ping = () =>
    new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => socket.write("PING\r\n"));
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
      socket.once("error", () => resolve(false));
    });
  await waitUntil(ping, "redis-server");
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Opens the page in a new browser context and waits until it is live:
 * hydrated, snapshot drawn, socket open. Console errors and warnings are
 * collected in `page.problems`.
 */
export async function openCanvas(browser, base, contextOptions = {}) {
  // Reduced motion: a zoom step then lands at once (no easing), so a test
  // reads the board where the step put it.
  const context = await browser.newContext({ reducedMotion: "reduce", ...contextOptions });
  // Every Content-Security-Policy violation is recorded (the browser also
  // logs it, which the console check below catches).
  await context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (message) => {
    if (["error", "warning"].includes(message.type())) {
      page.problems.push(`${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  await page.goto(base);
  await page.waitForSelector('.app[data-connection="live"]', { timeout: 30_000 });
  return page;
}

/** Clicks the centre of canvas pixel (x, y). */
export async function clickPixel(page, x, y) {
  const canvas = page.locator(".board-canvas");
  const box = await canvas.boundingBox();
  const size = await canvas.evaluate((c) => [c.width, c.height]);
  await page.mouse.click(
    box.x + ((x + 0.5) / size[0]) * box.width,
    box.y + ((y + 0.5) / size[1]) * box.height,
  );
}

/** Waits (10 s unless told) until the page's <canvas> shows `rgb` at pixel (x, y). */
export async function waitForPixel(page, x, y, rgb, timeout = 10_000) {
  await page.waitForFunction(
    ([x, y, rgb]) => {
      // Copy the pixel to a fresh 1x1 canvas and read that: repeated reads
      // of the page's own canvas would make Chrome warn about readbacks.
      const probe = document.createElement("canvas");
      probe.width = probe.height = 1;
      const ctx = probe.getContext("2d");
      ctx.drawImage(document.querySelector(".board-canvas"), x, y, 1, 1, 0, 0, 1, 1);
      const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
      return r === rgb[0] && g === rgb[1] && b === rgb[2];
    },
    [x, y, rgb],
    { timeout },
  );
}

/** The RGBA of pixel (x, y) of the canvas element matching `selector`. */
export function layerPixel(page, selector, x, y) {
  return page.evaluate(
    ([selector, x, y]) => {
      const probe = document.createElement("canvas");
      probe.width = probe.height = 1;
      const ctx = probe.getContext("2d");
      ctx.drawImage(document.querySelector(selector), x, y, 1, 1, 0, 0, 1, 1);
      return [...ctx.getImageData(0, 0, 1, 1).data];
    },
    [selector, x, y],
  );
}

/**
 * A 4x1 template image as a data URL: three red (#ff4500) pixels, then a
 * transparent one. Drawn by the browser on a scratch page of `url`.
 */
export async function redTemplate(browser, url) {
  const scratch = await openCanvas(browser, url);
  const image = await scratch.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 4;
    canvas.height = 1;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ff4500";
    ctx.fillRect(0, 0, 3, 1);
    return canvas.toDataURL("image/png");
  });
  await scratch.context().close();
  return image;
}

/**
 * Waits until the canvas `selector` has a pixel (x, y) that `accept`
 * ([r, g, b, a]) takes, read as `layerPixel` does.
 */
export async function waitForLayerPixel(page, selector, x, y, accept, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const present = (await page.locator(selector).count()) > 0;
    if (present && accept(await layerPixel(page, selector, x, y))) return;
    if (Date.now() > deadline) throw new Error(`${selector} (${x}, ${y}) never matched`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sets the history slider to `seq` as a user dragging it would, and waits
 * for the label to say so. */
export async function slideTo(page, seq) {
  await page.locator(".history-slider").evaluate((slider, seq) => {
    slider.value = String(seq);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  }, seq);
  await page.waitForFunction(
    (seq) => document.querySelector(".history-label").textContent.startsWith(`Tile ${seq} of`),
    seq,
  );
}
