/**
 * Redis connections: the settings a URL gives, and side connections for one command at a time.
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
import type { Redis as RedisClient } from 'ioredis';
import { ImproperlyConfigured } from '../../errors/index.js';
import { redactUrl } from '../registry.js';

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
