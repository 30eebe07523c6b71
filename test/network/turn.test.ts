/**
 * Voice through TURN when the member's network blocks all UDP. Two network namespaces of the test's
 * own, joined by udpwall.py, which copies TCP and ICMP between them and drops every UDP packet:
 *
 *   rt-turn-srv-<pid> 10.79.0.1: Roundtable server (werift), coturn (TURN over TCP, port 3478), and the
 *                          SPEAKER's Chromium (direct UDP to the server works here)
 *   rt-turn-mem-<pid> 10.79.0.2: the MEMBER's Chromium, which reaches 10.79.0.1 only over TCP
 *
 * The server hands each voice offer a TURN REST credential (TURN_URLS, TURN_SECRET); the member's
 * browser can only get its voice out through a relay allocated over TCP, coturn relaying to the
 * server's UDP port inside rt-turn-srv. Both browsers run a fake microphone playing speech and must
 * hear each other. The test drives both browsers from the root namespace (the CDP pipe crosses the
 * namespace boundary); every HTTP call goes from inside a page, since the root namespace has no
 * route to 10.79.0.0/16. Needs root, iproute2, coturn, Chromium, and `npm run build:web`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import type { VoiceSlotStats } from "../../packages/web/src/room/RoomControls.ts";
import { CHROMIUM_PATH, until, WAIT_MS } from "../e2e/chromium.ts";
import { micArgs } from "../e2e/voicePages.ts";
import { inNamespace, Namespaces, TestProcess } from "./netns.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WEB_DIR = join(ROOT, "packages/web/dist");
const SPEECH = resolve(ROOT, "../shared/fixtures/speech.wav");
const WALL = join(import.meta.dirname, "udpwall.py");
const PROBE = join(import.meta.dirname, "probe.mjs");
const PYTHON = "/usr/bin/python3";

/** Named after this process, so runs at the same time do not meet; a dead run's are removed. */
const SRV_NS = `rt-turn-srv-${process.pid}`;
const MEM_NS = `rt-turn-mem-${process.pid}`;
const ORPHANS = /^rt-turn-(?:srv|mem)-(\d+)$/;
const SRV_ADDR = "10.79.0.1";
const HTTP_PORT = 8080;
const TURN_PORT = 3478;
const ORIGIN = `http://${SRV_ADDR}:${HTTP_PORT}`;
const TURN_URL = `turn:${SRV_ADDR}:${TURN_PORT}?transport=tcp`;
/** Packets of 20 ms: 50 are one second of voice. */
const SECOND = 50;

/**
 * Records every voice RTCPeerConnection the page makes, with the configuration it was given: the page
 * keeps its own to itself. The voice peer is the one built with ICE servers; spatial audio's
 * echo-safe loopback pair (EchoSafeOutput) is built without a configuration and is not counted. A
 * string, not a function: tsx would wrap a function's inner names with a helper the page does not have.
 */
const RECORD_PEERS = `(() => {
  const Native = window.RTCPeerConnection;
  const peers = [];
  Object.defineProperty(window, "__turnTestPeers", { value: peers });
  window.RTCPeerConnection = new Proxy(Native, {
    construct(target, args, newTarget) {
      const pc = Reflect.construct(target, args, newTarget);
      if (args[0] && args[0].iceServers) peers.push({ pc, config: JSON.parse(JSON.stringify(args[0])) });
      return pc;
    },
  });
})();`;

interface Candidate {
  candidateType: string;
  protocol: string;
  relayProtocol?: string;
  address: string;
  port: number;
  url?: string;
}
interface SelectedPair {
  peers: number;
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  state: string;
  local: Candidate;
  remote: Candidate;
  packetsSent: number;
  packetsReceived: number;
}

