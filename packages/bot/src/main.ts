#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { ConferenceClient, RoundtableApi } from "@roundtable/client-core";
import type { Audience } from "@roundtable/protocol";
import WebSocket from "ws";
import { parseConferenceLink } from "./links.ts";

const USAGE = `Roundtable bot: joins a conference from Node, shows what happens, and can write.

  npm run bot -- --invite <invite link> --name <name> [--avatar <picture>] [--say <text>] [--to <id,id>]
  npm run bot -- --room <room link with token> [--say <text>]

  --invite   the invite link (…/c/<id>/join): registers a new member
  --room     a room link (…/c/<id>?token=…): joins as that member
  --name     display name when registering
  --avatar   PNG, JPEG, WebP or GIF file (a generated avatar when omitted)
  --say      text to send once in the room (repeatable)
  --to       comma-separated member ids for --say (everyone when omitted)
  --exit     leave after the texts are sent instead of staying connected`;

const { values } = parseArgs({
  options: {
    invite: { type: "string" },
    room: { type: "string" },
    name: { type: "string" },
    avatar: { type: "string" },
    say: { type: "string", multiple: true },
    to: { type: "string" },
    exit: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help || (!values.invite && !values.room)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}

const link = parseConferenceLink((values.room ?? values.invite) as string);
const api = new RoundtableApi(link.origin);
let token = link.token;
if (!token) {
  if (!values.name) {
    console.error("--name is required with --invite");
    process.exit(2);
  }
  const avatar = values.avatar ? new Blob([new Uint8Array(await readFile(values.avatar))]) : undefined;
  const registered = await api.register(link.conferenceId, {
    name: values.name,
    avatar,
    avatarFileName: values.avatar ? basename(values.avatar) : "avatar",
  });
  token = registered.token;
  console.log(`registered as ${registered.memberId}; room link: ${registered.roomUrl}`);
}

const client = new ConferenceClient({
  api,
  conferenceId: link.conferenceId,
  token,
  createSocket: (url) => new WebSocket(url),
});
const nameOf = (id: string) => client.room.member(id)?.name ?? id;
client.on("status", (status) => console.log(`[${status}]`));
client.on("error", (error) => console.error(`error ${error.code}: ${error.message}`));
client.room.on("built", () =>
  console.log(`room built: ${client.room.seats.map((s) => `${s.member.seat}:${s.member.name}`).join(", ")}`),
);
client.room.on("memberAdded", (m) => console.log(`${m.name} joined (seat ${m.seat}, id ${m.id})`));
client.room.on("text", ({ message, private: isPrivate }) =>
  console.log(`${isPrivate ? "(private) " : ""}${nameOf(message.from)}: ${message.text}`),
);

const to: Audience = values.to ? values.to.split(",").filter(Boolean) : "all";
const opened = new Promise<void>((resolve) => {
  const off = client.on("status", (s) => {
    if (s !== "open") return;
    off();
    resolve();
  });
});
client.connect();
await opened;
for (const text of values.say ?? []) await client.sendText(to, text);
if (values.exit) client.close();
else process.once("SIGINT", () => client.close());
