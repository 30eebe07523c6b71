/**
 * A private nats-server for one test file, on a free loopback port: started here, restartable on
 * the same port (to test NATS outages) and stopped by `stop()`. Uses Debian's `nats-server`
 * (`.ci/run` installs it); a test never assumes one is running.
 */
import { existsSync } from "node:fs";
import { LoggedProcess } from "../../bench/lib/netns/LoggedProcess.ts";
import { freePort } from "../../bench/lib/serverProcess.ts";

const BINARY = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((p) => existsSync(p));

export class TestNats {
  private server: LoggedProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<TestNats> {
    const nats = new TestNats(await freePort());
    await nats.run();
    return nats;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.run();
  }

  /** Stops the server; `restart()` starts it again on the same port. */
  async halt(): Promise<void> {
    await this.server?.stop(5_000);
    this.server = undefined;
  }

  async stop(): Promise<void> {
    await this.halt();
  }

  private async run(): Promise<void> {
    if (!BINARY) throw new Error("nats-server is not installed: apt-get install nats-server");
    const server = new LoggedProcess("nats-server", [BINARY, "-a", "127.0.0.1", "-p", String(this.port)]);
    this.server = server;
    const deadline = Date.now() + 10_000;
    // It logs this line once it accepts clients.
    while (!server.output().includes("Server is ready")) {
      if (!server.running) throw new Error(`nats-server exited at start\n${server.recentOutput()}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not get ready\n${server.recentOutput()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
