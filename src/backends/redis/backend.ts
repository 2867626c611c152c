/**
 * Redis result backend: `redis://[:password@]host:port/db`, `rediss://`. Records exactly as
 * Celery's RedisBackend keeps them: JSON under `celery-task-meta-<id>` with `result_expires` as
 * the key's TTL, saved groups under `celery-taskset-meta-<id>`, and a PUBLISH of the record on
 * the key's own channel when a task is ready, which `get()` subscribes to (no polling).
 *
 * Chords use Celery's Redis format, so Python and celeriac header tasks can finish each other's
 * chords: the chord size under `celery-taskset-meta-<group>.s`, each finished part as
 * `[1, task id, state, result]` in the zset `...j` scored by its position in the header, and
 * `...t` for size adjustments; the part whose ZADD makes the count reach the size applies the body.
 */
import type { Redis as RedisClient } from 'ioredis';
import { sideConnection } from '../../broker/redis/connection.js';
import { connectRedis, runScript } from '../../broker/redis/connection.js';
import { fromJson, toJson } from '../../protocol/json.js';
import { TickBatcher } from '../../utils/batch.js';
import { GROUP_KEY_PREFIX, KeyValueBackend, keyTtl, type KeyValueStore } from '../base.js';
import type { BackendOptions, ChordPart, ChordStore } from '../port.js';

/**
 * SET each record (KEYS[i], value ARGV[i + 1]) with the batch's TTL (ARGV[1] seconds, 0 for none),
 * then PUBLISH it on the key's channel: Celery's two commands per record, for a whole batch in one
 * call.
 */
const STORE_READY_SCRIPT = `
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  local value = ARGV[i + 1]
  if ttl > 0 then redis.call('SET', KEYS[i], value, 'EX', ttl) else redis.call('SET', KEYS[i], value) end
  redis.call('PUBLISH', KEYS[i], value)
end
return #KEYS
`;

/** How long a channel nobody listens to stays subscribed, for one UNSUBSCRIBE of many. */
const UNSUBSCRIBE_DELAY_MS = 100;

interface ReadyRecord {
  key: string;
  value: string;
  ttl: number;
}

class RedisStore implements KeyValueStore {
  client: RedisClient | undefined;
  private readonly ready = new TickBatcher<ReadyRecord>((records) => this.writeReady(records));
  private subscriber: RedisClient | undefined;
  private readonly listeners = new Map<string, Set<(value?: string) => void>>();
  /** Channels nobody listens to any more, unsubscribed together after UNSUBSCRIBE_DELAY_MS. */
  private readonly leaving = new Set<string>();
  private leaveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly connectTimeoutMs: number,
  ) {}

  private get redis(): RedisClient {
    if (!this.client) throw new Error('redis result backend is not connected');
    return this.client;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const client = await connectRedis(this.url, this.connectTimeoutMs);
    client.defineCommand('celeriacStoreReady', { lua: STORE_READY_SCRIPT });
    this.client = client;
  }

  async close(): Promise<void> {
    await this.ready.flush().catch(() => undefined);
    const { client, subscriber } = this;
    clearTimeout(this.leaveTimer);
    this.leaveTimer = undefined;
    this.leaving.clear();
    this.client = undefined;
    this.subscriber = undefined;
    subscriber?.disconnect();
    await client?.quit().catch(() => client.disconnect());
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number | null): Promise<void> {
    const ttl = keyTtl(ttlSeconds);
    if (ttl > 0) await this.redis.set(key, value, 'EX', ttl);
    else await this.redis.set(key, value);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(key);
  }

  setAndPublish(key: string, value: string, ttlSeconds: number | null): Promise<void> {
    return this.ready.add({ key, value, ttl: keyTtl(ttlSeconds) });
  }

  /** Writes a turn's records, one script call per TTL (all of them share the backend's, as a rule). */
  private async writeReady(records: ReadyRecord[]): Promise<void> {
    const byTtl = new Map<number, ReadyRecord[]>();
    for (const r of records) {
      const group = byTtl.get(r.ttl);
      if (group) group.push(r);
      else byTtl.set(r.ttl, [r]);
    }
    // An explicit pipeline: written to the socket now, not on ioredis's later automatic flush.
    const pipeline = this.redis.pipeline();
    for (const group of byTtl.values()) {
      runScript(pipeline, 'celeriacStoreReady', group.length, ...group.map((r) => r.key), group[0]!.ttl, ...group.map((r) => r.value));
    }
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }

  async subscribe(key: string, onChange: (value?: string) => void): Promise<{ unsubscribe(): Promise<void>; value: string | null }> {
    const { sub, fresh, unsubscribe } = this.listen(key, onChange);
    let read: [Error | null, unknown] | undefined;
    try {
      // On RESP3 (ioredis's default, Redis 6+) a subscribed connection still answers commands,
      // in order: a GET written with the SUBSCRIBE sees whatever the subscription would miss.
      const replies = fresh ? await sub.pipeline().subscribe(key).get(key).exec() : [await sub.get(key).then((v) => [null, v], (err: Error) => [err, null])];
      read = replies?.at(-1) as [Error | null, unknown] | undefined;
      if (!read) throw new Error(`could not subscribe to ${key}`);
    } catch (err) {
      unsubscribe();
      throw err;
    }
    // RESP2 (older Redis): a subscribed connection takes no GET; read on the command connection.
    const value = read[0] ? await this.get(key) : (read[1] as string | null);
    return { unsubscribe: async () => unsubscribe(), value };
  }

  /**
   * Registers `onChange` for `key` on the subscriber connection; `fresh` when the caller must
   * SUBSCRIBE (no one listens to it yet, and it is not still subscribed from a recent wait).
   * Unsubscribing is deferred and batched: one UNSUBSCRIBE for the channels left in a while.
   */
  private listen(key: string, onChange: (value?: string) => void): { sub: RedisClient; fresh: boolean; unsubscribe: () => void } {
    if (!this.subscriber) {
      // Subscriptions go out as they come, each with its GET in an explicit pipeline.
      const sub = sideConnection(this.redis);
      sub.on('message', (channel: string, message: string) => {
        for (const cb of this.listeners.get(channel) ?? []) cb(message);
      });
      this.subscriber = sub;
    }
    const sub = this.subscriber;
    let set = this.listeners.get(key);
    let fresh = false;
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
      fresh = !this.leaving.delete(key);
    }
    set.add(onChange);
    const unsubscribe = (): void => {
      const current = this.listeners.get(key);
      if (!current?.delete(onChange) || current.size > 0) return;
      this.listeners.delete(key);
      this.leaving.add(key);
      this.leaveTimer ??= setTimeout(() => this.leave(), UNSUBSCRIBE_DELAY_MS).unref();
    };
    return { sub, fresh, unsubscribe };
  }

  /** Unsubscribes from the channels nobody listens to any more. */
  private leave(): void {
    this.leaveTimer = undefined;
    const channels = [...this.leaving];
    this.leaving.clear();
    if (channels.length > 0) this.subscriber?.unsubscribe(...channels).catch(() => undefined);
  }
}

