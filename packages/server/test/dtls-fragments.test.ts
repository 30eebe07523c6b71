import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import type { DtlsServer, Transport } from "werift";
import * as esm from "werift";

// werift 0.24.4 kept one buffer of handshake fragments for every message and released it whenever the
// newest fragment ended a message, so a late fragment of ClientHello #1 (message_seq 0, no cookie) was
// merged into ClientHello #2 (message_seq 1) and parsing failed: DTLS with Chromium failed under jitter.
// patches/werift+0.24.4.patch fixes it (docs/upstream/werift-dtls-fragments.md); these tests pin it.
// The patch edits both builds, so run against both: ESM (what the server, bot and tests import) and CJS.
const builds: [string, typeof esm][] = [
  ["esm", esm],
  ["cjs", createRequire(import.meta.url)("werift")],
];

const { CipherContext, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm } = esm;
const signatureHash = { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 };
const { certPem, keyPem } = await CipherContext.createSelfSignedCertificateWithKey(
  signatureHash,
  NamedCurveAlgorithm.secp256r1_23,
);
const options = {
  cert: certPem,
  key: keyPem,
  signatureHash,
  srtpProfiles: [esm.ProtectionProfileAes128CmHmacSha1_80],
  extendedMasterSecret: true,
};

/** One side of an in-memory link: what werift sends goes to `out`; the test calls `onData` to deliver. */
class End implements Transport {
  readonly type = "memory";
  readonly address = { address: "memory", family: "IPv4", port: 0 };
  closed = false;
  onData: Transport["onData"] = () => {};
  constructor(private readonly out: (data: Buffer) => void) {}
  send = async (data: Buffer) => this.out(data);
  close = async () => {
    this.closed = true;
  };
}

/**
 * Passes each distinct datagram once, asynchronously. Dropping byte-identical repeats makes werift's
 * timer-driven retransmissions (and its "flight twice" replies to duplicates) irrelevant, so the only
 * duplicates and reorderings the server sees are the scripted ones below: the run is deterministic.
 */
function link(to: () => End, intercept: (data: Buffer) => boolean = () => false) {
  const seen = new Set<string>();
  return (data: Buffer) => {
    const key = data.toString("hex");
    if (seen.has(key)) return;
    seen.add(key);
    if (!intercept(data)) setImmediate(() => to().onData(data, ["memory", 0]));
  };
}

// DTLS record header: type(1) version(2) epoch(2) seq(6) length(2); handshake header: msg_type(1)
// length(3) message_seq(2) fragment_offset(3) fragment_length(3).
const RECORD = 13;
const HANDSHAKE = 12;
const CLIENT_HELLO = 1;
let recordSeq = 1000;

/** message_seq of a datagram holding exactly one unfragmented, plaintext ClientHello record. */
function clientHelloSeq(data: Buffer): number | undefined {
  if (data[0] !== 22 || data.readUInt16BE(3) !== 0 || data[RECORD] !== CLIENT_HELLO) return undefined;
  if (data.length !== RECORD + data.readUInt16BE(11)) return undefined;
  return data.readUInt16BE(RECORD + 4);
}

/** Re-sends the message in `data` as one record per [start, end) piece, each with a fresh record seq. */
function fragment(data: Buffer, cuts: number[]): Buffer[] {
  const length = data.readUIntBE(RECORD + 1, 3);
  const body = data.subarray(RECORD + HANDSHAKE);
  const bounds = [0, ...cuts, length];
  return bounds.slice(1).map((end, i) => {
    const start = bounds[i] ?? 0;
    const out = Buffer.alloc(RECORD + HANDSHAKE + end - start);
    data.copy(out, 0, 0, 3); // type, version
    out.writeUIntBE(recordSeq++, 5, 6); // epoch 0, then seq
    out.writeUInt16BE(HANDSHAKE + end - start, 11);
    data.copy(out, RECORD, RECORD, RECORD + 6); // msg_type, length, message_seq
    out.writeUIntBE(start, RECORD + 6, 3);
    out.writeUIntBE(end - start, RECORD + 9, 3);
    body.copy(out, RECORD + HANDSHAKE, start, end);
    return out;
  });
}

