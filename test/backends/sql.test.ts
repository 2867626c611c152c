import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqlBackend } from '../../src/backends/sql/backend.js';
import { numberedPlaceholders, openSqlDriver, parseDatabaseUrl } from '../../src/backends/sql/drivers.js';
import { ImproperlyConfigured, OperationalError } from '../../src/index.js';
import { toPythonIso } from '../../src/utils/time.js';
import { testApp, withWorker } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';
import { record } from '../conformance/backend-suite.js';

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

const dialects: Array<[string, () => Promise<string | false>, () => string]> = [
  ['sqlite', async () => false, sqliteUrl],
  ['postgresql', () => serviceSkip('postgres'), () => 'db+postgresql://postgres@127.0.0.1:5432/test'],
  ['mysql', () => serviceSkip('mysql'), () => 'db+mysql://root@127.0.0.1:3306/test'],
];

for (const [dialect, skipFor, urlFor] of dialects) {
  describe(`database backend on ${dialect}`, async () => {
    const skip = await skipFor();
    it('deletes records older than result_expires on cleanup, keeping newer ones', { skip }, async () => {
      const b = new SqlBackend({ url: urlFor(), expiresSeconds: 60, backendOptions: {} });
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

    it('stores task results from a worker in celery_taskmeta', { skip }, async () => {
      const url = urlFor();
      const { app } = testApp({ backend: url, resultExtended: true });
      const add = app.task(function add(x: number, y: number) {
        return x + y;
      }, { name: 'tasks.add' });
      await withWorker(app, async () => {
        const r = await add.delay(2, 3);
        assert.equal(await r.get({ timeout: 10 }), 5);
      });
      const driver = await openSqlDriver(url);
      try {
        const rows = await driver.query<{ status: string; result: string; name: string; args: string }>(
          'SELECT status, result, name, args FROM celery_taskmeta WHERE name = ? ORDER BY id DESC',
          ['tasks.add'],
        );
        assert.ok(rows.length >= 1);
        assert.deepEqual({ ...rows[0] }, { status: 'SUCCESS', result: '5', name: 'tasks.add', args: '[2,3]' });
      } finally {
        await driver.close();
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