/** Celery's Redis chord bookkeeping (see the file header). */
class RedisChordStore implements ChordStore {
  constructor(
    private readonly store: RedisStore,
    private readonly expiresSeconds: number | null,
  ) {}

  private get client(): RedisClient {
    if (!this.store.client) throw new Error('redis result backend is not connected');
    return this.store.client;
  }

  async prepare(groupId: string, memberIds: readonly string[]): Promise<void> {
    await this.store.set(`${GROUP_KEY_PREFIX}${groupId}.s`, String(memberIds.length), this.expiresSeconds);
  }

  async partReturned(groupId: string, part: ChordPart): Promise<ChordPart[] | null> {
    const base = `${GROUP_KEY_PREFIX}${groupId}`;
    const [jkey, tkey, skey] = [`${base}.j`, `${base}.t`, `${base}.s`];
    const multi = this.client
      .multi()
      .zadd(jkey, String(part.index), toJson([1, part.taskId, part.state, part.result]))
      .zcount(jkey, '-inf', '+inf')
      .get(tkey)
      .get(skey);
    const ttl = keyTtl(this.expiresSeconds);
    if (ttl > 0) {
      multi.expire(jkey, ttl).expire(tkey, ttl).expire(skey, ttl);
    }
    const res = (await multi.exec()) ?? [];
    const ready = Number(res[1]?.[1] ?? 0);
    const diff = Number(res[2]?.[1] ?? 0);
    const size = res[3]?.[1];
    if (size === null || size === undefined) return null;
    if (ready !== Number(size) + diff) return null;
    const entries = await this.client.zrange(jkey, '0', '-1');
    await this.client.del(jkey, tkey, skey);
    return entries.map((text, index) => {
      const [, taskId, state, result] = fromJson(text) as [number, string, string, unknown];
      return { taskId, index, state, result };
    });
  }
}

/** The Redis result backend. */
export class RedisBackend extends KeyValueBackend {
  constructor(options: BackendOptions) {
    const o = options.backendOptions;
    const timeout = typeof o['connectTimeout'] === 'number' ? o['connectTimeout'] * 1000 : 10_000;
    const store = new RedisStore(options.url, timeout);
    super('redis', store, options.expiresSeconds, new RedisChordStore(store, options.expiresSeconds));
  }
}
