/**
 * Lease renewer for the Redis broker (loaded inside the lease thread, see ./keeper.ts): moves the
 * `unacked_index` score of every held delivery tag to now. kombu (Python workers included)
 * restores a message when its score is older than now minus the visibility timeout, so a fresh
 * score is what "still held" means on the wire. `ZADD XX` only updates members that exist, so a
 * renewal racing an ack never brings an acked tag back.
 */
import { redisUrlOptions } from '../redis/connection.js';
import type { LeaseRenewer } from './keeper.js';

/** What the thread needs to open its own connection. */
export interface RedisRenewerConfig {
  url: string;
  /** @defaultValue `'unacked_index'` */
  unackedIndexKey?: string;
}

/** Tags per ZADD command. */
const BATCH = 500;

/** Opens a dedicated connection and returns the renewer. */
export async function createRenewer(config: unknown): Promise<LeaseRenewer> {
  const { url, unackedIndexKey = 'unacked_index' } = config as RedisRenewerConfig;
  const { Redis } = await import('ioredis');
  const target = redisUrlOptions(url);
  // Reconnects quickly after an outage: other workers wait only a visibility timeout after theirs
  // before restoring messages whose leases look stale (issue 17).
  const client = new Redis(target.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times: number) => Math.min(50 * times, 250),
    ...target.options,
  });
  // It reconnects by itself and a failed renewal is reported by the keeper; without a listener,
  // ioredis prints every failed reconnect's stack to stderr.
  client.on('error', () => undefined);
  await client.connect();
  return {
    async renew(ids) {
      const score = Date.now() / 1000;
      for (let i = 0; i < ids.length; i += BATCH) {
        const args: Array<string | number> = [];
        for (const id of ids.slice(i, i + BATCH)) args.push(score, id);
        await client.zadd(unackedIndexKey, 'XX', ...args);
      }
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
