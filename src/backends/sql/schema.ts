/**
 * Celery's result tables, exactly as Celery 5 with SQLAlchemy creates them, and what the backend
 * finds in tables someone else created.
 *
 * Glossary:
 * - *Celery layout*: `celery_taskmeta` (id, task_id, status, result, date_done, traceback, and
 *   with `result_extended` name, args, kwargs, worker, retries, queue) and `celery_tasksetmeta`
 *   (id, taskset_id, result, date_done). `result` is a pickle (SQLAlchemy's `PickleType`: `BYTEA`
 *   on PostgreSQL, `BLOB` on MySQL and SQLite); `args`/`kwargs` are JSON bytes; `date_done` a naive
 *   UTC time. On PostgreSQL and MariaDB ≥ 10.3 ids come from the sequences `task_id_sequence`
 *   and `taskset_id_sequence`, which the inserting client calls (the column has no default);
 *   on MySQL and SQLite the id column numbers rows itself.
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
  /** The id sequence, qualified (PostgreSQL, and MariaDB from 10.3 as SQLAlchemy 1.4 uses it). */
  sequence: string;
}

/**
 * Whether Celery's tables take their ids from sequences here: always on PostgreSQL, and on
 * MariaDB 10.3 and later (SQLAlchemy 1.4 creates `task_id_sequence` there too, and id columns
 * without AUTO_INCREMENT); MySQL and SQLite number rows themselves.
 */
export async function usesSequences(db: SqlDriver): Promise<boolean> {
  if (db.dialect === 'postgresql') return true;
  if (db.dialect === 'sqlite') return false;
  const [row] = await db.query<{ v: string }>('SELECT VERSION() AS v');
  const m = /^(\d+)\.(\d+).*mariadb/i.exec(row?.v ?? '');
  return !!m && (Number(m[1]) > 10 || (Number(m[1]) === 10 && Number(m[2]) >= 3));
}

/** The SQL giving a new id from a table's sequence. */
export function nextId(dialect: Dialect, table: Table): string {
  return dialect === 'postgresql' ? `nextval('${table.sequence}')` : `nextval(${table.sequence})`;
}

function identifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) throw new ImproperlyConfigured(`database backend: ${what} '${value}' is not a plain SQL identifier`);
  return value;
}

/** Where the two tables are, from Celery's settings. */
export function tables(settings: TableSettings = {}): Record<TableRole, Table> {
  const one = (role: TableRole): Table => {
    const name = identifier(settings.names?.[role] ?? DEFAULT_NAMES[role], `table name for '${role}'`);
    const given = settings.schemas?.[role];
    const schema = given === undefined ? undefined : identifier(given, `schema for '${role}'`);
    const qualify = (n: string): string => (schema ? `${schema}.${n}` : n);
    return { role, name, schema, sql: qualify(name), sequence: qualify(SEQUENCES[role]) };
  };
  return { task: one('task'), group: one('group') };
}

/** The DDL Celery's SQLAlchemy models produce (extended task table), run with IF NOT EXISTS. */
export function createStatements(dialect: Dialect, t: Record<TableRole, Table>, sequences: boolean): string[] {
  const blob = dialect === 'postgresql' ? 'BYTEA' : 'BLOB';
  const time = dialect === 'postgresql' ? 'TIMESTAMP WITHOUT TIME ZONE' : 'DATETIME';
  const id = dialect === 'sqlite' ? 'id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT' : sequences ? 'id INTEGER NOT NULL' : 'id INTEGER NOT NULL AUTO_INCREMENT';
  const pk = dialect === 'sqlite' ? '' : 'PRIMARY KEY (id), ';
  const out: string[] = [];
  if (sequences) {
    // MariaDB's defaults are SQLAlchemy's too (start 1, increment 1); only the cache differs, unseen by clients.
    for (const role of ['task', 'group'] as const) out.push(`CREATE SEQUENCE IF NOT EXISTS ${t[role].sequence}`);
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
  /** The id column numbers rows itself (AUTO_INCREMENT, SERIAL, SQLite's rowid): inserts leave it out. */
  idNumbersItself: boolean;
  /** Largest value (bytes) its `result`, `args` and `kwargs` columns hold, where limited (MySQL `BLOB`: 65535). */
  maxBytes: Partial<Record<string, number>>;
}

interface ColumnRow {
  name: string;
  type: string;
  max: number | string | null;
  /** The column's default, or `auto_increment` (MySQL), or null. */
  auto?: string | null;
}

/** Reads a table's columns and tells the Celery layout from the legacy one. */
export async function inspect(db: SqlDriver, table: Table): Promise<Layout> {
  let rows: ColumnRow[];
  if (db.dialect === 'sqlite') {
    const info = await db.query<{ name: string; type: string }>(`PRAGMA ${table.schema ? `${table.schema}.` : ''}table_info(${table.name})`);
    rows = info.map((r) => ({ name: r.name, type: r.type, max: null, auto: 'rowid' }));
  } else if (db.dialect === 'postgresql') {
    rows = await db.query<ColumnRow>(
      'SELECT column_name AS name, data_type AS type, character_maximum_length AS max, column_default AS auto FROM information_schema.columns ' +
        'WHERE table_schema = COALESCE(CAST(? AS TEXT), current_schema()) AND table_name = ?',
      [table.schema ?? null, table.name],
    );
  } else {
    rows = await db.query<ColumnRow>(
      "SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS max, NULLIF(CONCAT(COALESCE(COLUMN_DEFAULT, ''), EXTRA), '') AS auto " +
        'FROM information_schema.columns ' +
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
  const id = rows.find((r) => r.name.toLowerCase() === 'id');
  return { columns, legacy: columns.has('meta') || /text|char/.test(type('result')), idNumbersItself: !!id?.auto, maxBytes };
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
