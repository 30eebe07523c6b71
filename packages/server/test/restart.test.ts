import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { nodeClient, untilStatus } from "./clients.ts";
import { startTestServer } from "./harness.ts";
import { solidImage } from "./images.ts";

test("conferences, members, avatars and history survive a server restart", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "roundtable-restart-"));
  try {
    const first = await startTestServer({}, {}, dataDir);
    const conference = await first.api.createConference("Survives");
    const ada = await first.api.register(conference.id, {
      name: "Ada",
      avatar: new Blob([new Uint8Array(await solidImage("png"))], { type: "image/png" }),
    });
    const bob = await first.api.register(conference.id, { name: "Bob" });
    await first.api.build(conference.id, conference.hostToken);
    const client = nodeClient(first.api, conference.id, ada.token);
    client.connect();
    await untilStatus(client, "open");
    await client.sendText("all", "public note");
    await client.sendText([bob.memberId], "private note");
    client.close();
    const avatarBefore = Buffer.from(await (await fetch(first.baseUrl + ada.avatarUrl)).arrayBuffer());
    await first.stop();

    const second = await startTestServer({}, {}, dataDir);
    try {
      const summary = await second.api.getConference(conference.id);
      assert.equal(summary.state, "built");
      assert.deepEqual(
        summary.members.map((m) => [m.name, m.avatarUrl]),
        [
          ["Ada", ada.avatarUrl],
          ["Bob", bob.avatarUrl],
        ],
      );
      const avatarAfter = Buffer.from(await (await fetch(second.baseUrl + ada.avatarUrl)).arrayBuffer());
      assert.ok(avatarAfter.equals(avatarBefore));
      assert.deepEqual(
        (await second.api.history(conference.id, bob.token)).map((m) => m.text),
        ["public note", "private note"],
      );
      // The old tokens still work, the room rebuilds on connect, and sequence numbers continue.
      const again = nodeClient(second.api, conference.id, bob.token);
      again.connect();
      await untilStatus(again, "open");
      assert.equal(again.room.phase, "room");
      assert.equal(again.room.seats.length, 2);
      assert.equal((await again.sendText("all", "after restart")).seq, 3);
      again.close();
      await assert.rejects(second.api.build(conference.id, ada.token), { code: "forbidden" });
    } finally {
      await second.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
