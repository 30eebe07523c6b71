import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CLOSE_CODES, LIMITS, type ServerMessage } from "@roundtable/protocol";
import { closeCodeOf } from "./clients.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { voiceClient, Wire, within } from "./wire.ts";

/**
 * Hostile input at every boundary, one case at a time: each gets its documented error, and a
 * bystander connected throughout receives nothing it should not and can still talk afterwards.
 * The random counterpart is fuzz.test.ts.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer({
    RTC_LISTEN_ADDRESS: "127.0.0.1",
    RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
    // Every test runs from 127.0.0.1: the flood limits (tested elsewhere) would add noise here.
    SIGNALLING_BURST: "100000",
    SIGNALLING_PER_SECOND: "100000",
    ADDRESS_SIGNALLING_BURST: "100000",
    ADDRESS_SIGNALLING_PER_SECOND: "100000",
    CONNECTIONS_PER_MINUTE: "100000",
    // A refused answer ends that voice peer: the answer tests start one per bad answer.
    VOICE_JOINS_PER_MINUTE: "100000",
  });
});
after(() => t.stop());

const isText =
  (text: string) =>
  (m: ServerMessage): m is Extract<ServerMessage, { type: "text" }> =>
    m.type === "text" && m.text === text;

/** A message reduced to what the bystander checks care about. */
function brief(m: ServerMessage): string {
  if (m.type === "text") return `text ${m.from}: ${m.text}`;
  if (m.type === "voice-state") return `voice-state ${m.memberId} ${m.connected}`;
  if (m.type === "error") return `error ${m.code}`;
  return m.type;
}

interface Member {
  id: string;
  token: string;
  wire: Wire;
}

/** A conference with Ada (who misbehaves) and Bob (the bystander), both connected, presence settled. */
async function room() {
  const conference = await t.api.createConference("Hostile");
  const join = async (name: string): Promise<Member> => {
    const r = await t.api.register(conference.id, { name });
    return { id: r.memberId, token: r.token, wire: await Wire.open(t.api, conference.id, r.token) };
  };
  const bob = await join("Bob");
  const ada = await join("Ada");
  // Presence goes out in batches: once both have heard Ada is online, no more is due.
  for (const member of [bob, ada])
    await within(
      member.wire.next((m) => m.type === "presence" && m.online.includes(ada.id)),
      "Ada's presence",
    );
  let probes = 0;
  return {
    conference,
    ada,
    bob,
    /**
     * Ada and Bob exchange a text each way, then Bob's messages since `mark` must be exactly
     * `expected` followed by those two texts: nothing else reached him.
     */
    async bystanderUnaffected(mark: number, expected: string[] = []): Promise<void> {
      probes++;
      const fromAda = `probe ${probes} from Ada`;
      const fromBob = `probe ${probes} from Bob`;
      ada.wire.send({ type: "text", to: "all", text: fromAda });
      await within(bob.wire.next(isText(fromAda), mark), "Bob receiving Ada's probe");
      bob.wire.send({ type: "text", to: [ada.id], text: fromBob });
      await within(ada.wire.next(isText(fromBob)), "Ada receiving Bob's probe");
      await within(bob.wire.next(isText(fromBob), mark), "Bob's own probe echoed");
      assert.deepEqual(bob.wire.messages.slice(mark).map(brief), [
        ...expected,
        `text ${ada.id}: ${fromAda}`,
        `text ${bob.id}: ${fromBob}`,
      ]);
      assert.deepEqual([...ada.wire.strays, ...bob.wire.strays], [], "frames outside the protocol");
    },
    async storedTexts(): Promise<number> {
      return (await t.api.history(conference.id, ada.token)).length;
    },
  };
}

