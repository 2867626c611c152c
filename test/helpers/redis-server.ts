/**
 * A private redis-server for fault tests (never the shared one): started on a port of the test's
 * own, killed and restarted at will, with or without an append-only file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servicesRequired, tcpReachable } from './services.js';

/** Whether redis-server is installed. */
export const hasRedisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;

/** The `skip` option of a test needing a private redis-server. */
export const redisServerSkip: string | false =
  hasRedisServer || servicesRequired ? false : 'redis-server not installed; install it (see shared/SERVICES.md) or set CELERIAC_REQUIRE_SERVICES=1 to fail instead';

/** Options of {@link PrivateRedis}. */
export interface PrivateRedisOptions {
  /** Keep an append-only file fsynced on every write, so a kill -9 loses no acknowledged write. */
  aof?: boolean;
}

/** A redis-server of the test's own. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'celeriac-redis-'));

  constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions = {},
  ) {}

  /** The URL of database `db`. */
  url(db = 0): string {
    return `redis://127.0.0.1:${this.port}/${db}`;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--logfile', ''];
    if (this.options.aof) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await tcpReachable('127.0.0.1', this.port, 200))) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited (${child.exitCode}); is the port taken?`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Sends `signal` to the server (SIGSTOP to make it hang, SIGCONT to wake it). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
