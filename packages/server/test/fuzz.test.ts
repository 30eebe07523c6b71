import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CLOSE_CODES,
  type ConferenceSummary,
  ERROR_CODES,
  type ErrorCode,
  ErrorResponse,
  LIMITS,
  parseClientMessage,
  type ServerMessage,
  type TextMessage,
} from "@roundtable/protocol";
import fc from "fast-check";
import {
  CANDIDATES,
  type FuzzRequest,
  httpRequest,
  MESSAGE_SCHEMAS,
  mutate,
  mutation,
  serialise,
  validOf,
} from "./arbitraries.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { voiceClient, Wire, within } from "./wire.ts";

/**
 * Property-based fuzzing of the two network boundaries: random and mutated frames over one member's
 * socket, random requests to the HTTP API. After every batch the server must still answer, nobody
 * else may notice, and nothing may be stored that was not legitimately sent. Run counts are fixed
 * and small (one server per boundary, reused across runs); FUZZ_SEED=<n> replays a failing seed.
 */
const RUNS = { strings: 60, json: 60, mutations: 250, http: 300 };
const seed = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};
const runs = (numRuns: number) => ({ numRuns, ...seed });

const LIMITLESS = {
  SIGNALLING_BURST: "1000000",
  SIGNALLING_PER_SECOND: "1000000",
  ADDRESS_SIGNALLING_BURST: "1000000",
  ADDRESS_SIGNALLING_PER_SECOND: "1000000",
  ADDRESS_TEXTS_PER_SECOND: "1000000",
  TEXT_BURST: "1000000",
  CONNECTIONS_PER_MINUTE: "1000000",
  // Each join costs a peer connection: enough to get past it often, not one per frame.
  VOICE_JOINS_PER_MINUTE: "600",
};

// ---------------------------------------------------------------- the WebSocket boundary

interface Member {
  id: string;
  token: string;
  wire: Wire;
}

const isText =
  (text: string) =>
  (m: ServerMessage): m is TextMessage =>
    m.type === "text" && m.text === text;

/** Broadcasts that may reach a socket at any time, whatever it sent. */
const AMBIENT = new Set(["voice-state", "voice-slot", "presence"]);

