/**
 * The database result backend (Celery's `db+` URLs) on SQLite, PostgreSQL and MySQL/MariaDB,
 * sharing Celery's tables with Python Celery in either creation order.
 *
 * Tables: Celery's `celery_taskmeta` and `celery_tasksetmeta`, named and placed by the settings
 * `databaseTableNames` / `databaseTableSchemas` (Celery's `database_table_names` /
 * `database_table_schemas`). Missing ones are created exactly as Celery's SQLAlchemy models create
 * them (the extended task table, its sequences on PostgreSQL and MariaDB; see ./schema.ts). Tables someone
 * else made are read as they are: a task table without the extended columns gets no name, args,
 * ... written.
 *
 * Values are Celery's: `result` is a pickle (src/protocol/pickle; the reader builds data only and
 * refuses anything else), `args`/`kwargs` JSON bytes, `date_done` a naive UTC time. A group's
 * `result` is a pickled `celery.result.GroupResult`, which Python's `GroupResult.restore` returns.
 * Celery's tables have no columns for children, parent and group ids: they are not kept, as in
 * Celery's database backend.
 *
 * MySQL: Celery's `result`, `args` and `kwargs` columns are `BLOB`, which hold 65535 bytes. A
 * larger value is refused with an OperationalError naming the fix, which both sides accept:
 * `ALTER TABLE celery_taskmeta MODIFY result LONGBLOB` (the limit is read from the table, so a
 * widened column is used in full).
 *
 * Tables made by celeriac before 0.2 (JSON text columns, a `meta` column) keep working in their own
 * layout, with a warning: Python Celery cannot read them. To share results with Python, drop or
 * rename them and let either side create Celery's.
 *
 * `get()` polls (there is no notification channel), starting at 50 ms and backing off to 1 s.
 * `result_expires` plus the built-in `celery.backend_cleanup` task delete old rows. On MySQL the
 * backend's connections use READ COMMITTED, as the Celery guide advises, so a poller sees a
 * result as soon as it is committed.
 */
import { sqlitePath } from '../../broker/sqlite/store.js';
import { DecodeError, OperationalError, TimeoutError } from '../../errors/index.js';
import { fromJson, toJson } from '../../protocol/json.js';
import { PyCall, pickle } from '../../protocol/pickle/pickle.js';
import { unpickle } from '../../protocol/pickle/unpickle.js';
import { TickBatcher } from '../../utils/batch.js';
import { parseIso, toPythonIso } from '../../utils/time.js';
import { pendingMeta, pollUntilReady } from '../base.js';
import type { BackendOptions, GroupMeta, ResultBackend, TaskMeta, WaitOptions } from '../port.js';
import { openSqlDriver, parseDatabaseUrl, type Dialect, type SqlDriver } from './drivers.js';
import { EXTENDED_COLUMNS, createStatements, dateAsText, inspect, nextId, sqlTime, tables, usesSequences, type Layout, type Table, type TableRole } from './schema.js';

