import { ClientMessage, LIMITS } from "@roundtable/protocol";
import fc from "fast-check";

/**
 * Arbitraries for fuzz.test.ts: valid client messages derived from the protocol's schemas at run
 * time (so new message types are fuzzed without a change here), their mutations, and HTTP requests.
 */

// ---------------------------------------------------------------- valid messages from the schemas

interface Schema {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, Schema>;
      values?: unknown[];
      entries?: Record<string, unknown>;
      options?: Schema[];
      innerType?: Schema;
      element?: Schema;
      checks?: { _zod: { def: { check: string; minimum?: number; maximum?: number; value?: number } } }[];
    };
  };
}

export const MESSAGE_SCHEMAS = (ClientMessage as unknown as { options: Schema[] }).options;
const typeOf = (s: Schema) => s._zod.def.shape?.type?._zod.def.values?.[0] as string;
const CLIENT_TYPES = MESSAGE_SCHEMAS.map(typeOf);

function bounds(s: Schema): { min?: number; max?: number } {
  const out: { min?: number; max?: number } = {};
  for (const { _zod } of s._zod.def.checks ?? []) {
    const d = _zod.def;
    if (d.check === "min_length" || d.check === "greater_than") out.min = d.minimum ?? d.value;
    if (d.check === "max_length" || d.check === "less_than") out.max = d.maximum ?? d.value;
  }
  return out;
}

/** The schema under optional and nullable wrappers. */
const unwrap = (s: Schema): Schema => (s._zod.def.innerType ? unwrap(s._zod.def.innerType) : s);

/** Values a schema accepts; `hints` give fields whose meaning matters (ids, SDP) realistic values. */
export function validOf(
  s: Schema,
  field: string,
  hints: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<unknown> {
  const hint = hints[field];
  if (hint) return hint;
  const def = s._zod.def;
  const { min, max } = bounds(s);
  switch (def.type) {
    case "literal":
      return fc.constantFrom(...(def.values ?? []));
    case "enum":
      return fc.constantFrom(...Object.values(def.entries ?? {}));
    case "string":
      return fc.string({ minLength: min ?? 0, maxLength: Math.min(max ?? 40, (min ?? 0) + 40) });
    case "number":
      return fc.integer({ min: min ?? -1000, max: max ?? 1000 });
    case "boolean":
      return fc.boolean();
    case "optional":
    case "nullable":
      return fc.option(validOf(def.innerType as Schema, field, hints), {
        nil: def.type === "optional" ? undefined : null,
      });
    case "union":
      return fc.oneof(...(def.options ?? []).map((o) => validOf(o, field, hints)));
    case "array":
      return fc.array(validOf(def.element as Schema, `${field}[]`, hints), {
        minLength: min ?? 0,
        maxLength: Math.min(max ?? 4, (min ?? 0) + 3),
      });
    case "object":
      return fc.record(
        Object.fromEntries(Object.entries(def.shape ?? {}).map(([k, v]) => [k, validOf(v, k, hints)])),
      );
    default:
      return fc.jsonValue();
  }
}

// ---------------------------------------------------------------- mutations

type Entries = [string, unknown][];

/** JSON written by hand so keys like `__proto__` and duplicate keys reach the server as sent. */
export const serialise = (entries: Entries) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v ?? null)}`).join(",")}}`;

const fieldMax = (type: string, key: string): number | undefined => {
  const shape = MESSAGE_SCHEMAS.find((s) => typeOf(s) === type)?._zod.def.shape ?? {};
  return Object.hasOwn(shape, key) ? bounds(unwrap(shape[key] as Schema)).max : undefined;
};

function retype(v: unknown): unknown {
  if (typeof v === "string") return v.length;
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return v ? 1 : "false";
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [i, x]));
  if (v && typeof v === "object") return Object.values(v);
  return {};
}

/** Past the field's limit: just over it, or far enough over to pass the frame size limit. */
function stretch(v: unknown, max: number | undefined, far: boolean): unknown {
  const length = far ? LIMITS.wsMessageMax + 10 : (max ?? 200) + 1;
  if (typeof v === "string") return (v || "x").repeat(Math.ceil(length / Math.max(1, v.length)));
  if (Array.isArray(v))
    return Array.from({ length: Math.min(length, 20_000) }, (_, i) => v[i % v.length] ?? i);
  if (typeof v === "number") return [(max ?? 0) + 1, -1, 0.5, 1e300][length % 4];
  return v;
}

