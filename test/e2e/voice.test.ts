/**
 * Voice in Chromium, through the real server and its werift SFU, on loopback only. Three members,
 * each in their own browser process with its own fake microphone: Ada's plays speech, Ben's and
 * Cleo's silence. Ada talks to everyone, whispers to Ben, and talks to everyone again, on one peer
 * connection throughout. A fourth member whose browser denies the microphone can still listen and
 * write. Needs `npm run build:web` first; builds nothing itself.
 *
 * Synchronisation follows what the pages report (RTP counters, slot bindings, seat attributes),
 * never the clock: "Ben received 100 more packets from Ada" is how long the whisper is watched.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { CHROMIUM_PATH as CHROMIUM, CHROMIUM_VOICE_ARGS, until } from "./chromium.ts";
import { micArgs, RoomPages, SECOND, seatOf, slotOf, voiceStats, waitForVoice } from "./voicePages.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
const FIXTURES = resolve(ROOT, "../shared/fixtures");
const SPEECH = join(FIXTURES, "speech.wav");
const SILENCE = join(FIXTURES, "silence.wav");
/** README pictures are refreshed only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? join(ROOT, "docs/screenshot-voice.png")
  : join(tmpdir(), "roundtable-screenshot-voice.png");

/** A browser with a (fake) microphone that the person refuses to share. */
const DENIED_ARGS = [
  ...CHROMIUM_VOICE_ARGS,
  "--use-fake-device-for-media-stream",
  "--deny-permission-prompts",
];

const pages = new RoomPages();
const { problems } = pages;
let server: TestServer | undefined;
const openRoom = (args: string[], label: string, roomUrl: string) => pages.open(args, label, roomUrl);

/** Records in the page whether `memberId`'s seat ever shows speaking from now on. */
function watchSpeaking(page: Page, memberId: string): Promise<void> {
  return page.evaluate((id) => {
    const seat = document.querySelector(`[data-testid=seat][data-member-id="${id}"]`);
    if (!seat) throw new Error(`no seat for ${id}`);
    const w = window as unknown as { sawSpeaking: boolean; speakingWatch?: MutationObserver };
    w.speakingWatch?.disconnect();
    w.sawSpeaking = seat.getAttribute("data-speaking") === "true";
    w.speakingWatch = new MutationObserver(() => {
      if (seat.getAttribute("data-speaking") === "true") w.sawSpeaking = true;
    });
    w.speakingWatch.observe(seat, { attributes: true, attributeFilter: ["data-speaking"] });
  }, memberId);
}

const sawSpeaking = (page: Page) =>
  page.evaluate(() => (window as unknown as { sawSpeaking: boolean }).sawSpeaking);

const voiceInfo = (page: Page) =>
  page.evaluate(() => {
    if (!window.roundtable) throw new Error("window.roundtable is missing");
    return window.roundtable.voiceInfo();
  });