function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function handshake({ DtlsClient, DtlsServer }: typeof esm) {
  // The client's ClientHellos are held back (by message_seq) and replayed by the script instead.
  const hellos = new Map<number, (data: Buffer) => void>();
  const held = (seq: number) => new Promise<Buffer>((resolve) => hellos.set(seq, resolve));
  const hello1 = held(0);
  const hello2 = held(1);
  const toServer = link(
    () => serverEnd,
    (data) => {
      const seq = clientHelloSeq(data);
      hellos.get(seq ?? -1)?.(data);
      return seq !== undefined;
    },
  );
  const toClient = link(() => clientEnd);
  const serverEnd: End = new End(toClient);
  const clientEnd: End = new End(toServer);
  const server = new DtlsServer({ ...options, transport: serverEnd, certificateRequest: true });
  const client = new DtlsClient({ ...options, transport: clientEnd });
  const failed = new Promise<never>((_, reject) => {
    server.onError.subscribe((error) => reject(error));
    client.onError.subscribe((error) => reject(error));
  });
  const connected = Promise.all([server.onConnect.asPromise(), client.onConnect.asPromise()]);
  const received = server.onData.asPromise();
  // Delivers synchronously, in order: the server's replies are queued (setImmediate) until after.
  const play = (datagrams: (Buffer | undefined)[]) => {
    for (const datagram of datagrams) if (datagram) server.transport.socket.onData(datagram, ["memory", 0]);
  };

  client.connect().catch(() => {});
  // Chromium's 1,413-byte ClientHello goes out as 1,175 + 238 bytes; split werift's at the same ratio,
  // and at the same offset in both hellos (the cut is MTU-driven), so #2 (with cookie) has a longer tail.
  const first = await within(hello1, "ClientHello #1");
  const cut = Math.round((first.readUIntBE(RECORD + 1, 3) * 1175) / 1413);
  const [a1, a2] = fragment(first, [cut]);
  // Flight 1: second fragment first, then the first, then retransmitted copies of both.
  play([a2, a1, a1, a2]);

  // Flight 3 (sent after HelloVerifyRequest), interleaved with late copies of ClientHello #1. A stale
  // fragment of #1 is waiting when #2 completes: unpatched werift merged it into #2 (length taken from
  // #1, cookie-less layout) and threw NotEnoughDataError.
  const [b1, b2] = fragment(await within(hello2, "ClientHello #2"), [cut]);
  const [c1, c2, c3] = fragment(first, [cut - 40, cut + 10]); // a retransmission cut differently
  play([a1, b1, b2, a2, b2, b1, c2, a1, c1, c3, a2]);

  await within(Promise.race([connected, failed]), "both ends to connect");
  // Keys agree: application data sent by the client decrypts on the server.
  await client.send(Buffer.from("ping"));
  const [data] = await within(Promise.race([received, failed]), "application data");
  assert.equal(data.toString(), "ping");
  client.close();
  server.close();
}

type Fragment = Parameters<DtlsServer["handleFragmentHandshake"]>[0][number];

/** A handshake fragment of `whole` as werift's record parser produces it. */
const piece = (message_seq: number, whole: Buffer, offset: number, length: number) =>
  ({
    msg_type: CLIENT_HELLO,
    length: whole.length,
    message_seq,
    fragment_offset: offset,
    fragment_length: length,
    fragment: whole.subarray(offset, offset + length),
  }) as unknown as Fragment;

function reassembly({ DtlsServer }: typeof esm) {
  const socket = new DtlsServer({ ...options, transport: new End(() => {}) });
  const feed = (...pieces: Fragment[]) => pieces.flatMap((p) => socket.handleFragmentHandshake([p]));
  const bytes = (n: number, salt: number) =>
    Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + salt) % 256));
  const hello1 = bytes(100, 1);
  const hello2 = bytes(120, 2);

  // Out of order, duplicated, with a gap: nothing is released until [0, length) is covered.
  assert.deepEqual(feed(piece(0, hello1, 60, 40), piece(0, hello1, 0, 40), piece(0, hello1, 0, 40)), []);
  // An overlapping fragment closes the gap: released once, whole and in order.
  const [first, ...rest] = feed(piece(0, hello1, 30, 40));
  assert.deepEqual(rest, []);
  assert.deepEqual(first?.fragment, hello1);
  assert.equal(first?.fragment_offset, 0);
  assert.equal(first?.fragment_length, 100);

  // message_seq 1, interleaved with a late fragment of message_seq 0: never merged into it.
  const [second, ...more] = feed(piece(1, hello2, 0, 70), piece(0, hello1, 0, 50), piece(1, hello2, 70, 50));
  assert.deepEqual(more, []);
  assert.equal(second?.message_seq, 1);
  assert.deepEqual(second?.fragment, hello2);

  // Late copies of message_seq 0 (processed, and older than message_seq 1) are dropped however cut.
  assert.deepEqual(feed(piece(0, hello1, 40, 60), piece(0, hello1, 0, 100)), []);
  // A retransmission of the newest message is still released, as werift resends its flight on it.
  assert.equal(feed(piece(1, hello2, 0, 120)).length, 1);
  // A different message_seq 0 (a restarted peer's new handshake) is not mistaken for a late copy.
  assert.deepEqual(
    feed(piece(0, bytes(100, 3), 0, 100)).map((m) => m.fragment),
    [bytes(100, 3)],
  );
}

for (const [name, werift] of builds) {
  test(`DTLS completes with ClientHello fragments duplicated, reordered, interleaved (${name})`, () =>
    handshake(werift));
  test(`handleFragmentHandshake reassembles per message and drops late copies (${name})`, () =>
    reassembly(werift));
}
