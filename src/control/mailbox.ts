/**
 * A worker's side of remote control: consumes `<hostname>.celery.pidbox`, runs the commands
 * addressed to it (./commands.ts) and replies to the caller's reply queue, as a Celery worker
 * does. Malformed or expired commands are logged and dropped; the worker keeps running.
 *
 * Revoked ids are shared across the fleet: a revoke reaches every worker through the fanout,
 * a starting worker asks the others for theirs (Celery's "mingle": a `hello` broadcast), and with
 * `statedb` they are kept in a file across restarts (Celery's `--statedb`).
 */
import { readFileSync } from 'node:fs';
import type { Consumer, Delivery } from '../broker/port.js';
import type { Worker } from '../worker/worker.js';
import { writeFileAtomic } from '../utils/files.js';
import { COMMANDS, type ControlContext } from './commands.js';
import { ContentDisallowed, SecurityError } from '../errors/index.js';
import { controlMessage, declarePidbox, isForMe, parseControlMessage, REPLY_EXCHANGE, workerQueue } from './pidbox.js';

/** Options of the worker's mailbox. */
export interface MailboxOptions {
  /** File keeping revoked ids across restarts. */
  statedb?: string | undefined;
  /** Ask the other workers for their revoked ids at start. */
  mingle?: boolean;
}

/** The worker's remote-control mailbox. */
export class WorkerMailbox {
  private consumer: Consumer | undefined;
  private clockValue = 0;
  private readonly ctx: ControlContext;

  constructor(
    private readonly worker: Worker,
    private readonly options: MailboxOptions = {},
  ) {
    this.ctx = { worker, clock: () => ++this.clockValue, saveRevoked: () => this.saveRevoked() };
  }

  async start(): Promise<void> {
    this.loadRevoked();
    const transport = await this.worker.app.getTransport();
    await declarePidbox(transport);
    const spec = workerQueue(this.worker.hostname);
    await transport.declareQueue(spec);
    this.consumer = await transport.consume([spec.name], (d) => void this.onMessage(d), { prefetch: 0 });
    if (this.options.mingle) await this.mingle();
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.close();
    this.saveRevoked();
  }

  /** Learns the revoked ids of the workers already running. */
  private async mingle(): Promise<void> {
    try {
      const replies = await this.worker.app.control.broadcast('hello', {
        arguments: { from_node: this.worker.hostname, revoked: [...this.worker.app.revoked] },
        reply: true,
        timeout: 0.3,
      });
      let learned = 0;
      for (const reply of replies) {
        for (const [host, value] of Object.entries(reply)) {
          if (host === this.worker.hostname) continue;
          const revoked = (value as { revoked?: unknown } | null)?.revoked;
          for (const id of Array.isArray(revoked) ? revoked : []) {
            if (!this.worker.app.revoked.has(String(id))) learned++;
            this.worker.app.revoked.add(String(id));
          }
        }
      }
      if (replies.length > 0) this.worker.logger.info(`mingle: synced with ${replies.length} node(s), learned ${learned} revoked id(s)`);
    } catch (err) {
      this.worker.logger.warn(`mingle failed: ${(err as Error).message}`);
    }
  }

  private async onMessage(d: Delivery): Promise<void> {
    await d.ack().catch(() => undefined);
    let msg;
    try {
      msg = parseControlMessage(d.message, this.worker.app.codecs);
    } catch (err) {
      const refused = err instanceof ContentDisallowed || err instanceof SecurityError;
      this.worker.logger.error(`${refused ? 'refused' : 'ignoring a malformed'} control message: ${(err as Error).message}`);
      return;
    }
    const expires = Number(d.message.headers['expires']);
    if (Number.isFinite(expires) && expires > 0 && expires < Date.now() / 1000) {
      this.worker.logger.debug(`ignoring an expired control command ${msg.method}`);
      return;
    }
    const clock = Number(d.message.headers['clock']);
    if (Number.isFinite(clock)) this.clockValue = Math.max(this.clockValue, clock);
    if (!isForMe(msg, this.worker.hostname)) return;
    const handler = COMMANDS[msg.method];
    let reply: unknown;
    if (!handler) {
      this.worker.logger.error(`unknown control command '${msg.method}'`);
      reply = { error: `No such command: ${msg.method}` };
    } else {
      try {
        reply = await handler(this.ctx, msg.arguments);
      } catch (err) {
        this.worker.logger.error({ err }, `control command ${msg.method} failed`);
        reply = { error: `${(err as Error).name}: ${(err as Error).message}` };
      }
    }
    if (reply === undefined || !msg.reply_to) return;
    try {
      const transport = await this.worker.app.getTransport();
      const { app } = this.worker;
      const headers = { ticket: msg.ticket, clock: ++this.clockValue };
      await transport.publish(controlMessage({ [this.worker.hostname]: reply }, headers, app.codecs, app.conf.taskSerializer), {
        exchange: msg.reply_to.exchange || REPLY_EXCHANGE,
        routingKey: msg.reply_to.routing_key,
      });
    } catch (err) {
      this.worker.logger.error({ err }, `could not reply to control command ${msg.method}`);
    }
  }

  private loadRevoked(): void {
    if (!this.options.statedb) return;
    try {
      const saved = JSON.parse(readFileSync(this.options.statedb, 'utf8')) as { revoked?: unknown };
      for (const id of Array.isArray(saved.revoked) ? saved.revoked : []) this.worker.app.revoked.add(String(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.worker.logger.warn(`statedb ${this.options.statedb} unreadable, starting empty: ${(err as Error).message}`);
      }
    }
  }

  private saveRevoked(): void {
    if (!this.options.statedb) return;
    writeFileAtomic(this.options.statedb, JSON.stringify({ revoked: [...this.worker.app.revoked] }));
  }
}
