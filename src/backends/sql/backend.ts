/**
 * The database result backend (Celery's `db+` URLs) on SQLite, PostgreSQL and MySQL/MariaDB.
 *
 * Tables and columns are Celery's: `celery_taskmeta` (id, task_id, status, result, date_done,
 * traceback, name, args, kwargs, worker, retries, queue) and `celery_tasksetmeta` (id,
 * taskset_id, result, date_done), created on first use. Values are JSON text (Celery pickles
 * them, so a table shared with Python Celery needs separate table names there). One extra
 * column, `meta`, keeps what Celery's table has no column for (children, parent and group ids).
 *
 * `get()` polls (there is no notification channel), starting at 50 ms and backing off to 1 s.
 * `result_expires` plus the built-in `celery.backend_cleanup` task delete old rows. On MySQL the
 * backend's connections use READ COMMITTED, as the Celery guide advises, so a poller sees a
 * result as soon as it is committed.
 */
import { sqlitePath } from '../../broker/sqlite/store.js';
import { OperationalError, TimeoutError } from '../../errors/index.js';
import { fromJson, toJson } from '../../protocol/json.js';
import { TickBatcher } from '../../utils/batch.js';
import { parseIso, toPythonIso } from '../../utils/time.js';
import { pendingMeta, pollUntilReady } from '../base.js';
import type { BackendOptions, GroupMeta, ResultBackend, TaskMeta, WaitOptions } from '../port.js';
import { openSqlDriver, parseDatabaseUrl, type Dialect, type SqlDriver } from './drivers.js';

const COLUMNS = ['task_id', 'status', 'result', 'date_done', 'traceback', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'meta'] as const;
/** Columns updated on conflict; `status` last, since MySQL evaluates assignments in order. */
const UPDATED = COLUMNS.filter((c) => c !== 'task_id' && c !== 'status');

function schema(dialect: Dialect): string[] {
  const id = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : dialect === 'postgresql' ? 'SERIAL PRIMARY KEY' : 'INTEGER AUTO_INCREMENT PRIMARY KEY';
  const text = dialect === 'mysql' ? 'LONGTEXT' : 'TEXT';
  const time = dialect === 'postgresql' ? 'TIMESTAMP' : dialect === 'mysql' ? 'DATETIME(6)' : 'TEXT';
  return [
    `CREATE TABLE IF NOT EXISTS celery_taskmeta (
      id ${id}, task_id VARCHAR(155) UNIQUE, status VARCHAR(50), result ${text}, date_done ${time}, traceback ${text},
      name VARCHAR(155), args ${text}, kwargs ${text}, worker VARCHAR(155), retries INTEGER, queue VARCHAR(155), meta ${text})`,
    `CREATE TABLE IF NOT EXISTS celery_tasksetmeta (id ${id}, taskset_id VARCHAR(155) UNIQUE, result ${text}, date_done ${time})`,
  ];
}

