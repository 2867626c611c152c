import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqlBackend } from '../../src/backends/sql/backend.js';
import type { BackendClient } from '../../src/backends/port.js';
import { numberedPlaceholders, openSqlDriver, parseDatabaseUrl, type Dialect } from '../../src/backends/sql/drivers.js';
import { unpickle } from '../../src/protocol/pickle/unpickle.js';
import { ImproperlyConfigured, OperationalError } from '../../src/index.js';
import { toPythonIso } from '../../src/utils/time.js';
import { testApp, withWorker } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';
import { record } from '../conformance/backend-suite.js';
import { privateDatabase, type PrivateDatabase } from '../helpers/sql.js';

const sqliteUrl = (): string => `db+sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-sql-')), 'results.db')}`;

describe('database backend URLs', () => {
  it('accept Celery db+ URLs with optional driver suffixes and name the bad ones', () => {
    assert.equal(parseDatabaseUrl('db+postgresql+psycopg2://u:p@h/db').dialect, 'postgresql');
    assert.equal(parseDatabaseUrl('db+mysql+pymysql://root@127.0.0.1/test').clientUrl, 'mysql://root@127.0.0.1/test');
    assert.equal(parseDatabaseUrl('db+sqlite:///r.db').dialect, 'sqlite');
    assert.throws(() => parseDatabaseUrl('db+oracle://u:secret@h/db'), (e: Error) => e instanceof ImproperlyConfigured && /oracle/.test(e.message) && !e.message.includes('secret'));
    assert.equal(numberedPlaceholders('a = ? AND b = ?'), 'a = $1 AND b = $2');
  });

  it('report an unreachable server as OperationalError without the password', async () => {
    const b = new SqlBackend({ url: 'db+postgresql://postgres:hunter2@127.0.0.1:1/test', expiresSeconds: null, backendOptions: {} });
    await assert.rejects(b.connect(), (e: Error) => e instanceof OperationalError && !e.message.includes('hunter2'));
  });
});

const dialects: Array<[Dialect, () => Promise<string | false>]> = [
  ['sqlite', async () => false],
  ['postgresql', () => serviceSkip('postgres')],
  ['mysql', () => serviceSkip('mysql')],
];

/** The tables celeriac made before it shared Celery's layout (JSON text, serial ids, a meta column). */
function legacyDdl(dialect: Dialect): string {
  const id = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : dialect === 'postgresql' ? 'SERIAL PRIMARY KEY' : 'INTEGER AUTO_INCREMENT PRIMARY KEY';
  const text = dialect === 'mysql' ? 'LONGTEXT' : 'TEXT';
  const time = dialect === 'postgresql' ? 'TIMESTAMP' : dialect === 'mysql' ? 'DATETIME(6)' : 'TEXT';
  return `CREATE TABLE celery_taskmeta (
      id ${id}, task_id VARCHAR(155) UNIQUE, status VARCHAR(50), result ${text}, date_done ${time}, traceback ${text},
      name VARCHAR(155), args ${text}, kwargs ${text}, worker VARCHAR(155), retries INTEGER, queue VARCHAR(155), meta ${text})`;
}