/** The newest peer connection's selected candidate pair and its configuration, or null before one. */
const SELECTED_PAIR = `(async () => {
  const peers = window.__turnTestPeers;
  const entry = peers[peers.length - 1];
  if (!entry) return null;
  const report = await entry.pc.getStats();
  let pairId;
  report.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
  const pair = pairId && report.get(pairId);
  if (!pair) return null;
  const pick = (c) => c && { candidateType: c.candidateType, protocol: c.protocol,
    relayProtocol: c.relayProtocol, address: c.address, port: c.port, url: c.url };
  return { peers: peers.length, iceServers: entry.config.iceServers || [], state: pair.state,
    local: pick(report.get(pair.localCandidateId)), remote: pick(report.get(pair.remoteCandidateId)),
    packetsSent: pair.packetsSent, packetsReceived: pair.packetsReceived };
})()`;

interface WallStats {
  dump: number;
  final: boolean;
  seconds: number;
  directions: Record<string, Record<string, { forwarded: number; dropped: number }> & { refused: number }>;
  droppedUdpFlows: Record<string, number>;
}

/**
 * Run in a page at the server's origin (a string for the same reason as RECORD_PEERS): creates a
 * conference, registers `names`, builds it, and returns each member's id and room URL.
 */
const SETUP = `async (names) => {
  const post = async (path, init) => {
    const response = await fetch(path, { method: "POST", ...init });
    const body = await response.json();
    if (!response.ok) throw new Error(path + ": " + response.status + " " + JSON.stringify(body));
    return body;
  };
  const conference = await post("/api/conferences", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "Behind a UDP wall" }),
  });
  const members = [];
  for (const name of names) {
    const form = new FormData();
    form.append("name", name);
    members.push(await post("/api/conferences/" + conference.id + "/members", { body: form }));
  }
  await post("/api/conferences/" + conference.id + "/build", {
    headers: { authorization: "Bearer " + conference.hostToken },
  });
  return members.map((m) => ({ memberId: m.memberId, roomUrl: m.roomUrl }));
}`;

interface Joined {
  memberId: string;
  roomUrl: string;
}