describe("frames with the wrong shape", () => {
  test("numbers where strings belong, nested junk and empty frames get invalid_message", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    for (const frame of [
      { type: 7 },
      { type: "text", to: 7, text: "x" },
      { type: "text", to: [7], text: "x" },
      { type: "text", to: "all", text: ["x"] },
      { type: "text", to: "all", text: { toString: "x" } },
      { type: "text", to: "all", text: "x", clientId: 5 },
      { type: "voice-answer", sdp: 7 },
      { type: "voice-candidate", candidate: 7 },
      { type: "voice-candidate", candidate: "", sdpMLineIndex: "0" },
      { type: "voice-mute", muted: "true" },
      { type: "voice-target", to: {} },
      { type: "text", to: { all: true }, text: "x" },
      deep,
      `{"type":"text","to":"all","text":${deep}}`,
      "",
      "   ",
      "\u0000",
      '{"type":"text","to":"all","text":"x"',
    ]) {
      assert.equal(
        (await r.ada.wire.refused(frame)).code,
        "invalid_message",
        JSON.stringify(frame).slice(0, 80),
      );
    }
    const echoed = await r.ada.wire.refused({ type: "text", to: "all", text: 5, clientId: "c-1" });
    assert.deepEqual([echoed.code, echoed.clientId], ["invalid_message", "c-1"]);
    assert.equal(await r.storedTexts(), 0);
    await r.bystanderUnaffected(mark);
  });

  test("binary frames get invalid_message, even when they hold a valid message", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    const valid = Buffer.from(JSON.stringify({ type: "text", to: "all", text: "as binary" }));
    for (const frame of [valid, Buffer.from([0xff, 0x00, 0xc3, 0x28]), Buffer.alloc(0)])
      assert.equal((await r.ada.wire.refused(frame, true)).code, "invalid_message");
    assert.equal(await r.storedTexts(), 0);
    await r.bystanderUnaffected(mark);
  });

  test("prototype keys in JSON are inert: texts go out clean and nothing is polluted", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    for (const type of ["__proto__", "constructor", "hasOwnProperty", "toString", "valueOf"])
      assert.equal((await r.ada.wire.refused(`{"type":"${type}"}`)).code, "invalid_message", type);
    assert.equal(
      (await r.ada.wire.refused('{"__proto__":{"type":"text","to":"all","text":"inherited"}}')).code,
      "invalid_message",
    );
    assert.equal(
      (await r.ada.wire.refused('{"type":"text","to":{"__proto__":["x"]},"text":"x"}')).code,
      "invalid_message",
    );
    // Extra keys are dropped, these included: the text goes out as Ada's, with nothing added.
    await r.ada.wire.exchange(
      `{"type":"text","to":"all","text":"one","__proto__":{"isAdmin":true,"from":"${r.bob.id}","seq":-1}}`,
    );
    await r.ada.wire.exchange(
      '{"type":"text","to":"all","text":"two","constructor":{"prototype":{"isAdmin":1}}}',
    );
    const one = await within(r.bob.wire.next(isText("one"), mark), "the first text");
    assert.equal(one.from, r.ada.id);
    const raw = JSON.parse(r.bob.wire.frames[r.bob.wire.messages.indexOf(one)] ?? "{}") as object;
    assert.deepEqual(Object.keys(raw).sort(), ["from", "id", "sentAt", "seq", "text", "to", "type"]);
    assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined, "this process's Object.prototype");
    assert.equal(await r.storedTexts(), 2);
    await r.bystanderUnaffected(mark, [`text ${r.ada.id}: one`, `text ${r.ada.id}: two`]);
  });
});

describe("ids that name nobody", () => {
  test("a text to unknown, foreign or prototype ids gets unknown_recipient and is not stored", async () => {
    const r = await room();
    const other = await t.api.createConference("Elsewhere");
    const foreign = await t.api.register(other.id, { name: "Zed" });
    const mark = r.bob.wire.messages.length;
    for (const to of [[foreign.memberId], [r.bob.id, "ghost"], ["__proto__"], ["constructor", "toString"]]) {
      const reply = await r.ada.wire.refused({ type: "text", to, text: "anyone?", clientId: "q" });
      assert.deepEqual([reply.code, reply.clientId], ["unknown_recipient", "q"], JSON.stringify(to));
    }
    assert.equal(await r.storedTexts(), 0);
    assert.equal((await t.api.history(other.id, foreign.token)).length, 0);
    await r.bystanderUnaffected(mark);
  });

  test("voice-target naming unknown ids gets unknown_recipient, with and without voice", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    const targets = [["ghost"], [r.bob.id, "ghost"], ["__proto__"]];
    for (const to of targets)
      assert.equal((await r.ada.wire.refused({ type: "voice-target", to })).code, "unknown_recipient");
    const joined = await r.ada.wire.exchange({ type: "voice-join" });
    assert.ok(joined.some((m) => m.type === "voice-offer"));
    for (const to of targets)
      assert.equal((await r.ada.wire.refused({ type: "voice-target", to })).code, "unknown_recipient");
    // Negotiating is not talking: nobody is told Ada has voice before packets flow from her.
    await r.bystanderUnaffected(mark);
  });
});

