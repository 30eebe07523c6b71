import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startTestServer } from "../../server/test/harness.ts";

const run = promisify(execFile);
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

test("the bot registers from an invite link, joins the room and writes", async () => {
  const t = await startTestServer();
  try {
    const conference = await t.api.createConference("Bots welcome");
    await t.api.build(conference.id, conference.hostToken);
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        main,
        "--invite",
        conference.inviteUrl,
        "--name",
        "Announcer",
        "--say",
        "Doors open",
        "--exit",
      ],
      { timeout: 30_000 },
    );
    assert.match(stdout, /registered as /);
    assert.match(stdout, /room built: 0:Announcer/);
    const summary = await t.api.getConference(conference.id);
    assert.deepEqual(
      summary.members.map((m) => m.name),
      ["Announcer"],
    );
    const roomLink = /room link: (\S+)/.exec(stdout)?.[1];
    assert.ok(roomLink);
    const token = new URL(roomLink).searchParams.get("token") ?? "";
    assert.deepEqual(
      (await t.api.history(conference.id, token)).map((m) => m.text),
      ["Doors open"],
    );
  } finally {
    await t.stop();
  }
});