/** The fields of a record that have no column of their own (kept in a legacy table's `meta`). */
const OWN_FIELDS = new Set(['status', 'result', 'traceback', 'date_done', 'task_id', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue']);

/** An upsert that never lets a later state overwrite SUCCESS; `status` is set last (MySQL evaluates in order). */
function upsertTask(dialect: Dialect, table: Table, id: string | null, columns: readonly string[]): string {
  const insert = `INSERT INTO ${table.sql} (${id ? 'id, ' : ''}${columns.join(', ')}) VALUES (${id ? `${id}, ` : ''}${columns.map(() => '?').join(', ')})`;
  const updated = [...columns.filter((c) => c !== 'task_id' && c !== 'status'), 'status'];
  if (dialect === 'mysql') {
    const keep = "status = 'SUCCESS' AND VALUES(status) <> 'SUCCESS'";
    return `${insert} ON DUPLICATE KEY UPDATE ${updated.map((c) => `${c} = IF(${keep}, ${c}, VALUES(${c}))`).join(', ')}`;
  }
  return `${insert} ON CONFLICT (task_id) DO UPDATE SET ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}
    WHERE ${table.name}.status <> 'SUCCESS' OR excluded.status = 'SUCCESS'`;
}

function upsertGroup(dialect: Dialect, table: Table, id: string | null): string {
  const insert = `INSERT INTO ${table.sql} (${id ? 'id, ' : ''}taskset_id, result, date_done) VALUES (${id ? `${id}, ` : ''}?, ?, ?)`;
  if (dialect === 'mysql') return `${insert} ON DUPLICATE KEY UPDATE result = VALUES(result), date_done = VALUES(date_done)`;
  return `${insert} ON CONFLICT (taskset_id) DO UPDATE SET result = excluded.result, date_done = excluded.date_done`;
}

/** Celery's tuple form of a result as the Python objects `GroupResult.restore` returns. */
function resultObject(tuple: unknown): PyCall {
  const [[id, parent], members] = tuple as [[string, unknown], unknown];
  const parentCall = parent ? resultObject(parent) : null;
  if (Array.isArray(members)) return new PyCall('celery.result', 'GroupResult', [id, members.map(resultObject), parentCall]);
  return new PyCall('celery.result', 'AsyncResult', [id, null, null, null, parentCall]);
}

/** A stored time as the ISO text of the naive UTC time (Python's `isoformat()` with six fraction digits). */
function isoDone(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return toPythonIso(value, false);
  const text = String(value).trim();
  // Microseconds kept exactly (a Date has milliseconds), always six digits as celeriac's other backends write.
  const plain = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/.exec(text);
  return plain ? `${plain[1]}T${plain[2]}.${(plain[3] ?? '').padEnd(6, '0')}` : toPythonIso(parseIso(text), false);
}

/** What connecting found: the tables, their layouts and the statements built for them. */
interface Prepared {
  db: SqlDriver;
  task: Table;
  group: Table;
  taskLayout: Layout;
  groupLayout: Layout;
  taskColumns: string[];
  upsertTask: string;
  selectTask: string;
  upsertGroup: string;
}

/** The database result backend. */
export class SqlBackend implements ResultBackend {
  readonly driver: string;
  private prepared: Prepared | undefined;
  private connecting: Promise<Prepared> | undefined;
  private readonly dialect: Dialect;

  constructor(private readonly options: BackendOptions) {
    this.dialect = parseDatabaseUrl(options.url).dialect;
    this.driver = `database (${this.dialect})`;
    // Validates the table settings now, not at first use.
    tables(options.tables);
  }

  /** Connects and creates the tables if they are missing. */
  async connect(): Promise<void> {
    await this.db();
  }

  private db(): Promise<Prepared> {
    if (this.prepared) return Promise.resolve(this.prepared);
    this.connecting ??= (async () => {
      const db = await openSqlDriver(this.options.url);
      try {
        const t = tables(this.options.tables);
        for (const ddl of createStatements(db.dialect, t, await usesSequences(db))) await this.createTable(db, ddl);
        this.prepared = this.prepare(db, t, await inspect(db, t.task), await inspect(db, t.group));
      } catch (err) {
        await db.close().catch(() => undefined);
        throw new OperationalError(`database result backend: ${(err as Error).message}`, { cause: err });
      }
      return this.prepared;
    })();
    this.connecting.catch(() => (this.connecting = undefined));
    return this.connecting;
  }

  private prepare(db: SqlDriver, t: Record<TableRole, Table>, taskLayout: Layout, groupLayout: Layout): Prepared {
    for (const [table, layout] of [[t.task, taskLayout], [t.group, groupLayout]] as const) {
      if (layout.legacy) {
        this.options.client?.logger.warn(
          `database result backend: ${table.sql} was made by an older celeriac (JSON text, a meta column); it keeps working, ` +
            "but Python Celery cannot read it: drop or rename it to share results with Python (both sides create Celery's tables)",
        );
      }
    }
    // Celery's ids come from its sequence where the id column has no default of its own.
    const idOf = (table: Table, layout: Layout): string | null => (layout.idNumbersItself ? null : nextId(db.dialect, table));
    const { task, group } = t;
    const base = ['task_id', 'status', 'result', 'date_done', 'traceback', ...EXTENDED_COLUMNS, 'meta'];
    const taskColumns = base.filter((c) => taskLayout.columns.has(c));
    const read = taskColumns.map((c) => (c === 'date_done' ? dateAsText(db.dialect) : c));
    return {
      db,
      task,
      group,
      taskLayout,
      groupLayout,
      taskColumns,
      upsertTask: upsertTask(db.dialect, task, idOf(task, taskLayout), taskColumns),
      selectTask: `SELECT ${read.join(', ')} FROM ${task.sql} WHERE task_id = ?`,
      upsertGroup: upsertGroup(db.dialect, group, idOf(group, groupLayout)),
    };
  }

  /** CREATE ... IF NOT EXISTS, tolerating another process creating it at the same moment. */
  private async createTable(driver: SqlDriver, ddl: string): Promise<void> {
    try {
      await driver.execute(ddl);
    } catch (err) {
      if (!/already exists|duplicate key/i.test((err as Error).message)) throw err;
    }
  }

  async close(): Promise<void> {
    await this.rows.flush().catch(() => undefined);
    const p = this.prepared;
    this.prepared = undefined;
    this.connecting = undefined;
    await p?.db.close();
  }

  /** A time as the table stores it: Celery's naive UTC text, or a legacy table's own form. */
  private time(layout: Layout, date: Date): Date | string {
    if (!layout.legacy) return sqlTime(date);
    return this.dialect === 'sqlite' ? date.toISOString() : date;
  }

  /** Bytes for a binary column, refused when the column cannot hold them (MySQL `BLOB`). */
  private blob(layout: Layout, table: Table, column: string, bytes: Buffer, what: string): Buffer {
    const max = layout.maxBytes[column];
    if (max !== undefined && bytes.length > max) {
      throw new OperationalError(
        `${what}: ${column} is ${bytes.length} bytes, more than the ${max} bytes ${table.sql}.${column} holds ` +
          `(Celery's MySQL schema uses BLOB); widen it, which Python Celery accepts too: ALTER TABLE ${table.sql} MODIFY ${column} LONGBLOB`,
      );
    }
    return bytes;
  }

  /** One value of the task row for `column`. */
  private cell(p: Prepared, meta: TaskMeta, column: string): unknown {
    const layout = p.taskLayout;
    const what = `result of task ${meta.task_id}`;
    switch (column) {
      case 'task_id':
        return meta.task_id;
      case 'status':
        return meta.status;
      case 'result':
        return layout.legacy ? toJson(meta.result ?? null) : this.blob(layout, p.task, 'result', pickle(meta.result ?? null), what);
      case 'date_done':
        return this.time(layout, meta.date_done ? parseIso(meta.date_done) : new Date());
      case 'traceback':
        return meta.traceback ?? null;
      case 'args':
      case 'kwargs': {
        const value = meta[column];
        if (value === undefined) return null;
        return layout.legacy ? toJson(value) : this.blob(layout, p.task, column, Buffer.from(toJson(value)), what);
      }
      case 'retries':
        return meta.retries ?? null;
      case 'meta': {
        const extra: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(meta)) if (!OWN_FIELDS.has(k) && v !== undefined) extra[k] = v;
        return toJson(extra);
      }
      default:
        return (meta as unknown as Record<string, unknown>)[column] ?? null;
    }
  }

  async storeResult(meta: TaskMeta): Promise<void> {
    const p = await this.db();
    const row = p.taskColumns.map((c) => this.cell(p, meta, c));
    if (p.db.executeMany) await this.rows.add(row);
    else await p.db.execute(p.upsertTask, row);
  }

  /** Records of tasks finishing in the same turn, written in one transaction (SQLite). */
  private readonly rows = new TickBatcher<unknown[]>(async (rows) => {
    const p = await this.db();
    await p.db.executeMany!(p.upsertTask, rows);
  });

  /** A stored value: a pickle (Celery's layout) or JSON text (a legacy table). */
  private decode(value: unknown, what: string): unknown {
    if (value === null || value === undefined) return null;
    try {
      if (typeof value === 'string') return fromJson(value);
      const bytes = value as Uint8Array;
      // args/kwargs are JSON bytes; a Python app with result_serializer 'pickle' writes pickles there.
      return bytes[0] === 0x80 ? unpickle(bytes) : fromJson(Buffer.from(bytes).toString('utf8'));
    } catch (err) {
      throw new DecodeError(`database result backend: cannot read ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  async getTaskMeta(taskId: string): Promise<TaskMeta> {
    const p = await this.db();
    const [row] = await p.db.query<Record<string, unknown>>(p.selectTask, [taskId]);
    if (!row) return pendingMeta(taskId);
    const extra = typeof row['meta'] === 'string' ? (fromJson(row['meta']) as Record<string, unknown>) : {};
    const meta: TaskMeta = {
      status: String(row['status']),
      result: this.decode(row['result'], `the result of task ${taskId}`),
      traceback: (row['traceback'] as string | null) ?? null,
      children: [],
      date_done: isoDone(row['date_done']),
      task_id: taskId,
      ...extra,
    };
    for (const c of ['name', 'worker', 'queue'] as const) if (row[c] != null) meta[c] = String(row[c]);
    if (row['retries'] != null) meta.retries = Number(row['retries']);
    if (row['args'] != null) meta.args = this.decode(row['args'], `the args of task ${taskId}`);
    if (row['kwargs'] != null) meta.kwargs = this.decode(row['kwargs'], `the kwargs of task ${taskId}`);
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
    const p = await this.db();
    await p.db.execute(`DELETE FROM ${p.task.sql} WHERE task_id = ?`, [taskId]);
  }

  async saveGroup(groupId: string, meta: GroupMeta): Promise<void> {
    const p = await this.db();
    const layout = p.groupLayout;
    const result = layout.legacy
      ? toJson(meta.result)
      : this.blob(layout, p.group, 'result', pickle(resultObject(meta.result)), `group ${groupId}`);
    await p.db.execute(p.upsertGroup, [groupId, result, this.time(layout, new Date())]);
  }

  async restoreGroup(groupId: string): Promise<GroupMeta | null> {
    const p = await this.db();
    const rows = await p.db.query<{ result: unknown; date_done: unknown }>(
      `SELECT result, ${dateAsText(p.db.dialect)} FROM ${p.group.sql} WHERE taskset_id = ?`,
      [groupId],
    );
    const row = rows[0];
    if (!row) return null;
    return { result: this.decode(row.result, `group ${groupId}`), date_done: isoDone(row.date_done) };
  }

  async deleteGroup(groupId: string): Promise<void> {
    const p = await this.db();
    await p.db.execute(`DELETE FROM ${p.group.sql} WHERE taskset_id = ?`, [groupId]);
  }

  /** Deletes records older than `result_expires` (the `celery.backend_cleanup` task). */
  async cleanup(): Promise<void> {
    if (this.options.expiresSeconds === null) return;
    const p = await this.db();
    const cutoff = new Date(Date.now() - this.options.expiresSeconds * 1000);
    await p.db.execute(`DELETE FROM ${p.task.sql} WHERE date_done < ?`, [this.time(p.taskLayout, cutoff)]);
    await p.db.execute(`DELETE FROM ${p.group.sql} WHERE date_done < ?`, [this.time(p.groupLayout, cutoff)]);
  }
}