const EXTRA_KEYS = ["__proto__", "constructor", "prototype", "from", "seq", "id", "memberId", "toString"];

export const mutation = fc.record({
  kind: fc.oneof(
    {
      weight: 20,
      arbitrary: fc.constantFrom("drop", "replace", "retype", "stretch", "extra", "swap-type", "dup-type"),
    },
    // Past the frame limit: each of these costs a reconnect, so they stay rare.
    { weight: 1, arbitrary: fc.constant("stretch-far") },
  ),
  at: fc.nat(),
  value: fc.jsonValue({ maxDepth: 3 }),
  key: fc.oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 8 })),
  type: fc.constantFrom(...CLIENT_TYPES, "Text", "dance", ""),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer R> ? R : never;

export function mutate(entries: Entries, m: Mutation): Entries {
  const type = String(entries.find(([k]) => k === "type")?.[1]);
  const i = m.at % Math.max(1, entries.length);
  const [key, value] = entries[i] ?? ["type", type];
  const set = (v: unknown) => entries.map((e, j): [string, unknown] => (j === i ? [key, v] : e));
  switch (m.kind) {
    case "drop":
      return entries.filter((_, j) => j !== i);
    case "replace":
      return set(m.value);
    case "retype":
      return set(retype(value));
    case "stretch":
    case "stretch-far":
      return set(stretch(value, fieldMax(type, key), m.kind === "stretch-far"));
    case "extra":
      return [...entries, [m.key, m.value] as [string, unknown]];
    case "swap-type":
      return entries.map(([k, v]): [string, unknown] => [k, k === "type" ? m.type : v]);
    default:
      return [...entries, ["type", m.type] as [string, unknown]];
  }
}

/** ICE candidates a browser might trickle: usable, mDNS, TCP, server-reflexive. */
export const CANDIDATES = [
  "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
  "candidate:2 1 udp 2130706431 6f1c2b3a-9d.local 40001 typ host generation 0",
  "candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
  "candidate:4 1 udp 1686052607 203.0.113.9 40002 typ srflx raddr 0.0.0.0 rport 0",
];

// ---------------------------------------------------------------- HTTP requests

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const PATH_CHARS = "ABCabcxyz0123456789-._~!$&'()*+,;=:@";
const segment = fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 16 });
/** Header values must be printable ASCII, or fetch refuses them before anything is sent. */
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
const PNG_MAGIC = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const bytesOf = (chunks: (string | Uint8Array)[]) =>
  Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c)));

