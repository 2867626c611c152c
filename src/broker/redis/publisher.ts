/**
 * Publishing to Redis exactly once or failing (issue 17): a publish that resolves was executed
 * once; one that rejects was not, and never will be.
 *
 * ioredis's offline queue sends what was queued during an outage once Redis is back, long after
 * the caller was told the publish failed, and its resend of unanswered commands after a reconnect
 * can run one twice. So publishes go over a connection of their own with neither: a command is
 * only written to a live connection, and a connection that drops is replaced, not reconnected.
 * Each publish is one script call (./scripts.ts `PUBLISH_SCRIPT`) that
 * - refuses to act past the publish's deadline by Redis's own clock (the offset to ours measured
 *   on every connect), so bytes stuck in a socket cannot land after the caller gave up;
 * - marks its sequence number in the publisher's ring bitmap, so a publish whose connection
 *   dropped before the reply is looked up once Redis answers again: done (resolve) or not (send
 *   again). That lookup may take longer than the publish timeout (Redis still away): guessing
 *   either way would break the rule above.
 */
import type { Redis as RedisClient } from 'ioredis';
import { OperationalError } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import { uuid } from '../../utils/ids.js';
import { redactUrl } from '../registry.js';
import { PUBLISH_RING_BITS, PUBLISH_SCRIPT } from './scripts.js';
import { connectRedis, runScript, withTimeout } from './connection.js';

/** Where a message goes: see `PUBLISH_SCRIPT`'s modes. */
export type PublishTarget =
  | { mode: 'bind'; bindings: string; routingKey: string; suffix: string; sep: string }
  | { mode: 'list'; keys: readonly string[] }
  | { mode: 'fanout'; channel: string };

/** The error ioredis gives a command it did not write (no offline queue, no live connection). */
const NOT_WRITTEN = /enableOfflineQueue/;
/** The error of a command written to a connection that closed before its reply. */
const CLOSED = /Connection is closed/;
/** How long before the caller's deadline Redis stops accepting the publish (clock error room). */
const DEADLINE_MARGIN_MS = 1000;
/** How long an unknown outcome is looked up past the deadline, in publish timeouts. */
const LOOKUP_TIMEOUTS = 10;

/** @internal Publishes over a connection of its own, exactly once or failing. */
export class RedisPublisher {
  private conn: RedisClient | undefined;
  private connecting: Promise<RedisClient> | undefined;
  /** Redis's clock minus ours, in milliseconds, measured on connect. */
  private offsetMs = 0;
  private seq = 0;
  private closed = false;
  /** The ring bitmap of executed sequence numbers (one per publisher). */
  private readonly ringKey = `celeriac.published.${uuid()}`;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly connectTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Sends `payload` to `target`; resolves with the number of queues reached. */
  async publish(payload: string, target: PublishTarget): Promise<number> {
    const deadline = Date.now() + this.timeoutMs;
    const what = `redis broker ${redactUrl(this.url)}: publish failed, Redis unreachable`;
    let cause: unknown;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new OperationalError(`${what} (gave up after ${this.timeoutMs / 1000} s)${cause ? `: ${(cause as Error).message}` : ''}`, { cause });
      let conn: RedisClient;
      try {
        conn = await withTimeout(this.connection(), left, what);
      } catch (err) {
        cause = err;
        await pause(Math.min(deadline - Date.now(), 50 * 2 ** Math.min(attempt, 5)));
        continue;
      }
      const seq = ++this.seq;
      const margin = Math.min(DEADLINE_MARGIN_MS, this.timeoutMs / 2);
      const serverDeadline = Math.floor(deadline - margin + this.offsetMs);
      const call = this.call(conn, seq, serverDeadline, payload, target);
      let reply: number;
      try {
        reply = await withTimeout(call, Math.max(1, deadline - Date.now()), what);
      } catch (err) {
        if (err instanceof OperationalError) {
          // No answer by the deadline: Redis refuses it from now on. A stuck connection goes.
          call.catch(() => undefined);
          this.drop(conn);
          throw err;
        }
        const message = (err as Error).message;
        if (NOT_WRITTEN.test(message)) {
          cause = err;
          continue;
        }
        if (!CLOSED.test(message)) throw new OperationalError(`redis broker ${redactUrl(this.url)}: publish failed: ${message}`, { cause: err });
        this.drop(conn);
        if (await this.executed(seq, deadline)) return 1;
        cause = err;
        continue;
      }
      if (reply < 0) throw new OperationalError(`${what} (gave up after ${this.timeoutMs / 1000} s; Redis refused it past the deadline)`);
      return reply;
    }
  }

  private call(conn: RedisClient, seq: number, deadline: number, payload: string, target: PublishTarget): Promise<number> {
    const head = [seq, deadline, payload, target.mode] as const;
    switch (target.mode) {
      case 'bind':
        return runScript<number>(conn, 'celeriacPublish', 2, this.ringKey, target.bindings, ...head, target.routingKey, target.suffix, target.sep);
      case 'list':
        return runScript<number>(conn, 'celeriacPublish', 1, this.ringKey, ...head, ...target.keys);
      case 'fanout':
        return runScript<number>(conn, 'celeriacPublish', 1, this.ringKey, ...head, target.channel);
    }
  }

  /**
   * Whether publish `seq`, whose connection closed before its reply, was executed: asks Redis
   * as soon as it answers, until {@link LOOKUP_TIMEOUTS} publish timeouts past `deadline`.
   */
  private async executed(seq: number, deadline: number): Promise<boolean> {
    const giveUp = deadline + LOOKUP_TIMEOUTS * this.timeoutMs;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const conn = await withTimeout(this.connection(), Math.max(1, giveUp - Date.now()), 'lookup');
        return (await conn.getbit(this.ringKey, seq % PUBLISH_RING_BITS)) === 1;
      } catch (err) {
        if (Date.now() >= giveUp) {
          throw new OperationalError(
            `redis broker ${redactUrl(this.url)}: publish outcome unknown (the connection closed before Redis answered and Redis stayed unreachable): it may have been delivered`,
            { cause: err },
          );
        }
        await pause(Math.min(2000, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
    throw new OperationalError(`redis broker ${redactUrl(this.url)}: publish outcome unknown (the broker was closed): it may have been delivered`);
  }

  /** The live connection, or a new one (with the clock offset measured). */
  private connection(): Promise<RedisClient> {
    if (this.conn && this.conn.status === 'ready') return Promise.resolve(this.conn);
    if (this.conn) this.drop(this.conn);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<RedisClient> {
    const conn = await connectRedis(this.url, this.connectTimeoutMs, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: () => null,
    });
    conn.defineCommand('celeriacPublish', { lua: PUBLISH_SCRIPT });
    const before = Date.now();
    const [seconds, micros] = (await conn.time()) as [number | string, number | string];
    const after = Date.now();
    this.offsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (before + after) / 2;
    if (this.closed) {
      conn.disconnect();
      throw new OperationalError('redis broker: closed');
    }
    this.conn = conn;
    conn.once('end', () => {
      if (this.conn === conn) this.conn = undefined;
    });
    return conn;
  }

  private drop(conn: RedisClient): void {
    if (this.conn === conn) this.conn = undefined;
    conn.disconnect();
  }

  /** Closes the connection (waiting publishes fail). */
  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = undefined;
    await conn?.quit().catch(() => conn.disconnect());
    this.logger.debug('redis broker: publisher closed');
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
