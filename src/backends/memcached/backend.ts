/**
 * Memcached result backend: `cache+memcached://host:port/` (several servers: `host1:11211;host2:11211`),
 * on the same key-value base as Redis: records under `celery-task-meta-<id>`, groups under
 * `celery-taskset-meta-<id>`, `result_expires` as the item's expiry. Memcached has no pub/sub, so
 * `get()` polls; chords count their parts with memcached's atomic increment, as Celery's cache
 * backend does.
 */
import type { Client as MemjsClient } from 'memjs';
import { redactUrl } from '../../broker/registry.js';
import { ImproperlyConfigured, OperationalError } from '../../errors/index.js';
import { KeyValueBackend, keyTtl, type KeyValueStore } from '../base.js';
import type { BackendOptions } from '../port.js';
import { loadOptional } from '../../utils/optional.js';

/** Memcached reads expiries over 30 days as a unix time: cap relative ones there. */
const MAX_RELATIVE_TTL = 30 * 24 * 3600;

/** `host:port` list of a `cache+memcached://` URL, in memjs's comma form. */
export function memcachedServers(url: string): string {
  const m = /^cache\+memcached?:\/\/([^/]*)\/?$/i.exec(url);
  if (!m || m[1] === '') throw new ImproperlyConfigured(`bad memcached URL '${redactUrl(url)}': expected cache+memcached://host:port/`);
  return m[1]!.split(/[;,]/).map((s) => s.trim()).filter(Boolean).join(',');
}

class MemcachedStore implements KeyValueStore {
  private client: MemjsClient | undefined;

  constructor(private readonly url: string) {}

  private get mc(): MemjsClient {
    if (!this.client) throw new OperationalError('memcached result backend is not connected');
    return this.client;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const servers = memcachedServers(this.url);
    const memjs = await loadOptional('memjs', 'cache+memcached://', () => import('memjs'));
    const client = memjs.Client.create(servers, { retries: 1, timeout: 2, conntimeout: 2, logger: { log: () => undefined } });
    try {
      await client.get('celeriac-connect-check');
    } catch (err) {
      client.close();
      throw new OperationalError(`memcached at ${servers} unreachable: ${(err as Error).message}`, { cause: err });
    }
    this.client = client;
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }

  private ttl(seconds: number | null): number {
    return Math.min(keyTtl(seconds), MAX_RELATIVE_TTL);
  }

  async get(key: string): Promise<string | null> {
    const { value } = await this.mc.get(key);
    return value === null ? null : value.toString('utf8');
  }

  async set(key: string, value: string, ttlSeconds: number | null): Promise<void> {
    const ok = await this.mc.set(key, value, { expires: this.ttl(ttlSeconds) });
    if (!ok) throw new OperationalError(`memcached refused to store ${key} (too large? items are limited to 1 MB by default)`);
  }

  async delete(key: string): Promise<void> {
    await this.mc.delete(key);
  }

  async incr(key: string, ttlSeconds: number | null): Promise<number> {
    const { value } = await this.mc.increment(key, 1, { initial: 1, expires: this.ttl(ttlSeconds) });
    if (typeof value !== 'number') throw new OperationalError(`memcached could not increment ${key}`);
    return value;
  }
}

/** The memcached result backend. */
export class MemcachedBackend extends KeyValueBackend {
  constructor(options: BackendOptions) {
    super('memcached', new MemcachedStore(options.url), options.expiresSeconds);
  }
}
