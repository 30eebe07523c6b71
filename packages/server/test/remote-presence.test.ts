import assert from "node:assert/strict";
import { test } from "node:test";
import { RemotePresence } from "../src/conference/RemotePresence.ts";

test("members are online while some other node reports them, and go with a node not heard from", () => {
  const remote = new RemotePresence(15_000);
  assert.deepEqual(remote.apply("b", { full: false, online: ["ada"], offline: [] }, 0), ["ada"]);
  assert.deepEqual(remote.apply("c", { full: true, online: ["ada", "ben"], offline: [] }, 0), ["ben"]);
  assert.deepEqual(remote.apply("b", { full: false, online: [], offline: ["ada"] }, 1000), [], "still on c");
  assert.equal(remote.has("ada"), true);
  assert.deepEqual(remote.apply("b", { full: true, online: [], offline: [] }, 14_000), []);
  assert.deepEqual(remote.expire(14_000), [], "c was heard 14 s ago: still there");
  assert.deepEqual(remote.expire(15_001).sort(), ["ada", "ben"], "c went silent: its members go");
  assert.deepEqual(remote.members(), []);
});
