/**
 * Before and while joining voice, in Chromium. The microphone check shows the level and plays back
 * a recording. Voice state is honest: a member whose network lets no voice through is told why within
 * the deadline and gets a retry button (never an endless spinner), the others never see that
 * member's voice as on, and once the network lets it through, the retry connects and the seat shows
 * the voice on. The "network" is a peer factory that announces no candidates and takes none, so ICE
 * can find no path in either direction, as behind a firewall dropping UDP. Needs `npm run build:web`.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import type { VoicePeer, VoicePeerFactory } from "../../packages/server/src/voice/ports.ts";
import { WeriftPeerFactory } from "../../packages/server/src/voice/sfu/WeriftPeer.ts";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { CHROMIUM_PATH } from "./chromium.ts";
import { micArgs, RoomPages, seatOf } from "./voicePages.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
const SPEECH = resolve(ROOT, "../shared/fixtures/speech.wav");

/** Real werift peers; while `blocked`, they announce no address and ignore the member's. */
class FirewalledPeers implements VoicePeerFactory {
  blocked = true;
  private readonly real = new WeriftPeerFactory({
    iceServers: [],
    listenAddress: "127.0.0.1",
    announcedAddresses: ["127.0.0.1"],
    portRange: undefined,
  });

  async create(slots: number): Promise<VoicePeer> {
    const peer = await this.real.create(slots);
    if (!this.blocked) return peer;
    const sdp = peer.offer.sdp
      .split("\r\n")
      .filter((l) => !l.startsWith("a=candidate:"))
      .join("\r\n");
    Object.assign(peer, { offer: { ...peer.offer, sdp }, addCandidate: async () => {} });
    const acceptAnswer = peer.acceptAnswer.bind(peer);
    peer.acceptAnswer = (answer) =>
      acceptAnswer(
        answer
          .split("\r\n")
          .filter((l) => !l.startsWith("a=candidate:"))
          .join("\r\n"),
      );
    return peer;
  }
}

/** Records in the page every value `memberId`'s seat takes for data-voice from now on. */
function watchSeatVoice(page: Page, memberId: string): Promise<void> {
  return page.evaluate((id) => {
    const seat = document.querySelector(`[data-testid=seat][data-member-id="${id}"]`);
    if (!seat) throw new Error(`no seat for ${id}`);
    const w = window as unknown as { seatVoice: (string | null)[] };
    w.seatVoice = [seat.getAttribute("data-voice")];
    new MutationObserver(() => w.seatVoice.push(seat.getAttribute("data-voice"))).observe(seat, {
      attributes: true,
      attributeFilter: ["data-voice"],
    });
  }, memberId);
}

const seatVoiceValues = (page: Page) =>
  page.evaluate(() => (window as unknown as { seatVoice: (string | null)[] }).seatVoice);

