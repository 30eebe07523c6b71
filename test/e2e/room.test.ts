/**
 * The whole product in Chromium: a host creates a conference on the home page, members register
 * through the invite page (one with an uploaded picture), wait in the lobby, the host builds, and
 * the members meet at the table, text everyone and each other privately, reload, and welcome a
 * latecomer. Needs `npm run build:web` first (the root `npm test` runs it); builds nothing itself.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ConferenceSummary } from "@roundtable/protocol";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import sharp from "sharp";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { CHROMIUM_PATH as CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
/** README pictures are refreshed only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? join(ROOT, "docs/screenshot-room.png")
  : join(tmpdir(), "roundtable-screenshot-room.png");

/** Everything a page reported that a healthy page never should: console errors, uncaught exceptions, CSP blocks. */
const problems: string[] = [];

let server: TestServer | undefined;
let browser: Browser | undefined;
let tempDir: string;

/**
 * A page in its own browser context (its own storage: a separate person). `expectedErrors` lists
 * console errors the step provokes on purpose, such as Chromium logging an HTTP 422 it was meant to get.
 */
async function openPage(label: string, expectedErrors: RegExp[] = []): Promise<Page> {
  if (!browser) throw new Error("browser not started");
  const viewport = { width: 1280, height: 800 };
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: "light" });
  // Chromium also logs CSP blocks as console errors; the event catches any that it might not.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (message) => {
    if (message.type() !== "error" || expectedErrors.some((e) => e.test(message.text()))) return;
    problems.push(`[${label}] console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`[${label}] uncaught: ${error.message}`));
  return page;
}

const seatOf = (page: Page, memberId: string) =>
  page.locator(`[data-testid=seat][data-member-id="${memberId}"]`);
const bubbleOf = (page: Page, memberId: string, text: string) =>
  seatOf(page, memberId).locator(`[data-testid=bubble][data-member-id="${memberId}"]`, { hasText: text });
const chatEntry = (page: Page, text: string): Locator =>
  page.locator("[data-testid=chat-log] [data-testid=chat-entry]", { hasText: text });

async function waitForSeatCount(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelectorAll("[data-testid=room] [data-testid=seat]").length === n,
    count,
  );
}

/** Every seat's picture, once all of them have finished loading. */
async function loadedSeatImages(page: Page): Promise<{ memberId: string; src: string; alt: string }[]> {
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>("[data-testid=seat] img")].every(
      (img) => img.complete && img.naturalWidth > 0,
    ),
  );
  return page.$$eval("[data-testid=seat]", (elements) =>
    elements.map((seat) => {
      const img = seat.querySelector("img");
      return {
        memberId: seat.getAttribute("data-member-id") ?? "",
        src: img?.src ?? "",
        alt: img?.alt ?? "",
      };
    }),
  );
}

async function sendFromComposer(page: Page, text: string): Promise<void> {
  const input = page.getByTestId("composer-input");
  await input.fill(text);
  await input.press("Enter");
  await chatEntry(page, text).waitFor();
  assert.equal(await input.inputValue(), "", "the composer empties after sending");
}

/** Submits the invite page's form (already open) and follows it to the member's room link. */
async function takeSeat(page: Page, name: string): Promise<void> {
  await page.getByTestId("member-name").fill(name);
  await page.getByTestId("join-button").click();
  await page.waitForURL(/\/c\/[^/]+\?token=/);
}

describe("Roundtable in Chromium", { timeout: 180_000 }, () => {
  let home: Page;
  let alice: Page;
  let bob: Page;
  let carol: Page;
  let inviteUrl: string;
  let hostUrl: string;
  let conferenceId: string;
  let summary: ConferenceSummary;
  const idOf = (name: string): string => {
    const member = summary.members.find((m) => m.name === name);
    assert.ok(member, `${name} is registered`);
    return member.id;
  };

  before(async () => {
    if (!existsSync(join(WEB_DIR, "index.html")))
      throw new Error(`${WEB_DIR}/index.html is missing: run \`npm run build:web\` before this test`);
    if (!existsSync(CHROMIUM))
      throw new Error(
        `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`,
      );
    tempDir = await mkdtemp(join(tmpdir(), "roundtable-e2e-"));
    server = await startTestServer({ WEB_DIR });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  });

  it("creates a conference on the home page and shows both links", async () => {
    assert.ok(server);
    home = await openPage("host");
    await home.goto(`${server.baseUrl}/`);
    await home.getByTestId("conference-title").fill("Friday retro");
    await home.getByTestId("create-button").click();
    await home.getByTestId("created").waitFor();
    inviteUrl = await home.getByTestId("invite-link").inputValue();
    hostUrl = await home.getByTestId("host-link").inputValue();
    const match = /^http:\/\/127\.0\.0\.1:\d+\/c\/([^/]+)\/join$/.exec(inviteUrl);
    assert.ok(match?.[1], `invite link looks right: ${inviteUrl}`);
    conferenceId = match[1];
    assert.match(hostUrl, new RegExp(`/c/${conferenceId}/host#.+`));
  });

  it("registers a member with an uploaded picture, showing preview and progress", async () => {
    const picture = join(tempDir, "alice.png");
    const scene = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">
      <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
        <stop offset="0" stop-color="#7fb3d5"/><stop offset="1" stop-color="#f6d8ae"/></linearGradient></defs>
      <rect width="400" height="300" fill="url(#sky)"/>
      <circle cx="200" cy="150" r="62" fill="#f4a259"/>
      <path d="M0 230 Q120 170 220 225 T400 210 V300 H0 Z" fill="#5b8e7d"/></svg>`;
    await sharp(Buffer.from(scene)).png().toFile(picture);

    alice = await openPage("alice");
    await alice.goto(inviteUrl);
    await alice.getByTestId("conference-title").filter({ hasText: "Friday retro" }).waitFor();
    await alice.getByTestId("member-name").fill("Alice Archer");
    assert.equal(await alice.getByTestId("avatar-preview-default").textContent(), "AA");

    // A file that is not a picture is refused before any upload, with a message saying why.
    await alice.getByTestId("avatar-input").setInputFiles({
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("not a picture"),
    });
    await alice.getByTestId("avatar-error").filter({ hasText: "not a PNG, JPEG, WebP or GIF" }).waitFor();

    await alice.getByTestId("avatar-input").setInputFiles(picture);
    await alice.getByTestId("avatar-error").waitFor({ state: "detached" });
    await alice.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>("[data-testid=avatar-preview]");
      return img?.src.startsWith("blob:") && img.complete && img.naturalWidth === 400;
    });

    // Hold the upload at the network edge so the in-flight state can be seen, then let it go.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await alice.route("**/api/conferences/*/members", async (route) => {
      await held;
      await route.continue();
    });
    await alice.getByTestId("join-button").click();
    const progress = alice.getByTestId("upload-progress");
    await progress.waitFor();
    assert.match((await progress.getAttribute("data-progress")) ?? "", /^\d+$/);
    assert.equal(
      await alice.getByTestId("member-name").isDisabled(),
      true,
      "the form is locked while uploading",
    );
    assert.equal(await alice.getByTestId("join-button").textContent(), "Joining…");
    release();
    await alice.waitForURL(/\/c\/[^/]+\?token=/);
    await alice.unrouteAll();
    await alice.getByTestId("lobby").waitFor();
  });

  it("registers two members with the default avatar; everyone waits in the lobby", async () => {
    bob = await openPage("bob");
    await bob.goto(inviteUrl);
    await bob.getByTestId("member-name").fill("Bob");
    assert.equal(await bob.getByTestId("avatar-preview-default").textContent(), "B");
    await takeSeat(bob, "Bob");
    carol = await openPage("carol");
    await carol.goto(inviteUrl);
    await takeSeat(carol, "Carol");

    for (const page of [alice, bob, carol]) {
      await page.getByTestId("lobby").getByText("Waiting for the host to start").waitFor();
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=lobby-member]").length === 3);
    }
    assert.ok(server);
    summary = await server.api.getConference(conferenceId);
    assert.deepEqual(
      summary.members.map((m) => m.name),
      ["Alice Archer", "Bob", "Carol"],
    );
    // Presence reaches the lobby: Carol sees Alice as here.
    await carol
      .locator(`[data-testid=lobby-member][data-member-id="${idOf("Alice Archer")}"][data-online=true]`)
      .waitFor();
  });

  it("the host sees the members and builds the conference", async () => {
    await home.getByTestId("open-host").click();
    await home.waitForURL(/\/host#/);
    await home.waitForFunction(() => document.querySelectorAll("[data-testid=host-member]").length === 3);
    const build = home.getByTestId("build-button");
    assert.equal(await build.textContent(), "Build the conference");
    await build.click();
    await home.getByTestId("build-button").filter({ hasText: "Conference built" }).waitFor();
    assert.equal(await build.isDisabled(), true);
  });

  it("every member is at the table: three seats with their own avatars", async () => {
    const byId = new Map(summary.members.map((m) => [m.id, m]));
    for (const [page, name] of [
      [alice, "Alice Archer"],
      [bob, "Bob"],
      [carol, "Carol"],
    ] as const) {
      await page.getByTestId("room").waitFor();
      await waitForSeatCount(page, 3);
      const images = await loadedSeatImages(page);
      assert.equal(images.length, 3);
      for (const { memberId, src, alt } of images) {
        const member = byId.get(memberId);
        assert.ok(member, `seat ${memberId} belongs to a member`);
        assert.equal(src, new URL(member.avatarUrl, server?.baseUrl).toString());
        assert.equal(alt, member.name);
      }
      const own = seatOf(page, idOf(name));
      assert.match((await own.textContent()) ?? "", /you/);
      assert.equal(await own.getAttribute("data-speaking"), "false");
      assert.equal(await page.evaluate(() => window.roundtable?.memberId), idOf(name));
    }
  });

  it("a text to everyone appears beside the sender's seat and in every chat log", async () => {
    const text = "Hello everyone! Shall we start with what went well?";
    await sendFromComposer(alice, text);
    for (const page of [alice, bob, carol]) {
      await bubbleOf(page, idOf("Alice Archer"), text).waitFor();
      const entry = chatEntry(page, text);
      await entry.waitFor();
      assert.equal(await entry.getAttribute("data-private"), "false");
      assert.match((await entry.getAttribute("data-message-id")) ?? "", /.+/);
    }
  });

  it("a private text reaches its recipient and never the others", async () => {
    const secret = "Psst, Bob — can you take notes today?";
    const bobId = idOf("Bob");
    await seatOf(alice, bobId).locator("button").click();
    assert.equal(await seatOf(alice, bobId).getAttribute("data-selected"), "true");
    assert.equal(await alice.getByTestId("composer-to").textContent(), "Private to Bob");
    await sendFromComposer(alice, secret);

    for (const page of [alice, bob]) {
      const bubble = bubbleOf(page, idOf("Alice Archer"), secret);
      await bubble.waitFor();
      assert.equal(await bubble.getAttribute("data-private"), "true");
      assert.match((await bubble.textContent()) ?? "", /private/i);
      assert.equal(await chatEntry(page, secret).getAttribute("data-private"), "true");
    }
    assert.equal(await chatEntry(alice, secret).getByTestId("chat-private").textContent(), "private to Bob");
    assert.equal(await chatEntry(bob, secret).getByTestId("chat-private").textContent(), "private to you");

    // Esc goes back to everyone; Carol gets the next public text, so the private one had its chance.
    await alice.getByTestId("composer-input").press("Escape");
    assert.equal(await alice.getByTestId("composer-to").textContent(), "To everyone");
    assert.equal(await seatOf(alice, bobId).getAttribute("data-selected"), "false");
    const later = "Back to all of you: next topic.";
    await sendFromComposer(alice, later);
    await chatEntry(carol, later).waitFor();
    assert.equal(await carol.getByText("Psst, Bob").count(), 0);
    assert.equal((await carol.content()).includes("Psst, Bob"), false);
  });

  it("window.roundtable.sendText sends like the composer does", async () => {
    const text = "Sent through window.roundtable";
    const bobId = idOf("Bob");
    const sent = await carol.evaluate(
      ([to, body]) => {
        if (!window.roundtable) throw new Error("window.roundtable is missing");
        return window.roundtable.sendText(to, body);
      },
      [[bobId], text] as [string[], string],
    );
    assert.equal(sent.from, idOf("Carol"));
    assert.deepEqual(sent.to, [bobId]);
    await chatEntry(bob, text).waitFor();
    await bubbleOf(bob, idOf("Carol"), text).waitFor();
    assert.equal(await chatEntry(bob, text).getByTestId("chat-private").textContent(), "private to you");
  });

  it("a reload brings back the history, private texts included", async () => {
    await bob.reload();
    await bob.getByTestId("room").waitFor();
    await waitForSeatCount(bob, 3);
    const entry = chatEntry(bob, "Psst, Bob");
    await entry.waitFor();
    assert.equal(await entry.getAttribute("data-private"), "true");
    await chatEntry(bob, "Hello everyone!").waitFor();
    await chatEntry(bob, "Sent through window.roundtable").waitFor();
    assert.equal(await bob.getByTestId("chat-entry").count(), 4);
  });

  it("a member registering after the build gets a fourth seat in every open room", async () => {
    // Dan first picks a file that claims to be a PNG but is not: the server refuses it (422), the
    // page says why beside the picker, and what he typed stays.
    const dan = await openPage("dan", [/status of 422/]);
    await dan.goto(inviteUrl);
    await dan.getByText("The conference has started").waitFor();
    await dan.getByTestId("member-name").fill("Dan");
    await dan.getByTestId("avatar-input").setInputFiles({
      name: "broken.png",
      mimeType: "image/png",
      buffer: Buffer.from("definitely not PNG bytes"),
    });
    await dan.getByTestId("join-button").click();
    await dan.getByTestId("avatar-error").filter({ hasText: "not a picture the server can read" }).waitFor();
    assert.equal(await dan.getByTestId("member-name").inputValue(), "Dan");
    assert.equal(await dan.getByTestId("join-button").isEnabled(), true);
    await dan.getByRole("button", { name: "Use initials instead" }).click();
    await takeSeat(dan, "Dan");
    await dan.getByTestId("room").waitFor();
    await waitForSeatCount(dan, 4);
    assert.ok(server);
    summary = await server.api.getConference(conferenceId);
    const danId = idOf("Dan");
    for (const page of [alice, bob, carol, dan]) {
      await seatOf(page, danId).waitFor();
      await waitForSeatCount(page, 4);
      const images = await loadedSeatImages(page);
      assert.equal(images.find((i) => i.memberId === danId)?.alt, "Dan");
    }

    // Bubbles from two people at once, for the picture in the docs.
    await sendFromComposer(dan, "Hi all — sorry I'm late!");
    await sendFromComposer(bob, "Welcome, Dan! We just started.");
    await bubbleOf(alice, danId, "sorry I'm late").waitFor();
    await bubbleOf(alice, idOf("Bob"), "Welcome, Dan").waitFor();
    // A private draft, so the picture shows a chosen seat and the private composer too.
    await seatOf(alice, idOf("Carol")).locator("button").click();
    await alice.getByTestId("composer-input").fill("Carol, could you share the board afterwards?");
    await alice.screenshot({ path: SCREENSHOT, animations: "disabled" });
  });

  it("bad links explain themselves: a refused room link, a wrong or a member's host key", async () => {
    assert.ok(server);
    const stranger = await openPage("stranger", [/status of 40[13]/]);
    await stranger.goto(`${server.baseUrl}/c/${conferenceId}?token=not-a-real-token`);
    await stranger.locator("[data-testid=connection-banner][data-status=refused]").waitFor();
    assert.equal(await stranger.getByTestId("room").count(), 0);

    // Another conference, still registering, so its build button is live.
    const other = await server.api.createConference("Someone else's meeting");
    const member = await server.api.register(other.id, { name: "Mallory" });
    for (const [key, expected] of [
      ["not-the-host-key", "not valid for this conference"],
      [member.token, "belongs to a member"],
    ] as const) {
      await stranger.goto(`${server.baseUrl}/c/${other.id}/host#${key}`);
      await stranger.getByTestId("build-button").click();
      await stranger.getByRole("alert").filter({ hasText: expected }).waitFor();
    }
    assert.equal((await server.api.getConference(other.id)).state, "registering");
  });

  it("the host ends the conference: after a confirmation every room says so and the invite is closed", async () => {
    assert.ok(server);
    await home.goto(hostUrl);
    const end = home.getByTestId("end-button");
    await end.click();
    await end.filter({ hasText: "Yes, end it for everyone" }).waitFor();
    assert.equal((await server.api.getConference(conferenceId)).state, "built", "one click only asks");
    await end.click();
    await home.getByRole("heading", { name: "The conference has ended" }).waitFor();
    for (const page of [alice, bob, carol]) await page.getByTestId("conference-ended").waitFor();
    await bob.goto(inviteUrl);
    await bob.getByTestId("join-ended").waitFor();
    assert.equal((await server.api.getConference(conferenceId)).state, "ended");
  });

  it("no page hit a CSP violation or logged an error", () => {
    assert.deepEqual(problems, []);
  });
});
