/**
 * Three members in Chromium, each on a different node of a three-node cluster (one PostgreSQL, one
 * NATS, started here): a text to all and one to a single member, voice to all, a whisper, and back
 * to all, as the one-node voice test does. Needs `npm run build:web` first.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "../cluster/cluster.ts";
import { CHROMIUM_PATH, until } from "./chromium.ts";
import { micArgs, RoomPages, SECOND, seatOf, slotOf, voiceStats, waitForVoice } from "./voicePages.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
const FIXTURES = resolve(ROOT, "../shared/fixtures");
const SPEECH = join(FIXTURES, "speech.wav");
const SILENCE = join(FIXTURES, "silence.wav");

const pages = new RoomPages();
let cluster: TestCluster | undefined;

describe("Three members in Chromium on three nodes", { timeout: 150_000 }, () => {
  const ids = { ada: "", ben: "", cleo: "" };
  let ada: Page;
  let ben: Page;
  let cleo: Page;

  before(async () => {
    for (const file of [join(WEB_DIR, "index.html"), CHROMIUM_PATH, SPEECH, SILENCE])
      if (!existsSync(file)) throw new Error(`${file} not found (build the web UI, install chromium)`);
    cluster = await startCluster(["a", "b", "c"], {
      WEB_DIR,
      RTC_LISTEN_ADDRESS: "127.0.0.1",
      RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
    });
    const [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
    const conference = await a.api.createConference("Across nodes");
    const urls: string[] = [];
    for (const [key, node] of [
      ["ada", a],
      ["ben", b],
      ["cleo", c],
    ] as const) {
      // Registered at one node, each opens the room at their own: every node serves every page.
      const member = await a.api.register(conference.id, { name: key[0]?.toUpperCase() + key.slice(1) });
      ids[key] = member.memberId;
      const room = new URL(member.roomUrl, a.baseUrl);
      room.host = new URL(node.baseUrl).host;
      urls.push(room.toString());
    }
    await a.api.build(conference.id, conference.hostToken);
    [ada, ben, cleo] = (await Promise.all([
      pages.open(micArgs(SPEECH), "ada@a", urls[0] as string),
      pages.open(micArgs(SILENCE), "ben@b", urls[1] as string),
      pages.open(micArgs(SILENCE), "cleo@c", urls[2] as string),
    ])) as [Page, Page, Page];
  });

  after(async () => {
    await pages.close();
    await cluster?.stop();
  });

  it("a text to all and a text to one reach exactly their readers at every node", async () => {
    await ada.getByTestId("composer-input").fill("Hello from node a");
    await ada.getByTestId("composer-input").press("Enter");
    for (const page of [ben, cleo])
      await page.locator("[data-testid=chat-entry]", { hasText: "Hello from node a" }).waitFor();
    await ada.evaluate((id) => window.roundtable?.sendText([id], "Only for Ben"), ids.ben);
    await ben.locator("[data-testid=chat-entry]", { hasText: "Only for Ben" }).waitFor();
    // A later text to all proves Cleo's page is past the whisper's place in the sequence.
    await cleo.evaluate(() => window.roundtable?.sendText("all", "Cleo here"));
    for (const page of [ada, ben])
      await page.locator("[data-testid=chat-entry]", { hasText: "Cleo here" }).waitFor();
    await cleo.locator("[data-testid=chat-entry]", { hasText: "Cleo here" }).waitFor();
    assert.equal(await cleo.locator("[data-testid=chat-entry]", { hasText: "Only for Ben" }).count(), 0);
  });

  it("voice to all, a whisper to Ben, back to all, across nodes", async () => {
    await Promise.all([ada, ben, cleo].map((page) => page.evaluate(() => window.roundtable?.joinVoice())));
    for (const page of [ada, ben, cleo])
      for (const id of [ids.ada, ids.ben, ids.cleo])
        await seatOf(page, id).locator("[data-testid=seat-voice][data-muted=false]").waitFor();

    await waitForVoice(ben, ids.ada, "ben", true);
    await waitForVoice(cleo, ids.ada, "cleo", true);
    await seatOf(cleo, ids.ada).and(cleo.locator("[data-speaking=true]")).waitFor();

    await ada.evaluate((id) => window.roundtable?.setVoiceTarget([id]), ids.ben);
    await seatOf(ben, ids.ada).locator("[data-testid=whisper-badge]").waitFor();
    await until("Cleo's slot for Ada is released", async () =>
      (await slotOf(cleo, ids.ada)) ? undefined : true,
    );
    const benStart = await until("Ben has Ada's slot", () => slotOf(ben, ids.ada));
    await until("Ben receives two more seconds of Ada's whisper", async () => {
      const [benNow, cleoNow] = await Promise.all([slotOf(ben, ids.ada), voiceStats(cleo)]);
      assert.ok(!cleoNow.some((s) => s.memberId === ids.ada), "no slot of Cleo's is bound to Ada");
      return benNow && benNow.packetsReceived >= benStart.packetsReceived + 2 * SECOND ? true : undefined;
    });
    const nodeC = cluster?.nodes[2]?.server.voice.relayed.received;

    await ada.evaluate(() => window.roundtable?.setVoiceTarget("all"));
    await waitForVoice(cleo, ids.ada, "cleo", true);
    await seatOf(ben, ids.ada).and(ben.locator("[data-whisper=false]")).waitFor();
    assert.ok(
      (cluster?.nodes[2]?.server.voice.relayed.received ?? 0) > (nodeC ?? 0),
      "node c receives Ada again",
    );
  });

  it("no page hit a CSP violation or logged an error", () => {
    assert.deepEqual(pages.problems, []);
  });
});
