// The chat through the browser, across two instances on one Redis: a
// message written on a page served by one instance reaches a page served by
// the other, with its place as a link that moves the view; a message a
// moderator removes leaves both pages; moderators read a faction's channel
// too.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { artifacts, launchBrowser, openCanvas, startRedis, startServer } from "./harness.mjs";

const TOKEN = "an-admin-token-for-the-chat-test-0123456789";
let redis;
let first;
let second;
let browser;

before(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, ADMIN_TOKEN: TOKEN, CANVAS_WIDTH: "200", CANVAS_HEIGHT: "200" };
  first = await startServer(env);
  second = await startServer(env);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await first?.stop();
  await second?.stop();
  await redis?.stop();
});

const lines = (page) => page.locator(".chat-line .chat-text").allTextContents();

/** Writes `text` in the page's chat and sends it. */
async function say(page, text) {
  await page.fill(".chat-input", text);
  await page.click(".chat-form button");
}

/** The moderators' page at `base`, signed in with the test's token. */
async function signedInAdmin(base) {
  const context = await browser.newContext();
  const admin = await context.newPage();
  await admin.goto(`${base}/admin`);
  await admin.waitForSelector('.admin[data-ready="true"]');
  await admin.fill(".admin-token", TOKEN);
  await admin.click(".admin-sign-in button");
  return admin;
}

test("a message crosses instances, its place moves the view, and a removal reaches both pages", async () => {
  const writer = await openCanvas(browser, first.base);
  const reader = await openCanvas(browser, `${second.base}/?x=20&y=20&zoom=4`);
  await writer.fill("#display-name", "Ada");
  await writer.click(".name-form button");
  await writer.waitForFunction(() => document.querySelector(".notice").textContent.includes("Ada"));
  for (const page of [writer, reader]) {
    await page.click(".chat-panel summary");
  }
  await say(writer, "meet me at (150, 60)");
  await reader.waitForSelector(".chat-line");
  assert.deepEqual(await lines(reader), ["meet me at (150, 60)"]);
  assert.equal(await reader.textContent(".chat-author"), "Ada");
  assert.equal(await writer.inputValue(".chat-input"), "", "the line is cleared once sent");
  await reader.screenshot({ path: `${artifacts}/chat.png` });

  // The place is a link: the view centres on it.
  await reader.click(".chat-place");
  await reader.waitForFunction(() => {
    const query = new URLSearchParams(location.search);
    return query.get("x") === "150" && query.get("y") === "60";
  });

  // A moderator removes it (through the other instance): both pages drop it.
  const id = Number(await reader.getAttribute(".chat-line", "data-id"));
  const removed = await fetch(`${first.base}/api/admin/chat/remove`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "x-moderator": "Mod" },
    body: JSON.stringify({ id }),
  });
  assert.equal((await removed.json()).removed, true);
  for (const page of [writer, reader]) {
    await page.waitForSelector(".chat-line", { state: "detached" });
    assert.match(await page.textContent(".chat-log"), /No messages yet/);
  }
  assert.deepEqual(writer.problems, []);
  assert.deepEqual(reader.problems, []);
  await writer.context().close();
  await reader.context().close();
});

test("a refused message says why", async () => {
  const page = await openCanvas(browser, first.base);
  await page.click(".chat-panel summary");
  await say(page, "   ");
  await page.waitForFunction(() => document.querySelector(".chat-notice").textContent.includes("1 to 200"));
  // Past the connection's burst of three, the server refuses with the wait.
  for (let n = 0; n < 4; n++) {
    await say(page, `spam ${n}`);
  }
  await page.waitForFunction(() => document.querySelector(".chat-notice").textContent.includes("too many messages"));
  await page.context().close();
});

test("on /admin a moderator removes a message, which leaves an open page, and mutes its author", async () => {
  const player = await openCanvas(browser, second.base);
  await player.click(".chat-panel summary");
  await say(player, "something to remove");
  const mine = player.locator(".chat-line", { hasText: "something to remove" });
  await mine.waitFor();

  const admin = await signedInAdmin(first.base);
  const listed = admin.locator(".admin-chat-line", { hasText: "something to remove" });
  await listed.waitFor();
  await listed.locator(".admin-chat-mute").click();
  await admin.waitForFunction(() => document.querySelector(".admin-result").textContent.includes("muted"));
  await listed.locator(".admin-chat-remove").click();
  await admin.waitForFunction(() => document.querySelector(".admin-result").textContent.includes("removed"));
  await mine.waitFor({ state: "detached" });
  await listed.waitFor({ state: "detached" });
  assert.match(await admin.textContent(".admin-audit"), /chat-remove/);

  await say(player, "am I muted?");
  await player.waitForFunction(() => document.querySelector(".chat-notice").textContent.includes("muted"));
  await admin.context().close();
  await player.context().close();
});

test("a player reports a message; on /admin its report removes it from every page", async () => {
  const writer = await openCanvas(browser, first.base);
  const reader = await openCanvas(browser, second.base);
  for (const page of [writer, reader]) await page.click(".chat-panel summary");
  await say(writer, "a message to report");
  const line = reader.locator(".chat-line", { hasText: "a message to report" });
  await line.waitFor();
  await line.locator(".chat-report").click();
  await reader.waitForFunction(() => document.querySelector(".chat-notice").textContent.startsWith("Reported"));

  const admin = await signedInAdmin(first.base);
  const report = admin.locator(".admin-report", { hasText: "a message to report" });
  await report.waitFor();
  await report.locator(".admin-report-remove").click();
  await admin.waitForFunction(() => document.querySelector(".admin-result").textContent.includes("message removed"));
  await line.waitFor({ state: "detached" });
  await writer.locator(".chat-line", { hasText: "a message to report" }).waitFor({ state: "detached" });
  await report.waitFor({ state: "detached" });
  assert.deepEqual(reader.problems, []);
  await admin.context().close();
  await writer.context().close();
  await reader.context().close();
});

test("on /admin a moderator reads a faction's channel and removes a message from it", async () => {
  const member = await openCanvas(browser, second.base);
  const founded = await member.evaluate(async () => {
    const response = await fetch("/api/factions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Quiet Room", tag: "qrm", color: "#336699" }),
    });
    return response.json();
  });
  assert.ok(founded.id, JSON.stringify(founded));
  // A new page takes the faction's channel with its connection.
  await member.reload();
  await member.waitForSelector('.app[data-connection="live"]', { timeout: 30_000 });
  await member.click(".chat-panel summary");
  await member.click('.chat-channel:text("My faction")');
  await say(member, "only for the room");
  const mine = member.locator(".chat-line", { hasText: "only for the room" });
  await mine.waitFor();

  const admin = await signedInAdmin(first.base);
  const listed = admin.locator(".admin-chat-line", { hasText: "only for the room" });
  // Not the canvas's channel: the faction's, by its id.
  await admin.waitForSelector(".admin-chat-panel");
  assert.equal(await listed.count(), 0);
  await admin.fill(".admin-chat-channel input", String(founded.id));
  await admin.press(".admin-chat-channel input", "Enter");
  await listed.waitFor();
  assert.match(await listed.textContent(), /\[QRM\]/);
  await listed.locator(".admin-chat-remove").click();
  await admin.waitForFunction(() => document.querySelector(".admin-result").textContent.includes("removed"));
  await mine.waitFor({ state: "detached" });
  await listed.waitFor({ state: "detached" });
  assert.deepEqual(member.problems, []);
  await admin.context().close();
  await member.context().close();
});
