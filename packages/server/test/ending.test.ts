import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CLOSE_CODES } from "@roundtable/protocol";
import { closeCodeOf, nodeClient, rawSocket, untilStatus } from "./clients.ts";
import { FakePeerFactory } from "./fakes.ts";
import { startTestServer, type TestServer } from "./harness.ts";

let t: TestServer;
const peers = new FakePeerFactory();
before(async () => {
  t = await startTestServer({}, { voicePeers: peers });
});
after(async () => {
  await t.stop();
});

const endWith = (conferenceId: string, token?: string) =>
  fetch(`${t.baseUrl}/api/conferences/${conferenceId}/end`, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

test("only the host token ends a conference: none 401, a member's 403, another conference's host 401", async () => {
  const conference = await t.api.createConference("Guarded");
  const other = await t.api.createConference("Other");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  assert.equal((await endWith(conference.id)).status, 401);
  assert.equal((await endWith(conference.id, ada.token)).status, 403);
  assert.equal((await endWith(conference.id, other.hostToken)).status, 401);
  assert.equal((await endWith(conference.id, "x".repeat(43))).status, 401);
  assert.equal((await t.api.getConference(conference.id)).state, "registering");
});

test("ending tells every client, closes them with 4010 and their voice; then nobody gets back in", async () => {
  const conference = await t.api.createConference("Farewell");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  const bob = await t.api.register(conference.id, { name: "Bob" });
  await t.api.build(conference.id, conference.hostToken);
  const client = nodeClient(t.api, conference.id, bob.token);
  client.connect();
  await untilStatus(client, "open");
  await client.sendText("all", "before the end");
  const raw = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  raw.send({ type: "voice-join" });
  await raw.next((m) => m.type === "voice-offer");
  const adaPeer = peers.peers.at(-1);

  const loaded = t.server.service.loadedCount;
  assert.deepEqual(await t.api.end(conference.id, conference.hostToken), {
    state: "ended",
    alreadyEnded: false,
  });
  assert.equal(t.server.service.loadedCount, loaded - 1, "an ended conference leaves memory");
  const ended = await raw.next((m) => m.type === "ended");
  assert.equal(ended.type === "ended" && typeof ended.endedAt, "number");
  assert.equal((await raw.closed).code, CLOSE_CODES.ended);
  await untilStatus(client, "ended");
  assert.equal(client.room.phase, "ended");
  assert.equal(adaPeer?.closed, 1, "Ada's voice peer is closed");
  assert.equal(t.server.voice.room(conference.id), undefined, "no voice room is left");

  // Afterwards: refused everywhere with clear answers, history still readable, ending again harmless.
  assert.equal((await closeCodeOf(t.api.socketUrl(conference.id, ada.token))).code, CLOSE_CODES.ended);
  await assert.rejects(t.api.register(conference.id, { name: "Late" }), { code: "conference_ended" });
  await assert.rejects(t.api.build(conference.id, conference.hostToken), { code: "conference_ended" });
  assert.deepEqual(await t.api.end(conference.id, conference.hostToken), {
    state: "ended",
    alreadyEnded: true,
  });
  assert.equal((await t.api.getConference(conference.id)).state, "ended");
  assert.equal(t.server.service.loadedCount, loaded - 1, "reading it does not bring it back for good");
  assert.deepEqual(
    (await t.api.history(conference.id, ada.token)).map((m) => m.text),
    ["before the end"],
  );
  client.close();
});

test("an ended conference stays ended across a restart", async () => {
  const dir = t.dataDir;
  const conference = await t.api.createConference("Gone");
  await t.api.end(conference.id, conference.hostToken);
  const second = await startTestServer({}, {}, dir);
  try {
    assert.equal((await second.api.getConference(conference.id)).state, "ended");
    await assert.rejects(second.api.register(conference.id, { name: "Late" }), { code: "conference_ended" });
  } finally {
    await second.server.close();
  }
});
