/**
 * A TCP proxy on loopback between a client and the server, to take the network away and give it
 * back, two ways:
 * - `cut()` ends every proxied connection and refuses new ones (accepted, then destroyed, as a dead
 *   route looks to a browser); `restore()` lets connections through again.
 * - `cutSockets()` ends every connection and refuses only WebSocket upgrades from then on, so pages
 *   still load (a reload while the conference's socket cannot get through).
 * - `freeze()` keeps every connection open but carries nothing either way, and new connections hang
 *   unanswered: a network that vanished without closing anything (Wi-Fi out of range). What was
 *   sent meanwhile waits, as TCP would retransmit it, and flows once `thaw()` is called.
 * Only TCP: WebRTC's UDP does not pass through it.
 */
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";

export interface RefusedConnection {
  /** The first line the client sent before it was dropped ("" if it sent nothing). */
  requestLine: string;
}

export class TcpProxy {
  readonly refused: RefusedConnection[] = [];
  private readonly server: Server;
  private readonly live = new Set<Socket>();
  private readonly waiters = new Set<() => void>();
  private isCut = false;
  private socketsCut = false;
  private frozen = false;

  private constructor(
    private targetPort: number,
    private targetHost: string,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on a free loopback port and forwards to `target` (e.g. "http://127.0.0.1:1234"). */
  static async start(target: string): Promise<TcpProxy> {
    const url = new URL(target);
    const proxy = new TcpProxy(Number(url.port), url.hostname);
    proxy.server.listen(0, "127.0.0.1");
    await once(proxy.server, "listening");
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === "string") throw new Error("the proxy is not listening");
    return address.port;
  }

  /** The proxy's origin: what the browser loads instead of the server's. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Refused connections whose request line matches `pattern`. */
  refusedMatching(pattern: RegExp): number {
    return this.refused.filter((r) => pattern.test(r.requestLine)).length;
  }

  /** Resolves once `ready()` holds, re-checked after every refusal; the timeout only turns a hang into a failure. */
  until(ready: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting until ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Drops every connection through the proxy and refuses new ones until `restore()`. */
  cut(): void {
    this.isCut = true;
    for (const socket of this.live) socket.destroy();
    this.live.clear();
  }

  restore(): void {
    this.isCut = false;
    this.socketsCut = false;
  }

  /** Sends new connections to another server from now on (one restarted on another port). */
  retarget(target: string): void {
    const url = new URL(target);
    this.targetPort = Number(url.port);
    this.targetHost = url.hostname;
  }

  /** Drops every connection, then lets plain HTTP through and refuses WebSocket upgrades until `restore()`. */
  cutSockets(): void {
    this.cut();
    this.isCut = false;
    this.socketsCut = true;
  }

  /** Stops carrying bytes on every connection, old and new, without closing any. */
  freeze(): void {
    this.frozen = true;
    for (const socket of this.live) socket.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const socket of this.live) socket.resume();
  }

  async close(): Promise<void> {
    this.cut();
    this.waiters.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.isCut) {
      this.refuse(client);
      return;
    }
    if (this.socketsCut) {
      // Decide on the request line: an upgrade to the conference socket is refused, the rest passes.
      client.once("data", (first: Buffer) => {
        const line = first.toString("latin1").split("\r\n", 1)[0] ?? "";
        if (/^GET \S*\/ws\?/.test(line)) {
          client.destroy();
          this.refused.push({ requestLine: line });
          for (const check of [...this.waiters]) check();
        } else {
          client.pause();
          client.unshift(first);
          this.forward(client);
        }
      });
      client.on("error", () => {});
      return;
    }
    this.forward(client);
  }

  private forward(client: Socket): void {
    const upstream = new Socket();
    this.live.add(client);
    this.live.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.live.delete(client);
      this.live.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on("error", drop);
      socket.on("close", drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.connect(this.targetPort, this.targetHost);
    // Paused sockets read nothing: the bytes wait in the kernel, like a route that has gone quiet.
    if (this.frozen) for (const socket of [client, upstream]) socket.pause();
  }

  /**
   * Reads what the client sends first, so the test can tell a WebSocket retry from a page request,
   * then destroys the connection without answering.
   */
  private refuse(client: Socket): void {
    let head = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      client.destroy();
      this.refused.push({ requestLine: head.split("\r\n", 1)[0] ?? "" });
      for (const check of [...this.waiters]) check();
    };
    client.on("error", () => {});
    client.once("data", (chunk: Buffer) => {
      head = chunk.toString("latin1");
      finish();
    });
    client.once("close", finish);
  }
}
