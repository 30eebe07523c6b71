import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { IceServers } from "../src/voice/IceServers.ts";
import { FakeClock } from "./fakes.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { voiceClient, Wire } from "./wire.ts";

const TURN = { urls: ["turns:turn.example.org:443?transport=tcp"], secret: "s3cret", ttlS: 600 };

test("TURN credentials name the member, expire after the TTL and are coturn's HMAC", () => {
  const clock = new FakeClock();
  const servers = new IceServers([{ urls: "stun:stun.example.org:3478" }], TURN, clock);
  const [stun, turn] = servers.for("m1");
  assert.deepEqual(stun, { urls: "stun:stun.example.org:3478" });
  const expiry = Math.floor(clock.now() / 1000) + 600;
  assert.equal(turn?.username, `${expiry}:m1`);
  assert.equal(turn?.credential, createHmac("sha1", "s3cret").update(`${expiry}:m1`).digest("base64"));
  assert.deepEqual(turn?.urls, TURN.urls);
  clock.advance(5_000);
  assert.notEqual(servers.for("m1")[1]?.username, turn?.username, "each join gets a fresh expiry");
  assert.deepEqual(new IceServers([], undefined, clock).for("m1"), [], "no TURN, no relay");
});

test("TURN configuration: both URL and secret, turn: URLs only, no TURN passwords in ICE_SERVERS", () => {
  const turn = loadConfig({ TURN_URLS: "turn:t.example:3478, turns:t.example:443", TURN_SECRET: "x" }).turn;
  assert.deepEqual(turn, { urls: ["turn:t.example:3478", "turns:t.example:443"], secret: "x", ttlS: 3600 });
  assert.equal(loadConfig({}).turn, undefined);
  assert.throws(() => loadConfig({ TURN_URLS: "turn:t.example" }), /TURN_URLS and TURN_SECRET/);
  assert.throws(() => loadConfig({ TURN_SECRET: "x" }), /TURN_URLS and TURN_SECRET/);
  assert.throws(() => loadConfig({ TURN_URLS: "http://t.example", TURN_SECRET: "x" }), /turn: and turns:/);
  assert.throws(() => loadConfig({ TURN_URLS: "turn:t", TURN_SECRET: "x", TURN_TTL_S: "5" }), /at least 60/);
  assert.throws(
    () => loadConfig({ ICE_SERVERS: '[{"urls":"turn:t.example","username":"u","credential":"p"}]' }),
    /TURN_URLS and TURN_SECRET/,
  );
});

let t: TestServer;
before(async () => {
  t = await startTestServer({
    RTC_LISTEN_ADDRESS: "127.0.0.1",
    TURN_URLS: "turn:127.0.0.1:3478?transport=tcp",
    TURN_SECRET: "s3cret",
    TURN_TTL_S: "120",
  });
});
after(() => t.stop());

test("every voice offer carries this member's TURN credentials; an accepted answer is acknowledged", async () => {
  const conference = await t.api.createConference("Relayed");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  const wire = await Wire.open(t.api, conference.id, ada.token);
  const { offer, pc, sdp } = await voiceClient(wire);
  const [relay] = offer.iceServers;
  assert.deepEqual(relay?.urls, ["turn:127.0.0.1:3478?transport=tcp"]);
  const [expiry, memberId] = (relay?.username ?? "").split(":");
  assert.equal(memberId, ada.memberId);
  const ttl = Number(expiry) - Date.now() / 1000;
  assert.ok(ttl > 100 && ttl <= 120, `expires in ${ttl} s`);
  assert.equal(
    relay?.credential,
    createHmac("sha1", "s3cret")
      .update(relay?.username ?? "")
      .digest("base64"),
  );
  // Ada's own presence goes out in a batch 50 ms after she connects and may land in between.
  const replies = (await wire.exchange({ type: "voice-answer", sdp })).filter((m) => m.type !== "presence");
  assert.deepEqual(replies, [{ type: "voice-accepted" }]);
  await pc.close();
  wire.socket.close();
});