describe("Setting up voice in Chromium", { timeout: 90_000 }, () => {
  const pages = new RoomPages();
  const peers = new FirewalledPeers();
  let server: TestServer;
  let ada: Page;
  let ben: Page;
  const ids = { ada: "", ben: "" };
  let conferenceId = "";

  before(async () => {
    for (const file of [join(WEB_DIR, "index.html"), CHROMIUM_PATH, SPEECH])
      if (!existsSync(file)) throw new Error(`${file} not found (build the web UI, install chromium)`);
    server = await startTestServer({ WEB_DIR, RTC_LISTEN_ADDRESS: "127.0.0.1" }, { voicePeers: peers });
    const conference = await server.api.createConference("Behind a firewall");
    conferenceId = conference.id;
    const urls: string[] = [];
    for (const name of ["Ada", "Ben"]) {
      const member = await server.api.register(conference.id, { name });
      ids[name === "Ada" ? "ada" : "ben"] = member.memberId;
      urls.push(new URL(member.roomUrl, server.baseUrl).toString());
    }
    await server.api.build(conference.id, conference.hostToken);
    [ada, ben] = await Promise.all([
      pages.open(micArgs(SPEECH), "ada", urls[0] ?? ""),
      pages.open(micArgs(SPEECH), "ben", urls[1] ?? ""),
    ]);
  });

  after(async () => {
    await pages.close();
    await server?.stop();
  });

  it("the microphone check shows the level and plays a recording back, before joining", async () => {
    await ben.getByTestId("mic-check-open").click();
    const level = ben.getByTestId("mic-check-level");
    await ben.waitForFunction(
      () =>
        Number(document.querySelector("[data-testid=mic-check-level]")?.getAttribute("data-level")) > 0.01,
    );
    assert.ok(Number(await level.getAttribute("data-level")) > 0.01);
    await ben.getByTestId("mic-check-record").click();
    await ben.locator("[data-testid=mic-check][data-phase=recording]").waitFor();
    await ben.locator("[data-testid=mic-check][data-phase=playing]").waitFor();
    // A string, not a function: tsx would wrap the nested callback in a helper the page lacks.
    // MediaRecorder's WebM reports no duration until the element has seeked to its end.
    const seconds = (await ben.evaluate(`new Promise((resolve) => {
      const audio = document.querySelector("[data-testid=mic-check-playback]");
      const done = () => Number.isFinite(audio.duration) && resolve(audio.duration);
      audio.addEventListener("durationchange", done);
      if (audio.readyState >= 1) audio.currentTime = 1e9;
      else audio.addEventListener("loadedmetadata", () => { audio.currentTime = 1e9; done(); });
      done();
    })`)) as number;
    assert.ok(seconds > 2 && seconds < 4, `a recording of about 3 s, got ${seconds}`);
    await ben.getByTestId("mic-check-close").click();
    assert.equal(await ben.getByTestId("mic-check").count(), 0);
    assert.equal(server.server.voice.room(conferenceId)?.has(ids.ben) ?? false, false, "nothing was sent");
  });

  it("a member whose network blocks voice is told so in plain words, with a retry button", async (t) => {
    await watchSeatVoice(ben, ids.ada);
    const bar = ada.getByTestId("voice-bar");
    const started = Date.now();
    await ada.getByTestId("join-voice").click();
    assert.equal(await bar.getAttribute("data-voice"), "connecting");
    const error = ada.getByTestId("voice-error");
    await error.waitFor();
    t.diagnostic(`told after ${Date.now() - started} ms`);
    assert.equal(await bar.getAttribute("data-voice"), "failed");
    assert.equal(await error.getAttribute("data-kind"), "blocked");
    assert.match((await error.textContent()) ?? "", /block voice .*TURN relay/);
    assert.equal(await ada.locator(".spinner").count(), 0, "no spinner left turning");
    assert.equal(await ada.getByTestId("voice-retry").isVisible(), true);
    assert.equal(
      server.server.voice.room(conferenceId)?.has(ids.ada) ?? false,
      false,
      "the server's peer is freed",
    );
  });

  it("the others never saw that member's voice as on", async () => {
    assert.deepEqual(
      (await seatVoiceValues(ben)).filter((v) => v === "on"),
      [],
    );
    assert.equal(await seatOf(ben, ids.ada).getAttribute("data-voice"), null);
  });

  it("once voice can get through, the retry connects and the others see the voice on", async () => {
    peers.blocked = false;
    await ada.getByTestId("voice-retry").click();
    await ada.locator("[data-testid=voice-bar][data-voice=on]").waitFor();
    assert.equal(await ada.getByTestId("voice-error").count(), 0);
    // The connection check: on loopback, voice goes straight to the server.
    assert.equal(await ada.getByTestId("voice-path").getAttribute("data-path"), "direct");
    await seatOf(ben, ids.ada).and(ben.locator("[data-voice=on]")).waitFor();
    assert.deepEqual(await seatVoiceValues(ben), [null, "on"], "off, then on once packets flowed");
  });

  it("no page hit a CSP violation or logged an error", () => {
    assert.deepEqual(pages.problems, []);
  });
});