const formPart = fc.record({
  name: fc.oneof(fc.constantFrom("name", "avatar", "__proto__"), segment),
  filename: fc.option(segment, { nil: undefined }),
  type: fc.option(fc.constantFrom("image/png", "image/jpeg", "text/plain", "application/octet-stream"), {
    nil: undefined,
  }),
  content: fc.oneof(
    fc.string({ maxLength: 70 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => bytesOf([PNG_MAGIC, b])),
  ),
});

/** A multipart body from random parts, properly closed, unclosed, or cut short. */
const multipart = fc
  .record({
    boundary: fc.constantFrom("B", "----x", "a b"),
    parts: fc.array(formPart, { maxLength: 5 }),
    end: fc.constantFrom("close", "none", "cut"),
  })
  .map(({ boundary, parts, end }) => {
    const chunks = parts.flatMap((p) => [
      `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`,
      p.filename === undefined ? "" : `; filename="${p.filename}"`,
      p.type === undefined ? "\r\n\r\n" : `\r\nContent-Type: ${p.type}\r\n\r\n`,
      p.content,
      "\r\n",
    ]);
    if (end === "close") chunks.push(`--${boundary}--\r\n`);
    const bytes = bytesOf(chunks);
    return {
      body: end === "cut" ? bytes.subarray(0, Math.floor(bytes.length * 0.7)) : bytes,
      type: `multipart/form-data; boundary=${boundary}`,
    };
  });

/** A well-formed registration: a name of any characters, and maybe a file that is not much of an image. */
const registration = fc
  .record({
    name: fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
    avatar: fc.option(
      fc.uint8Array({ maxLength: 300 }).map((b) => bytesOf([PNG_MAGIC, b])),
      { nil: undefined },
    ),
  })
  .map(({ name, avatar }) => {
    const chunks: (string | Uint8Array)[] = [
      `--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n${name}\r\n`,
    ];
    if (avatar)
      chunks.push(
        '--B\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
        avatar,
        "\r\n",
      );
    chunks.push("--B--\r\n");
    return { body: bytesOf(chunks), type: "multipart/form-data; boundary=B" };
  });

const bodyOf = fc.oneof(
  { weight: 3, arbitrary: multipart },
  { weight: 2, arbitrary: registration },
  fc.constant({ body: undefined, type: undefined }),
  fc.jsonValue().map((v) => ({ body: JSON.stringify(v) ?? "null", type: "application/json" })),
  fc
    .record({ title: fc.oneof(fc.string({ maxLength: 130 }), fc.jsonValue()) })
    .map((v) => ({ body: JSON.stringify(v), type: "application/json" })),
  fc.string({ maxLength: 200 }).map((body) => ({ body, type: "text/plain" })),
  fc.uint8Array({ maxLength: 200 }).map((body) => ({ body, type: "application/octet-stream" })),
);

/**
 * Requests to the API: routes with valid conference ids (`ids`), the same ids with junk, and made-up
 * paths; random bodies under matching, mismatched or made-up content types; bearer tokens from
 * `tokens` or random.
 */
export function httpRequest(ids: string[], tokens: string[]): fc.Arbitrary<FuzzRequest> {
  const id = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ids) },
    { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "%ZZ", "%", "..", "nope") },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ids), segment).map(([i, s]) => i + s) },
    { weight: 1, arbitrary: segment },
  );
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    fc
      .tuple(fc.constantFrom("since", "token", "x"), printable)
      .map(([k, v]) => `?${k}=${encodeURIComponent(v)}`),
  );
  const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD");
  // Mostly the API's own routes with the right method; sometimes anything.
  const endpoint = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        ["POST", ""],
        ["GET", "/:id"],
        ["POST", "/:id/members"],
        ["POST", "/:id/members"],
        ["POST", "/:id/build"],
        ["POST", "/:id/end"],
        ["GET", "/:id/messages"],
        ["GET", "/:id/ws"],
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(method, fc.constantFrom("", "/:id", "/:id/members", "/:id/x", "/:id//")),
    },
  );
  // Registration gets mostly registration-shaped bodies, so the form parsing is reached.
  const apiCall = endpoint.chain(([m, route]) =>
    fc.record({
      method: fc.constant(m),
      path: fc.tuple(id, query).map(([i, q]) => `/api/conferences${route.replace(":id", i)}${q}`),
      body: route.endsWith("/members") ? fc.oneof({ weight: 2, arbitrary: registration }, bodyOf) : bodyOf,
    }),
  );
  const anyPath = fc.oneof(
    fc.array(segment, { maxLength: 4 }).map((s) => `/api/${s.join("/")}`),
    segment.map((s) => `/avatars/${s}`),
  );
  const call = fc.oneof(
    { weight: 8, arbitrary: apiCall },
    { weight: 2, arbitrary: fc.record({ method, path: anyPath, body: bodyOf }) },
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant("natural") },
    fc.constantFrom("application/json", "multipart/form-data", "text/plain", "application/json; charset=x"),
    printable,
  );
  const authorization = fc.oneof(
    fc.constant(undefined),
    { weight: 2, arbitrary: fc.constantFrom(...tokens).map((token) => `Bearer ${token}`) },
    printable,
  );
  return fc
    .record({ call, contentType, authorization })
    .map(({ call: { method, path, body }, contentType, authorization }) => {
      const headers: Record<string, string> = {};
      const type = contentType === "natural" ? body.type : contentType;
      if (type !== undefined) headers["content-type"] = type;
      if (authorization !== undefined) headers.authorization = authorization;
      // fetch sends no body with GET or HEAD.
      const withBody = method !== "GET" && method !== "HEAD" && body.body !== undefined;
      return withBody ? { method, path, headers, body: body.body } : { method, path, headers };
    });
}
