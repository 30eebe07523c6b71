#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { ConferenceClient, RoundtableApi } from "@roundtable/client-core";
import type { Audience } from "@roundtable/protocol";
import WebSocket from "ws";
import { readVoiceWav, type WavInfo } from "./audio/wav.ts";
import { parseBotArgs } from "./cli.ts";
import { parseConferenceLink } from "./links.ts";
import { VoiceCli } from "./voiceCli.ts";

const USAGE = `Roundtable bot: joins a conference from Node, shows what happens, writes, speaks and listens.

  npm run bot -- --invite <invite link> --name <name> [--avatar <picture>] [--say <text>] [--to <id,id>]
                 [--play <wav>] [--record <out.wav>] [--voice] [--duration <seconds>] [--exit]
  npm run bot -- --room <room link with token> [same options]

  --invite    the invite link (…/c/<id>/join): registers a new member
  --room      a room link (…/c/<id>?token=…): joins as that member
  --name      display name when registering
  --avatar    PNG, JPEG, WebP or GIF file (a generated avatar when omitted)
  --say       text to send once in the room (repeatable)
  --to        comma-separated member ids for --say and for the voice (everyone when omitted)
  --play      WAV file to speak, in real time (any PCM WAV; converted to 48 kHz mono)
  --record    write what the bot hears (all voices mixed, time-aligned) to this WAV file on leaving
  --voice     join voice even without --play or --record (prints slots and who speaks)
  --duration  leave after this many seconds in voice
  --bind      bind the voice connection to this IPv4 address only (e.g. 127.0.0.1)
  --exit      leave once the texts are sent and the WAV has played, instead of staying until Ctrl-C`;

const values = (() => {
  try {
    return parseBotArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();

if (values.help || (!values.invite && !values.room)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}

const duration = values.duration === undefined ? undefined : Number(values.duration);
if (duration !== undefined && !(duration > 0)) {
  console.error(`--duration must be a positive number of seconds, got "${values.duration}"`);
  process.exit(2);
}
let wav: { path: string; info: WavInfo; pcm: Int16Array } | undefined;
if (values.play) {
  try {
    wav = { path: values.play, ...(await readVoiceWav(values.play)) };
  } catch (error) {
    console.error(`cannot play ${values.play}: ${(error as Error).message}`);
    process.exit(2);
  }
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
const opened = new Promise<void>((resolve, reject) => {
  const off = client.on("status", (s) => {
    if (s === "open") {
      off();
      resolve();
    } else if (client.isFinal) {
      off();
      reject(new Error(finalReason(s)));
    }
  });
});
client.connect();
try {
  await opened;
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
for (const text of values.say ?? []) await client.sendText(to, text);

if (!wav && !values.record && !values.voice) {
  if (values.exit) client.close();
  else process.once("SIGINT", () => client.close());
} else {
  const voice = new VoiceCli(client, {
    play: wav,
    record: values.record,
    to,
    bind: values.bind,
    connectTimeoutMs: 20_000,
    log: (line) => console.log(line),
  });
  let timer: NodeJS.Timeout | undefined;
  let leaving: Promise<void> | undefined;
  const leave = (why: string, code = 0) => {
    leaving ??= (async () => {
      console.log(`leaving: ${why}`);
      clearTimeout(timer);
      await voice.finish();
      client.close();
      process.exitCode = code;
      // werift may keep a socket or timer a moment after closing; do not let that hold the process.
      setTimeout(() => process.exit(), 3000).unref();
    })();
    return leaving;
  };
  process.on("SIGINT", () => {
    if (leaving) process.exit(130);
    void leave("Ctrl-C");
  });
  client.on("status", (s) => {
    if (client.isFinal && s !== "closed") void leave(finalReason(s), s === "ended" ? 0 : 1);
  });
  try {
    await voice.start();
  } catch (error) {
    console.error((error as Error).message);
    await leave("voice failed", 1);
  }
  if (!leaving) {
    if (duration !== undefined)
      timer = setTimeout(() => void leave(`${duration} s elapsed`), duration * 1000);
    await voice.play();
    if (values.exit) await leave("done");
    else if (duration === undefined) console.log("in voice; Ctrl-C to leave");
  }
}

function finalReason(status: string): string {
  return status === "ended" ? "the host ended this conference" : "the server refused this member";
}
