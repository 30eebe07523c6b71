import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { startTestServer, type TestServer } from "./harness.ts";
import { jpegWithExif, pngClaiming, solidImage } from "./images.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.stop());

const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(t.baseUrl + path, {
    method: "POST",
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });

function registration(name: string | undefined, avatar?: { bytes: Uint8Array; type?: string }): FormData {
  const form = new FormData();
  if (name !== undefined) form.set("name", name);
  if (avatar)
    form.set("avatar", new Blob([Buffer.from(avatar.bytes)], { type: avatar.type ?? "image/png" }), "me.png");
  return form;
}

const register = (conferenceId: string, form: FormData) =>
  fetch(`${t.baseUrl}/api/conferences/${conferenceId}/members`, { method: "POST", body: form });

async function newConference(title = "Design review") {
  const res = await post("/api/conferences", { title });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string; hostToken: string; inviteUrl: string; title: string };
}

async function errorOf(res: Response, status: number, code: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}`);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
}

async function storedAvatarCount(): Promise<number> {
  try {
    return (await readdir(join(t.dataDir, "avatars"))).length;
  } catch {
    return 0;
  }
}

test("healthz answers once ready", async () => {
  const res = await fetch(`${t.baseUrl}/healthz`);
  assert.equal(res.status, 200);
});

describe("POST /api/conferences", () => {
  test("creates a conference with a host token and an invite link", async () => {
    const c = await newConference("  Design review ");
    assert.equal(c.title, "Design review");
    assert.ok(c.hostToken.length >= 43, "at least 256 bits in base64url");
    assert.equal(c.inviteUrl, `${t.baseUrl}/c/${c.id}/join`);
    const summary = await (await fetch(`${t.baseUrl}/api/conferences/${c.id}`)).json();
    assert.deepEqual(summary, { id: c.id, title: "Design review", state: "registering", members: [] });
  });

  for (const [body, why] of [
    [{}, "a missing title"],
    [{ title: "" }, "an empty title"],
    [{ title: 42 }, "a non-string title"],
    [{ title: "x".repeat(121) }, "a too long title"],
  ] as const) {
    test(`refuses ${why}`, async () => {
      await errorOf(await post("/api/conferences", body), 400, "invalid_title");
    });
  }

  test("refuses malformed JSON with a 400 error body", async () => {
    const res = await fetch(`${t.baseUrl}/api/conferences`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    await errorOf(res, 400, "bad_request");
  });

  test("an unknown conference is 404", async () => {
    await errorOf(await fetch(`${t.baseUrl}/api/conferences/nope`), 404, "not_found");
  });
});

describe("POST /api/conferences/:id/members", () => {
  test("registers a member with an uploaded picture, served normalised and cacheable", async () => {
    const c = await newConference();
    const res = await register(
      c.id,
      registration("Ada", { bytes: await jpegWithExif(), type: "image/jpeg" }),
    );
    assert.equal(res.status, 201);
    const body = (await res.json()) as { memberId: string; token: string; avatarUrl: string };
    assert.match(body.avatarUrl, /^\/avatars\/[A-Za-z0-9_-]{22}\.webp$/);
    const image = await fetch(t.baseUrl + body.avatarUrl);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/webp");
    assert.match(image.headers.get("cache-control") ?? "", /max-age=31536000.*immutable/);
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.exif], ["webp", 256, 256, undefined]);
    const summary = (await (await fetch(`${t.baseUrl}/api/conferences/${c.id}`)).json()) as {
      members: { id: string; name: string; avatarUrl: string }[];
    };
    assert.deepEqual(summary.members, [{ id: body.memberId, name: "Ada", avatarUrl: body.avatarUrl }]);
  });

  test("generates a default avatar when no picture is sent", async () => {
    const c = await newConference();
    const res = await register(c.id, registration("Grace Hopper"));
    assert.equal(res.status, 201);
    const { avatarUrl } = (await res.json()) as { avatarUrl: string };
    const image = await fetch(t.baseUrl + avatarUrl);
    assert.equal(image.status, 200);
    assert.equal((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).format, "webp");
  });

  const rejections: [string, () => Promise<FormData>, number, string][] = [
    ["a missing name", async () => registration(undefined), 400, "invalid_name"],
    ["an empty name", async () => registration("   "), 400, "invalid_name"],
    ["a 65-character name", async () => registration("x".repeat(65)), 400, "invalid_name"],
    [
      "a file that is not an image",
      async () => registration("Ada", { bytes: Buffer.from("plain text") }),
      422,
      "invalid_image",
    ],
    [
      "an SVG",
      async () => registration("Ada", { bytes: Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>") }),
      422,
      "invalid_image",
    ],
    [
      "a corrupt image",
      async () => {
        const png = await solidImage("png", 300, 300);
        return registration("Ada", { bytes: png.subarray(0, png.length / 2) });
      },
      422,
      "invalid_image",
    ],
    [
      "a decompression bomb",
      async () => registration("Ada", { bytes: await pngClaiming(60_000, 60_000) }),
      422,
      "image_too_many_pixels",
    ],
    [
      "a file over 5 MB",
      async () => registration("Ada", { bytes: Buffer.alloc(5 * 1024 * 1024 + 1, 0x89) }),
      413,
      "image_too_large",
    ],
  ];
  for (const [why, form, status, code] of rejections) {
    test(`refuses ${why} with ${status} ${code} and stores nothing`, async () => {
      const c = await newConference();
      const avatarsBefore = await storedAvatarCount();
      await errorOf(await register(c.id, await form()), status, code);
      const summary = (await (await fetch(`${t.baseUrl}/api/conferences/${c.id}`)).json()) as { members: [] };
      assert.equal(summary.members.length, 0);
      assert.equal(await storedAvatarCount(), avatarsBefore);
    });
  }

  test("refuses a body that is not multipart", async () => {
    const c = await newConference();
    await errorOf(await post(`/api/conferences/${c.id}/members`, { name: "Ada" }), 400, "bad_request");
    for (const type of ["application/x-www-form-urlencoded", "text/plain"]) {
      const res = await fetch(`${t.baseUrl}/api/conferences/${c.id}/members`, {
        method: "POST",
        headers: { "content-type": type },
        body: "name=Ada",
      });
      await errorOf(res, 400, "bad_request");
    }
    assert.equal((await t.api.getConference(c.id)).members.length, 0);
  });

  test("refuses registration for an unknown conference", async () => {
    await errorOf(await register("nope", registration("Ada")), 404, "not_found");
  });
});

describe("POST /api/conferences/:id/build", () => {
  test("needs the host token: none 401, a member's 403, the host's 200, twice harmless", async () => {
    const c = await newConference();
    const member = (await (await register(c.id, registration("Ada"))).json()) as { token: string };
    const build = (token?: string) =>
      post(`/api/conferences/${c.id}/build`, undefined, token ? { authorization: `Bearer ${token}` } : {});
    await errorOf(await build(), 401, "unauthorized");
    await errorOf(await build("not-a-token"), 401, "unauthorized");
    await errorOf(await build(member.token), 403, "forbidden");
    const first = await build(c.hostToken);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { state: "built", alreadyBuilt: false });
    const second = await build(c.hostToken);
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), { state: "built", alreadyBuilt: true });
    const summary = (await (await fetch(`${t.baseUrl}/api/conferences/${c.id}`)).json()) as { state: string };
    assert.equal(summary.state, "built");
  });
});

describe("responses", () => {
  test("carry security headers, a content security policy among them", async () => {
    const res = await fetch(`${t.baseUrl}/healthz`);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'.*script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
  });

  test("an unknown avatar or route is 404", async () => {
    assert.equal((await fetch(`${t.baseUrl}/avatars/${"A".repeat(22)}.webp`)).status, 404);
    assert.equal((await fetch(`${t.baseUrl}/avatars/..%2Froundtable.sqlite`)).status, 404);
    await errorOf(await fetch(`${t.baseUrl}/api/nothing`), 404, "not_found");
  });
});

test("registration is rate limited per address", async () => {
  const limited = await startTestServer({ REGISTRATIONS_PER_MINUTE: "2" });
  try {
    const c = (await (await limited.api.createConference("Limited")).id) as string;
    const attempt = () =>
      fetch(`${limited.baseUrl}/api/conferences/${c}/members`, { method: "POST", body: registration("Ada") });
    assert.equal((await attempt()).status, 201);
    assert.equal((await attempt()).status, 201);
    await errorOf(await attempt(), 429, "rate_limited");
  } finally {
    await limited.stop();
  }
});

describe("hostile requests", () => {
  test("a malformed or over-long path gets the documented error body", async () => {
    await errorOf(await fetch(`${t.baseUrl}/api/conferences/%ZZ`), 400, "bad_request");
    await errorOf(await fetch(`${t.baseUrl}/api/conferences/${"x".repeat(500)}`), 414, "bad_request");
  });

  test("a plain GET of the socket route gets 426 and a documented error body, not an empty 404", async () => {
    const c = await t.api.createConference("Plain");
    const res = await fetch(`${t.baseUrl}/api/conferences/${c.id}/ws`);
    assert.equal(res.headers.get("upgrade"), "websocket");
    await errorOf(res, 426, "bad_request");
  });

  test("a broken multipart body is a 400, not a server error", async () => {
    const c = await t.api.createConference("Forms");
    const members = `${t.baseUrl}/api/conferences/${c.id}/members`;
    const multipart = (body: string, type = "multipart/form-data; boundary=B") =>
      fetch(members, { method: "POST", headers: { "content-type": type }, body });
    const part = (headers: string, content: string) => `--B\r\n${headers}\r\n\r\n${content}\r\n`;
    const name = part('Content-Disposition: form-data; name="name"', "Ada");
    const file = (field: string) =>
      part(
        `Content-Disposition: form-data; name="${field}"; filename="a.png"\r\nContent-Type: image/png`,
        "x",
      );
    await errorOf(await multipart(name, "multipart/form-data"), 400, "bad_request");
    // A file part whose body ends before its closing boundary.
    await errorOf(await multipart(`${name}${file("avatar").slice(0, -2)}`), 400, "bad_request");
    await errorOf(await multipart(`${name}${file("avatar")}${file("avatar")}--B--\r\n`), 400, "bad_request");
    await errorOf(
      await multipart(`${name}${part('Content-Disposition: form-data; name="x"', "1").repeat(8)}--B--\r\n`),
      400,
      "bad_request",
    );
    assert.deepEqual((await t.api.getConference(c.id)).members, []);
  });

  test("a name with characters XML cannot carry still gets a generated avatar", async () => {
    const c = await t.api.createConference("Names");
    for (const name of ["\uFFFE", "Ada \uFFFF", "\uD800 Lone"]) {
      const member = await t.api.register(c.id, { name });
      const avatar = await fetch(t.baseUrl + member.avatarUrl);
      assert.equal(avatar.status, 200, JSON.stringify(name));
    }
  });
});