describe("fuzzing the WebSocket handler", () => {
  let t: TestServer;
  let conferenceId: string;
  let fuzzer: Member;
  let bystander: Member;
  let prober: Member;
  let ids: Set<string>;
  let answerSdp: string;
  /** Texts the fuzzer legitimately stored, by clientId: a repeated clientId is acknowledged, not stored. */
  const byClientId = new Map<string, TextMessage>();
  let lastSeq = 0;
  let probes = 0;

  before(async () => {
    t = await startTestServer({
      RTC_LISTEN_ADDRESS: "127.0.0.1",
      RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
      ...LIMITLESS,
    });
    conferenceId = (await t.api.createConference("Fuzz")).id;
    const join = async (name: string): Promise<Member> => {
      const r = await t.api.register(conferenceId, { name });
      return { id: r.memberId, token: r.token, wire: await Wire.open(t.api, conferenceId, r.token) };
    };
    prober = await join("Prober");
    answerSdp = await realAnswer(prober.wire);
    bystander = await join("Bystander");
    fuzzer = await join("Fuzzer");
    ids = new Set([fuzzer.id, bystander.id, prober.id]);
    for (const m of [bystander, prober])
      await within(
        m.wire.next((x) => x.type === "presence" && x.online.includes(fuzzer.id)),
        "presence",
      );
  });
  after(() => t.stop());

  /** Everything the server answered to one frame, checked against what the protocol promises. */
  async function sendChecked(data: string | Uint8Array, stored: TextMessage[]): Promise<boolean> {
    const binary = typeof data !== "string";
    const size = binary ? data.length : Buffer.byteLength(data);
    if (size > LIMITS.wsMessageMax) {
      fuzzer.wire.send(data, binary);
      assert.equal(await within(fuzzer.wire.closed, "the close"), CLOSE_CODES.messageTooBig);
      return false;
    }
    const replies = (await fuzzer.wire.exchange(data, binary)).filter((m) => !AMBIENT.has(m.type));
    const shown = `${binary ? "binary " : ""}${String(data).slice(0, 200)} -> ${JSON.stringify(replies).slice(0, 300)}`;
    for (const r of replies)
      if (r.type === "error")
        assert.ok(ERROR_CODES.includes(r.code as ErrorCode), `code ${r.code}: ${shown}`);
    const parsed = binary ? undefined : parseClientMessage(data);
    if (!parsed?.ok) {
      const clientId = parsed && !parsed.ok ? parsed.clientId : undefined;
      assert.deepEqual(
        replies.map((r) => [r.type, r.type === "error" && r.code, r.type === "error" && r.clientId]),
        [["error", "invalid_message", clientId]],
        shown,
      );
      return true;
    }
    const m = parsed.value;
    const codes = replies.map((r) => (r.type === "error" ? r.code : r.type));
    if (m.type === "text") {
      const prior = m.clientId ? byClientId.get(m.clientId) : undefined;
      const unknown = m.to !== "all" && m.to.some((id) => !ids.has(id));
      if (prior) assert.deepEqual(replies, [prior], shown);
      else if (m.text.trim() === "") assert.deepEqual(codes, ["invalid_message"], shown);
      else if (unknown) assert.deepEqual(codes, ["unknown_recipient"], shown);
      else {
        const [echo] = replies;
        assert.ok(echo?.type === "text" && replies.length === 1, shown);
        const to = m.to === "all" ? "all" : [...new Set(m.to)];
        assert.deepEqual([echo.from, echo.text, echo.to, echo.clientId], [fuzzer.id, m.text, to, m.clientId]);
        stored.push(echo);
        if (m.clientId) byClientId.set(m.clientId, echo);
      }
    } else if (m.type === "voice-join") {
      assert.ok(codes.length === 1 && ["voice-offer", "rate_limited"].includes(codes[0] ?? ""), shown);
    } else if (m.type === "voice-answer") {
      // Taken; refused, which ends that voice peer and says why; or there was no voice to answer.
      const outcomes = [["voice-accepted"], ["voice-closed", "invalid_message"], ["invalid_message"]];
      assert.ok(
        outcomes.some((o) => o.join() === codes.join()),
        shown,
      );
    } else if (m.type === "ping") {
      assert.deepEqual(codes, ["pong"], shown);
    } else if (m.type === "voice-target" && m.to !== "all" && m.to.some((id) => !ids.has(id))) {
      assert.deepEqual(codes, ["unknown_recipient"], shown);
    } else {
      // Whether these succeed depends on the state of the member's voice, which the fuzzer drives.
      assert.ok(codes.length <= 1 && codes.every((c) => c === "invalid_message"), shown);
    }
    return true;
  }

  /** One batch of frames from the fuzzer, then every invariant of the conference. */
  async function batch(frames: (string | Uint8Array)[]): Promise<void> {
    if (!fuzzer.wire.isOpen) fuzzer.wire = await Wire.open(t.api, conferenceId, fuzzer.token);
    const summary = await t.api.getConference(conferenceId);
    const mark = bystander.wire.messages.length;
    const stored: TextMessage[] = [];
    for (const frame of frames) if (!(await sendChecked(frame, stored))) break;

    assert.equal((await fetch(`${t.baseUrl}/healthz`)).status, 200);
    assert.deepEqual(await t.api.getConference(conferenceId), summary);
    const probe = `probe ${++probes}`;
    prober.wire.send({ type: "text", to: [bystander.id], text: probe });
    const probed = await within(bystander.wire.next(isText(probe), mark), "the bystander hearing the probe");
    assert.ok(bystander.wire.isOpen && prober.wire.isOpen);
    // Besides the probe, only the fuzzer's stored texts for it and news of the fuzzer's voice or presence.
    const heard = bystander.wire.messages.slice(mark).filter((m) => {
      if (m.type === "voice-state") return m.memberId !== fuzzer.id;
      if (m.type === "presence") return ![...m.online, ...m.offline].every((id) => id === fuzzer.id);
      return m.type !== "text" || m.from !== fuzzer.id;
    });
    assert.deepEqual(
      heard.map((m) => (m.type === "text" ? m.id : JSON.stringify(m))),
      [probed.id],
      "nothing else reached the bystander",
    );
    const forBystander = stored.filter((m) => m.to === "all" || m.to.includes(bystander.id)).map((m) => m.id);
    const fromFuzzer = bystander.wire.messages
      .slice(mark)
      .flatMap((m) => (m.type === "text" && m.from === fuzzer.id ? [m.id] : []));
    assert.deepEqual(fromFuzzer, forBystander, "the bystander got exactly the fuzzer's texts for it");
    const history = await t.api.history(conferenceId, fuzzer.token, lastSeq);
    assert.deepEqual(
      history.map((m) => m.id),
      stored.map((m) => m.id),
      "stored texts are exactly the ones acknowledged",
    );
    lastSeq = Math.max(lastSeq, probed.seq, ...history.map((m) => m.seq));
    assert.deepEqual([...fuzzer.wire.strays, ...bystander.wire.strays, ...prober.wire.strays], []);
  }

  const batchOf = (frame: fc.Arbitrary<string | Uint8Array>) =>
    fc.array(frame, { minLength: 1, maxLength: 4 });

  test("arbitrary strings and binary frames", async () => {
    const frame = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }).map((s) => Buffer.from(s).toString()),
      fc.string({ unit: "grapheme-ascii", maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
    );
    await fc.assert(fc.asyncProperty(batchOf(frame), batch), runs(RUNS.strings));
  });

  test("arbitrary JSON values", async () => {
    const frame = fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v) ?? "null");
    await fc.assert(fc.asyncProperty(batchOf(frame), batch), runs(RUNS.json));
  });

  test("valid client messages of every type, mutated", async () => {
    const member = fc.constantFrom(fuzzer.id, bystander.id, prober.id);
    const hints: Record<string, fc.Arbitrary<unknown>> = {
      "to[]": fc.oneof({ weight: 8, arbitrary: member }, fc.constantFrom("ghost", "__proto__")),
      text: fc.string({ minLength: 1, maxLength: 30 }),
      clientId: fc.string({ minLength: 1, maxLength: 3 }),
      sdp: fc.constant(answerSdp),
      candidate: fc.constantFrom("", ...CANDIDATES),
      sdpMid: fc.constantFrom("0", "1", "4"),
    };
    const message = fc.oneof(...MESSAGE_SCHEMAS.map((s) => validOf(s, "", hints)));
    const entries = message.map((m) => Object.entries(m as object).filter(([, v]) => v !== undefined));
    const frame = fc.oneof(
      { weight: 2, arbitrary: entries.map(serialise) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(entries, fc.array(mutation, { minLength: 1, maxLength: 3 }))
          .map(([e, ms]) => serialise(ms.reduce(mutate, e))),
      },
    );
    // Voice messages mostly meet a member without voice; a script gets them past voice-join too.
    const voiceScript = fc
      .array(frame, { maxLength: 3 })
      .map((rest) => [
        JSON.stringify({ type: "voice-join" }),
        JSON.stringify({ type: "voice-answer", sdp: answerSdp }),
        ...rest,
      ]);
    const batches = fc.oneof({ weight: 3, arbitrary: batchOf(frame) }, { weight: 1, arbitrary: voiceScript });
    await fc.assert(fc.asyncProperty(batches, batch), runs(RUNS.mutations));
  });
});

