/**
 * The three SQL connections the database backend runs on, behind one small interface: SQLite
 * (better-sqlite3, same file conventions as the SQLite broker), PostgreSQL (pg) and MySQL /
 * MariaDB (mysql2). Each client library loads only when its URL is used.
 *
 * URLs are Celery's: `db+sqlite:///results.db`, `db+postgresql://user:pass@host:5432/db`,
 * `db+mysql://user:pass@host:3306/db` (a `+driver` suffix such as `+psycopg2` or `+pymysql` is
 * accepted and ignored).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { redactUrl } from '../../broker/registry.js';
import { openDatabase, sqlitePath } from '../../broker/sqlite/store.js';
import { ImproperlyConfigured, OperationalError } from '../../errors/index.js';
import { loadOptional } from '../../utils/optional.js';

/** The SQL flavours. */
export type Dialect = 'sqlite' | 'postgresql' | 'mysql';

/** A connection (pool) to one database. SQL uses `?` placeholders in every dialect. */
export interface SqlDriver {
  readonly dialect: Dialect;
  /** Rows of a query. */
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement; resolves with the number of affected rows. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs one statement for each parameter list, in one transaction, where that is what makes
   * writes cheap (SQLite: one commit instead of one per row). Drivers without it take `execute`.
   */
  executeMany?(sql: string, paramLists: ReadonlyArray<readonly unknown[]>): Promise<void>;
  close(): Promise<void>;
}

/** The dialect and client URL of a `db+...` URL. */
export function parseDatabaseUrl(url: string): { dialect: Dialect; clientUrl: string } {
  const m = /^db\+([a-z0-9]+)(?:\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(url);
  if (!m) throw new ImproperlyConfigured(`bad database result backend URL '${redactUrl(url)}': expected db+<dialect>://...`);
  const name = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (name === 'sqlite') return { dialect: 'sqlite', clientUrl: `sqlite://${rest}` };
  if (name === 'postgresql' || name === 'postgres') return { dialect: 'postgresql', clientUrl: `postgresql://${rest}` };
  if (name === 'mysql' || name === 'mariadb') return { dialect: 'mysql', clientUrl: `mysql://${rest}` };
  throw new ImproperlyConfigured(`unsupported database '${name}' in '${redactUrl(url)}' (supported: sqlite, postgresql, mysql)`);
}

async function sqliteDriver(clientUrl: string): Promise<SqlDriver> {
  const db = await openDatabase(sqlitePath(clientUrl));
  // The backend runs a handful of fixed statements: each is compiled once.
  const statements = new Map<string, BetterSqlite3.Statement<unknown[]>>();
  const prepared = (sql: string): BetterSqlite3.Statement<unknown[]> => {
    let stmt = statements.get(sql);
    if (!stmt) statements.set(sql, (stmt = db.prepare<unknown[]>(sql)));
    return stmt;
  };
  return {
    dialect: 'sqlite',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      return prepared(sql).all(...params) as T[];
    },
    async execute(sql: string, params: readonly unknown[] = []) {
      return prepared(sql).run(...params).changes;
    },
    async executeMany(sql: string, paramLists: ReadonlyArray<readonly unknown[]>) {
      const stmt = prepared(sql);
      db.transaction(() => {
        for (const params of paramLists) stmt.run(...params);
      })();
    },
    async close() {
      db.close();
    },
  };
}

/** `?` placeholders as PostgreSQL's `$1, $2, ...`. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

async function postgresDriver(clientUrl: string): Promise<SqlDriver> {
  const pg = await loadOptional('pg', 'db+postgresql://', async () => (await import('pg')).default);
  const pool = new pg.Pool({ connectionString: clientUrl, max: 4 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return {
    dialect: 'postgresql',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      return (await pool.query(numberedPlaceholders(sql), [...params])).rows as T[];
    },
    async execute(sql: string, params: readonly unknown[] = []) {
      return (await pool.query(numberedPlaceholders(sql), [...params])).rowCount ?? 0;
    },
    async close() {
      await pool.end();
    },
  };
}

async function mysqlDriver(clientUrl: string): Promise<SqlDriver> {
  const mysql = await loadOptional('mysql2', 'db+mysql://', () => import('mysql2/promise'));
  const pool = mysql.createPool({ uri: clientUrl, connectionLimit: 4, dateStrings: false, timezone: 'Z' });
  // Celery's advice for MySQL: READ COMMITTED, so a poller sees a result committed after its
  // first read (REPEATABLE READ would keep showing it the old snapshot inside a transaction).
  pool.pool.on('connection', (conn) => {
    conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    conn.query("SET time_zone = '+00:00'");
  });
  return {
    dialect: 'mysql',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const [rows] = await pool.query(sql, [...params]);
      return rows as T[];
    },
    async execute(sql: string, params: readonly unknown[] = []) {
      const [res] = await pool.query(sql, [...params]);
      return (res as { affectedRows?: number }).affectedRows ?? 0;
    },
    async close() {
      await pool.end();
    },
  };
}

/** Opens the driver for a `db+...` URL; unreachable servers fail with OperationalError on first use. */
export async function openSqlDriver(url: string): Promise<SqlDriver> {
  const { dialect, clientUrl } = parseDatabaseUrl(url);
  try {
    if (dialect === 'sqlite') return await sqliteDriver(clientUrl);
    if (dialect === 'postgresql') return await postgresDriver(clientUrl);
    return await mysqlDriver(clientUrl);
  } catch (err) {
    if (err instanceof ImproperlyConfigured || err instanceof OperationalError) throw err;
    throw new OperationalError(`cannot open database ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
}
