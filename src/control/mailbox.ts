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
import { duplicateNodes, duplicateNodesWarning } from './client.js';
import { COMMANDS, type ControlContext } from './commands.js';
import { uuid } from '../utils/ids.js';
import { ContentDisallowed, SecurityError } from '../errors/index.js';
import { controlMessage, declarePidbox, isForMe, parseControlMessage, REPLY_EXCHANGE, workerQueue } from './pidbox.js';

/** Seconds a starting worker waits for the others' answers to `hello` (Celery's mingle waits 1 s). */
export const MINGLE_TIMEOUT_S = 1;

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
  /** Tickets of this worker's own mingle broadcasts. */
  private readonly ownTickets = new Set<string>();
  private readonly ctx: ControlContext;

  constructor(
    private readonly worker: Worker,
    private readonly options: MailboxOptions = {},
  ) {
    this.ctx = { worker, clock: () => ++this.clockValue, saveRevoked: () => this.saveRevoked(), isOwnTicket: (t) => this.ownTickets.has(t) };
  }

  async start(): Promise<void> {
    this.loadRevoked();
    const transport = await this.worker.app.getTransport();
    await declarePidbox(transport);
    const spec = workerQueue(this.worker.hostname);
    await transport.declareQueue(spec);
    // Mingle before consuming commands, as Celery's worker does: where two workers of one name
    // share this queue, only the other one can then answer, so a duplicate is always seen.
    // Commands sent meanwhile wait in the queue; on Redis (pub/sub) one sent in that second is
    // missed, as by Celery's worker, which is not ready yet either.
    if (this.options.mingle) await this.mingle();
    this.consumer = await transport.consume([spec.name], (d) => void this.onMessage(d), { prefetch: 0 });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.close();
    this.saveRevoked();
  }

  /**
   * Celery's mingle: sends `hello` with this worker's revoked ids (id to timestamp, as Celery's
   * workers send them) and merges the ids every other worker answers with, Python ones included.
   * Meanwhile pings its own node name. This worker does not consume commands yet, so a pong, or a
   * hello answered under its name, means another worker already uses the name.
   */
  private async mingle(): Promise<void> {
    const { app, hostname, logger } = this.worker;
    try {
      const ownPing = uuid();
      const ownHello = uuid();
      // Kept: on brokers with a queue per node, both wait in ours and must not read as another's.
      this.ownTickets.add(ownPing).add(ownHello);
      const [replies, pongs] = await Promise.all([
        app.control.broadcast('hello', { arguments: { from_node: hostname, revoked: app.revoked.toMapping() }, reply: true, timeout: MINGLE_TIMEOUT_S, ticket: ownHello }),
        app.control.broadcast('ping', { destination: [hostname], limit: Number.POSITIVE_INFINITY, reply: true, timeout: MINGLE_TIMEOUT_S, ticket: ownPing }),
      ]);
      const dupes = duplicateNodes(replies);
      if ((pongs.length > 0 || replies.some((r) => Object.hasOwn(r, hostname))) && !dupes.includes(hostname)) dupes.push(hostname);
      if (dupes.length > 0) logger.warn(duplicateNodesWarning(dupes));
      let learned = 0;
      for (const reply of replies) {
        for (const [host, value] of Object.entries(reply)) {
          if (host === hostname) continue;
          learned += app.revoked.update((value as { revoked?: unknown } | null)?.revoked);
        }
      }
      if (replies.length > 0) logger.info(`mingle: synced with ${replies.length} node(s), learned ${learned} revoked id(s)`);
    } catch (err) {
      logger.warn(`mingle failed: ${(err as Error).message}`);
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
        reply = await handler(this.ctx, msg.arguments, msg.ticket);
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
      // A mapping of id to revoke time; files of earlier versions hold a list of ids.
      this.worker.app.revoked.update(saved.revoked);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.worker.logger.warn(`statedb ${this.options.statedb} unreadable, starting empty: ${(err as Error).message}`);
      }
    }
  }

  private saveRevoked(): void {
    if (!this.options.statedb) return;
    writeFileAtomic(this.options.statedb, JSON.stringify({ revoked: this.worker.app.revoked.toMapping() }));
  }
}
