/**
 * Broker drivers by URL scheme. Drivers load lazily, so an app that uses Redis never loads the
 * AMQP client; a scheme nobody registered raises ImproperlyConfigured naming the known ones.
 */
import { redactUrl } from '../config/redact.js';
import { ImproperlyConfigured } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import type { TransportFactory, TransportOptions, Transport } from './port.js';
import { sqlitePath } from './sqlite/store.js';

/** Registry of broker drivers; each app has its own copy of the built-in table. */
export class TransportRegistry {
  private readonly factories = new Map<string, TransportFactory>();

  constructor() {
    this.register('memory', async (o) => new (await import('./memory/transport.js')).MemoryTransport(o));
    this.register('sqlite', async (o) => new (await import('./sqlite/transport.js')).SqliteTransport(o));
    const redis: TransportFactory = async (o) => new (await import('./redis/transport.js')).RedisTransport(o);
    this.register('redis', redis);
    this.register('rediss', redis);
    const amqp: TransportFactory = async (o) => new (await import('./amqp/transport.js')).AmqpTransport(o);
    for (const scheme of ['amqp', 'amqps', 'pyamqp']) this.register(scheme, amqp);
  }

  /** Adds a driver for a URL scheme (`memory`, `redis`, ...). */
  register(scheme: string, factory: TransportFactory): void {
    this.factories.set(scheme, factory);
  }

  /** The schemes with a driver. */
  schemes(): string[] {
    return [...this.factories.keys()];
  }

  /** Creates the driver for a URL. */
  async create(url: string, transportOptions: Record<string, unknown> = {}, logger?: Logger, messageMaxBytes?: number): Promise<Transport> {
    const scheme = schemeOf(url, 'broker');
    const factory = this.factories.get(scheme);
    if (!factory) {
      throw new ImproperlyConfigured(
        `unknown broker scheme '${scheme}' in '${redactUrl(url)}' (known: ${this.schemes().join(', ')})`,
      );
    }
    const options: TransportOptions = { url, transportOptions, ...(logger ? { logger } : {}), ...(messageMaxBytes ? { messageMaxBytes } : {}) };
    return factory(options);
  }
}

/** The scheme of a URL (`redis` of `redis://...`, `db+postgresql` of `db+postgresql://...`). */
export function schemeOf(url: string, what: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (!m) throw new ImproperlyConfigured(`bad ${what} URL '${redactUrl(url)}': expected scheme://...`);
  return m[1]!.toLowerCase();
}

/** A URL with its password replaced by `**`, for messages and logs (the one rule: config/redact.ts). */
export { redactUrl };

/**
 * Where a broker or backend URL keeps its data, for logs: a SQLite URL as the absolute path of
 * its file (relative paths depend on the working directory), others redacted.
 */
export function describeUrl(url: string): string {
  if (/^(?:db\+)?sqlite:\/\//i.test(url)) {
    try {
      return `${url.split(':')[0]!.toLowerCase()} file ${sqlitePath(url)}`;
    } catch {
      return redactUrl(url);
    }
  }
  return redactUrl(url);
}
