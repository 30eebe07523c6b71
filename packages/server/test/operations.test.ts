/**
 * What an operator runs a node with: `GET /metrics` (Prometheus text, optionally behind a token)
 * and `TRUST_PROXY`, which makes per-address limits see the client behind a load balancer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { rawSocket } from "./clients.ts";
import { startTestServer } from "./harness.ts";

/** The value of one sample line of a Prometheus text page (`name` with its labels, if any). */
function sample(page: string, name: string): number {
  const line = page.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no sample ${name} in\n${page}`);
  return Number(line.slice(name.length + 1));
}

test("/metrics tells what this node holds and has done, in Prometheus's text format", async () => {
  const t = await startTestServer();
  try {
    const conference = await t.api.createConference("Counted");
    const ada = await t.api.register(conference.id, { name: "Ada" });
    await t.api.build(conference.id, conference.hostToken);
    const socket = await rawSocket(t.api.socketUrl(conference.id, ada.token));
    await socket.next((m) => m.type === "history");
    socket.send({ type: "text", to: "all", text: "counted", clientId: "c1" });
    await socket.next((m) => m.type === "text");

    const res = await fetch(`${t.baseUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const page = await res.text();
    assert.equal(sample(page, "roundtable_conferences_held"), 1);
    assert.equal(sample(page, "roundtable_members_held"), 1);
    assert.equal(sample(page, "roundtable_members_connected"), 1);
    assert.equal(sample(page, "roundtable_sockets_open"), 1);
    assert.equal(sample(page, "roundtable_voice_peers"), 0);
    assert.equal(sample(page, "roundtable_texts_stored_total"), 1);
    assert.equal(sample(page, "roundtable_store_up"), 1);
    assert.equal(sample(page, 'roundtable_voice_packets_total{outcome="forwarded"}'), 0);
    assert.match(page, /^roundtable_process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(page, /roundtable_nats_up/, "one node has no NATS to report on");
    socket.socket.close();
  } finally {
    await t.stop();
  }
});

test("with METRICS_TOKEN, /metrics answers only that bearer token", async () => {
  const t = await startTestServer({ METRICS_TOKEN: "s3cret-scraper" });
  try {
    const plain = await fetch(`${t.baseUrl}/metrics`);
    assert.equal(plain.status, 401);
    assert.equal(((await plain.json()) as { error: { code: string } }).error.code, "unauthorized");
    const wrong = await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: "Bearer guess" } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${t.baseUrl}/metrics`, {
      headers: { authorization: "Bearer s3cret-scraper" },
    });
    assert.equal(right.status, 200);
    assert.match(await right.text(), /roundtable_conferences_held 0/);
  } finally {
    await t.stop();
  }
});

/** Creates conferences as if from `client` behind the proxy; returns the statuses. */
async function createAs(baseUrl: string, client: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) {
    const res = await fetch(`${baseUrl}/api/conferences`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": client },
      body: JSON.stringify({ title: "Limited" }),
    });
    statuses.push(res.status);
  }
  return statuses;
}

test("TRUST_PROXY: per-address limits count each client behind the proxy, not the proxy", async () => {
  const trusting = await startTestServer({ TRUST_PROXY: "127.0.0.1", CONFERENCES_PER_MINUTE: "1" });
  const plain = await startTestServer({ CONFERENCES_PER_MINUTE: "1" });
  try {
    assert.deepEqual(await createAs(trusting.baseUrl, "198.51.100.7", 2), [201, 429]);
    assert.deepEqual(
      await createAs(trusting.baseUrl, "198.51.100.8", 1),
      [201],
      "another client has its own budget",
    );
    assert.deepEqual(await createAs(plain.baseUrl, "198.51.100.7", 1), [201]);
    assert.deepEqual(
      await createAs(plain.baseUrl, "198.51.100.8", 1),
      [429],
      "without TRUST_PROXY a forged header changes nothing",
    );
  } finally {
    await Promise.all([trusting.stop(), plain.stop()]);
  }
});
