/**
 * Wakes an idle Redis consumer when one of its lists changes, without taking anything from them.
 *
 * A consumer reserves only through the atomic reserve script (./scripts.ts), which pops and
 * records a message as unacked in one step. Blocking in BRPOP to learn of new messages would
 * remove one from its list before it is recorded anywhere: a worker killed between the pop and
 * the record loses that message (issue 17, kombu has the same window). Instead a connection of
 * the consumer's own asks Redis to tell it of every write to its lists, through client-side
 * caching invalidations (`CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX <queue> ...` over
 * RESP2, received as messages on `__redis__:invalidate`). An invalidation moves nothing.
 *
 * Every idle consumer of a queue wakes on a write to it (BRPOP woke one): each makes a reserve call,
 * and the ones that find nothing wait again. That costs only where consumers sit idle, i.e. at low
 * rates; busy consumers are not waiting. Redis batches the notices of one event-loop turn.
 *
 * A notice can be missed while that connection is down (an outage, a restart of Redis, a Redis
 * older than 6 without tracking): the consumer then looks again every {@link POLL_MS} (or
 * {@link FALLBACK_POLL_MS} without a live waker), so nothing waits longer than that.
 */
import type { Redis as RedisClient } from 'ioredis';
import type { Logger } from '../../logging/logger.js';

/** How often an idle consumer looks at its lists anyway while its waker is live. */
export const POLL_MS = 1000;
/** How often an idle consumer looks at its lists while it has no live waker. */
export const FALLBACK_POLL_MS = 200;
/** How long after a failed setup the waker is tried again. */
const RETRY_MS = 2000;
/** After this many failed setups in a row (e.g. a Redis without CLIENT TRACKING), retry rarely. */
const RARE_AFTER = 5;
const RARE_RETRY_MS = 60_000;

/**
 * The shortest set of prefixes covering `names`: Redis refuses overlapping prefixes on one
 * connection, and a queue's prefix covers its priority sub-lists (`<queue>\x06\x16<n>`).
 */
export function trackingPrefixes(names: readonly string[]): string[] {
  const sorted = [...new Set(names.filter((n) => n !== ''))].sort();
  const out: string[] = [];
  for (const name of sorted) {
    if (!out.some((p) => name.startsWith(p))) out.push(name);
  }
  return out;
}

/** @internal A consumer's change notices (see the file header). */
export class QueueWaker {
  private conn: RedisClient | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  private failures = 0;
  private retryAt = 0;

  /**
   * @param client The consumer's command connection (the waker duplicates its settings).
   * @param onChange Called when a list may have changed (also when the waker comes up, since
   *   notices may have been missed before).
   */
  constructor(
    private readonly client: RedisClient,
    private readonly queues: readonly string[],
    private readonly logger: Logger,
    private readonly onChange: () => void,
  ) {}

  /** True while notices arrive; false while the consumer must poll. */
  get live(): boolean {
    return this.conn !== undefined;
  }

  /** Starts (or restarts after a loss) the notice connection in the background. */
  ensure(): void {
    if (this.closed || this.conn || this.opening || Date.now() < this.retryAt) return;
    this.opening = this.open().finally(() => (this.opening = undefined));
  }

  private async open(): Promise<void> {
    // Its own connection, never reconnected by ioredis: tracking does not survive a reconnect,
    // so a lost connection is replaced by a new one set up from the start.
    const conn = this.client.duplicate({
      enableAutoPipelining: false,
      protocol: 2,
      retryStrategy: () => null,
      autoResubscribe: false,
      enableOfflineQueue: false,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    conn.on('error', () => undefined);
    try {
      await conn.connect();
      const id = String(await conn.call('CLIENT', 'ID'));
      const prefixes = trackingPrefixes(this.queues).flatMap((p) => ['PREFIX', p]);
      await conn.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id, 'BCAST', ...prefixes);
      conn.on('message', () => this.onChange());
      await conn.subscribe('__redis__:invalidate');
    } catch (err) {
      conn.disconnect();
      this.failures++;
      this.retryAt = Date.now() + (this.failures >= RARE_AFTER ? RARE_RETRY_MS : RETRY_MS);
      if (this.failures === RARE_AFTER) {
        this.logger.warn(`redis broker: no change notices from Redis (${(err as Error).message}); idle consumers look at their queues every ${FALLBACK_POLL_MS} ms`);
      }
      return;
    }
    if (this.closed) {
      conn.disconnect();
      return;
    }
    this.failures = 0;
    this.conn = conn;
    conn.once('end', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.onChange();
    });
    // Writes between the consumer's last look and now went unnoticed.
    this.onChange();
  }

  /** Closes the notice connection. */
  close(): void {
    this.closed = true;
    const conn = this.conn;
    this.conn = undefined;
    conn?.disconnect();
  }
}