for (const [dialect, skipFor] of dialects) {
  describe(`database backend on ${dialect}`, async () => {
    const skip = await skipFor();
    let db: PrivateDatabase;
    before(async () => {
      if (!skip) db = await privateDatabase(dialect);
    });
    after(async () => {
      if (!skip) await db.drop();
    });

    it('deletes records older than result_expires on cleanup, keeping newer ones', { skip }, async () => {
      const b = new SqlBackend({ url: db.url, expiresSeconds: 60, backendOptions: {} });
      await b.connect();
      try {
        const old = `old-${Date.now()}-${Math.random()}`;
        const fresh = `fresh-${Date.now()}-${Math.random()}`;
        await b.storeResult(record(old, 'SUCCESS', 1, { date_done: toPythonIso(new Date(Date.now() - 3600_000), false) }));
        await b.storeResult(record(fresh, 'SUCCESS', 2, { date_done: toPythonIso(new Date(), false) }));
        await b.cleanup();
        assert.equal((await b.getTaskMeta(old)).status, 'PENDING');
        assert.equal((await b.getTaskMeta(fresh)).result, 2);
      } finally {
        await b.close();
      }
    });

    it("stores a worker's results in Celery's format: pickled result, JSON args, naive UTC date_done", { skip }, async () => {
      const { app } = testApp({ backend: db.url, resultExtended: true });
      const add = app.task(function add(x: number, y: number) {
        return { sum: x + y, big: 2n ** 64n };
      }, { name: 'tasks.add' });
      const before = Date.now();
      await withWorker(app, async () => {
        const r = await add.delay(2, 3);
        assert.deepEqual(await r.get({ timeout: 10 }), { sum: 5, big: 2n ** 64n });
      });
      const driver = await openSqlDriver(db.url);
      try {
        const rows = await driver.query<{ status: string; result: Uint8Array; name: string; args: Uint8Array; done: string }>(
          `SELECT status, result, name, args, ${dialect === 'sqlite' ? 'date_done' : dialect === 'mysql' ? 'CAST(date_done AS CHAR)' : 'CAST(date_done AS TEXT)'} AS done
           FROM celery_taskmeta WHERE name = ?`,
          ['tasks.add'],
        );
        assert.equal(rows.length, 1);
        const row = rows[0]!;
        assert.equal(row.status, 'SUCCESS');
        assert.equal(row.result[0], 0x80, 'result is a pickle');
        assert.deepEqual(unpickle(row.result), { sum: 5, big: 2n ** 64n });
        assert.equal(Buffer.from(row.args).toString(), '[2,3]');
        assert.match(row.done, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$/);
        assert.ok(Math.abs(Date.parse(`${row.done.replace(' ', 'T')}Z`) - before) < 60_000, 'date_done is UTC');
      } finally {
        await driver.close();
      }
    });

    it('saves a group as a pickled GroupResult and restores it', { skip }, async () => {
      const b = new SqlBackend({ url: db.url, expiresSeconds: null, backendOptions: {} });
      try {
        const tuple = [['g-nested', null], [[['a', null], null], [['inner', [['p', null], null]], [[['b', null], null]]]]];
        await b.saveGroup('g-nested', { result: tuple });
        assert.deepEqual((await b.restoreGroup('g-nested'))?.result, tuple);
      } finally {
        await b.close();
      }
    });

    it('keeps working on tables made by an older celeriac (JSON text, meta column), with a warning', { skip }, async () => {
      const own = await privateDatabase(dialect);
      const driver = await openSqlDriver(own.url);
      try {
        await driver.execute(legacyDdl(dialect));
        await driver.execute(
          'INSERT INTO celery_taskmeta (task_id, status, result, date_done, meta) VALUES (?, ?, ?, ?, ?)',
          ['legacy-1', 'SUCCESS', '{"old":[1,2]}', dialect === 'sqlite' ? '2026-11-24T10:00:00.000Z' : new Date(Date.UTC(2026, 10, 24, 10)), '{"parent_id":"p"}'],
        );
        const warnings: string[] = [];
        const logger = { info() {}, debug() {}, error() {}, warn: (m: unknown) => warnings.push(String(m)), child() { return logger; } };
        const b = new SqlBackend({ url: own.url, expiresSeconds: null, backendOptions: {}, client: { logger } as unknown as BackendClient });
        try {
          const old = await b.getTaskMeta('legacy-1');
          assert.deepEqual([old.result, old.parent_id, old.date_done], [{ old: [1, 2] }, 'p', '2026-11-24T10:00:00.000000']);
          await b.storeResult(record('legacy-2', 'SUCCESS', { n: 1 }, { parent_id: 'q' }));
          assert.deepEqual((await b.getTaskMeta('legacy-2')).result, { n: 1 });
          const [row] = await driver.query<{ result: string }>('SELECT result FROM celery_taskmeta WHERE task_id = ?', ['legacy-2']);
          assert.equal(row!.result, '{"n":1}', 'written in the table\'s own layout');
          assert.ok(warnings.some((w) => /older celeriac.*Python Celery cannot read it/.test(w)), warnings.join('\n'));
        } finally {
          await b.close();
        }
      } finally {
        await driver.close();
        await own.drop();
      }
    });
  });
}

describe('database backend on mysql', async () => {
  it('reads with READ COMMITTED isolation', { skip: await serviceSkip('mysql') }, async () => {
    const driver = await openSqlDriver('db+mysql://root@127.0.0.1:3306/test');
    try {
      const [row] = await driver.query<Record<string, string>>('SELECT @@SESSION.tx_isolation AS level');
      assert.equal(row!['level'], 'READ-COMMITTED');
    } finally {
      await driver.close();
    }
  });
});

