import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type ConferenceClient, RoundtableApi, VoiceSession } from "@roundtable/client-core";
import type { ServerMessage, TextMessage } from "@roundtable/protocol";
import { openClient } from "../../packages/bot/src/connect.ts";
import { type ReceiveCounters, WeriftMediaEngine } from "../../packages/bot/src/WeriftMediaEngine.ts";
import { solidImage } from "../../packages/server/test/images.ts";
import { freePort, type ServerProcess, startServerProcess } from "./serverProcess.ts";
import { until, type Watch, within } from "./waits.ts";

const NAMES = ["Ada", "Ben", "Cleo"] as const;
/** One second of 20 ms frames. */
const SECOND = 50;

interface Member {
  name: string;
  id: string;
  token: string;
  client: ConferenceClient;
  /** Every message the client emitted, in order, across reconnects. */
  received: ServerMessage[];
  voice?: { engine: WeriftMediaEngine; session: VoiceSession };
}

/** One second of a 440 Hz tone at a third of full scale, 48 kHz mono: a voice that is clearly not silence. */
function tone(): Int16Array {
  const pcm = new Int16Array(48_000);
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(0.33 * 32767 * Math.sin((2 * Math.PI * 440 * i) / 48_000));
  return pcm;
}

const rms = (c: { samples: number; sumSquares: number }) =>
  c.samples === 0 ? 0 : Math.sqrt(c.sumSquares / c.samples);
const minus = (a: ReceiveCounters, b: ReceiveCounters) => ({
  packets: a.packets - b.packets,
  samples: a.samples - b.samples,
  sumSquares: a.sumSquares - b.sumSquares,
});

/** Everything that can make a wait's condition true: messages, room changes, statuses, packets. */
function watchAll(members: Member[]): Watch[] {
  return members.flatMap((m) => [
    (f: () => void) => m.client.on("message", f),
    (f: () => void) => m.client.on("status", f),
    (f: () => void) => m.client.room.on("change", f),
    ...(m.voice
      ? [
          (f: () => void) => m.voice?.engine.on("packet", f) ?? (() => {}),
          (f: () => void) => m.voice?.engine.on("state", f) ?? (() => {}),
          (f: () => void) => m.voice?.session.on("status", f) ?? (() => {}),
        ]
      : []),
  ]);
}

const seatsOf = (m: Member) =>
  m.client.room.seats.map((s) => ({
    id: s.member.id,
    name: s.member.name,
    seat: s.member.seat,
    avatar: s.member.avatar.url,
  }));
const chatTexts = (m: Member) => m.client.room.chat.map((e) => e.message.text);
const audienceCount = (histories: TextMessage[][], text: string) =>
  histories.filter((h) => h.some((x) => x.text === text)).length;
const voiceUp = (m: Member) =>
  m.voice?.engine.state === "connected" && m.voice.session.status === "connected";

