/**
 * Redis connections: the settings a URL gives, opening a client, side connections for one command
 * at a time, and running the registered scripts.
 * `rediss://` connects over TLS and takes the query parameters redis-py and kombu read, so a
 * Celery URL works here as written:
 *
 * | parameter | meaning |
 * |---|---|
 * | `ssl_cert_reqs` | `required` (default), `optional` or `none` (also `CERT_REQUIRED`, ...): whether the server's certificate must verify |
 * | `ssl_ca_certs` | path of the CA bundle (PEM) the server's certificate is checked against (default: Node's CAs) |
 * | `ssl_certfile`, `ssl_keyfile` | client certificate and key (PEM), for servers that ask for one |
 * | `ssl_check_hostname` | `false` skips the host-name check while still verifying the certificate chain |
 *
 * These parameters are taken out of the URL before it reaches ioredis; any others pass through.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ChainableCommander, Redis as RedisClient } from 'ioredis';
import { ImproperlyConfigured, OperationalError } from '../../errors/index.js';
import { redactUrl } from '../registry.js';
import { loadOptional } from '../../utils/optional.js';

/** What ioredis is given for a URL. */
export interface RedisUrlOptions {
  /** The URL without the TLS parameters. */
  url: string;
  /** Connection options to spread into ioredis's: `tls` for `rediss://`, nothing otherwise. */
  options: { tls?: ConnectionOptions };
}

const TLS_PARAMS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_check_hostname'] as const;

/** `ssl_cert_reqs` values (as redis-py spells them, with or without `CERT_`), to "must verify". */
const CERT_REQS: Record<string, boolean> = { required: true, optional: true, none: false };

function readPem(url: string, param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ImproperlyConfigured(`Redis URL ${redactUrl(url)}: cannot read ${param} '${path}': ${(err as Error).message}`, { cause: err });
  }
}

/** Splits a Redis URL into what ioredis takes: the URL itself and, for `rediss://`, TLS options. */
export function redisUrlOptions(url: string): RedisUrlOptions {
  if (!/^rediss:/i.test(url)) return { url, options: {} };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ImproperlyConfigured(`bad Redis URL '${redactUrl(url)}': expected rediss://[:password@]host:port/db`);
  }
  const q = parsed.searchParams;
  const reqs = (q.get('ssl_cert_reqs') ?? 'required').toLowerCase().replace(/^cert_/, '');
  const verify = CERT_REQS[reqs];
  if (verify === undefined) {
    throw new ImproperlyConfigured(`Redis URL ${redactUrl(url)}: ssl_cert_reqs must be required, optional or none, got '${q.get('ssl_cert_reqs')}'`);
  }
  const tls: ConnectionOptions = { rejectUnauthorized: verify };
  const ca = q.get('ssl_ca_certs');
  if (ca) tls.ca = readPem(url, 'ssl_ca_certs', ca);
  const cert = q.get('ssl_certfile');
  if (cert) tls.cert = readPem(url, 'ssl_certfile', cert);
  const key = q.get('ssl_keyfile');
  if (key) tls.key = readPem(url, 'ssl_keyfile', key);
  const checkHostname = q.get('ssl_check_hostname');
  if (checkHostname !== null && /^(false|0|no)$/i.test(checkHostname)) tls.checkServerIdentity = () => undefined;
  for (const p of TLS_PARAMS) q.delete(p);
  return { url: parsed.toString(), options: { tls } };
}

/**
 * @internal A connection of its own next to `client` (same server and options), for one command
 * at a time (SUBSCRIBE): without ioredis's automatic pipelining, which would only add its
 * cost there. It reconnects by itself; its errors surface on its commands.
 */
export function sideConnection(client: RedisClient): RedisClient {
  const side = client.duplicate({ enableAutoPipelining: false });
  side.on('error', () => undefined);
  return side;
}

/**
 * @internal Calls a Lua script registered on `client` with `defineCommand` under `name` (without
 * a fixed key count: `numKeys` comes first, as with EVALSHA). On a pipeline it queues the call.
 */
export function runScript<T>(client: RedisClient, name: string, numKeys: number, ...args: Array<string | number>): Promise<T>;
export function runScript(client: ChainableCommander, name: string, numKeys: number, ...args: Array<string | number>): ChainableCommander;
export function runScript(client: RedisClient | ChainableCommander, name: string, numKeys: number, ...args: Array<string | number>): unknown {
  const command = (client as unknown as Record<string, (numKeys: number, ...args: Array<string | number>) => unknown>)[name];
  if (typeof command !== 'function') throw new Error(`redis script ${name} is not defined on this connection`);
  return command.call(client, numKeys, ...args);
}

/** The database number of a Redis URL (`/3` → 3). */
export function redisDb(url: string): number {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ImproperlyConfigured(`bad Redis URL '${redactUrl(url)}': expected redis://[:password@]host:port/db`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db === '') return 0;
  if (!/^\d+$/.test(db)) throw new ImproperlyConfigured(`bad Redis URL '${redactUrl(url)}': the database must be a number, got '${db}'`);
  return Number(db);
}

/** Client settings a caller of {@link connectRedis} may change. */
export interface ConnectOverrides {
  /** Queue commands while disconnected (ioredis's default: true). */
  enableOfflineQueue?: boolean;
  /** Send again, after a reconnect, commands that got no reply (ioredis's default: true). */
  autoResendUnfulfilledCommands?: boolean;
  /** Milliseconds before the next reconnect attempt, or null not to reconnect. */
  retryStrategy?: (times: number) => number | null;
}

/**
 * Opens an ioredis client for a URL (reconnecting by itself, with an offline queue, unless
 * `overrides` say otherwise); fails with OperationalError past `timeoutMs`.
 */
export async function connectRedis(url: string, timeoutMs: number, overrides: ConnectOverrides = {}): Promise<RedisClient> {
  redisDb(url);
  const { Redis } = await loadOptional('ioredis', 'redis://', () => import('ioredis'));
  const target = redisUrlOptions(url);
  const client = new Redis(target.url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // Commands issued in the same tick go to Redis as one pipeline (acks, results, publishes).
    enableAutoPipelining: true,
    ...target.options,
    ...overrides,
  });
  // Reconnects by itself; failures surface on commands. The last one names a failed connect's
  // cause (a TLS certificate that does not verify, a refused connection), which connect() omits.
  let lastError: Error | undefined;
  const remember = (err: Error): void => {
    lastError = err;
  };
  client.on('error', remember);
  try {
    await withTimeout(client.connect(), timeoutMs, `Redis at ${redactUrl(url)} unreachable`);
  } catch (err) {
    client.disconnect();
    const cause = lastError ? `: ${lastError.message}` : '';
    if (err instanceof OperationalError) throw new OperationalError(`${err.message}${cause}`, { cause: lastError ?? err });
    throw new OperationalError(`Redis at ${redactUrl(url)} unreachable${cause || `: ${(err as Error).message}`}`, { cause: lastError ?? err });
  } finally {
    client.off('error', remember);
  }
  client.on('error', () => undefined);
  return client;
}

/** Rejects with OperationalError(`what`) if `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OperationalError(`${what} (gave up after ${ms / 1000} s)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