describe("voice signalling", () => {
  test("voice messages before any voice-join get invalid_message; voice-leave is a no-op", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    for (const frame of [
      { type: "voice-answer", sdp: "v=0" },
      { type: "voice-candidate", candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host" },
      { type: "voice-target", to: "all" },
      { type: "voice-mute", muted: true },
    ])
      assert.equal((await r.ada.wire.refused(frame)).code, "invalid_message", frame.type);
    assert.deepEqual(await r.ada.wire.exchange({ type: "voice-leave" }), []);
    assert.equal(t.server.voice.room(r.conference.id)?.has(r.ada.id) ?? false, false);
    await r.bystanderUnaffected(mark);
  });

  test("a huge or malformed SDP answer is refused; a good one still connects and others' voice carries on", async () => {
    const r = await room();
    const bobVoice = await voiceClient(r.bob.wire);
    assert.deepEqual(await r.bob.wire.exchange({ type: "voice-answer", sdp: bobVoice.sdp }), [
      { type: "voice-accepted" },
    ]);
    await bobVoice.connected();
    const bobPeer = t.server.voice.room(r.conference.id)?.peerOf(r.bob.id);
    const mark = r.bob.wire.messages.length;

    let adaVoice = await voiceClient(r.ada.wire);
    const good = adaVoice.sdp;
    const withCandidate = (line: string) => good.replace(/(a=mid:[^\r\n]*\r\n)/, `$1${line}\r\n`);
    // Too long for the protocol: refused at the boundary, before it is an answer at all.
    const huge = { type: "voice-answer", sdp: `v=0\r\n${"a=x\r\n".repeat(LIMITS.sdpMax / 5)}` };
    assert.equal((await r.ada.wire.refused(huge)).code, "invalid_message");
    const answers: [string, string][] = [
      ["garbage", "garbage that is not SDP at all"],
      ["a version line and junk", `v=0\r\n${"m=".repeat(10_000)}`],
      ["too few m-lines", good.slice(0, good.indexOf("m=audio", good.indexOf("m=audio") + 1))],
      ["video instead of audio", good.replace("m=audio", "m=video")],
      ["mids that are not the offer's", good.replace(/a=mid:/g, "a=mid:x")],
      ["no ICE credentials", good.replace(/a=ice-pwd:[^\r\n]*\r\n/g, "")],
      [
        "a candidate with port 99999",
        withCandidate("a=candidate:1 1 udp 2130706431 127.0.0.1 99999 typ host"),
      ],
      [
        "a candidate naming a host",
        withCandidate("a=candidate:1 1 udp 2130706431 evil.example 5000 typ host"),
      ],
      ["a malformed candidate", withCandidate("a=candidate:garbage")],
    ];
    for (const [why, sdp] of answers) {
      const replies = await r.ada.wire.exchange({ type: "voice-answer", sdp });
      assert.deepEqual(
        replies.map((m) => (m.type === "error" ? m.code : m.type === "voice-closed" ? m.reason : m.type)),
        ["answer_refused", "invalid_message"],
        why,
      );
      // A refused answer leaves nothing half-open: the server's peer is gone.
      assert.equal(t.server.voice.room(r.conference.id)?.has(r.ada.id), false, why);
      await adaVoice.pc.close();
      adaVoice = await voiceClient(r.ada.wire);
    }

    assert.deepEqual(await r.ada.wire.exchange({ type: "voice-answer", sdp: adaVoice.sdp }), [
      { type: "voice-accepted" },
    ]);
    await adaVoice.connected();
    const voice = t.server.voice.room(r.conference.id);
    assert.equal(voice?.peerOf(r.bob.id), bobPeer, "Bob kept his peer");
    assert.equal(bobVoice.pc.connectionState, "connected");
    await r.bystanderUnaffected(mark);
    await Promise.all([adaVoice.pc.close(), bobVoice.pc.close()]);
  });

  test("huge and malformed ICE candidates get invalid_message and do not spoil the answer", async () => {
    const r = await room();
    const mark = r.bob.wire.messages.length;
    const adaVoice = await voiceClient(r.ada.wire);
    const valid = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host";
    const candidates: [string, Record<string, unknown>][] = [
      ["over the limit", { candidate: `${valid} ${"x".repeat(LIMITS.candidateMax)}` }],
      ["a long mid", { candidate: valid, sdpMid: "m".repeat(33) }],
      ["garbage", { candidate: "garbage" }],
      ["too few fields", { candidate: "candidate:1 1 udp 1 127.0.0.1 typ host" }],
      ["port 99999", { candidate: valid.replace("5000", "99999") }],
      ["an address out of range", { candidate: valid.replace("127.0.0.1", "999.1.1.1") }],
      ["a host name", { candidate: valid.replace("127.0.0.1", "evil.example") }],
      ["an unknown mid", { candidate: valid, sdpMid: "nope" }],
      ["an m-line index past the offer", { candidate: valid, sdpMLineIndex: 40 }],
    ];
    for (const [why, fields] of candidates)
      assert.equal(
        (await r.ada.wire.refused({ type: "voice-candidate", ...fields })).code,
        "invalid_message",
        why,
      );
    // Well formed but unusable (mDNS, TCP, IPv6), or naming neither mid nor index: taken quietly.
    for (const candidate of [
      valid.replace("127.0.0.1", "0b6c1f2e-3d4a.local"),
      "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
      valid.replace("127.0.0.1", "::1"),
      valid,
    ])
      assert.deepEqual(await r.ada.wire.exchange({ type: "voice-candidate", candidate }), [], candidate);
    // Queued before the answer, none of these may make werift refuse the answer.
    assert.deepEqual(await r.ada.wire.exchange({ type: "voice-answer", sdp: adaVoice.sdp }), [
      { type: "voice-accepted" },
    ]);
    await adaVoice.connected();
    await r.bystanderUnaffected(mark);
    await adaVoice.pc.close();
  });

  test("a flood of candidates is cut off at a bound", async () => {
    const r = await room();
    const { offer, pc } = await voiceClient(r.ada.wire);
    const codes: string[] = [];
    for (let i = 0; i < 80; i++) {
      const candidate = `candidate:${i} 1 udp 2130706431 127.0.0.1 ${10_000 + i} typ host`;
      const replies = await r.ada.wire.exchange({
        type: "voice-candidate",
        candidate,
        sdpMid: offer.uplinkMid,
      });
      codes.push(replies.map((m) => (m.type === "error" ? m.code : m.type)).join() || "ok");
    }
    const firstRefused = codes.indexOf("invalid_message");
    assert.ok(
      firstRefused >= 16,
      `a browser's handful of candidates is taken (refused from ${firstRefused})`,
    );
    assert.deepEqual(new Set(codes.slice(firstRefused)), new Set(["invalid_message"]));
    await pc.close();
  });
});

