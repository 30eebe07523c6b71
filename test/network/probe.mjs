// Waits, from inside a network namespace (`ip netns exec NS node probe.mjs ...`), until every target
// answers: `tcp:HOST:PORT` accepts a connection, `http://...` answers 200. Exits 0 once all do, 1 at
// the deadline (printing what did not). The test process lives in the root namespace and cannot
// reach these addresses itself.
//
//   node probe.mjs [--deadline-ms N] target...
import { connect } from "node:net";

const args = process.argv.slice(2);
let deadlineMs = 30_000;
const targets = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--deadline-ms") deadlineMs = Number(args[++i]);
  else targets.push(args[i]);
}
if (targets.length === 0 || !Number.isFinite(deadlineMs)) {
  console.error("usage: probe.mjs [--deadline-ms N] tcp:HOST:PORT | http://... ...");
  process.exit(2);
}

const tcpOnce = (host, port) =>
  new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });

const httpOnce = async (url) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
};

const once = (target) => {
  if (target.startsWith("http://") || target.startsWith("https://")) return httpOnce(target);
  const match = /^tcp:(.+):(\d+)$/.exec(target);
  if (!match) throw new Error(`not a target: ${target}`);
  return tcpOnce(match[1], Number(match[2]));
};

const deadline = Date.now() + deadlineMs;
let waiting = [...targets];
while (waiting.length > 0) {
  const answered = await Promise.all(waiting.map(once));
  waiting = waiting.filter((_, i) => !answered[i]);
  if (waiting.length === 0) break;
  if (Date.now() > deadline) {
    console.error(`no answer within ${deadlineMs} ms from: ${waiting.join(", ")}`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
