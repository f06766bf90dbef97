// Leaderboards and players' pages: a player who placed shows on the board
// (which updates itself while open), and their name leads to their page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clickPixel, launchBrowser, openCanvas, redTemplate, startServer, waitForPixel } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ COOLDOWN_MS: "0" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a player's tiles put them on the board, whose link opens their page", async () => {
  const page = await openCanvas(browser, `${server.base}/?x=40&y=40&zoom=8`);
  await page.fill(".name-form input", "Quinn");
  await page.click(".name-form button");
  await page.waitForFunction(() => document.querySelector(".notice").textContent.includes("Quinn"));
  await page.click(".leaderboard-panel summary");
  await page.waitForSelector(".leaderboard-note");
  // Placed while the panel is open: it updates itself.
  await page.click('.swatch[data-color="13"]');
  for (const x of [40, 41]) {
    await clickPixel(page, x, 40);
    await waitForPixel(page, x, 40, [0x24, 0x50, 0xa4]);
  }
  await page.waitForFunction(
    () => {
      const first = document.querySelector(".leaderboard-list li");
      return first?.textContent.includes("Quinn") && first.querySelector(".leaderboard-score").textContent === "2";
    },
    null,
    { timeout: 15_000 },
  );
  await page.selectOption(".leaderboard-board", { label: "Pixels still standing" });
  await page.waitForFunction(() => document.querySelector(".leaderboard-list .leaderboard-score")?.textContent === "2");

  await page.click(".leaderboard-list a");
  await page.waitForSelector(".player-page");
  assert.equal(await page.textContent(".player-name"), "Quinn");
  assert.equal(await page.textContent(".player-placed"), "2");
  assert.equal(await page.textContent(".player-standing"), "2");
  assert.match(await page.textContent(".player-names"), /Quinn/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a faction founded and joined by its invitation link shows its tag in placed by and on the boards", async () => {
  const owner = await openCanvas(browser, `${server.base}/?x=60&y=20&zoom=8`);
  await owner.click(".faction-panel summary");
  await owner.waitForSelector(".faction-found");
  await owner.fill('input[name="faction-name"]', "Arc Light");
  await owner.fill('input[name="faction-tag"]', "arc");
  await owner.click('.faction-found button[type="submit"]');
  await owner.waitForFunction(() => document.querySelector(".faction-title")?.textContent.includes("[ARC]"));
  await owner.click(".faction-invite");
  const link = await owner.waitForFunction(() => document.querySelector(".faction-link input")?.value);
  const invitation = new URL(await link.jsonValue());
  assert.ok(invitation.searchParams.get("join"), `${invitation}`);

  // The link opens the panel on the invitation, in another browser.
  const member = await openCanvas(browser, `${server.base}/?join=${invitation.searchParams.get("join")}&x=60&y=20&zoom=8`);
  await member.waitForSelector(".faction-join");
  await member.click(".faction-join");
  await member.waitForFunction(() => document.querySelectorAll(".faction-roster li").length === 2);
  // The socket connects again to take the faction's channel.
  await member.waitForFunction(() => document.querySelector(".app").dataset.connection === "live");
  await member.fill(".name-form input", "Bea");
  await member.click(".name-form button");
  await member.waitForFunction(() => document.querySelector(".notice").textContent.includes("Bea"));
  await member.click('.swatch[data-color="13"]');
  await clickPixel(member, 60, 20);
  await waitForPixel(member, 60, 20, [0x24, 0x50, 0xa4]);
  // Who placed it, with the tag, once the reticle rests there.
  await member.locator(".stage").focus();
  await member.keyboard.press("ArrowRight");
  await member.keyboard.press("ArrowLeft");
  await member.waitForFunction(() => document.querySelector(".pixel-info").textContent.includes("placed by [ARC] Bea"));

  // The owner names the new member an officer from the roster.
  await owner.waitForFunction(() => document.querySelectorAll(".faction-roster li").length === 2, null, {
    timeout: 15_000,
  });
  await owner.click('.faction-roster li[data-role="member"] .faction-role:text("Make officer")');
  await owner.waitForSelector('.faction-roster li[data-role="officer"]');

  // The faction's own chat channel: the member writes, the owner reads.
  for (const page of [owner, member]) {
    await page.click(".chat-panel summary");
    await page.click('.chat-channel:text("My faction")');
  }
  await member.fill(".chat-input", "meet at (61, 20)");
  await member.click(".chat-form button");
  await owner.waitForFunction(
    () => [...document.querySelectorAll(".chat-lines li")].some((li) => li.textContent.includes("meet at")),
    null,
    { timeout: 15_000 },
  );
  assert.match(await owner.textContent(".chat-lines"), /\[ARC\] Bea/);
  await owner.click('.chat-channel:text("Canvas")');
  assert.doesNotMatch((await owner.textContent(".chat-log")) ?? "", /meet at/);

  // A template the owner has watched for the faction: listed on the
  // member's faction panel, whose link shows it and follows it.
  const image = await redTemplate(browser, server.base);
  await owner.goto(`${server.base}/?x=70&y=30&zoom=8&template=${encodeURIComponent(image)}&tx=70&ty=30`);
  await owner.waitForSelector(".template-canvas:not([hidden])");
  await owner.click(".template-panel summary");
  await owner.check(".template-for-faction input");
  await owner.click(".template-watch-button");
  await owner.waitForFunction(() => document.querySelector(".template-watch").textContent.includes("0 of 3 right"));
  await member.click(".faction-panel summary");
  await member.click(".faction-panel summary");
  const shared = await member.waitForSelector(".faction-templates a", { timeout: 15_000 });
  await shared.click();
  await member.waitForSelector(".template-canvas:not([hidden])");
  await member.click(".template-panel summary");
  await member.waitForFunction(() => document.querySelector(".template-watch").textContent.includes("0 of 3 right"));

  // The boards: the tag beside the player, and the faction on its own.
  await member.click(".leaderboard-panel summary");
  await member.waitForFunction(
    () => [...document.querySelectorAll(".leaderboard-list li")].some((li) => li.textContent.includes("[ARC] Bea")),
    null,
    { timeout: 15_000 },
  );
  await member.selectOption(".leaderboard-board", { label: "Factions, all time" });
  await member.waitForFunction(
    () => document.querySelector(".leaderboard-list li")?.textContent.includes("[ARC] Arc Light"),
    null,
    { timeout: 15_000 },
  );

  // Revoked, the link given earlier lets nobody else in. (The chat's
  // panel took the owner's dock: the faction's opens again.)
  if (!(await owner.locator(".faction-revoke").isVisible())) await owner.click(".faction-panel summary");
  await owner.click(".faction-revoke");
  await owner.waitForSelector(".faction-revoked");
  assert.equal(await owner.locator(".faction-link").count(), 0);
  const late = await openCanvas(browser, `${server.base}/?join=${invitation.searchParams.get("join")}`);
  await late.click(".faction-join");
  await late.waitForFunction(() => document.querySelector(".faction-refusal")?.textContent.includes("expired"));
  assert.equal(await late.locator(".faction-title").count(), 0);
  await late.context().close();

  assert.deepEqual(owner.problems, []);
  assert.deepEqual(member.problems, []);
  await owner.context().close();
  await member.context().close();
});
