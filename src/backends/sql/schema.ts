/**
 * Celery's result tables, exactly as Celery 5 with SQLAlchemy creates them, and what the backend
 * finds in tables someone else created.
 *
 * Glossary:
 * - *Celery layout*: `celery_taskmeta` (id, task_id, status, result, date_done, traceback, and
 *   with `result_extended` name, args, kwargs, worker, retries, queue) and `celery_tasksetmeta`
 *   (id, taskset_id, result, date_done). `result` is a pickle (SQLAlchemy's `PickleType`: `BYTEA`
 *   on PostgreSQL, `BLOB` on MySQL and SQLite); `args`/`kwargs` are JSON bytes; `date_done` a naive
 *   UTC time. On PostgreSQL ids come from the sequences `task_id_sequence` and
 *   `taskset_id_sequence`, which the inserting client calls (the column has no default).
 * - *legacy layout*: tables made by celeriac before it shared Celery's: JSON text columns, serial
 *   ids, and an extra `meta` column. Recognised by that column (or a text `result`), and kept
 *   working as they are; Python Celery cannot use them (see the backend's header).
 */
import { ImproperlyConfigured } from '../../errors/index.js';
import type { Dialect, SqlDriver } from './drivers.js';

/** Which of Celery's two tables. */
export type TableRole = 'task' | 'group';

/** `database_table_names` / `database_table_schemas`: Celery's keys are `task` and `group`. */
export interface TableSettings {
  /** Table names. @defaultValue `{ task: 'celery_taskmeta', group: 'celery_tasksetmeta' }` */
  names?: Partial<Record<TableRole, string>>;
  /** Schemas (PostgreSQL) or databases (MySQL) or attached databases (SQLite). @defaultValue none (the connection's own) */
  schemas?: Partial<Record<TableRole, string>>;
}

const DEFAULT_NAMES: Record<TableRole, string> = { task: 'celery_taskmeta', group: 'celery_tasksetmeta' };
const SEQUENCES: Record<TableRole, string> = { task: 'task_id_sequence', group: 'taskset_id_sequence' };
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The extended columns of `celery_taskmeta` (Celery's `TaskExtended`). */
export const EXTENDED_COLUMNS = ['name', 'args', 'kwargs', 'worker', 'retries', 'queue'] as const;

/** One of the two tables: where it is and what it holds. */
export interface Table {
  role: TableRole;
  /** The name to put in SQL: `schema.name` or `name`. */
  sql: string;
  name: string;
  schema: string | undefined;
  /** PostgreSQL: the id expression (`nextval('task_id_sequence')`); elsewhere null (auto-increment). */
  idDefault: string | null;
}

function identifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) throw new ImproperlyConfigured(`database backend: ${what} '${value}' is not a plain SQL identifier`);
  return value;
}

/** Where the two tables are, from Celery's settings. */
export function tables(dialect: Dialect, settings: TableSettings = {}): Record<TableRole, Table> {
  const one = (role: TableRole): Table => {
    const name = identifier(settings.names?.[role] ?? DEFAULT_NAMES[role], `table name for '${role}'`);
    const given = settings.schemas?.[role];
    const schema = given === undefined ? undefined : identifier(given, `schema for '${role}'`);
    const qualify = (n: string): string => (schema ? `${schema}.${n}` : n);
    return { role, name, schema, sql: qualify(name), idDefault: dialect === 'postgresql' ? `nextval('${qualify(SEQUENCES[role])}')` : null };
  };
  return { task: one('task'), group: one('group') };
}