describe('database backend on mysql: BLOB columns', async () => {
  it("refuses a result larger than Celery's BLOB column with the fix in the message, and uses a widened column in full", { skip: await serviceSkip('mysql') }, async () => {
    const db = await privateDatabase('mysql');
    try {
      const big = 'x'.repeat(70_000);
      const b = new SqlBackend({ url: db.url, expiresSeconds: null, backendOptions: {} });
      try {
        await assert.rejects(
          b.storeResult(record('too-big', 'SUCCESS', big)),
          (e: Error) => e instanceof OperationalError && /result is 700\d\d bytes, more than the 65535 bytes/.test(e.message) && /MODIFY result LONGBLOB/.test(e.message),
        );
        assert.equal((await b.getTaskMeta('too-big')).status, 'PENDING');
        // Through a worker the task fails with that error, as Celery's does when its result cannot be stored.
        const { app } = testApp({ backend: db.url });
        const huge = app.task(() => big, { name: 'tasks.huge' });
        await withWorker(app, async () => {
          const r = await huge.delay();
          await assert.rejects(r.get({ timeout: 10 }), (e: Error) => /MODIFY result LONGBLOB/.test(e.message));
          assert.equal(await r.state(), 'FAILURE');
        });
        const driver = await openSqlDriver(db.url);
        await driver.execute('ALTER TABLE celery_taskmeta MODIFY result LONGBLOB');
        await driver.close();
      } finally {
        await b.close();
      }
      const widened = new SqlBackend({ url: db.url, expiresSeconds: null, backendOptions: {} });
      try {
        await widened.storeResult(record('big', 'SUCCESS', big));
        assert.equal((await widened.getTaskMeta('big')).result, big);
      } finally {
        await widened.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('database backend table settings', () => {
  it('creates and uses the tables named by databaseTableNames (Celery: database_table_names)', async () => {
    const url = sqliteUrl();
    const { app } = testApp({ backend: url, database_table_names: { task: 'my_tasks', group: 'my_groups' } });
    const backend = await app.getBackend();
    await backend.storeResult(record('named', 'SUCCESS', 'ok'));
    await backend.saveGroup('g', { result: [['g', null], []] });
    const driver = await openSqlDriver(url);
    try {
      const tables = await driver.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
      assert.deepEqual(tables.map((t) => t.name), ['my_groups', 'my_tasks']);
      assert.equal((await driver.query('SELECT task_id FROM my_tasks WHERE task_id = ?', ['named'])).length, 1);
    } finally {
      await driver.close();
      await app.close();
    }
  });

  it('refuses a table name that is not a plain identifier', () => {
    assert.throws(
      () => new SqlBackend({ url: sqliteUrl(), expiresSeconds: null, backendOptions: {}, tables: { names: { task: 'x; DROP TABLE y' } } }),
      (e: Error) => e instanceof ImproperlyConfigured && /not a plain SQL identifier/.test(e.message),
    );
  });
});

describe('celery.backend_cleanup', () => {
  it('runs the backend cleanup as a task', async () => {
    const url = sqliteUrl();
    const { app } = testApp({ backend: url, resultExpires: 60 });
    const backend = await app.getBackend();
    await backend.storeResult(record('ancient', 'SUCCESS', 'x', { date_done: '2020-01-01T00:00:00.000000' }));
    await withWorker(app, async () => {
      await app.sendTask('celery.backend_cleanup');
      const deadline = Date.now() + 5000;
      while ((await backend.getTaskMeta('ancient')).status !== 'PENDING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await backend.getTaskMeta('ancient')).status, 'PENDING');
    });
  });
});

describe('waiting on a SQLite results file', () => {
  it('a timeout names the file it read (a relative path depends on the working directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-sql-'));
    const { app } = testApp({ backend: `db+sqlite:///${join(dir, 'results.db')}` });
    try {
      const result = app.asyncResult('never-sent');
      await assert.rejects(result.get({ timeout: 0.1 }), (err: Error) => {
        assert.equal(err.name, 'TimeoutError');
        assert.match(err.message, /timed out waiting for task never-sent/);
        assert.ok(err.message.includes(`the SQLite file ${join(dir, 'results.db')}`), err.message);
        return true;
      });
    } finally {
      await app.close();
    }
  });
});