function upsertTask(dialect: Dialect): string {
  const insert = `INSERT INTO celery_taskmeta (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
  if (dialect === 'mysql') {
    const keep = "status = 'SUCCESS' AND VALUES(status) <> 'SUCCESS'";
    const sets = [...UPDATED, 'status'].map((c) => `${c} = IF(${keep}, ${c}, VALUES(${c}))`);
    return `${insert} ON DUPLICATE KEY UPDATE ${sets.join(', ')}`;
  }
  const sets = [...UPDATED, 'status'].map((c) => `${c} = excluded.${c}`);
  return `${insert} ON CONFLICT (task_id) DO UPDATE SET ${sets.join(', ')}
    WHERE celery_taskmeta.status <> 'SUCCESS' OR excluded.status = 'SUCCESS'`;
}

function upsertGroup(dialect: Dialect): string {
  const insert = 'INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES (?, ?, ?)';
  if (dialect === 'mysql') return `${insert} ON DUPLICATE KEY UPDATE result = VALUES(result), date_done = VALUES(date_done)`;
  return `${insert} ON CONFLICT (taskset_id) DO UPDATE SET result = excluded.result, date_done = excluded.date_done`;
}

interface TaskRow {
  task_id: string;
  status: string;
  result: string | null;
  date_done: Date | string | null;
  traceback: string | null;
  name: string | null;
  args: string | null;
  kwargs: string | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
  meta: string | null;
}

/** The fields of a record that have no column of their own. */
const OWN_FIELDS = new Set(['status', 'result', 'traceback', 'date_done', 'task_id', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue']);

/** The database result backend. */
export class SqlBackend implements ResultBackend {
  readonly driver: string;
  private sql: SqlDriver | undefined;
  private connecting: Promise<SqlDriver> | undefined;
  private readonly dialect: Dialect;
  /** The dialect's upsert statements, built once. */
  private readonly upsertTaskSql: string;
  private readonly upsertGroupSql: string;

  constructor(private readonly options: BackendOptions) {
    this.dialect = parseDatabaseUrl(options.url).dialect;
    this.driver = `database (${this.dialect})`;
    this.upsertTaskSql = upsertTask(this.dialect);
    this.upsertGroupSql = upsertGroup(this.dialect);
  }

  /** Connects and creates the tables if they are missing. */
  async connect(): Promise<void> {
    await this.db();
  }

  private db(): Promise<SqlDriver> {
    if (this.sql) return Promise.resolve(this.sql);
    this.connecting ??= (async () => {
      const driver = await openSqlDriver(this.options.url);
      try {
        for (const ddl of schema(driver.dialect)) {
          await this.createTable(driver, ddl);
        }
      } catch (err) {
        await driver.close().catch(() => undefined);
        throw new OperationalError(`database result backend: ${(err as Error).message}`, { cause: err });
      }
      this.sql = driver;
      return driver;
    })();
    this.connecting.catch(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** CREATE TABLE IF NOT EXISTS, tolerating another process creating it at the same moment. */
  private async createTable(driver: SqlDriver, ddl: string): Promise<void> {
    try {
      await driver.execute(ddl);
    } catch (err) {
      if (!/already exists|duplicate key/i.test((err as Error).message)) throw err;
    }
  }

  async close(): Promise<void> {
    await this.rows.flush().catch(() => undefined);
    const sql = this.sql;
    this.sql = undefined;
    this.connecting = undefined;
    await sql?.close();
  }

  private time(date: Date): Date | string {
    return this.dialect === 'sqlite' ? date.toISOString() : date;
  }

  async storeResult(meta: TaskMeta): Promise<void> {
    const db = await this.db();
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta)) if (!OWN_FIELDS.has(k) && v !== undefined) extra[k] = v;
    const done = meta.date_done ? parseIso(meta.date_done) : new Date();
    const row = [
      meta.task_id,
      meta.status,
      toJson(meta.result ?? null),
      this.time(done),
      meta.traceback ?? null,
      meta.name ?? null,
      meta.args === undefined ? null : toJson(meta.args),
      meta.kwargs === undefined ? null : toJson(meta.kwargs),
      meta.worker ?? null,
      meta.retries ?? null,
      meta.queue ?? null,
      toJson(extra),
    ];
    if (db.executeMany) await this.rows.add(row);
    else await db.execute(this.upsertTaskSql, row);
  }

  /** Records of tasks finishing in the same turn, written in one transaction (SQLite). */
  private readonly rows = new TickBatcher<unknown[]>(async (rows) => {
    const db = await this.db();
    await db.executeMany!(this.upsertTaskSql, rows);
  });

  async getTaskMeta(taskId: string): Promise<TaskMeta> {
    const db = await this.db();
    const [row] = await db.query<TaskRow>(`SELECT ${COLUMNS.join(', ')} FROM celery_taskmeta WHERE task_id = ?`, [taskId]);
    if (!row) return pendingMeta(taskId);
    const extra = row.meta ? (fromJson(row.meta) as Record<string, unknown>) : {};
    const meta: TaskMeta = {
      status: row.status,
      result: row.result === null ? null : fromJson(row.result),
      traceback: row.traceback,
      children: [],
      date_done: row.date_done === null ? null : toPythonIso(new Date(row.date_done), false),
      task_id: row.task_id,
      ...extra,
    };
    if (row.name !== null) meta.name = row.name;
    if (row.args !== null) meta.args = fromJson(row.args);
    if (row.kwargs !== null) meta.kwargs = fromJson(row.kwargs);
    if (row.worker !== null) meta.worker = row.worker;
    if (row.retries !== null) meta.retries = row.retries;
    if (row.queue !== null) meta.queue = row.queue;
    return meta;
  }

  async waitFor(taskId: string, options?: WaitOptions): Promise<TaskMeta> {
    try {
      return await pollUntilReady((id) => this.getTaskMeta(id), taskId, options);
    } catch (err) {
      // A relative SQLite path depends on the working directory: a client started elsewhere than
      // the worker reads another file and waits for nothing. Say which file was read.
      if (!(err instanceof TimeoutError) || this.dialect !== 'sqlite') throw err;
      throw new TimeoutError(`${err.message}, reading the SQLite file ${sqlitePath(this.options.url)} (the worker must write the same file)`, { cause: err });
    }
  }

  async forget(taskId: string): Promise<void> {
    await (await this.db()).execute('DELETE FROM celery_taskmeta WHERE task_id = ?', [taskId]);
  }

  async saveGroup(groupId: string, meta: GroupMeta): Promise<void> {
    await (await this.db()).execute(this.upsertGroupSql, [groupId, toJson(meta.result), this.time(new Date())]);
  }

  async restoreGroup(groupId: string): Promise<GroupMeta | null> {
    const rows = await (await this.db()).query<{ result: string; date_done: Date | string | null }>(
      'SELECT result, date_done FROM celery_tasksetmeta WHERE taskset_id = ?',
      [groupId],
    );
    const row = rows[0];
    if (!row) return null;
    return { result: fromJson(row.result), date_done: row.date_done === null ? null : toPythonIso(new Date(row.date_done), false) };
  }

  async deleteGroup(groupId: string): Promise<void> {
    await (await this.db()).execute('DELETE FROM celery_tasksetmeta WHERE taskset_id = ?', [groupId]);
  }

  /** Deletes records older than `result_expires` (the `celery.backend_cleanup` task). */
  async cleanup(): Promise<void> {
    if (this.options.expiresSeconds === null) return;
    const db = await this.db();
    const cutoff = this.time(new Date(Date.now() - this.options.expiresSeconds * 1000));
    await db.execute('DELETE FROM celery_taskmeta WHERE date_done < ?', [cutoff]);
    await db.execute('DELETE FROM celery_tasksetmeta WHERE date_done < ?', [cutoff]);
  }
}
