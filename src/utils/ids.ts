/** Identifiers and host names as Celery forms them. */
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';

/** A new task / group / client id (UUID v4, as Celery's `uuid()`). */
export function uuid(): string {
  return randomUUID();
}

/** The machine's host name. */
export function hostname(): string {
  return osHostname();
}

/** A process's origin tag as Celery puts it in the `origin` header: `gen<pid>@<host>`. */
export function originTag(): string {
  return `gen${process.pid}@${hostname()}`;
}

/**
 * Expands Celery's node-name placeholders: `%h` (host name), `%n` (name part), `%d` (domain),
 * `%i` (pool process index, always 0 here), `%%`.
 */
export function expandNodeName(name: string): string {
  const host = hostname();
  const [short = host, ...domain] = host.split('.');
  const expanded = name.replace(/%([hndi%])/g, (_m, c: string) =>
    c === 'h' ? host : c === 'n' ? short : c === 'd' ? domain.join('.') : c === 'i' ? '0' : '%',
  );
  return expanded.includes('@') ? expanded : `${expanded}@${host}`;
}
