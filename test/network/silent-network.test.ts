import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ConferenceClient, RoundtableApi } from "@roundtable/client-core";
import WebSocket from "ws";
import { nextMessage, nodeClient, untilStatus } from "../../packages/server/test/clients.ts";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { TcpProxy } from "./TcpProxy.ts";

// A network that goes quiet closes nothing: no FIN, no RST, the socket looks open for minutes. The
// client must notice by itself (its liveness probe), keep trying, queue what is written, and come
// back with every text exactly once when the network returns.

/** How often the client probes here; the product default is 10 s, which the mechanism does not depend on. */
const PING_MS = 150;

let t: TestServer;
let proxy: TcpProxy;
before(async () => {
  t = await startTestServer();
  proxy = await TcpProxy.start(t.baseUrl);
});
after(async () => {
  await proxy.close();
  await t.stop();
});

/** A client that reaches the server through the proxy, and resolves `attempts(n)` once it has opened n sockets. */
function clientThroughProxy(conferenceId: string, token: string) {
  let opened = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const client = new ConferenceClient({
    api: new RoundtableApi(proxy.origin),
    conferenceId,
    token,
    createSocket: (url) => {
      opened++;
      for (const w of waiting.filter((w) => opened >= w.n)) w.resolve();
      return new WebSocket(url) as unknown as ReturnType<
        ConstructorParameters<typeof ConferenceClient>[0]["createSocket"]
      >;
    },
    backoff: { initialMs: 20, maxMs: 100 },
    pingMs: PING_MS,
  });
  const attempts = (n: number) =>
    opened >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve }));
  return { client, attempts, opened: () => opened };
}

test("a client whose network goes silent notices, keeps trying, and loses and repeats nothing", {
  timeout: 20_000,
}, async () => {
  const conference = await t.api.createConference("Quiet network");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  const bob = await t.api.register(conference.id, { name: "Bob" });
  await t.api.build(conference.id, conference.hostToken);

  const { client: adaClient, attempts, opened } = clientThroughProxy(conference.id, ada.token);
  const bobClient = nodeClient(t.api, conference.id, bob.token);
  adaClient.connect();
  bobClient.connect();
  await Promise.all([untilStatus(adaClient, "open"), untilStatus(bobClient, "open")]);
  await adaClient.sendText("all", "before");

  proxy.freeze();
  // Nothing closed: only the probe can tell.
  await untilStatus(adaClient, "reconnecting");
  const queued = adaClient.sendText("all", "written while the network was quiet");
  const toAda = await bobClient.sendText([ada.memberId], "sent while Ada was unreachable");
  // Several attempts hang in the silent network and are given up in turn, each by the probe.
  await attempts(opened() + 3);
  assert.equal(adaClient.status, "reconnecting");

  proxy.thaw();
  await untilStatus(adaClient, "open");
  await queued;
  const adaGot = adaClient.room.chat.filter((e) => e.message.id === toAda.id);
  if (adaGot.length === 0) await nextMessage(adaClient, (m) => m.type === "text" && m.id === toAda.id);
  assert.equal(adaClient.room.chat.filter((e) => e.message.id === toAda.id).length, 1);
  const fromAda = (await t.api.history(conference.id, bob.token)).filter(
    (m) => m.text === "written while the network was quiet",
  );
  assert.equal(fromAda.length, 1, "stored once");
  const bobSaw = () =>
    bobClient.room.chat.filter((e) => e.message.text === "written while the network was quiet").length;
  if (bobSaw() === 0)
    await nextMessage(
      bobClient,
      (m) => m.type === "text" && m.text === "written while the network was quiet",
    );
  assert.equal(bobSaw(), 1, "delivered once");
  assert.deepEqual(
    adaClient.room.chat.map((e) => e.message.text),
    ["before", "sent while Ada was unreachable", "written while the network was quiet"],
  );
  adaClient.close();
  bobClient.close();
});