describe("Voice in Chromium", { timeout: 150_000 }, () => {
  let conferenceId: string;
  const ids = { ada: "", ben: "", cleo: "", dee: "" };
  const urls = { ada: "", ben: "", cleo: "", dee: "" };
  let ada: Page;
  let ben: Page;
  let cleo: Page;
  let dee: Page;

  before(async () => {
    const required: [string, string][] = [
      [join(WEB_DIR, "index.html"), "run `npm run build:web` before this test"],
      [CHROMIUM, "apt-get install -y chromium, or set CHROMIUM_PATH"],
      [SPEECH, "the shared voice fixtures are missing"],
      [SILENCE, "the shared voice fixtures are missing"],
    ];
    for (const [file, hint] of required) if (!existsSync(file)) throw new Error(`${file} not found: ${hint}`);
    server = await startTestServer({
      WEB_DIR,
      RTC_LISTEN_ADDRESS: "127.0.0.1",
      RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
    });
    const conference = await server.api.createConference("Voice check");
    conferenceId = conference.id;
    for (const [key, name] of [
      ["ada", "Ada"],
      ["ben", "Ben"],
      ["cleo", "Cleo"],
      ["dee", "Dee"],
    ] as const) {
      const member = await server.api.register(conference.id, { name });
      ids[key] = member.memberId;
      urls[key] = new URL(member.roomUrl, server.baseUrl).toString();
    }
    await server.api.build(conference.id, conference.hostToken);
    [ada, ben, cleo, dee] = await Promise.all([
      openRoom(micArgs(SPEECH), "ada", urls.ada),
      openRoom(micArgs(SILENCE), "ben", urls.ben),
      openRoom(micArgs(SILENCE), "cleo", urls.cleo),
      openRoom(DENIED_ARGS, "dee", urls.dee),
    ]);
  });

  after(async () => {
    await pages.close();
    await server?.stop();
  });

  it("each member joins voice: the button on one page, window.roundtable on the others", async () => {
    await ada.getByTestId("join-voice").click();
    await Promise.all(
      [ben, cleo].map((page) =>
        page.evaluate(() => {
          if (!window.roundtable) throw new Error("window.roundtable is missing");
          return window.roundtable.joinVoice();
        }),
      ),
    );
    await ada.waitForFunction(() => window.roundtable?.voiceInfo().connection === "connected");
    for (const page of [ada, ben, cleo]) {
      const info = await voiceInfo(page);
      assert.equal(info.status, "connected");
      assert.equal(info.mic, "live");
      assert.equal(info.generation, 1);
      await page.locator("[data-testid=voice-bar][data-connection=connected]").waitFor();
      // Everyone sees everyone's voice connected and unmuted.
      for (const id of [ids.ada, ids.ben, ids.cleo])
        await seatOf(page, id).locator("[data-testid=seat-voice][data-muted=false]").waitFor();
    }
    assert.match((await ada.getByTestId("voice-audience").textContent()) ?? "", /Everyone hears you/);
    // Cleo listens without spatial audio (the setting is remembered in her browser).
    const spatial = cleo.getByTestId("voice-spatial");
    assert.equal(await spatial.isChecked(), true, "spatial audio is on by default");
    await spatial.uncheck();
  });

  it("Ada talks to everyone: Ben and Cleo both receive her and see her speaking", async () => {
    const memberOf = (label: "ben" | "cleo") => ids[label];
    for (const [page, label, spatial] of [
      [ben, "ben", true],
      [cleo, "cleo", false],
    ] as const) {
      const received = await waitForVoice(page, ids.ada, label, spatial);
      // The server's offer puts RED first and Chromium takes it both ways (its stats name the
      // Opus inside): the server repairs Ada's uplink and each listener's slot separately.
      const repair = (id: string) => server?.server.voice.room(conferenceId)?.peerOf(id)?.repairStats();
      assert.equal(repair(ids.ada)?.uplinkRed, true, "Ada's microphone arrives as RED");
      assert.equal(repair(memberOf(label))?.slotRed[received.slot], true, `${label}'s slot is RED`);
      // Exactly one audible path: spatial plays through WebAudio with the element muted, whose
      // level Chromium then reports as 0; without spatial audio the element plays.
      if (spatial) assert.equal(received.totalAudioEnergy, 0, "Ben's media element is muted");
      await seatOf(page, ids.ada).and(page.locator("[data-speaking=true]")).waitFor();
      assert.equal(await seatOf(page, ids.ada).getAttribute("data-whisper"), "false");
    }
    // Ada's own seat meters her microphone.
    await ada.waitForFunction(
      (id) =>
        Number(
          document
            .querySelector<HTMLElement>(`[data-testid=seat][data-member-id="${id}"]`)
            ?.style.getPropertyValue("--voice-level") || 0,
        ) > 0,
      ids.ada,
    );
  });

  it("Ada whispers to Ben: Ben hears a whisper, Cleo hears nothing from Ada", async () => {
    assert.ok(server);
    const adaPeer = server.server.voice.room(conferenceId)?.peerOf(ids.ada);
    const adaSlot = (await until("Cleo has Ada's slot", () => slotOf(cleo, ids.ada))).slot;
    await ada.evaluate((id) => window.roundtable?.setVoiceTarget([id]), ids.ben);
    // Voice follows the picked seats, so the pick follows the voice: Ben's seat is chosen on Ada's page.
    await ada.getByTestId("talking-to").filter({ hasText: "→ Ben" }).waitFor();
    assert.equal(await seatOf(ada, ids.ben).getAttribute("data-selected"), "true");
    assert.match((await ada.getByTestId("voice-audience").textContent()) ?? "", /Only Ben hears you/);

    await seatOf(ben, ids.ada).locator("[data-testid=whisper-badge]").waitFor();
    await seatOf(ben, ids.ada).and(ben.locator("[data-speaking=true]")).waitFor();

    // Cleo loses Ada's slot, and Ada's seat stops speaking there. Once the last packets have
    // played, the jitter buffer's concealment fades to silence: from then on nothing may sound.
    await until("Cleo's slot for Ada is released and silent", async () => {
      const stats = await voiceStats(cleo);
      return stats.some((s) => s.memberId === ids.ada || s.audioLevel > 0.001) ? undefined : true;
    });
    await seatOf(cleo, ids.ada).and(cleo.locator("[data-speaking=false]")).waitFor();

    // Watch both pages while Ben receives 100 more packets (two seconds) of Ada's whisper.
    await watchSpeaking(cleo, ids.ada);
    await watchSpeaking(ben, ids.ada);
    const benStart = await until("Ben has Ada's slot", () => slotOf(ben, ids.ada));
    const cleoStart = await voiceStats(cleo);
    await until("Ben receives two more seconds of Ada", async () => {
      const [benNow, cleoNow] = await Promise.all([slotOf(ben, ids.ada), voiceStats(cleo)]);
      assert.ok(!cleoNow.some((s) => s.memberId === ids.ada), "no slot of Cleo's is bound to Ada");
      if (!benNow) return undefined;
      return benNow.packetsReceived >= benStart.packetsReceived + 2 * SECOND ? benNow : undefined;
    });
    const cleoEnd = await voiceStats(cleo);
    assert.equal(await sawSpeaking(cleo), false, "Cleo never sees Ada speaking during the whisper");
    assert.equal(await sawSpeaking(ben), true, "Ben sees Ada speaking during the whisper");
    for (const end of cleoEnd) {
      const start = cleoStart.find((s) => s.slot === end.slot);
      const energy = end.totalAudioEnergy - (start?.totalAudioEnergy ?? 0);
      assert.ok(energy < 1e-6, `slot ${end.slot} on Cleo's page gains no energy (got ${energy})`);
      if (end.slot === adaSlot)
        assert.ok(
          end.packetsReceived <= (start?.packetsReceived ?? 0) + 2,
          `Ada's old slot on Cleo's page stays quiet (${start?.packetsReceived} -> ${end.packetsReceived})`,
        );
    }
    assert.ok(cleoEnd.length > 0, "Cleo still has her slots");
    assert.equal(server.server.voice.room(conferenceId)?.peerOf(ids.ada), adaPeer, "same server peer");

    // The picture for the docs: Ben's view, Ada speaking (ring at a visible level) in a whisper.
    await ben.waitForFunction(
      (id) =>
        Number(
          document
            .querySelector<HTMLElement>(`[data-testid=seat][data-member-id="${id}"]`)
            ?.style.getPropertyValue("--voice-level") || 0,
        ) > 0.45,
      ids.ada,
    );
    await ben.screenshot({ path: SCREENSHOT });
  });

  it("back to everyone: Cleo receives Ada again on the same connection", async () => {
    assert.ok(server);
    const adaPeer = server.server.voice.room(conferenceId)?.peerOf(ids.ada);
    await ada.evaluate(() => window.roundtable?.setVoiceTarget("all"));
    await ada.getByTestId("talking-to").waitFor({ state: "detached" });
    assert.equal(await seatOf(ada, ids.ben).getAttribute("data-selected"), "false");
    await waitForVoice(cleo, ids.ada, "cleo", false);
    await seatOf(cleo, ids.ada).and(cleo.locator("[data-speaking=true]")).waitFor();
    await seatOf(ben, ids.ada).and(ben.locator("[data-whisper=false]")).waitFor();
    for (const page of [ada, ben, cleo]) {
      const info = await voiceInfo(page);
      assert.equal(info.generation, 1, "no new offer: the first peer connection lives on");
      assert.equal(info.connection, "connected");
    }
    assert.equal(server.server.voice.room(conferenceId)?.peerOf(ids.ada), adaPeer, "same server peer");
  });

  it("muting stops Ada's voice for the others and shows on her seat; M toggles it", async () => {
    await ada.keyboard.press("m");
    assert.equal((await voiceInfo(ada)).muted, true);
    await ada.getByTestId("mute-button").and(ada.locator("[aria-pressed=true]")).waitFor();
    for (const page of [ben, cleo]) {
      await seatOf(page, ids.ada).locator("[data-testid=seat-voice][data-muted=true]").waitFor();
      await until("the slot for Ada is released", async () =>
        (await slotOf(page, ids.ada)) ? undefined : true,
      );
    }
    await ada.getByTestId("mute-button").click();
    assert.equal((await voiceInfo(ada)).muted, false);
    await waitForVoice(ben, ids.ada, "ben", true);
  });

  it("holding V on a focused seat whispers to that member alone, then restores target and mute", async () => {
    await ada.evaluate(() => window.roundtable?.setMuted(true));
    await seatOf(ben, ids.ada).locator("[data-testid=seat-voice][data-muted=true]").waitFor();
    await until("Ben's slot for Ada is released", async () =>
      (await slotOf(ben, ids.ada)) ? undefined : true,
    );
    await watchSpeaking(ben, ids.ada);

    await seatOf(ada, ids.cleo).locator("button").focus();
    await ada.keyboard.down("v");
    const held = await voiceInfo(ada);
    assert.deepEqual([held.target, held.muted], [[ids.cleo], false]);
    await ada.getByTestId("talking-to").filter({ hasText: "→ Cleo" }).waitFor();
    assert.match((await ada.getByTestId("voice-audience").textContent()) ?? "", /Whispering to Cleo/);
    await waitForVoice(cleo, ids.ada, "cleo", false);
    await seatOf(cleo, ids.ada).locator("[data-testid=whisper-badge]").waitFor();
    assert.equal(await slotOf(ben, ids.ada), undefined, "Ben gets no slot for Ada's whisper to Cleo");
    assert.equal(await sawSpeaking(ben), false);

    await ada.keyboard.up("v");
    const released = await voiceInfo(ada);
    assert.deepEqual([released.target, released.muted], ["all", true]);
    await ada.getByTestId("talking-to").waitFor({ state: "detached" });
    assert.equal(await seatOf(ada, ids.cleo).getAttribute("data-selected"), "false", "the pick is untouched");
    await until("Cleo's slot for Ada is released", async () =>
      (await slotOf(cleo, ids.ada)) ? undefined : true,
    );
    await seatOf(cleo, ids.ada).locator("[data-testid=seat-voice][data-muted=true]").waitFor();

    await ada.evaluate(() => window.roundtable?.setMuted(false));
    await waitForVoice(ben, ids.ada, "ben", true);
  });

  it("a member whose browser denies the microphone is told so, and can still listen and write", async () => {
    await dee.getByTestId("join-voice").click();
    const problem = dee.getByTestId("mic-problem");
    await problem.waitFor();
    assert.equal(await problem.getAttribute("data-kind"), "denied");
    assert.match((await problem.textContent()) ?? "", /Microphone blocked: you can listen and write/);
    await dee.waitForFunction(() => window.roundtable?.voiceInfo().connection === "connected");
    assert.equal(await dee.getByTestId("mute-button").isDisabled(), true);
    await waitForVoice(dee, ids.ada, "dee", true);
    await seatOf(dee, ids.ada).and(dee.locator("[data-speaking=true]")).waitFor();
    // Listening only: the others see Dee's voice connected but muted, and no slot carries Dee.
    await seatOf(ada, ids.dee).locator("[data-testid=seat-voice][data-muted=true]").waitFor();
    assert.equal((await voiceInfo(dee)).muted, true);
    assert.equal(await slotOf(ada, ids.dee), undefined);

    const text = "No microphone here, but I can hear you all.";
    await dee.getByTestId("composer-input").fill(text);
    await dee.getByTestId("composer-input").press("Enter");
    await ada.locator("[data-testid=chat-entry]", { hasText: text }).waitFor();
  });

  it("no page hit a CSP violation or logged an error", () => {
    assert.deepEqual(problems, []);
  });
});
