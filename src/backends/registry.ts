/**
 * Result backends by URL scheme (`memory`, `redis`, `db+postgresql`, `rpc`, ...), loaded lazily.
 */
import { schemeOf, redactUrl } from '../broker/registry.js';
import { ImproperlyConfigured } from '../errors/index.js';
import type { BackendFactory, BackendOptions, ResultBackend } from './port.js';

/** Registry of backend drivers; each app has its own copy of the built-in table. */
export class BackendRegistry {
  private readonly factories = new Map<string, BackendFactory>();
  /** Schemes whose backends must see every send first (`onTaskCall`): rpc:// declares its reply queue. */
  private readonly preparing = new Set<string>();

  constructor() {
    const memory: BackendFactory = async (o) => new (await import('./memory/backend.js')).MemoryBackend(o);
    this.register('memory', memory);
    this.register('cache+memory', memory);
    this.register('rpc', async (o) => new (await import('./rpc/backend.js')).RpcBackend(o), { preparesSends: true });
    const memcached: BackendFactory = async (o) => new (await import('./memcached/backend.js')).MemcachedBackend(o);
    this.register('cache+memcached', memcached);
    this.register('cache+memcache', memcached);
    const redis: BackendFactory = async (o) => new (await import('./redis/backend.js')).RedisBackend(o);
    this.register('redis', redis);
    this.register('rediss', redis);
    const database: BackendFactory = async (o) => new (await import('./sql/backend.js')).SqlBackend(o);
    for (const scheme of ['db+sqlite', 'db+postgresql', 'db+postgres', 'db+postgresql+psycopg2', 'db+mysql', 'db+mysql+pymysql', 'db+mysql+mysqldb', 'db+mariadb']) {
      this.register(scheme, database);
    }
  }

  /**
   * Adds a driver. `preparesSends`: its backend's `onTaskCall` must run before each send (other
   * backends are never touched by sending a task).
   */
  register(scheme: string, factory: BackendFactory, options: { preparesSends?: boolean } = {}): void {
    this.factories.set(scheme, factory);
    if (options.preparesSends) this.preparing.add(scheme);
    else this.preparing.delete(scheme);
  }

  /** Whether the backend of `url` must prepare before a task is sent (see {@link register}). */
  preparesSends(url: string): boolean {
    return this.preparing.has(schemeOf(url, 'result backend'));
  }

  schemes(): string[] {
    return [...this.factories.keys()];
  }

  async create(options: BackendOptions): Promise<ResultBackend> {
    const scheme = schemeOf(options.url, 'result backend');
    const factory = this.factories.get(scheme);
    if (!factory) {
      throw new ImproperlyConfigured(
        `unknown result backend scheme '${scheme}' in '${redactUrl(options.url)}' (known: ${this.schemes().join(', ')})`,
      );
    }
    return factory(options);
  }
}
