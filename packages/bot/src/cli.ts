import { parseArgs } from "node:util";

const OPTIONS = {
  invite: { type: "string" },
  room: { type: "string" },
  name: { type: "string" },
  avatar: { type: "string" },
  say: { type: "string", multiple: true },
  to: { type: "string" },
  play: { type: "string" },
  record: { type: "string" },
  voice: { type: "boolean", default: false },
  duration: { type: "string" },
  bind: { type: "string" },
  exit: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const VALUED = new Set(
  Object.entries(OPTIONS)
    .filter(([, spec]) => spec.type === "string")
    .map(([name]) => `--${name}`),
);

/**
 * Parses the bot's command line. A value that starts with a dash (a member id such as `-x3k…`, a
 * text such as "- see you") is taken as the value of the option before it: node's parseArgs would
 * call it ambiguous and ask for `--to=-x3k…`, which nobody types.
 */
export function parseBotArgs(argv: readonly string[]) {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = argv[i + 1];
    if (VALUED.has(arg) && value !== undefined) {
      joined.push(`${arg}=${value}`);
      i++;
    } else joined.push(arg);
  }
  return parseArgs({ args: joined, options: OPTIONS }).values;
}
