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
import { connectRedis, runScript } from '../../broker/redis/transport.js';
import { fromJson, toJson } from '../../protocol/json.js';
import { TickBatcher } from '../../utils/batch.js';
import { GROUP_KEY_PREFIX, KeyValueBackend, keyTtl, type KeyValueStore } from '../base.js';
import type { BackendOptions, ChordPart, ChordStore } from '../port.js';

/**
 * SET each record (KEYS[i], value ARGV[2i-1], TTL ARGV[2i] seconds, 0 for none), then PUBLISH
 * it on the key's channel: Celery's two commands per record, for a whole batch in one call.
 */
const STORE_READY_SCRIPT = `
for i = 1, #KEYS do
  local value, ttl = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  if ttl > 0 then redis.call('SET', KEYS[i], value, 'EX', ttl) else redis.call('SET', KEYS[i], value) end
  redis.call('PUBLISH', KEYS[i], value)
end
return #KEYS
`;

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

  private async writeReady(records: ReadyRecord[]): Promise<void> {
    const args: Array<string | number> = records.map((r) => r.key);
    for (const r of records) args.push(r.value, r.ttl);
    await runScript<number>(this.redis, 'celeriacStoreReady', records.length, ...args);
  }

  async subscribe(key: string, onChange: (value?: string) => void): Promise<() => Promise<void>> {
    const { subscribed, unsubscribe } = this.listen(key, onChange);
    try {
      await subscribed;
    } catch (err) {
      await unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  async subscribeAndGet(key: string, onChange: (value?: string) => void): Promise<{ unsubscribe: () => Promise<void>; value: string | null }> {
    const { sub, subscribed, unsubscribe } = this.listen(key, onChange);
    // On RESP3 (ioredis's default, Redis 6+) the subscribed connection still answers commands,
    // in order: this GET, written with the SUBSCRIBE, sees whatever the subscription would miss.
    const read = sub.get(key).then(
      (value) => ({ ok: true as const, value }),
      () => ({ ok: false as const, value: null }),
    );
    try {
      await subscribed;
    } catch (err) {
      await unsubscribe();
      throw err;
    }
    const first = await read;
    // RESP2 (older Redis): a subscribed connection takes no GET; read on the command connection.
    return { unsubscribe, value: first.ok ? first.value : await this.get(key) };
  }

  /** Registers `onChange` for `key` on the subscriber connection, subscribing if it is the first. */
  private listen(key: string, onChange: (value?: string) => void): { sub: RedisClient; subscribed: Promise<unknown>; unsubscribe: () => Promise<void> } {
    if (!this.subscriber) {
      const sub = this.redis.duplicate();
      sub.on('error', () => undefined);
      sub.on('message', (channel: string, message: string) => {
        for (const cb of this.listeners.get(channel) ?? []) cb(message);
      });
      this.subscriber = sub;
    }
    const sub = this.subscriber;
    let set = this.listeners.get(key);
    let subscribed: Promise<unknown> = Promise.resolve();
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
      subscribed = sub.subscribe(key);
    }
    set.add(onChange);
    const unsubscribe = async (): Promise<void> => {
      const current = this.listeners.get(key);
      current?.delete(onChange);
      if (current && current.size === 0) {
        this.listeners.delete(key);
        await sub.unsubscribe(key).catch(() => undefined);
      }
    };
    return { sub, subscribed, unsubscribe };
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
