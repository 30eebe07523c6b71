/**
 * A browser that loses its network comes back by itself, voice and all. Ada's page loads through a
 * TCP proxy that the test cuts and restores; Ben is a Node bot connected straight to the server,
 * with werift voice. While Ada is cut off, Ben writes to her and she writes to him; once the proxy
 * lets her through again, without a reload, she is back in her seat with every text exactly once
 * and her voice on a new peer connection. Needs `npm run build:web` first; builds nothing itself.
 *
 * Only TCP passes the proxy: WebRTC's UDP goes straight to the server, which drops Ada's voice
 * peer when her socket closes, so voice coming back proves the renegotiation after a reconnect.
 * Synchronisation follows what the page, the bot and the proxy report, never the clock.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ConferenceClient, VoiceSession } from "@roundtable/client-core";
import { type Browser, chromium, type Page } from "playwright-core";
import { openClient } from "../../packages/bot/src/connect.ts";
import { WeriftMediaEngine } from "../../packages/bot/src/WeriftMediaEngine.ts";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import type { VoiceSlotStats } from "../../packages/web/src/room/RoomControls.ts";
import { TcpProxy } from "../network/TcpProxy.ts";
import { CHROMIUM_PATH as CHROMIUM, CHROMIUM_VOICE_ARGS, until, WAIT_MS } from "./chromium.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
const SPEECH = join(ROOT, "../shared/fixtures/speech.wav");
/** Packets of 20 ms: 50 are one second of voice. */
const SECOND = 50;
/** The request line of a WebSocket (re)connection attempt, as the proxy sees it. */
const SOCKET_REQUEST = /^GET \/api\/conferences\/[^/]+\/ws\?/;
/**
 * Chromium logs every refused WebSocket, and any request (a favicon, a picture) caught by a cut or
 * by the server restarting, as a console error: taking the network away is the point of this test.
 */
const EXPECTED_ERRORS = [/WebSocket connection to '.*' failed/, /Failed to load resource: net::ERR_[A-Z_]+/];

const SERVER_ENV = {
  WEB_DIR,
  RTC_LISTEN_ADDRESS: "127.0.0.1",
  RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
};

const problems: string[] = [];

const seatOf = (page: Page, memberId: string) =>
  page.locator(`[data-testid=seat][data-member-id="${memberId}"]`);
const chatEntries = (page: Page, text: string) =>
  page.locator("[data-testid=chat-log] [data-testid=chat-entry]", { hasText: text });

async function slotOf(page: Page, memberId: string): Promise<VoiceSlotStats | undefined> {
  const stats = await page.evaluate(() => {
    if (!window.roundtable) throw new Error("window.roundtable is missing");
    return window.roundtable.voiceStats();
  });
  return stats.find((s) => s.memberId === memberId);
}

const voiceInfo = (page: Page) => page.evaluate(() => window.roundtable?.voiceInfo());

/** Why each WebSocket the page opened was opened: the event being handled ("click", "online"), or "timer". */
const socketCauses = (page: Page) =>
  page.evaluate(() => (window as unknown as { socketCauses: string[] }).socketCauses);

/** Waits until `page` gets another second of `memberId`'s voice on the slot bound to them. */
async function receivesVoice(page: Page, memberId: string, what: string): Promise<void> {
  const first = await until(`${what}: a slot carries the speaker`, () => slotOf(page, memberId));
  await until(what, async () => {
    const now = await slotOf(page, memberId);
    return now && (now.slot !== first.slot || now.packetsReceived >= first.packetsReceived + SECOND)
      ? true
      : undefined;
  });
}