describe("fuzzing the HTTP API", () => {
  let t: TestServer;
  let watched: ConferenceSummary;
  /** Members the fuzzer itself registered (a 201 it was given): the only change `watched` may see. */
  const registered = new Set<string>();
  let property: fc.Arbitrary<FuzzRequest[]>;

  before(async () => {
    t = await startTestServer(LIMITLESS);
    const w = await t.api.createConference("Watched");
    const other = await t.api.createConference("Other");
    const tokens = [
      (await t.api.register(w.id, { name: "Wanda" })).token,
      (await t.api.register(other.id, { name: "Otto" })).token,
      // The other conference's host token may build or end it; the watched one's is never used.
      other.hostToken,
    ];
    watched = await t.api.getConference(w.id);
    property = fc.array(httpRequest([w.id, other.id], tokens), { minLength: 1, maxLength: 3 });
  });
  after(() => t.stop());

  async function call({ method, path, headers, body }: FuzzRequest): Promise<void> {
    const res = await within(
      fetch(t.baseUrl + path, {
        method,
        headers,
        body: typeof body === "string" ? body : body ? new Blob([Uint8Array.from(body)]) : null,
      }),
      `${method} ${path}`,
    );
    const text = await res.text();
    const shown = `${method} ${path} ${JSON.stringify(headers)} -> ${res.status} ${text.slice(0, 200)}`;
    assert.ok(res.status < 500, shown);
    if (res.status >= 400 && method !== "HEAD") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        assert.fail(`not JSON: ${shown}`);
      }
      const error = ErrorResponse.safeParse(parsed);
      assert.ok(error.success, `error body shape: ${shown}`);
      assert.ok(ERROR_CODES.includes(error.data.error.code as ErrorCode), `error code: ${shown}`);
    }
    if (res.status === 201 && method === "POST") {
      const memberId = (JSON.parse(text) as { memberId?: string }).memberId;
      if (memberId) registered.add(memberId);
    }
  }

  test("random methods, paths, bodies, content types and tokens", async () => {
    await fc.assert(
      fc.asyncProperty(property, async (requests) => {
        for (const request of requests) await call(request);
        assert.equal((await fetch(`${t.baseUrl}/healthz`)).status, 200);
        const now = await t.api.getConference(watched.id);
        const added = now.members.slice(watched.members.length);
        assert.deepEqual(
          { ...now, members: now.members.slice(0, watched.members.length) },
          watched,
          "the watched conference kept its state and members",
        );
        for (const m of added) assert.ok(registered.has(m.id), `member ${m.id} came from a 201`);
      }),
      runs(RUNS.http),
    );
  });
});

/** A real answer, made by werift for an offer the server gave `wire`'s member; that voice is then left. */
async function realAnswer(wire: Wire): Promise<string> {
  const { pc, sdp } = await voiceClient(wire);
  await pc.close();
  // Answered by nothing; the exchange returns once the server has handled it.
  await wire.exchange({ type: "voice-leave" });
  return sdp;
}
