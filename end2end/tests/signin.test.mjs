// Signing in with OpenID Connect, through the browser, against a real
// OpenID provider (the npm package oidc-provider, with its development
// login and consent pages) started here on loopback: one account on two
// browsers is one player (name, cooldown); a tampered state, a tampered
// nonce and a provider whose issuer is not the configured one are refused;
// signing out and deleting the account.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Provider from "oidc-provider";
import { artifacts, clickPixel, freePort, launchBrowser, openCanvas, startServer } from "./harness.mjs";

let provider;
let server;
let browser;
let issuer;

before(async () => {
  const [providerPort, appPort] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${providerPort}`;
  const app = `http://127.0.0.1:${appPort}`;
  const oidc = new Provider(issuer, {
    clients: [
      {
        client_id: "canvas",
        client_secret: "a client secret for the tests only",
        redirect_uris: [`${app}/auth/local/callback`, `${app}/auth/elsewhere/callback`],
        response_types: ["code"],
        grant_types: ["authorization_code"],
      },
    ],
    pkce: { required: () => true },
    cookies: { keys: ["a cookie key for the tests only"] },
    // Any login name is an account: the development login page's.
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider = await new Promise((resolve) => {
    const listening = oidc.listen(providerPort, "127.0.0.1", () => resolve(listening));
  });
  const client = (id, issuerUrl) => ({
    [`OIDC_${id}_ISSUER`]: issuerUrl,
    [`OIDC_${id}_CLIENT_ID`]: "canvas",
    [`OIDC_${id}_CLIENT_SECRET`]: "a client secret for the tests only",
  });
  server = await startServer(
    {
      OIDC_PROVIDERS: "local,elsewhere",
      ...client("LOCAL", issuer),
      OIDC_LOCAL_NAME: "Local ID",
      // The same provider under a name its discovery document does not
      // give as its issuer.
      ...client("ELSEWHERE", `http://localhost:${providerPort}`),
      PUBLIC_URL: app,
      COOLDOWN_MS: "60000",
      PLACEMENTS_PER_ADDRESS: "0",
    },
    { port: appPort },
  );
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  provider?.close();
});

/** Goes through the provider's login and consent pages as `login`. */
async function throughProvider(page, login) {
  await page.waitForURL(`${issuer}/**`, { waitUntil: "domcontentloaded" });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any password");
  await page.click('button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: "attached" });
  await page.click('button[type="submit"]');
}

/** Signs in with the "Local ID" provider as `login`, back to a live page. */
async function signIn(page, login) {
  await page.click(".account-menu summary");
  await page.click('a.sign-in[data-provider="local"]');
  await throughProvider(page, login);
  await page.waitForURL(`${server.base}/**`);
  await page.waitForSelector('.app[data-connection="live"]', { timeout: 30_000 });
  // What the provider's pages logged (their web fonts cannot load here) is
  // not the canvas's.
  page.problems.length = 0;
}

async function waitUntil(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const summary = (page) => page.textContent(".account-menu summary");
const account = async (page) => (await page.request.get(`${server.base}/api/account`)).json();

test("one account on two browsers is one player: same name, same cooldown", async () => {
  const first = await openCanvas(browser, `${server.base}/?x=10&y=10&zoom=8`);
  assert.equal(await summary(first), "Account");
  await first.fill("#display-name", "Alice");
  await first.click(".name-form button");
  await first.waitForFunction(() => document.querySelector(".notice")?.textContent.includes("Alice"));
  await signIn(first, "alice");
  assert.equal(await summary(first), "Signed in with Local ID");
  assert.equal(await first.inputValue("#display-name"), "Alice", "the session's name came along");
  await first.click('.swatch[data-color="3"]');
  await clickPixel(first, 10, 10);
  await first.waitForFunction(() => document.querySelector(".cooldown-text").textContent.startsWith("Next tile in"));
  await first.screenshot({ path: `${artifacts}/signed-in.png` });

  const second = await openCanvas(browser, `${server.base}/?x=10&y=10&zoom=8`);
  assert.equal(await second.inputValue("#display-name"), "", "a stranger until signed in");
  await signIn(second, "alice");
  assert.equal(await second.inputValue("#display-name"), "Alice");
  // The first browser's placement started the player's cooldown: this
  // one's placement is refused with the time left.
  await second.click('.swatch[data-color="5"]');
  await clickPixel(second, 11, 10);
  await second.waitForFunction(() => document.querySelector(".cooldown-text").textContent.startsWith("Next tile in"));
  const left = Number((await second.textContent(".cooldown-text")).match(/([\d.]+) s/)[1]);
  assert.ok(left > 30 && left < 60, `${left} s left of the first browser's minute`);
  assert.equal((await (await fetch(`${server.base}/api/pixel?x=11&y=10`)).json()).seq, 0, "not placed");
  assert.deepEqual((await account(second)).signed_in, { provider: "local", provider_name: "Local ID" });

  // Signing out: this browser is anonymous again; the other stays in.
  await second.click(".account-menu summary");
  await second.click(".sign-out");
  await second.waitForSelector('.app[data-connection="live"]', { timeout: 30_000 });
  assert.equal(await summary(second), "Account");
  assert.equal(await second.inputValue("#display-name"), "");
  assert.equal((await account(second)).signed_in, null);
  assert.equal((await account(first)).signed_in.provider, "local");

  // Deleting the account: the name and figures go, the pixel stays.
  const board = await (await fetch(`${server.base}/api/leaderboard?board=placed&period=all`)).json();
  const alice = board.entries.find((p) => p.name === "Alice");
  assert.ok(alice, JSON.stringify(board));
  assert.equal((await fetch(`${server.base}/api/players/${alice.player}`)).status, 200);
  await first.click(".account-menu summary");
  await first.click(".delete-account summary");
  await first.click(".delete-account button");
  await first.waitForSelector('.app[data-connection="live"]', { timeout: 30_000 });
  assert.equal(await summary(first), "Account");
  assert.equal(await first.inputValue("#display-name"), "");
  assert.equal((await fetch(`${server.base}/api/players/${alice.player}`)).status, 404);
  // The board is cached for two seconds.
  await waitUntil(async () => {
    const board = await (await fetch(`${server.base}/api/leaderboard?board=placed&period=all`)).json();
    return !board.entries.some((p) => p.player === alice.player);
  }, "the deleted player to leave the board");
  const pixel = await (await fetch(`${server.base}/api/pixel?x=10&y=10`)).json();
  assert.equal(pixel.color, 3, "the pixel stays");
  assert.equal(pixel.placed_by, null, "without the name");
  assert.deepEqual(first.problems, []);
  assert.deepEqual(second.problems, []);
  await first.context().close();
  await second.context().close();
});

/**
 * Starts signing in with the authorization request to the provider changed
 * by `tamper` (a URL), as an attacker between the two would: the canvas's
 * answer to the click (a redirect to the provider) is fetched and handed to
 * the browser with its `Location` changed, and its pending-sign-in cookie.
 */
async function signInTampered(page, tamper) {
  await page.context().route(`${server.base}/auth/local/login**`, async (route) => {
    const response = await route.fetch({ maxRedirects: 0 });
    const location = new URL(response.headers().location);
    tamper(location);
    await route.fulfill({ response, headers: { ...response.headers(), location: location.href } });
  });
  const answer = page.waitForResponse((r) => r.url().startsWith(`${server.base}/auth/local/callback`));
  await page.click(".account-menu summary");
  await page.click('a.sign-in[data-provider="local"]');
  await throughProvider(page, "mallory");
  return answer;
}

test("a tampered state is refused", async () => {
  const page = await openCanvas(browser, server.base);
  // The provider sends back the state it was given: not this browser's.
  const answer = await signInTampered(page, (url) =>
    url.searchParams.set("state", "not-the-state-this-browser-started"),
  );
  assert.equal(answer.status(), 400);
  assert.match(await page.textContent("#reason"), /state/);
  assert.equal((await account(page)).signed_in, null);
  await page.context().close();
});

test("a tampered nonce is refused", async () => {
  const page = await openCanvas(browser, server.base);
  // The provider's ID token then carries another nonce than the one this
  // browser's sign-in holds.
  const answer = await signInTampered(page, (url) =>
    url.searchParams.set("nonce", "a-nonce-the-server-never-made"),
  );
  assert.equal(answer.status(), 400);
  assert.match(await page.textContent("#reason"), /nonce/i);
  assert.equal((await account(page)).signed_in, null);
  await page.context().close();
});

test("a provider whose issuer is not the configured one is refused", async () => {
  const page = await openCanvas(browser, server.base);
  await page.click(".account-menu summary");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${server.base}/auth/elsewhere/login`)),
    page.click('a.sign-in[data-provider="elsewhere"]'),
  ]);
  assert.equal(response.status(), 502);
  assert.match(await page.textContent("#reason"), /issuer/i);
  assert.equal((await account(page)).signed_in, null);
  await page.context().close();
});

test("where sign-in is offered, only a signed-in player founds a faction", async () => {
  const page = await openCanvas(browser, server.base);
  const found = async () => {
    await page.click(".faction-panel summary");
    await page.waitForSelector(".faction-found");
    await page.fill('input[name="faction-name"]', "Signed Few");
    await page.fill('input[name="faction-tag"]', "SGN");
    await page.click('.faction-found button[type="submit"]');
  };
  await found();
  await page.waitForFunction(() => document.querySelector(".faction-refusal")?.textContent.includes("sign in"));
  await signIn(page, "faction-founder");
  await found();
  await page.waitForFunction(() => document.querySelector(".faction-title")?.textContent.includes("[SGN]"));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
