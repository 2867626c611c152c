/**
 * Service probes for tests that need a real server (Redis, RabbitMQ, PostgreSQL, MariaDB,
 * memcached, Python Celery). A test asks {@link serviceSkip} before it starts: it gets a skip
 * reason when the service is unreachable, or `false` to run. Under `CELERIAC_REQUIRE_SERVICES=1`
 * (CI) an unreachable service is never skipped: the test runs and fails on the connection error.
 */
import { createConnection, createServer, type AddressInfo } from 'node:net';

/** True when CI demands every service (`CELERIAC_REQUIRE_SERVICES=1`). */
export const servicesRequired = process.env['CELERIAC_REQUIRE_SERVICES'] === '1';

/** Resolves true when a TCP connection to `host:port` opens within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A loopback port nothing listens on now (the OS picks it), for a server a test starts itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Well-known loopback services of the development and CI machines. */
export const SERVICES = {
  redis: { host: '127.0.0.1', port: 6379 },
  rabbitmq: { host: '127.0.0.1', port: 5672 },
  postgres: { host: '127.0.0.1', port: 5432 },
  mysql: { host: '127.0.0.1', port: 3306 },
  memcached: { host: '127.0.0.1', port: 11211 },
} as const;

const cache = new Map<string, Promise<string | false>>();

/**
 * The `skip` option for a test needing `service`: a message naming the service and address when
 * it is unreachable, `false` when it answers or when CI requires services.
 *
 * @example
 * test('redis round trip', { skip: await serviceSkip('redis') }, async () => { ... });
 */
export function serviceSkip(service: keyof typeof SERVICES): Promise<string | false> {
  let probe = cache.get(service);
  if (!probe) {
    const { host, port } = SERVICES[service];
    probe = tcpReachable(host, port).then((ok) => {
      if (ok || servicesRequired) return false;
      return `${service} unreachable at ${host}:${port}; start it (see shared/SERVICES.md) or set CELERIAC_REQUIRE_SERVICES=1 to fail instead`;
    });
    cache.set(service, probe);
  }
  return probe;
}