/** What is missing, and how to get it; the test fails (never skips) without them. */
function prerequisites(): string[] {
  const missing: string[] = [];
  const has = (command: string) => {
    try {
      execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (process.getuid?.() !== 0) missing.push("root (network namespaces and TUN devices): run as root");
  if (!has("ip")) missing.push("`ip`: apt-get install -y iproute2");
  if (!has("turnserver")) missing.push("`turnserver`: apt-get install -y coturn");
  if (!existsSync(PYTHON)) missing.push(`${PYTHON}: apt-get install -y python3`);
  if (!existsSync("/dev/net/tun")) missing.push("/dev/net/tun: a kernel with TUN support (CONFIG_TUN)");
  if (!existsSync(CHROMIUM_PATH))
    missing.push(`${CHROMIUM_PATH}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  if (!existsSync(join(WEB_DIR, "index.html"))) missing.push(`${WEB_DIR}: run \`npm run build:web\` first`);
  if (!existsSync(SPEECH)) missing.push(`${SPEECH}: the shared voice fixtures`);
  return missing;
}

describe("Voice through coturn (TCP) when the member's network drops all UDP", { timeout: 180_000 }, () => {
  const namespaces = new Namespaces([SRV_NS, MEM_NS]);
  const processes: TestProcess[] = [];
  const browsers: Browser[] = [];
  const problems: string[] = [];
  let dir = "";
  let wall: TestProcess | undefined;
  let coturn: TestProcess | undefined;
  let server: TestProcess | undefined;
  let speaker: Page;
  let member: Page;
  const ids = { speaker: "", member: "" };

  /** The last output of every process, for a failure message. */
  const outputs = () => processes.map((p) => p.recentOutput(25)).join("\n");

  /** Rejects as soon as one of the background processes has died: a wait for it would only time out. */
  function checkAlive(): void {
    for (const p of processes) if (!p.running) throw new Error(`${p.label} exited early\n${outputs()}`);
  }

  /** Runs probe.mjs inside `ns` until every target answers. */
  async function probe(ns: string, targets: string[]): Promise<void> {
    const p = new TestProcess(`probe in ${ns}`, inNamespace(ns, process.execPath, PROBE, ...targets));
    const exit = await p.finished(40_000);
    if (exit.code !== 0) throw new Error(`${p.recentOutput()}\n${outputs()}`);
  }

  async function launch(ns: string, label: string): Promise<Page> {
    // An executablePath for playwright-core that starts Chromium inside `ns`.
    const wrapper = join(dir, `chromium-in-${ns}.sh`);
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM_PATH} "$@"\n`);
    await chmod(wrapper, 0o755);
    const browser = await chromium.launch({
      executablePath: wrapper,
      // getUserMedia needs a secure context: the server's address is not localhost.
      args: [...micArgs(SPEECH), `--unsafely-treat-insecure-origin-as-secure=${ORIGIN}`],
    });
    browsers.push(browser);
    const context = await browser.newContext();
    await context.addInitScript(RECORD_PEERS);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`[${label}] console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`[${label}] uncaught: ${e.message}`));
    return page;
  }

  async function wallStats(): Promise<WallStats> {
    const file = join(dir, "wall-stats.json");
    const previous = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as WallStats).dump : 0;
    wall?.child.kill("SIGUSR1");
    return until("the wall wrote its counts", () => {
      if (!existsSync(file)) return undefined;
      const stats = JSON.parse(readFileSync(file, "utf8")) as WallStats;
      return stats.dump > previous ? stats : undefined;
    });
  }

  before(async () => {
    const missing = prerequisites();
    if (missing.length > 0) throw new Error(`this test needs:\n  - ${missing.join("\n  - ")}`);
    dir = await mkdtemp(join(tmpdir(), "roundtable-turn-"));
    Namespaces.orphans(ORPHANS).down();
    namespaces.up();

    wall = new TestProcess("udpwall", [
      PYTHON,
      WALL,
      "--srv-ns",
      SRV_NS,
      "--mem-ns",
      MEM_NS,
      "--ready",
      join(dir, "wall-ready.json"),
      "--stats",
      join(dir, "wall-stats.json"),
    ]);
    processes.push(wall);
    await until("the UDP wall is up", () => {
      checkAlive();
      return existsSync(join(dir, "wall-ready.json")) || undefined;
    });

    const secret = randomBytes(24).toString("base64url");
    await writeFile(
      join(dir, "turnserver.conf"),
      [
        `listening-ip=${SRV_ADDR}`,
        `relay-ip=${SRV_ADDR}`,
        `listening-port=${TURN_PORT}`,
        "use-auth-secret",
        `static-auth-secret=${secret}`,
        "realm=roundtable.test",
        // TURN over TCP only: no TLS, no DTLS, no UDP listener (the relay itself is UDP).
        "no-tls",
        "no-dtls",
        "no-udp",
        "no-cli",
        // coturn 4.6 allows private peers unless denied; the relay's one peer is named anyway.
        `allowed-peer-ip=${SRV_ADDR}`,
        "no-multicast-peers",
        "relay-threads=1",
        "fingerprint",
        "verbose",
        "log-file=stdout",
        `pidfile=${join(dir, "turnserver.pid")}`,
        `userdb=${join(dir, "turndb")}`,
        "",
      ].join("\n"),
    );
    coturn = new TestProcess("coturn", inNamespace(SRV_NS, "turnserver", "-c", join(dir, "turnserver.conf")));
    processes.push(coturn);

    server = new TestProcess(
      "server",
      inNamespace(SRV_NS, process.execPath, "--import", "tsx", "packages/server/src/main.ts"),
      {
        cwd: ROOT,
        env: {
          HOST: SRV_ADDR,
          PORT: String(HTTP_PORT),
          RTC_LISTEN_ADDRESS: SRV_ADDR,
          RTC_ANNOUNCED_ADDRESSES: SRV_ADDR,
          TURN_URLS: TURN_URL,
          TURN_SECRET: secret,
          DATA_DIR: join(dir, "data"),
          WEB_DIR,
          LOG_LEVEL: "warn",
        },
      },
    );
    processes.push(server);

    // Ready from where each is used: the server and coturn beside them, coturn's TCP port
    // also from the member's side of the wall.
    await probe(SRV_NS, [`${ORIGIN}/healthz`, `tcp:${SRV_ADDR}:${TURN_PORT}`]);
    await probe(MEM_NS, [`${ORIGIN}/healthz`, `tcp:${SRV_ADDR}:${TURN_PORT}`]);
    checkAlive();

    [speaker, member] = await Promise.all([launch(SRV_NS, "speaker"), launch(MEM_NS, "member")]);
    // The conference is set up from the speaker's page (same origin as the API).
    await speaker.goto(`${ORIGIN}/`);
    const [s, m] = (await speaker.evaluate(`(${SETUP})(["Speaker", "Member"])`)) as [Joined, Joined];
    ids.speaker = s.memberId;
    ids.member = m.memberId;
    await Promise.all([
      speaker.goto(new URL(s.roomUrl, ORIGIN).toString()),
      member.goto(new URL(m.roomUrl, ORIGIN).toString()),
    ]);
    await Promise.all([speaker.getByTestId("room").waitFor(), member.getByTestId("room").waitFor()]);
  });

  after(async () => {
    // Each step on its own: one failing must not leave the rest running.
    const steps: [string, () => Promise<unknown> | unknown][] = [
      ...browsers.map((b, i) => [`browser ${i}`, () => b.close()] as [string, () => Promise<unknown>]),
      ["server", () => server?.stop(10_000)],
      ["coturn", () => coturn?.stop()],
      ["wall", () => wall?.stop()],
      ["namespaces", () => namespaces.down()],
      ["temp dir", () => dir && rm(dir, { recursive: true, force: true })],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        console.error(`cleanup of ${what} failed:`, error);
      }
    }
  });

  it("both join voice, and both voice bars show it on", async (t) => {
    const started = performance.now();
    const joinedIn = async (page: Page) => {
      await page.evaluate(() => {
        if (!window.roundtable) throw new Error("window.roundtable is missing");
        return window.roundtable.joinVoice();
      });
      await page.locator("[data-testid=voice-bar][data-voice=on]").waitFor();
      return Math.round(performance.now() - started);
    };
    let times: number[];
    try {
      times = await Promise.all([joinedIn(speaker), joinedIn(member)]);
    } catch (error) {
      const info = await Promise.all(
        [speaker, member].map((p) => p.evaluate(() => window.roundtable?.voiceInfo())),
      );
      throw new Error(
        `${String(error)}\nvoice: ${JSON.stringify(info)}\n${problems.join("\n")}\n${outputs()}`,
      );
    }
    t.diagnostic(`voice on after: speaker ${times[0]} ms, member ${times[1]} ms`);
    for (const page of [speaker, member]) {
      const info = await page.evaluate(() => window.roundtable?.voiceInfo());
      assert.equal(info?.status, "connected");
      assert.equal(info?.connection, "connected");
      assert.equal(info?.mic, "live");
    }
  });

  it("the member's browser got coturn's credential and talks through a TCP relay", async (t) => {
    const pair = await until("the member's peer has a selected pair", async () => {
      const p = (await member.evaluate(SELECTED_PAIR)) as SelectedPair | null;
      return p?.state === "succeeded" ? p : undefined;
    });
    const turn = pair.iceServers.find((s) => [s.urls].flat().includes(TURN_URL));
    assert.ok(turn, `the peer was built with ${TURN_URL}: ${JSON.stringify(pair.iceServers)}`);
    assert.match(turn.username ?? "", new RegExp(`^\\d+:${ids.member}$`));
    assert.equal(pair.local.candidateType, "relay", `selected pair: ${JSON.stringify(pair)}`);
    assert.equal(pair.local.relayProtocol, "tcp");
    assert.equal(pair.local.address, SRV_ADDR, "the relay address is coturn's");
    assert.equal(pair.remote.address, SRV_ADDR);
    assert.equal(pair.peers, 1, "one peer connection: the first attempt connected");
    // coturn authenticated this member's credential (the username names the member) and allocated.
    const allocations = (coturn?.output() ?? "")
      .split("\n")
      .filter((line) => line.includes(ids.member) && /ALLOCATE processed, success/.test(line));
    assert.ok(allocations.length > 0, `coturn allocated for the member:\n${coturn?.recentOutput(60)}`);
    t.diagnostic(`coturn: ${allocations[0]?.trim()}`);
    // The voice bar tells each which way their voice goes.
    await member.locator("[data-testid=voice-path][data-path=relay]").waitFor();
    await speaker.locator("[data-testid=voice-path][data-path=direct]").waitFor();
    const speakerPair = (await speaker.evaluate(SELECTED_PAIR)) as SelectedPair | null;
    t.diagnostic(`member pair: ${JSON.stringify({ local: pair.local, remote: pair.remote })}`);
    t.diagnostic(
      `speaker pair: ${JSON.stringify({ local: speakerPair?.local, remote: speakerPair?.remote })}`,
    );
  });

  it("each hears the other: a second of packets with sound in them, both ways", async (t) => {
    const slotOf = async (page: Page, memberId: string) =>
      (await page.evaluate(() => window.roundtable?.voiceStats() ?? Promise.resolve([]))).find(
        (s: VoiceSlotStats) => s.memberId === memberId,
      );
    const hears = async (page: Page, from: string, label: string) => {
      const first = await until(`${label} has a slot for the other`, () => slotOf(page, from));
      let loudest = 0;
      const last = await until(`${label} receives the other's voice`, async () => {
        const now = await slotOf(page, from);
        if (!now) return undefined;
        loudest = Math.max(loudest, now.level);
        return now.packetsReceived >= first.packetsReceived + SECOND && loudest > 0.01 ? now : undefined;
      });
      return { packets: last.packetsReceived - first.packetsReceived, total: last.packetsReceived, loudest };
    };
    const [atMember, atSpeaker] = await Promise.all([
      hears(member, ids.speaker, "the member"),
      hears(speaker, ids.member, "the speaker"),
    ]);
    t.diagnostic(`member heard speaker: ${JSON.stringify(atMember)}`);
    t.diagnostic(`speaker heard member: ${JSON.stringify(atSpeaker)}`);
  });

  it("the wall let no UDP through, and the member did try UDP", async (t) => {
    const stats = await wallStats();
    t.diagnostic(`wall: ${JSON.stringify(stats)}`);
    const udp = Object.values(stats.directions).map((d) => d.udp ?? { forwarded: 0, dropped: 0 });
    assert.equal(
      udp.reduce((n, u) => n + u.forwarded, 0),
      0,
      "no UDP forwarded",
    );
    assert.ok(
      (stats.directions["mem->srv"]?.udp?.dropped ?? 0) > 0,
      "the member's UDP (its host candidate's checks) was dropped",
    );
    const tcp = Object.values(stats.directions).map((d) => d.tcp?.forwarded ?? 0);
    assert.ok(
      tcp.every((n) => n > SECOND),
      `TCP carried the voice both ways: ${tcp}`,
    );
    for (const d of Object.values(stats.directions)) assert.equal(d.refused, 0, "nothing addressed outside");
    if (problems.length > 0) t.diagnostic(`page console errors:\n${problems.join("\n")}`);
    assert.deepEqual(
      problems.filter((p) => p.includes("uncaught")),
      [],
    );
  });
});
