import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type ConferenceClient, RoundtableApi } from "@roundtable/client-core";
import { CLOSE_CODES, type TextMessage } from "@roundtable/protocol";
import { openClient } from "../../packages/bot/src/connect.ts";
import { rawMember, silentMember, tcpAttempt } from "./rawSockets.ts";
import { freePort, type ServerProcess, startServerProcess } from "./serverProcess.ts";
import { until, within } from "./waits.ts";

/** Texts go out back to back here: the default rate limit would refuse most of them. */
const UNLIMITED_TEXTS = { TEXT_BURST: "100000", TEXTS_PER_SECOND: "100000" };
/** Pino's numeric levels for error and fatal. */
const ERROR_LOG = /"level":(50|60)/;

interface Setup {
  server: ServerProcess;
  api: RoundtableApi;
  conferenceId: string;
  members: { memberId: string; token: string }[];
}

/** A server process with a built conference of `names`, run by `body`, then cleaned up. */
async function withConference(
  t: TestContext,
  names: string[],
  body: (setup: Setup, restart: () => Promise<ServerProcess>) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "roundtable-sigterm-"));
  const port = await freePort();
  let server = await startServerProcess(port, dataDir, UNLIMITED_TEXTS);
  try {
    const api = new RoundtableApi(server.baseUrl);
    const conference = await api.createConference("Shutdown");
    const members = [];
    for (const name of names) members.push(await api.register(conference.id, { name }));
    await api.build(conference.id, conference.hostToken);
    const restart = async () => {
      server = await startServerProcess(port, dataDir, UNLIMITED_TEXTS);
      return server;
    };
    await body({ server, api, conferenceId: conference.id, members }, restart);
  } catch (error) {
    t.diagnostic(`server output:\n${server.output()}`);
    throw error;
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

test("on SIGTERM the server stops accepting, tells clients 1012, exits 0, and keeps every acknowledged text", {
  timeout: 120_000,
}, async (t) => {
  let ada: ConferenceClient | undefined;
  try {
    await withConference(t, ["Ada", "Ben"], async ({ server, api, conferenceId, members }, restart) => {
      const [a, b] = members as [Setup["members"][0], Setup["members"][0]];
      const client = await openClient(api, conferenceId, a.token);
      ada = client;
      const ben = rawMember(api.socketUrl(conferenceId, b.token));
      assert.equal(JSON.parse(await within(ben.opened, 10_000, "Ben is connected")).type, "hello");

      // Ada writes without a pause, so the SIGTERM lands while texts are in flight.
      const acked: TextMessage[] = [];
      let ackedAtClose: number | undefined;
      client.on("status", (status) => {
        if (status === "reconnecting") ackedAtClose ??= acked.length;
      });
      let fifth: () => void = () => {};
      const fiveAcked = new Promise<void>((resolve) => {
        fifth = resolve;
      });
      const writing = (async () => {
        for (let i = 0; ackedAtClose === undefined; i++) {
          acked.push(await client.sendText("all", `n${i}`));
          if (acked.length === 5) fifth();
        }
      })();
      // Only a failing test closes Ada with a text pending; the await below sees the real outcome.
      writing.catch(() => {});
      await within(fiveAcked, 10_000, "five texts are acknowledged");

      const signalledAt = performance.now();
      server.child.kill("SIGTERM");
      const closed = await within(ben.closed, 10_000, "Ben's socket is closed");
      // The listener closed before any close frame went out: whoever tries now is refused.
      const attempt = await tcpAttempt(Number(new URL(api.baseUrl).port));
      const late = rawMember(api.socketUrl(conferenceId, b.token));
      await assert.rejects(within(late.opened, 10_000, "a late member is refused"), { code: "ECONNREFUSED" });
      assert.deepEqual(closed, { code: CLOSE_CODES.serviceRestart, reason: "server restarting" });
      assert.equal(attempt, "ECONNREFUSED");

      assert.deepEqual(await within(server.exited, 20_000, "the process exits"), { code: 0, signal: null });
      const exitedAt = performance.now();
      assert.doesNotMatch(server.output(), ERROR_LOG);
      await until(() => client.status === "reconnecting", [(f) => client.on("status", f)], "Ada noticed");
      const before = acked.slice(0, ackedAtClose);

      // After a restart every text acknowledged before the close is there, and the one still in
      // flight is delivered once when Ada reconnects on her own.
      const next = await restart();
      await within(writing, 30_000, "Ada's last text is acknowledged after the restart");
      const history = await new RoundtableApi(next.baseUrl).history(conferenceId, a.token);
      const ids = new Set(history.map((x) => x.id));
      for (const x of before) assert.ok(ids.has(x.id), `acknowledged text ${x.text} survived`);
      assert.deepEqual(
        history.map((x) => [x.seq, x.text]),
        acked.map((_, i) => [i + 1, `n${i}`]),
        "every acknowledged text once, in order, without gaps",
      );
      t.diagnostic(
        `${before.length} texts acknowledged before the close, ${acked.length - before.length} after; ` +
          `SIGTERM to exit ${Math.round(exitedAt - signalledAt)} ms`,
      );
    });
  } finally {
    ada?.close();
  }
});

test("a client that never answers the close handshake holds a SIGTERM shutdown for a bounded grace period only", {
  timeout: 60_000,
}, async (t) => {
  await withConference(t, ["Ada"], async ({ server, api, conferenceId, members }) => {
    const port = Number(new URL(api.baseUrl).port);
    const silent = silentMember(port, pathOf(api.socketUrl(conferenceId, members[0]?.token ?? "")));
    assert.equal(JSON.parse(await within(silent.firstMessage, 10_000, "hello")).type, "hello");
    const signalledAt = performance.now();
    server.child.kill("SIGTERM");
    assert.equal(
      (await within(silent.closeFrame, 10_000, "the close frame")).code,
      CLOSE_CODES.serviceRestart,
    );
    assert.deepEqual(await within(server.exited, 30_000, "the process exits"), { code: 0, signal: null });
    await within(silent.ended, 5_000, "the silent socket was cut");
    t.diagnostic(`SIGTERM to exit with a silent client: ${Math.round(performance.now() - signalledAt)} ms`);
  });
});

test("a second signal during the shutdown exits at once with status 1", { timeout: 60_000 }, async (t) => {
  await withConference(t, ["Ada"], async ({ server, api, conferenceId, members }) => {
    const port = Number(new URL(api.baseUrl).port);
    const silent = silentMember(port, pathOf(api.socketUrl(conferenceId, members[0]?.token ?? "")));
    await within(silent.firstMessage, 10_000, "hello");
    server.child.kill("SIGTERM");
    // The silent client now holds the shutdown in its grace period: only the second signal ends it early.
    await within(silent.closeFrame, 10_000, "the close frame");
    server.child.kill("SIGINT");
    assert.deepEqual(await within(server.exited, 10_000, "the process exits"), { code: 1, signal: null });
    silent.destroy();
  });
});
