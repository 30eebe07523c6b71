import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { until } from "./chromium.ts";

const run = promisify(execFile);

export const PULSEAUDIO = "/usr/bin/pulseaudio";
/** Sample rate of the loop and of its recordings (Hz); recordings are mono, 16-bit. */
export const LOOP_RATE = 48_000;
const SINK = "speaker";
const SOURCE = "microphone";

/**
 * A software acoustic loop: a private PulseAudio daemon whose only sink (the "speaker", a null
 * sink) is heard by its microphone (a source remapped from the sink's monitor), at full level and
 * without delay: a laptop whose microphone hears its speakers, as badly as it gets. A browser
 * started with `env` plays into one and records from the other. The loop owns the daemon and every
 * process it starts; `close()` ends them.
 */
export class AcousticLoop {
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly daemon: Owned,
  ) {}

  static async start(): Promise<AcousticLoop> {
    const dir = await mkdtemp(join(tmpdir(), "roundtable-pulse-"));
    const env = pulseEnv(dir);
    // -n: none of the default modules (no real devices, no X11, no D-Bus). As root a per-user
    // daemon needs --system=false; HOME and the paths in `env` keep its state inside `dir`.
    const daemon = start(
      PULSEAUDIO,
      [
        "--system=false",
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--use-pid-file=false",
        "-n",
        "--log-target=stderr",
        "-L",
        `module-native-protocol-unix socket=${join(dir, "native")} auth-anonymous=1`,
        "-L",
        `module-null-sink sink_name=${SINK} rate=${LOOP_RATE} channels=2`,
        // Chromium offers no monitor as a microphone: the same samples, as a source of its own.
        "-L",
        `module-remap-source master=${SINK}.monitor source_name=${SOURCE}`,
      ],
      { ...env, HOME: dir },
    );
    const loop = new AcousticLoop(dir, daemon);
    try {
      await until(
        "the PulseAudio daemon answers",
        async () => {
          if (daemon.child.exitCode !== null) throw new Error(`pulseaudio exited: ${daemon.output()}`);
          return (await loop.pactl("info").then(
            () => true,
            () => undefined,
          )) as true | undefined;
        },
        10_000,
      );
      await loop.pactl("set-default-sink", SINK);
      await loop.pactl("set-default-source", SOURCE);
    } catch (error) {
      await loop.close();
      throw error;
    }
    return loop;
  }

  /** What a PulseAudio client (Chromium, parec) needs in its environment to use this loop. */
  get env(): Record<string, string> {
    return pulseEnv(this.dir);
  }

  /** Records what the speaker plays, which is what the microphone hears, until `stop()`. */
  async record(): Promise<Recording> {
    const parec = start(
      "parec",
      [`--device=${SOURCE}`, "--format=s16le", `--rate=${LOOP_RATE}`, "--channels=1", "--latency-msec=10"],
      this.env,
    );
    const recording = new Recording(parec);
    await until("parec delivers samples", () => (recording.position > 0 ? true : undefined));
    return recording;
  }

  /** Plays `wav` into the speaker from outside the browser: someone talking in the room. */
  play(wav: string): { stop(): Promise<void> } {
    const paplay = start("paplay", [`--device=${SINK}`, wav], this.env);
    return { stop: () => stop(paplay) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await stop(this.daemon);
    await rm(this.dir, { recursive: true, force: true });
  }

  private pactl(...args: string[]): Promise<unknown> {
    return run("pactl", args, { env: { ...process.env, ...this.env }, timeout: 5000 });
  }
}

/** A recording of the loop in progress; `stop()` ends it and returns its samples. */
export class Recording {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly parec: Owned) {
    parec.child.stdout?.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
    });
  }

  /** How many samples have arrived so far: where in the recording "now" is. */
  get position(): number {
    return Math.floor(this.bytes / 2);
  }

  async stop(): Promise<Int16Array> {
    await stop(this.parec);
    const all = Buffer.concat(this.chunks);
    const samples = new Int16Array(Math.floor(all.length / 2));
    for (let i = 0; i < samples.length; i++) samples[i] = all.readInt16LE(2 * i);
    return samples;
  }
}

/** A child process with the promise of its end (exited, output closed) and its stderr kept. */
interface Owned {
  child: ChildProcess;
  closed: Promise<void>;
  output(): string;
}

function start(command: string, args: string[], env: Record<string, string>): Owned {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const errors: string[] = [];
  child.stderr?.on("data", (data) => errors.push(String(data)));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  // A command that cannot start shows up in `output()` and as an early exit, not as a crash.
  child.once("error", (error) => errors.push(String(error)));
  return { child, closed, output: () => errors.join("") };
}

async function stop(owned: Owned): Promise<void> {
  if (owned.child.exitCode === null && owned.child.signalCode === null) owned.child.kill("SIGTERM");
  await owned.closed;
}

function pulseEnv(dir: string): Record<string, string> {
  return {
    PULSE_SERVER: `unix:${join(dir, "native")}`,
    PULSE_RUNTIME_PATH: dir,
    PULSE_STATE_PATH: dir,
    XDG_RUNTIME_DIR: dir,
  };
}
