import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConferenceLink } from "../src/links.ts";

test("reads invite and room links", () => {
  assert.deepEqual(parseConferenceLink("http://localhost:3000/c/abc_123/join"), {
    origin: "http://localhost:3000",
    conferenceId: "abc_123",
  });
  assert.deepEqual(parseConferenceLink("https://rt.example/c/abc?token=t0k"), {
    origin: "https://rt.example",
    conferenceId: "abc",
    token: "t0k",
  });
});

test("refuses links that are not conference links", () => {
  assert.throws(() => parseConferenceLink("not a url"), TypeError);
  assert.throws(() => parseConferenceLink("http://localhost:3000/other/abc"), TypeError);
});
