import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ConferenceClient, VoiceSession } from "@roundtable/client-core";
import { startTestServer } from "../../server/test/harness.ts";
import { rms } from "../src/audio/level.ts";
import { parseWav, readVoiceWav, toVoicePcm, writeWav } from "../src/audio/wav.ts";
import { openClient } from "../src/connect.ts";
import { WeriftMediaEngine } from "../src/WeriftMediaEngine.ts";

const run = promisify(execFile);
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** Runs the bot CLI as a user would, with these arguments. */
const runBot = (args: string[]) =>
  run(process.execPath, ["--import", "tsx", main, ...args], { timeout: 30_000 });

test("the bot registers from an invite link, joins the room and writes", async () => {
  const t = await startTestServer();
  try {
    const conference = await t.api.createConference("Bots welcome");
    await t.api.build(conference.id, conference.hostToken);
    const { stdout } = await runBot([
      "--invite",
      conference.inviteUrl,
      "--name",
      "Announcer",
      "--say",
      "Doors open",
      "--exit",
    ]);
    assert.match(stdout, /registered as /);
    assert.match(stdout, /room built: 0:Announcer/);
    const summary = await t.api.getConference(conference.id);
    assert.deepEqual(
      summary.members.map((m) => m.name),
      ["Announcer"],
    );
    const roomLink = /room link: (\S+)/.exec(stdout)?.[1];
    assert.ok(roomLink);
    const token = new URL(roomLink).searchParams.get("token") ?? "";
    assert.deepEqual(
      (await t.api.history(conference.id, token)).map((m) => m.text),
      ["Doors open"],
    );
  } finally {
    await t.stop();
  }
});

test("the bot says why it cannot join: an ended conference, a refused link", async () => {
  const t = await startTestServer();
  try {
    const conference = await t.api.createConference("Over");
    const ada = await t.api.register(conference.id, { name: "Ada" });
    await t.api.end(conference.id, conference.hostToken);
    const room = `${t.baseUrl}/c/${conference.id}?token=${ada.token}`;
    await assert.rejects(runBot(["--room", room, "--exit"]), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr ?? "", /the host ended this conference/);
      return true;
    });
    const refused = `${t.baseUrl}/c/${conference.id}?token=not-a-token`;
    await assert.rejects(runBot(["--room", refused, "--exit"]), (error: { stderr?: string }) => {
      assert.match(error.stderr ?? "", /the server refused this member/);
      return true;
    });
  } finally {
    await t.stop();
  }
});

const SPEECH = resolve(import.meta.dirname, "../../../../shared/fixtures/speech.wav");

test("the bot speaks a WAV into the room and records what it hears", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 60_000,
}, async () => {
  const t = await startTestServer({ RTC_LISTEN_ADDRESS: "127.0.0.1", RTC_ANNOUNCED_ADDRESSES: "127.0.0.1" });
  const dir = await mkdtemp(join(tmpdir(), "roundtable-bot-"));
  const playback = new AbortController();
  let client: ConferenceClient | undefined;
  let session: VoiceSession | undefined;
  try {
    const conference = await t.api.createConference("Bots speak");
    await t.api.build(conference.id, conference.hostToken);
    // Two seconds of speech for the bot; a listener in this process that also speaks, for the recording.
    const clip = join(dir, "clip.wav");
    const { pcm } = await readVoiceWav(SPEECH);
    await writeWav(clip, pcm.subarray(48_000, 3 * 48_000));
    const registered = await t.api.register(conference.id, { name: "Listener" });
    client = await openClient(t.api, conference.id, registered.token);
    const room = client.room;
    const engine = new WeriftMediaEngine({
      bindAddress: "127.0.0.1",
      memberOf: (s) => room.memberInSlot(s),
    });
    session = new VoiceSession(client, engine);
    session.start();
    engine.on("state", (state) => {
      if (state === "connected") void engine.playPcm(pcm, { loops: 5, signal: playback.signal });
    });

    const out = join(dir, "heard.wav");
    const { stdout } = await runBot([
      "--invite",
      conference.inviteUrl,
      "--name",
      "Speaker",
      "--play",
      clip,
      "--record",
      out,
      "--bind",
      "127.0.0.1",
      "--exit",
    ]);
    assert.match(stdout, /\[peer connected\]/);
    assert.match(stdout, /played 100 frames, sent 100 packets/);
    assert.match(stdout, /heard Listener: \d+ packets/);
    const botId = /registered as (\S+);/.exec(stdout)?.[1] ?? "";
    const heard = engine.heardFrom(botId);
    assert.ok(heard.packets >= 90, `the listener heard ${heard.packets} of 100 packets from the bot`);
    assert.ok(Math.sqrt(heard.sumSquares / heard.samples) > 0.01);
    const recording = toVoicePcm(parseWav(await readFile(out)));
    assert.ok(recording.length > 48_000, "the recording lasts at least a second");
    assert.ok(rms(recording) > 0.01, `recorded RMS ${rms(recording)}`);
  } finally {
    playback.abort();
    session?.stop();
    client?.close();
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
