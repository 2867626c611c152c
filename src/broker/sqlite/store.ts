/**
 * The SQLite broker's tables and statements. One file holds every queue; any number of processes
 * may open it at once (WAL mode, a busy timeout for the short write locks).
 *
 * - `celeriac_messages`: one row per message in one queue. A ready message has `reserved_by`
 *   NULL; a reserved one names its consumer and `visible_at` (epoch ms) is when its lease runs
 *   out. Reserving is one `UPDATE ... RETURNING` statement, atomic under SQLite's write lock, so a
 *   message goes to exactly one consumer. Ack deletes the row, only while the acking consumer
 *   still holds it.
 * - `celeriac_bindings`: exchange bindings, shared by every process (kombu's `_kombu.binding.*`).
 * - `celeriac_queues`: flags of queues that have any (auto-delete, message TTL, `x-expires` with
 *   the time the queue was last used: the pidbox queues of workers and clients that died without
 *   closing are removed that way, as RabbitMQ removes them).
 *
 * URL paths follow SQLAlchemy (as Celery users know them): `sqlite:///relative.db`,
 * `sqlite:////absolute/path.db`; `sqlite://` alone is `celeriac.sqlite` in the working directory.
 */
import { resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ImproperlyConfigured, OperationalError } from '../../errors/index.js';
import type { TransportMessage } from '../../protocol/message.js';
import type { ExchangeType, Route } from '../port.js';
import { matchBindings, type Binding } from '../virtual/exchange.js';
import { loadOptional } from '../../utils/optional.js';

/** The file used by `sqlite://` with no path. */
export const DEFAULT_SQLITE_FILE = 'celeriac.sqlite';

/** The database file a `sqlite://` (or `db+sqlite://`) URL names, resolved against the cwd. */
export function sqlitePath(url: string): string {
  const m = /^(?:db\+)?sqlite:\/\/(.*)$/i.exec(url);
  if (!m) throw new ImproperlyConfigured(`not a sqlite URL: '${url}' (expected sqlite:///relative.db or sqlite:////absolute.db)`);
  const rest = m[1]!.split('?')[0]!;
  if (rest === '' || rest === '/') return resolve(DEFAULT_SQLITE_FILE);
  if (!rest.startsWith('/')) {
    throw new ImproperlyConfigured(`bad sqlite URL '${url}': the path comes after a third slash, sqlite:///${rest}`);
  }
  return resolve(rest.slice(1));
}

