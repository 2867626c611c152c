/**
 * Optional packages: the broker and backend drivers (ioredis, amqplib, pg, mysql2, memjs) and tsx
 * are optional peer dependencies, loaded only when a URL or an app module needs them. A missing
 * one is an `ImproperlyConfigured` error naming the package and the command that installs it.
 */
import { ImproperlyConfigured } from '../errors/index.js';

/** Whether `err` says that `pkg` itself (not something it imports) could not be found. */
function isMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = err instanceof Error ? err.message : String(err);
  return message.includes(`'${pkg}'`) || message.includes(`'${pkg}/`) || message.includes(`"${pkg}"`);
}

/**
 * Runs `importer` (an `import()` of `pkg`); a missing package becomes
 * `ImproperlyConfigured("<user> needs <pkg>: npm install <pkg>")`, e.g. `redis:// needs ioredis:
 * npm install ioredis`. Other load failures are reported with their cause.
 */
export async function loadOptional<T>(pkg: string, user: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    if (isMissing(err, pkg)) throw new ImproperlyConfigured(`${user} needs ${pkg}: npm install ${pkg}`, { cause: err });
    throw new ImproperlyConfigured(`${user} could not load ${pkg}: ${(err as Error).message}`, { cause: err });
  }
}
