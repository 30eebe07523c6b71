import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBotArgs } from "../src/cli.ts";

test("a member id or a text that starts with a dash is the value of the option before it", () => {
  const values = parseBotArgs([
    "--room",
    "http://h/c/x?token=t",
    "--to",
    "-a1,_b2",
    "--say",
    "- bye",
    "--exit",
  ]);
  assert.equal(values.to, "-a1,_b2");
  assert.deepEqual(values.say, ["- bye"]);
  assert.equal(values.exit, true);
  assert.equal(parseBotArgs(["--to=-a1"]).to, "-a1");
});

test("unknown options and a missing value are refused", () => {
  assert.throws(() => parseBotArgs(["--nope"]), /Unknown option/);
  assert.throws(() => parseBotArgs(["--to"]), /argument missing/);
});