describe("tokens of another conference", () => {
  test("neither a member nor the host token of A works on B, on any route or the socket", async () => {
    const a = await t.api.createConference("A");
    const memberOfA = await t.api.register(a.id, { name: "Ann" });
    const b = await t.api.createConference("B");
    const bob = await t.api.register(b.id, { name: "Bob" });
    const bobWire = await Wire.open(t.api, b.id, bob.token);
    // Bob's own arrival is announced in a presence batch that may come after the history.
    await within(
      bobWire.next((m) => m.type === "presence"),
      "Bob's presence",
    );
    const summaries = async () => ({
      a: await t.api.getConference(a.id),
      b: await t.api.getConference(b.id),
    });
    const unchanged = await summaries();
    const mark = bobWire.messages.length;
    const call = (method: string, conferenceId: string, route: string, token: string) =>
      fetch(`${t.baseUrl}/api/conferences/${conferenceId}/${route}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
    const cases: [string, string, string, string, number][] = [
      ["POST", b.id, "build", memberOfA.token, 401],
      ["POST", b.id, "build", a.hostToken, 401],
      ["POST", b.id, "end", memberOfA.token, 401],
      ["POST", b.id, "end", a.hostToken, 401],
      ["GET", b.id, "messages", memberOfA.token, 401],
      ["GET", b.id, "messages", a.hostToken, 401],
      // The host token is not a member token, not even for its own conference.
      ["GET", a.id, "messages", a.hostToken, 401],
      ["GET", b.id, "messages", b.hostToken, 401],
    ];
    for (const [i, [method, id, route, token, status]] of cases.entries()) {
      const res = await call(method, id, route, token);
      const body = (await res.json()) as { error?: { code: string; message: string } };
      assert.deepEqual([res.status, body.error?.code], [status, "unauthorized"], `case ${i}`);
    }
    for (const token of [memberOfA.token, a.hostToken])
      assert.equal((await closeCodeOf(t.api.socketUrl(b.id, token))).code, CLOSE_CODES.unauthorized);
    assert.equal((await closeCodeOf(t.api.socketUrl(a.id, a.hostToken))).code, CLOSE_CODES.unauthorized);

    assert.deepEqual(await summaries(), unchanged);
    bobWire.send({ type: "text", to: "all", text: "still in B" });
    await within(bobWire.next(isText("still in B"), mark), "Bob's own text");
    assert.deepEqual(bobWire.messages.slice(mark).map(brief), [`text ${bob.memberId}: still in B`]);
    bobWire.socket.close();
  });
});
