/**
 * A loopback TCP proxy whose connections the test can cut: `cut(ms)` destroys every connection
 * through it and refuses new ones for `ms`, as a network failure between workers and a broker.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Forwards 127.0.0.1:`port` to `target`. */
export class CutProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** When each cut started and ended (unix ms). */
  readonly cuts: Array<[number, number]> = [];

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Starts listening. */
  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Destroys every connection and refuses new ones for `ms`, then listens again. */
  async cut(ms: number): Promise<void> {
    const started = Date.now();
    await this.stopListening();
    await new Promise((r) => setTimeout(r, ms));
    await this.start();
    this.cuts.push([started, Date.now()]);
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise((r) => server.close(r)) : undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stopListening();
  }
}