describe("Reconnecting in Chromium", { timeout: 150_000 }, () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let browser: Browser;
  let page: Page;
  let ben: { client: ConferenceClient; engine: WeriftMediaEngine; session: VoiceSession };
  const playback = new AbortController();
  let conferenceId = "";
  const ids = { ada: "", ben: "" };
  /** Every text frame Ben's client received, by text: a duplicate delivery would show twice. */
  const benReceived = new Map<string, string[]>();

  before(async () => {
    for (const [file, hint] of [
      [join(WEB_DIR, "index.html"), "run `npm run build:web` before this test"],
      [CHROMIUM, "apt-get install -y chromium, or set CHROMIUM_PATH"],
      [SPEECH, "the shared voice fixtures are missing"],
    ] as const)
      if (!existsSync(file)) throw new Error(`${file} not found: ${hint}`);
    server = await startTestServer(SERVER_ENV);
    proxy = await TcpProxy.start(server.baseUrl);
    const conference = await server.api.createConference("Shaky network");
    conferenceId = conference.id;
    const ada = await server.api.register(conference.id, { name: "Ada" });
    const benSeat = await server.api.register(conference.id, { name: "Ben" });
    ids.ada = ada.memberId;
    ids.ben = benSeat.memberId;
    await server.api.build(conference.id, conference.hostToken);

    const client = await openClient(server.api, conference.id, benSeat.token);
    const engine = new WeriftMediaEngine({
      bindAddress: "127.0.0.1",
      decode: false,
      memberOf: (slot) => client.room.memberInSlot(slot),
    });
    ben = { client, engine, session: new VoiceSession(client, engine) };
    client.on("message", (m) => {
      if (m.type === "text") benReceived.set(m.text, [...(benReceived.get(m.text) ?? []), m.id]);
    });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...CHROMIUM_VOICE_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${SPEECH}`,
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(() => {
      const causes: string[] = [];
      const Native = window.WebSocket;
      // `window.event` is the event being handled while the socket is made; none means a timer.
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          causes.push(window.event?.type ?? "timer");
        }
      };
      (window as unknown as { socketCauses: string[] }).socketCauses = causes;
    });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on("console", (message) => {
      if (message.type() !== "error" || EXPECTED_ERRORS.some((e) => e.test(message.text()))) return;
      problems.push(`console: ${message.text()} ${message.location().url}`);
    });
    page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
    const room = new URL(ada.roomUrl, server.baseUrl);
    await page.goto(`${proxy.origin}${room.pathname}${room.search}`);
    await page.getByTestId("room").waitFor();
  });

  after(async () => {
    playback.abort();
    ben?.session.stop();
    ben?.engine.close();
    ben?.client.close();
    await browser?.close().catch(() => {});
    await proxy?.close();
    await server?.stop();
    // A restarted server keeps the first one's data folder, which stop() leaves in place then.
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  it("both are in the room and hear each other", async () => {
    ben.session.start();
    await page.evaluate(() => window.roundtable?.joinVoice());
    const info = await voiceInfo(page);
    assert.deepEqual(
      [info?.status, info?.connection, info?.generation, info?.mic],
      ["connected", "connected", 1, "live"],
    );
    await until("Ben's voice is connected", () => (ben.engine.state === "connected" ? true : undefined));
    void ben.engine.playWav(SPEECH, { loops: 20, signal: playback.signal });

    await receivesVoice(page, ids.ben, "Ada receives a second of Ben");
    await seatOf(page, ids.ben).and(page.locator("[data-speaking=true]")).waitFor();
    const heard = ben.engine.heardFrom(ids.ada).packets;
    await until("Ben receives a second of Ada", () =>
      ben.engine.heardFrom(ids.ada).packets >= heard + SECOND ? true : undefined,
    );
    await page.evaluate(() => {
      (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
    });
  });

  it("cut off, Ada's page says so, and what she writes waits as sending", async () => {
    const adaPeer = server.server.voice.room(conferenceId)?.peerOf(ids.ada);
    assert.ok(adaPeer, "the server has Ada's voice peer");
    proxy.cut();
    await page.locator("[data-testid=connection-banner][data-status=reconnecting]").waitFor();
    await page.getByTestId("connection-status").filter({ hasText: "Reconnecting" }).waitFor();
    // The server saw her go: offline, no voice peer. Texts to her from now on wait on the server.
    await until("Ben sees Ada offline with her voice gone", () => {
      const seat = ben.client.room.seat(ids.ada);
      return seat && !seat.online && !seat.voice.connected ? true : undefined;
    });
    assert.equal(server.server.voice.room(conferenceId)?.peerOf(ids.ada), undefined);
    await page.locator("[data-testid=voice-bar][data-reconnecting=true]").waitFor();
    assert.match((await page.getByTestId("voice-audience").textContent()) ?? "", /Reconnecting voice/);
    await seatOf(page, ids.ben).and(page.locator("[data-speaking=false]")).waitFor();

    await ben.client.sendText([ids.ada], "Ada, only for you: are you still there?");
    await ben.client.sendText("all", "Ada seems to have dropped out.");
    const input = page.getByTestId("composer-input");
    await input.fill("Sorry, my network is acting up.");
    await input.press("Enter");
    const pending = page.locator("[data-testid=chat-pending]", { hasText: "Sorry, my network" });
    await pending.waitFor();
    assert.match((await pending.textContent()) ?? "", /sending/);
    assert.equal(await input.inputValue(), "");
    assert.equal(await page.getByTestId("composer-error").count(), 0, "a text written offline is no error");
    assert.equal(await chatEntries(page, "Sorry, my network").count(), 0);
    assert.equal(await chatEntries(page, "are you still there").count(), 0);
  });

  it("it keeps trying with backoff; Try now and the browser's online event try at once", async () => {
    await proxy.until(
      () => proxy.refusedMatching(SOCKET_REQUEST) >= 3,
      "the proxy refused three reconnect attempts",
    );
    assert.ok((await socketCauses(page)).includes("timer"), "the backoff timer made attempts");
    // Between attempts the banner counts down to the next one.
    await page
      .getByTestId("retry-countdown")
      .filter({ hasText: /next try in \d+ s/ })
      .waitFor();

    // A click during an attempt under way does nothing, so click until one makes an attempt.
    let refused = proxy.refusedMatching(SOCKET_REQUEST);
    await until("Try now starts an attempt", async () => {
      if ((await socketCauses(page)).includes("click")) return true;
      await page.getByTestId("retry-now").click();
      return undefined;
    });
    await proxy.until(() => proxy.refusedMatching(SOCKET_REQUEST) > refused, "the proxy refused it");

    refused = proxy.refusedMatching(SOCKET_REQUEST);
    await until("the online event starts an attempt", async () => {
      if ((await socketCauses(page)).includes("online")) return true;
      await page.evaluate(() => window.dispatchEvent(new Event("online")));
      return undefined;
    });
    await proxy.until(() => proxy.refusedMatching(SOCKET_REQUEST) > refused, "the proxy refused it");
    assert.equal(await page.getByTestId("connection-banner").getAttribute("data-status"), "reconnecting");
  });

  it("restored, Ada is back in her seat without a reload, every text exactly once", async () => {
    const seatBefore = await seatOf(page, ids.ada).getAttribute("data-seat");
    proxy.restore();
    // The browser reports the network back; the backoff timer would get there too, later.
    await until("the banner is gone", async () => {
      if ((await page.getByTestId("connection-banner").count()) === 0) return true;
      await page.evaluate(() => window.dispatchEvent(new Event("online")));
      return undefined;
    });
    await page.getByTestId("connection-status").filter({ hasText: "Connected" }).waitFor();
    assert.equal(
      await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce),
      true,
      "the page was not reloaded",
    );
    assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation").length), 1);
    assert.equal(await page.getByTestId("room").getAttribute("data-member-id"), ids.ada);
    assert.equal(await page.evaluate(() => window.roundtable?.memberId), ids.ada);
    assert.equal(await seatOf(page, ids.ada).getAttribute("data-seat"), seatBefore, "the same seat");
    await until("Ben sees Ada online again", () =>
      ben.client.room.seat(ids.ada)?.online ? true : undefined,
    );

    for (const text of ["are you still there", "Ada seems to have dropped out", "Sorry, my network"])
      await chatEntries(page, text).first().waitFor();
    await page.locator("[data-testid=chat-pending]").waitFor({ state: "detached" });
    assert.equal(
      await chatEntries(page, "are you still there").getAttribute("data-private"),
      "true",
      "Ben's private text arrived, marked private",
    );
    await until("Ben gets Ada's queued text", () =>
      benReceived.has("Sorry, my network is acting up.") ? true : undefined,
    );
  });

  it("voice comes back on a new peer connection, both ways", async () => {
    await page
      .locator("[data-testid=voice-bar][data-connection=connected][data-reconnecting=false]")
      .waitFor();
    const info = await voiceInfo(page);
    assert.equal(info?.status, "connected");
    assert.equal(info?.generation, 2, "one new peer connection, no more");
    assert.ok(server.server.voice.room(conferenceId)?.peerOf(ids.ada), "the server has a peer for Ada again");

    await receivesVoice(page, ids.ben, "Ada receives Ben again");
    await seatOf(page, ids.ben).and(page.locator("[data-speaking=true]")).waitFor();
    const heard = ben.engine.heardFrom(ids.ada).packets;
    await until("Ben receives Ada again", () =>
      ben.engine.heardFrom(ids.ada).packets >= heard + SECOND ? true : undefined,
    );
    await until("Ben sees Ada's voice connected", () =>
      ben.client.room.seat(ids.ada)?.voice.connected ? true : undefined,
    );
  });

  it("after all that, no text was lost or duplicated anywhere", async () => {
    for (const text of ["are you still there", "Ada seems to have dropped out", "Sorry, my network"])
      assert.equal(await chatEntries(page, text).count(), 1, `"${text}" shows once in Ada's log`);
    assert.equal(await page.locator("[data-testid=chat-pending]").count(), 0);
    assert.equal(await page.getByTestId("composer-error").count(), 0);
    assert.equal(benReceived.get("Sorry, my network is acting up.")?.length, 1, "Ben got it once");
    const stored = await server.server.service.history(conferenceId, ids.ada);
    assert.deepEqual(
      stored.map((m) => m.text),
      [
        "Ada, only for you: are you still there?",
        "Ada seems to have dropped out.",
        "Sorry, my network is acting up.",
      ],
      "the server stored each text once",
    );
  });

  it("a text written offline survives a reload of the page and arrives once", async () => {
    const text = "Written offline, then the page was reloaded.";
    proxy.cutSockets();
    await page.locator("[data-testid=connection-banner][data-status=reconnecting]").waitFor();
    const input = page.getByTestId("composer-input");
    await input.fill(text);
    await input.press("Enter");
    await page.locator("[data-testid=chat-pending]", { hasText: text }).waitFor();

    await page.reload();
    // Pages load, the conference socket cannot get through: the text waits in this tab's storage.
    await page.locator("[data-testid=connection-banner][data-status=reconnecting]").waitFor();
    const kept = await page.evaluate(() =>
      Object.keys(sessionStorage)
        .filter((k) => k.startsWith("roundtable:outbox:"))
        .map((k) => sessionStorage.getItem(k) ?? ""),
    );
    assert.equal(kept.length, 1);
    assert.match(kept[0] ?? "", /Written offline/);
    assert.equal(benReceived.has(text), false);

    proxy.restore();
    await until("the banner is gone", async () => {
      if ((await page.getByTestId("connection-banner").count()) === 0) return true;
      await page.evaluate(() => window.dispatchEvent(new Event("online")));
      return undefined;
    });
    await chatEntries(page, text).waitFor();
    await page.locator("[data-testid=chat-pending]").waitFor({ state: "detached" });
    await until("Ben gets the text written before the reload", () =>
      benReceived.has(text) ? true : undefined,
    );
    assert.equal(benReceived.get(text)?.length, 1, "once");
    assert.equal(await chatEntries(page, text).count(), 1);
    const stored = await server.server.service.history(conferenceId, ids.ada);
    assert.equal(stored.filter((m) => m.text === text).length, 1, "stored once");
    assert.deepEqual(
      await page.evaluate(() =>
        Object.keys(sessionStorage).filter((k) => k.startsWith("roundtable:outbox:")),
      ),
      [],
      "nothing left to send",
    );
  });

  it("a server restart says so, and the page comes back to the new process by itself", async () => {
    const seatBefore = await seatOf(page, ids.ada).getAttribute("data-seat");
    const textsBefore = await page.locator("[data-testid=chat-log] [data-testid=chat-entry]").count();
    // The reload before left voice off (browsers need a gesture): join again first.
    await page.evaluate(() => window.roundtable?.joinVoice());
    const generation = await until("Ada's voice is connected", async () => {
      const info = await voiceInfo(page);
      return info?.status === "connected" ? info.generation : undefined;
    });
    await page.evaluate(() => {
      (window as unknown as { beforeRestart: boolean }).beforeRestart = true;
    });
    // What SIGTERM runs: stop accepting, 1012 to every client, close.
    await server.server.close();
    await page
      .locator("[data-testid=connection-banner][data-close-code='1012']", {
        hasText: "The server is restarting",
      })
      .waitFor();

    server = await startTestServer(SERVER_ENV, {}, server.dataDir);
    proxy.retarget(server.baseUrl);
    await until("the banner is gone", async () => {
      if ((await page.getByTestId("connection-banner").count()) === 0) return true;
      await page.evaluate(() => window.dispatchEvent(new Event("online")));
      return undefined;
    });
    assert.equal(
      await page.evaluate(() => (window as unknown as { beforeRestart?: boolean }).beforeRestart),
      true,
      "no reload",
    );
    assert.equal(await seatOf(page, ids.ada).getAttribute("data-seat"), seatBefore);
    assert.equal(await page.locator("[data-testid=chat-log] [data-testid=chat-entry]").count(), textsBefore);
    await until("voice is back on a new peer connection", async () => {
      const info = await voiceInfo(page);
      return info?.status === "connected" && info.generation > generation ? true : undefined;
    });
    assert.ok(server.server.voice.room(conferenceId)?.peerOf(ids.ada), "the new process has Ada's voice");
  });

  it("the page hit no error besides the refused connections", () => {
    assert.deepEqual(problems, []);
  });
});