/** Opens a database file with the settings every celeriac connection uses. */
export async function openDatabase(path: string, busyTimeoutMs = 10_000): Promise<BetterSqlite3.Database> {
  const Database: typeof BetterSqlite3 = (await loadOptional('better-sqlite3', 'sqlite://', () => import('better-sqlite3'))).default;
  try {
    const db = new Database(path, { timeout: busyTimeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    return db;
  } catch (err) {
    throw new OperationalError(`cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** A reserved row. */
export interface MessageRow {
  id: number;
  queue: string;
  priority: number;
  /** Null when larger than the reserve's `maxBody` (see body_size). */
  body: Buffer | null;
  body_size: number;
  content_type: string;
  content_encoding: string;
  headers: string;
  properties: string;
  exchange: string;
  routing_key: string;
  redelivered: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS celeriac_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  body BLOB NOT NULL,
  content_type TEXT NOT NULL,
  content_encoding TEXT NOT NULL,
  headers TEXT NOT NULL,
  properties TEXT NOT NULL,
  exchange TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  redelivered INTEGER NOT NULL DEFAULT 0,
  reserved_by TEXT,
  visible_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS celeriac_messages_ready ON celeriac_messages (queue, reserved_by, priority DESC, id);
CREATE INDEX IF NOT EXISTS celeriac_messages_leases ON celeriac_messages (reserved_by, visible_at);
CREATE TABLE IF NOT EXISTS celeriac_exchanges (name TEXT PRIMARY KEY, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS celeriac_queues (name TEXT PRIMARY KEY, auto_delete INTEGER NOT NULL DEFAULT 0, message_ttl INTEGER, expires_ms INTEGER, last_used INTEGER);
CREATE TABLE IF NOT EXISTS celeriac_bindings (
  exchange TEXT NOT NULL,
  queue TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  PRIMARY KEY (exchange, queue, routing_key)
);
`;

/** What happens to a held message when its consumer is done with it (`drop` deletes it, as an ack). */
export interface Settlement {
  id: number;
  consumer: string;
  how: 'ack' | 'requeue' | 'drop' | 'park';
}

/** The broker's statements on one connection. */
export class SqliteStore {
  private readonly insert: BetterSqlite3.Statement;
  private readonly ackStmt: BetterSqlite3.Statement;
  private readonly requeueStmt: BetterSqlite3.Statement;
  private readonly releaseAll: BetterSqlite3.Statement;
  private readonly restoreStmt: BetterSqlite3.Statement;
  private readonly addQueue: BetterSqlite3.Statement;
  private readonly expireStmt: BetterSqlite3.Statement;
  private readonly isAutoDelete: BetterSqlite3.Statement;
  private readonly dropQueue: (name: string) => void;
  private readonly touchStmt: BetterSqlite3.Statement;
  private readonly expireQueuesInOneCommit: (now: number) => string[];
  private readonly sizeStmt: BetterSqlite3.Statement;
  private readonly purgeStmt: BetterSqlite3.Statement;
  private readonly exchangeType: BetterSqlite3.Statement;
  private readonly bindingsOf: BetterSqlite3.Statement;
  private readonly addExchange: BetterSqlite3.Statement;
  private readonly addBinding: BetterSqlite3.Statement;
  private readonly parkStmt: BetterSqlite3.Statement;
  private readonly settleInOneCommit: (items: readonly Settlement[]) => void;
  private readonly reserveStmts = new Map<string, BetterSqlite3.Statement>();
  private readonly publishMany: (rows: Array<[string, number, TransportMessage, Route]>) => void;

  constructor(readonly db: BetterSqlite3.Database) {
    db.exec(SCHEMA);
    // Files created before message TTLs existed get the column now.
    const columns = db.prepare('PRAGMA table_info(celeriac_messages)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'published_at')) db.exec('ALTER TABLE celeriac_messages ADD COLUMN published_at INTEGER NOT NULL DEFAULT 0');
    // ... and files created before queue expiry (x-expires) existed get its columns.
    const queueColumns = db.prepare('PRAGMA table_info(celeriac_queues)').all() as Array<{ name: string }>;
    if (!queueColumns.some((c) => c.name === 'expires_ms')) db.exec('ALTER TABLE celeriac_queues ADD COLUMN expires_ms INTEGER; ALTER TABLE celeriac_queues ADD COLUMN last_used INTEGER');
    this.insert = db.prepare(
      `INSERT INTO celeriac_messages (queue, priority, body, content_type, content_encoding, headers, properties, exchange, routing_key, published_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.addQueue = db.prepare('INSERT OR REPLACE INTO celeriac_queues (name, auto_delete, message_ttl, expires_ms, last_used) VALUES (?, ?, ?, ?, ?)');
    this.touchStmt = db.prepare('UPDATE celeriac_queues SET last_used = ? WHERE name = ?');
    const unused = db.prepare('SELECT name FROM celeriac_queues WHERE expires_ms IS NOT NULL AND last_used IS NOT NULL AND last_used < ? - expires_ms');
    this.expireQueuesInOneCommit = db.transaction((now: number): string[] => {
      const names = (unused.all(now) as Array<{ name: string }>).map((r) => r.name);
      for (const name of names) this.dropQueue(name);
      return names;
    });
    this.expireStmt = db.prepare(
      `DELETE FROM celeriac_messages WHERE reserved_by IS NULL
       AND published_at < ? - (SELECT message_ttl FROM celeriac_queues q WHERE q.name = celeriac_messages.queue)`,
    );
    this.dropQueue = db.transaction((name: string) => {
      db.prepare('DELETE FROM celeriac_bindings WHERE queue = ?').run(name);
      db.prepare('DELETE FROM celeriac_messages WHERE queue = ?').run(name);
      db.prepare('DELETE FROM celeriac_queues WHERE name = ?').run(name);
    });
    this.isAutoDelete = db.prepare('SELECT auto_delete FROM celeriac_queues WHERE name = ?');
    this.ackStmt = db.prepare('DELETE FROM celeriac_messages WHERE id = ? AND reserved_by = ?');
    this.requeueStmt = db.prepare(
      'UPDATE celeriac_messages SET reserved_by = NULL, visible_at = 0, redelivered = 1 WHERE id = ? AND reserved_by = ?',
    );
    this.parkStmt = db.prepare(
      "UPDATE celeriac_messages SET queue = 'celeriac.undecodable', reserved_by = NULL, visible_at = 0 WHERE id = ? AND reserved_by = ?",
    );
    this.settleInOneCommit = db.transaction((items: readonly Settlement[]) => {
      for (const { id, consumer, how } of items) {
        if (how === 'requeue') this.requeue(id, consumer);
        else if (how === 'park') this.park(id, consumer);
        else this.ack(id, consumer);
      }
    });
    this.releaseAll = db.prepare('UPDATE celeriac_messages SET reserved_by = NULL, visible_at = 0, redelivered = 1 WHERE reserved_by = ?');
    this.restoreStmt = db.prepare(
      'UPDATE celeriac_messages SET reserved_by = NULL, visible_at = 0, redelivered = 1 WHERE reserved_by IS NOT NULL AND visible_at < ?',
    );
    this.sizeStmt = db.prepare('SELECT count(*) AS n FROM celeriac_messages WHERE queue = ? AND reserved_by IS NULL');
    this.purgeStmt = db.prepare('DELETE FROM celeriac_messages WHERE queue = ? AND reserved_by IS NULL');
    this.exchangeType = db.prepare('SELECT type FROM celeriac_exchanges WHERE name = ?');
    this.bindingsOf = db.prepare('SELECT queue, routing_key AS routingKey FROM celeriac_bindings WHERE exchange = ?');
    this.addExchange = db.prepare('INSERT OR IGNORE INTO celeriac_exchanges (name, type) VALUES (?, ?)');
    this.addBinding = db.prepare('INSERT OR IGNORE INTO celeriac_bindings (exchange, queue, routing_key) VALUES (?, ?, ?)');
    this.publishMany = db.transaction((rows: Array<[string, number, TransportMessage, Route]>) => {
      for (const [queue, priority, m, route] of rows) {
        this.insert.run(
          queue,
          priority,
          m.body,
          m.contentType,
          m.contentEncoding,
          JSON.stringify(m.headers),
          JSON.stringify(m.properties),
          route.exchange,
          route.routingKey,
          Date.now(),
        );
      }
    });
  }

  declareExchange(name: string, type: ExchangeType): void {
    if (name !== '') this.addExchange.run(name, type);
  }

  bind(exchange: string, type: ExchangeType, queue: string, routingKey: string): void {
    if (exchange === '') return;
    this.addExchange.run(exchange, type);
    this.addBinding.run(exchange, queue, routingKey);
  }

  /** The queues a route delivers to (see ExchangeTable.lookup for the rules). */
  lookup(route: Route): string[] {
    if (route.exchange === '') return [route.routingKey];
    const ex = this.exchangeType.get(route.exchange) as { type: ExchangeType } | undefined;
    if (!ex) return [route.routingKey];
    const bindings = this.bindingsOf.all(route.exchange) as Binding[];
    return matchBindings(ex.type, bindings, route.routingKey);
  }

  /** Stores a message in every queue its route leads to, in one transaction. */
  publish(message: TransportMessage, route: Route, priority: number): void {
    const queues = this.lookup(route);
    this.publishMany(queues.map((q) => [q, priority, message, route]));
  }

  /** Reserves up to `limit` ready messages of `queues` for `consumer`, best first. */
  reserve(queues: readonly string[], consumer: string, limit: number, leaseUntil: number, maxBody = Number.MAX_SAFE_INTEGER): MessageRow[] {
    const key = `${queues.length}`;
    let stmt = this.reserveStmts.get(key);
    if (!stmt) {
      const marks = queues.map(() => '?').join(', ');
      stmt = this.db.prepare(
        `UPDATE celeriac_messages SET reserved_by = ?, visible_at = ?
         WHERE id IN (SELECT id FROM celeriac_messages WHERE queue IN (${marks}) AND reserved_by IS NULL
                      ORDER BY priority DESC, id LIMIT ?)
         RETURNING id, queue, priority, CASE WHEN length(body) > ? THEN NULL ELSE body END AS body, length(body) AS body_size,
                   content_type, content_encoding, headers, properties, exchange, routing_key, redelivered`,
      );
      this.reserveStmts.set(key, stmt);
    }
    // A body over the limit is never read out of the file: the consumer rejects it by its size.
    const rows = stmt.all(consumer, leaseUntil, ...queues, limit, maxBody) as MessageRow[];
    return rows.sort((a, b) => b.priority - a.priority || a.id - b.id);
  }

  /** Deletes a message the consumer holds; false if it no longer holds it. */
  ack(id: number, consumer: string): boolean {
    return this.ackStmt.run(id, consumer).changes > 0;
  }

  /** Acks, requeues or parks many held messages in one transaction (one commit). */
  settleMany(items: readonly Settlement[]): void {
    this.settleInOneCommit(items);
  }

  /** Makes a held message ready again, marked redelivered. */
  requeue(id: number, consumer: string): boolean {
    return this.requeueStmt.run(id, consumer).changes > 0;
  }

  /** Moves a held message nobody can read to the `celeriac.undecodable` queue, for inspection. */
  park(id: number, consumer: string): boolean {
    return this.parkStmt.run(id, consumer).changes > 0;
  }

  /** Makes every message a consumer holds ready again. */
  release(consumer: string): number {
    return this.releaseAll.run(consumer).changes;
  }

  /**
   * Remembers a queue's flags: auto-delete, a message TTL (ms) from `x-message-ttl`, and an expiry
   * (ms) from `x-expires`: the queue is deleted once unused that long (declaring it is a use).
   */
  declareQueue(name: string, autoDelete: boolean, messageTtlMs: number | null, expiresMs: number | null = null, now = Date.now()): void {
    this.addQueue.run(name, autoDelete ? 1 : 0, messageTtlMs, expiresMs, expiresMs === null ? null : now);
  }

  /** Marks a queue with an expiry as in use now; false when it is not there (it expired). */
  touchQueue(name: string, now: number): boolean {
    return this.touchStmt.run(now, name).changes > 0;
  }

  /** Deletes the queues (bindings and messages too) unused for longer than their `x-expires`; returns their names. */
  expireQueues(now: number): string[] {
    return this.expireQueuesInOneCommit(now);
  }

  /** Deletes ready messages older than their queue's TTL; returns how many. */
  expireMessages(now: number): number {
    return this.expireStmt.run(now).changes;
  }

  /** Removes an auto-delete queue (bindings and messages) once its consumer is gone. */
  dropIfAutoDelete(name: string): boolean {
    const row = this.isAutoDelete.get(name) as { auto_delete: number } | undefined;
    if (!row || row.auto_delete !== 1) return false;
    this.dropQueue(name);
    return true;
  }

  /** Makes messages whose lease ran out before `now` ready again; returns how many. */
  restoreExpired(now: number): number {
    return this.restoreStmt.run(now).changes;
  }

  size(queue: string): number {
    return (this.sizeStmt.get(queue) as { n: number }).n;
  }

  purge(queue: string): number {
    return this.purgeStmt.run(queue).changes;
  }

  /** Changes whenever another connection commits (cheap change detection for polling). */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }
}