/** The DDL Celery's SQLAlchemy models produce (extended task table), run with IF NOT EXISTS. */
export function createStatements(dialect: Dialect, t: Record<TableRole, Table>): string[] {
  const blob = dialect === 'postgresql' ? 'BYTEA' : 'BLOB';
  const time = dialect === 'postgresql' ? 'TIMESTAMP WITHOUT TIME ZONE' : 'DATETIME';
  const id = dialect === 'sqlite' ? 'id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT' : dialect === 'mysql' ? 'id INTEGER NOT NULL AUTO_INCREMENT' : 'id INTEGER NOT NULL';
  const pk = dialect === 'sqlite' ? '' : 'PRIMARY KEY (id), ';
  const out: string[] = [];
  if (dialect === 'postgresql') {
    for (const role of ['task', 'group'] as const) {
      out.push(`CREATE SEQUENCE IF NOT EXISTS ${t[role].schema ? `${t[role].schema}.` : ''}${SEQUENCES[role]}`);
    }
  }
  out.push(
    `CREATE TABLE IF NOT EXISTS ${t.task.sql} (${id}, task_id VARCHAR(155), status VARCHAR(50), result ${blob}, ` +
      `date_done ${time}, traceback TEXT, name VARCHAR(155), args ${blob}, kwargs ${blob}, worker VARCHAR(155), ` +
      `retries INTEGER, queue VARCHAR(155), ${pk}UNIQUE (task_id))`,
    `CREATE TABLE IF NOT EXISTS ${t.group.sql} (${id}, taskset_id VARCHAR(155), result ${blob}, date_done ${time}, ${pk}UNIQUE (taskset_id))`,
  );
  return out;
}

/** What a table found in the database holds. */
export interface Layout {
  /** Its column names (lower case). */
  columns: Set<string>;
  /** Made by an older celeriac: JSON text and a `meta` column. */
  legacy: boolean;
  /** Largest value (bytes) its `result`, `args` and `kwargs` columns hold, where limited (MySQL `BLOB`: 65535). */
  maxBytes: Partial<Record<string, number>>;
}

interface ColumnRow {
  name: string;
  type: string;
  max: number | string | null;
}

/** Reads a table's columns and tells the Celery layout from the legacy one. */
export async function inspect(db: SqlDriver, table: Table): Promise<Layout> {
  let rows: ColumnRow[];
  if (db.dialect === 'sqlite') {
    const info = await db.query<{ name: string; type: string }>(`PRAGMA ${table.schema ? `${table.schema}.` : ''}table_info(${table.name})`);
    rows = info.map((r) => ({ name: r.name, type: r.type, max: null }));
  } else if (db.dialect === 'postgresql') {
    rows = await db.query<ColumnRow>(
      'SELECT column_name AS name, data_type AS type, character_maximum_length AS max FROM information_schema.columns ' +
        'WHERE table_schema = COALESCE(CAST(? AS TEXT), current_schema()) AND table_name = ?',
      [table.schema ?? null, table.name],
    );
  } else {
    rows = await db.query<ColumnRow>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS max FROM information_schema.columns ' +
        'WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?',
      [table.schema ?? null, table.name],
    );
  }
  const columns = new Set(rows.map((r) => r.name.toLowerCase()));
  const type = (name: string): string => rows.find((r) => r.name.toLowerCase() === name)?.type.toLowerCase() ?? '';
  const maxBytes: Partial<Record<string, number>> = {};
  for (const r of rows) {
    const t = r.type.toLowerCase();
    if (r.max !== null && /blob|binary/.test(t)) maxBytes[r.name.toLowerCase()] = Number(r.max);
  }
  return { columns, legacy: columns.has('meta') || /text|char/.test(type('result')), maxBytes };
}

/** A Date as SQLAlchemy writes a naive UTC DateTime: `YYYY-MM-DD HH:MM:SS.ffffff`. */
export function sqlTime(date: Date): string {
  return `${date.toISOString().slice(0, 23).replace('T', ' ')}000`;
}

/** The SQL reading `date_done` as text in every dialect (drivers would otherwise apply the local zone). */
export function dateAsText(dialect: Dialect): string {
  if (dialect === 'postgresql') return 'CAST(date_done AS TEXT) AS date_done';
  if (dialect === 'mysql') return 'CAST(date_done AS CHAR) AS date_done';
  return 'date_done';
}

/** `2026-12-01 03:04:05.678901` (any dialect's text) as Python's `isoformat()` of the naive time. */
export function isoFromSql(text: string): string {
  return text.trim().replace(' ', 'T');
}