test("after SIGKILL and a restart on the same data, everything is intact and clients rebuild the room on their own", {
  timeout: 180_000,
}, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "roundtable-sigkill-"));
  const port = await freePort();
  let server: ServerProcess | undefined = await startServerProcess(port, dataDir);
  const api = new RoundtableApi(server.baseUrl);
  const members: Member[] = [];
  const playback = new AbortController();
  try {
    const conference = await api.createConference("Crash test");
    const picture = new Blob([new Uint8Array(await solidImage("png"))], { type: "image/png" });
    const registered = [];
    for (const name of NAMES)
      registered.push(
        await api.register(conference.id, name === "Ada" ? { name, avatar: picture } : { name }),
      );
    await api.build(conference.id, conference.hostToken);
    for (const [i, r] of registered.entries()) {
      const client = await openClient(api, conference.id, r.token);
      const member: Member = { name: NAMES[i] ?? "", id: r.memberId, token: r.token, client, received: [] };
      client.on("message", (message) => member.received.push(message));
      members.push(member);
    }
    const [ada, ben, cleo] = members as [Member, Member, Member];
    // Ada speaks, Ben listens; Cleo only writes.
    for (const m of [ada, ben]) {
      const engine = new WeriftMediaEngine({
        bindAddress: "127.0.0.1",
        decode: true,
        memberOf: (slot) => m.client.room.memberInSlot(slot),
      });
      m.voice = { engine, session: new VoiceSession(m.client, engine) };
      m.voice.session.start();
    }
    const watch = watchAll(members);
    const benHeardAda = () => ben.voice?.engine.heardFrom(ada.id) as ReceiveCounters;
    await until(() => voiceUp(ada) && voiceUp(ben), watch, "both voices connected");
    const played = ada.voice?.engine.playPcm(tone(), { loops: 600, signal: playback.signal });
    await until(() => benHeardAda().packets >= SECOND / 2, watch, "Ben hears Ada before the crash");

    const sent: TextMessage[] = [];
    sent.push(await ada.client.sendText("all", "before: hello everyone"));
    sent.push(await ada.client.sendText([ben.id], "before: for Ben only"));
    sent.push(await cleo.client.sendText("all", "before: Cleo here"));
    sent.push(await ben.client.sendText([cleo.id], "before: for Cleo only"));
    const visibleBefore = { Ada: 3, Ben: 4, Cleo: 3 };
    await until(
      () =>
        members.every(
          (m) => m.client.room.chat.length === visibleBefore[m.name as keyof typeof visibleBefore],
        ),
      watch,
      "every text reached its audience",
    );
    const seatsBefore = members.map(seatsOf);
    const adaAvatar = seatsBefore[0]?.[0]?.avatar ?? "";
    assert.equal(adaAvatar, registered[0]?.avatarUrl, "Ada's seat shows her uploaded picture");
    const avatarBefore = Buffer.from(await (await fetch(server.baseUrl + adaAvatar)).arrayBuffer());
    assert.ok(avatarBefore.length > 0);

    // ---- SIGKILL: no goodbye, no flush, sockets reset by the kernel.
    const killedAt = performance.now();
    assert.deepEqual(await server.kill(), { code: null, signal: "SIGKILL" });
    server = undefined;
    await until(
      () => members.every((m) => m.client.status === "reconnecting"),
      watch,
      "every client is reconnecting",
    );
    const receivedAtKill = members.map((m) => m.received.length);
    const heardAtKill = benHeardAda();
    // Written while the server is down: queued, not rejected.
    const outcomes: string[] = [];
    const queuedPublic = cleo.client.sendText("all", "while down: Cleo to all");
    const queuedPrivate = ada.client.sendText([cleo.id], "while down: Ada to Cleo");
    for (const p of [queuedPublic, queuedPrivate])
      p.then(
        () => outcomes.push("resolved"),
        (e: Error) => outcomes.push(`rejected: ${e.message}`),
      );

    // ---- Restart on the same port and data; nobody calls connect() again.
    server = await startServerProcess(port, dataDir);
    const healthyAt = performance.now();
    await until(
      () => members.every((m) => m.client.status === "open"),
      watch,
      "every client is open again",
      30_000,
    );
    const openAt = performance.now();
    const [pub, priv] = await within(
      Promise.all([queuedPublic, queuedPrivate]),
      10_000,
      "the queued texts are acknowledged",
    );
    assert.deepEqual(outcomes, ["resolved", "resolved"]);

    // The room is rebuilt from a fresh hello and build: same seats, same avatars, everyone online.
    for (const [i, m] of members.entries()) {
      const since = m.received.slice(receivedAtKill[i]);
      assert.equal(since.filter((x) => x.type === "hello").length, 1, `${m.name} got one new hello`);
      assert.equal(since.filter((x) => x.type === "build").length, 1, `${m.name} got one new build`);
      assert.equal(m.client.room.phase, "room");
      assert.deepEqual(seatsOf(m), seatsBefore[i], `${m.name} sees the same seats and avatars`);
    }
    await until(
      () => members.every((m) => m.client.room.seats.every((s) => s.online)),
      watch,
      "everyone sees everyone online",
    );
    const avatarAfter = Buffer.from(await (await fetch(server.baseUrl + adaAvatar)).arrayBuffer());
    assert.ok(avatarAfter.equals(avatarBefore), "Ada's picture is byte for byte the same");

    // The queued texts arrive exactly once at each recipient, and nowhere else.
    await until(
      () =>
        [ada, ben, cleo].every((m) => chatTexts(m).includes(pub.text)) && chatTexts(cleo).includes(priv.text),
      watch,
      "the queued texts reached their recipients",
    );
    const everyText = members.flatMap((m) => m.received.filter((x): x is TextMessage => x.type === "text"));
    for (const queued of [pub, priv]) {
      const ids = new Set(everyText.filter((x) => x.text === queued.text).map((x) => x.id));
      assert.deepEqual([...ids], [queued.id], `"${queued.text}" was stored once`);
    }
    for (const m of members) {
      const texts = chatTexts(m);
      assert.equal(texts.filter((x) => x === pub.text).length, 1, `${m.name} shows the public text once`);
      assert.equal(texts.filter((x) => x === priv.text).length, m === ben ? 0 : 1, `${m.name}: private text`);
      assert.equal(new Set(m.client.room.chat.map((e) => e.message.id)).size, texts.length);
    }

    // History over HTTP: no duplicates, no gaps, private texts only for their audience. The two
    // queued texts may be stored in either order (whoever reconnected first), so order by seq.
    const all = [...sent, pub, priv].sort((a, b) => a.seq - b.seq);
    const histories = await Promise.all(members.map((m) => api.history(conference.id, m.token)));
    const seen = new Map<number, string>();
    for (const [i, history] of histories.entries()) {
      const seqs = history.map((x) => x.seq);
      const ordered = [...new Set(seqs)].sort((a, b) => a - b);
      assert.deepEqual(seqs, ordered, `${members[i]?.name}: ordered, unique`);
      for (const x of history) seen.set(x.seq, x.id);
    }
    assert.deepEqual(
      [...seen.entries()].sort(([a], [b]) => a - b),
      all.map((x, i) => [i + 1, x.id]),
      "seq 1..6 each hold exactly one of the texts sent",
    );
    for (const [i, m] of members.entries()) {
      const audience = all.filter((x) => x.to === "all" || x.from === m.id || x.to.includes(m.id));
      assert.deepEqual(
        histories[i]?.map((x) => x.text),
        audience.map((x) => x.text),
        `${m.name} sees exactly the texts addressed to them`,
      );
    }
    assert.equal(audienceCount(histories, "before: for Ben only"), 2, "Ada and Ben only");
    assert.equal(audienceCount(histories, "before: for Cleo only"), 2, "Ben and Cleo only");
    assert.equal(audienceCount(histories, priv.text), 2, "Ada and Cleo only");

    // Voice comes back on a new peer connection, and Ben hears Ada again (a tone, not silence).
    await until(() => voiceUp(ada) && voiceUp(ben), watch, "both voices reconnected", 30_000);
    await until(
      () => benHeardAda().packets >= heardAtKill.packets + SECOND,
      watch,
      "Ben heard another second of Ada",
    );
    const voiceAt = performance.now();
    assert.ok(ben.client.room.slots.includes(ada.id), "a slot of Ben's is bound to Ada");
    const heardAfter = minus(benHeardAda(), heardAtKill);
    assert.ok(rms(heardAfter) > 0.1, `what Ben hears after the restart has RMS ${rms(heardAfter)}`);

    const ms = (x: number) => `${Math.round(x)} ms`;
    t.diagnostic(
      `kill to healthy ${ms(healthyAt - killedAt)}, healthy to all clients open ${ms(openAt - healthyAt)} ` +
        `(default backoff), kill to Ben hearing Ada again ${ms(voiceAt - killedAt)}`,
    );
    playback.abort();
    await played;
  } catch (error) {
    if (server) t.diagnostic(`server output:\n${server.output()}`);
    throw error;
  } finally {
    playback.abort();
    for (const m of members) {
      m.voice?.session.stop();
      m.client?.close();
    }
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
