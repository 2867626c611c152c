/**
 * Private SQL databases for tests of the database backend: each test run gets a database of its
 * own on the shared PostgreSQL or MariaDB server (or a SQLite file), so Celery's default table
 * names and PostgreSQL's sequences can be created and checked without touching the shared `test`
 * databases other tests use. Dropped again by `drop()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlDriver, type Dialect } from '../../src/backends/sql/drivers.js';

/** A database of the test's own. */
export interface PrivateDatabase {
  /** celeriac's URL (`db+postgresql://...`). */
  url: string;
  /** SQLAlchemy's URL for Python Celery (`db+postgresql://...`, `db+mysql+pymysql://...`). */
  pythonUrl: string;
  drop(): Promise<void>;
}

const ADMIN: Record<Exclude<Dialect, 'sqlite'>, string> = {
  postgresql: 'db+postgresql://postgres@127.0.0.1:5432/postgres',
  mysql: 'db+mysql://root@127.0.0.1:3306/mysql',
};

/** Creates a database named `celeriac_test_<random>` (SQLite: a file in a temporary folder). */
export async function privateDatabase(dialect: Dialect): Promise<PrivateDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqldb-'));
    const file = join(dir, 'results.db');
    return { url: `db+sqlite:///${file}`, pythonUrl: `db+sqlite:///${file}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `celeriac_test_${randomBytes(6).toString('hex')}`;
  const admin = await openSqlDriver(ADMIN[dialect]);
  try {
    await admin.execute(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const drop = async (): Promise<void> => {
    const db = await openSqlDriver(ADMIN[dialect]);
    try {
      await db.execute(dialect === 'postgresql' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`);
    } finally {
      await db.close();
    }
  };
  if (dialect === 'postgresql') {
    return { url: `db+postgresql://postgres@127.0.0.1:5432/${name}`, pythonUrl: `db+postgresql://postgres@127.0.0.1:5432/${name}`, drop };
  }
  return { url: `db+mysql://root@127.0.0.1:3306/${name}`, pythonUrl: `db+mysql+pymysql://root@127.0.0.1:3306/${name}`, drop };
}
