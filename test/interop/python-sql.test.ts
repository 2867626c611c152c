/**
 * celeriac and real Python Celery 5.2.6 (Debian's python3-celery with SQLAlchemy) sharing the
 * database result backend's tables on SQLite, PostgreSQL and MariaDB, in both creation orders:
 * the tables either side creates are the same (columns, types, keys, PostgreSQL's sequences), each
 * side reads the other's results (pickled values, failures, extended fields) and groups, and a
 * Python client gets a celeriac worker's result and the reverse (Redis as broker). Each test works
 * in a database of its own. Python's side lives in test/fixtures/py/pysql.py.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqlBackend } from '../../src/backends/sql/backend.js';
import { openSqlDriver, type Dialect } from '../../src/backends/sql/drivers.js';
import { Celeriac, Worker } from '../../src/index.js';
import { record } from '../conformance/backend-suite.js';
import { captureLog } from '../helpers/app.js';
import { lastLine, PY_DIR, pythonSkip, runPython, startPythonWorker } from '../helpers/python.js';
import { serviceSkip } from '../helpers/services.js';
import { privateDatabase, type PrivateDatabase } from '../helpers/sql.js';

const REDIS_URL = 'redis://127.0.0.1:6379/6';

/** The value pysql.py's VALUE stands for, as celeriac reads it. */
const PY_VALUE = {
  int: 7,
  big: 2n ** 64n,
  negative_big: -(2n ** 63n),
  float: 1.5,
  text: 'ünïcødé ✓ 中文',
  nested: [1, [2, null], { k: 'v' }],
  pair: [1, 'two'],
  flag: true,
  nothing: null,
  when: new Date(Date.UTC(2026, 11, 1, 3, 4, 5, 678)),
};

/** What celeriac stores, and how pysql.py's `plain()` shows it once Python has read it. */
const JS_VALUE = { int: 7, big: 2n ** 64n, float: 1.5, text: 'ünïcødé ✓ 中文', nested: [1, [2, null]], flag: false, nothing: null, when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) };
const JS_VALUE_IN_PYTHON = {
  int: 7, big: { int: '18446744073709551616' }, float: 1.5, text: 'ünïcødé ✓ 中文', nested: [1, [2, null]], flag: false, nothing: null,
  when: { datetime: '2026-01-02T03:04:05.006000' },
};

/** pysql.py's view of a date_done Python's driver parsed: a naive datetime, as Celery writes. */
const NAIVE_DATETIME = ['datetime', true];

const dialects: Array<[Dialect, () => Promise<string | false>, string]> = [
  ['sqlite', async () => false, 'sqlite3'],
  ['postgresql', () => serviceSkip('postgres'), 'psycopg2'],
  ['mysql', () => serviceSkip('mysql'), 'pymysql'],
];

for (const [dialect, serviceFor, driverModule] of dialects) {
  describe(`database backend tables shared with Python Celery on ${dialect}`, async () => {
    const problem = (await serviceFor()) || (await serviceSkip('redis')) || pythonSkip(['celery', 'sqlalchemy', driverModule, 'redis']);
    /** The schema Python created, for the celeriac-first test to compare with. */
    let pythonSchema: unknown;

    const py = async (db: PrivateDatabase, queues: { js: string; py: string }, ...args: string[]): Promise<unknown> =>
      JSON.parse(lastLine(await runPython([join(PY_DIR, 'pysql.py'), ...args], env(db, queues))));
    const env = (db: PrivateDatabase, queues: { js: string; py: string }): NodeJS.ProcessEnv => ({
      ...process.env,
      PYTHONPATH: PY_DIR,
      SQL_BACKEND: db.pythonUrl,
      SQL_BROKER: REDIS_URL,
      SQL_JS_QUEUE: queues.js,
      SQL_PY_QUEUE: queues.py,
    });

    for (const first of ['python', 'celeriac'] as const) {
      it(`${first} creates the tables; each side reads the other's results, failures and groups`, { skip: problem, timeout: 120_000 }, async () => {
        const db = await privateDatabase(dialect);
        const queues = { js: `sqljs-${randomUUID()}`, py: `sqlpy-${randomUUID()}` };
        const backend = new SqlBackend({ url: db.url, expiresSeconds: null, backendOptions: {} });
        try {
          if (first === 'python') assert.equal(await py(db, queues, 'create'), 'created');
          await backend.connect();
          const schema = await py(db, queues, 'schema');
          if (first === 'python') pythonSchema = schema;
          else assert.deepEqual(schema, pythonSchema, "celeriac creates exactly Celery's tables");

          // celeriac writes, Python reads.
          const jsOk = randomUUID();
          const jsFail = randomUUID();
          await backend.storeResult(record(jsOk, 'SUCCESS', JS_VALUE, { name: 'js.values', args: [1, 2], kwargs: { k: 'v' }, worker: 'celeriac@h', retries: 0, queue: 'q' }));
          await backend.storeResult(record(jsFail, 'FAILURE', { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' }, { traceback: 'Traceback ...' }));
          assert.deepEqual(await py(db, queues, 'read', jsOk), { state: 'SUCCESS', result: JS_VALUE_IN_PYTHON, name: 'js.values', args: [1, 2], kwargs: { k: 'v' }, date_done: NAIVE_DATETIME });
          assert.deepEqual(await py(db, queues, 'read', jsFail), { state: 'FAILURE', result: { exception: 'ValueError', args: ['boom'] }, name: null, args: null, kwargs: null, date_done: NAIVE_DATETIME });

          // Python writes, celeriac reads.
          const pyOk = randomUUID();
          const pyFail = randomUUID();
          await py(db, queues, 'store', pyOk, 'direct');
          await py(db, queues, 'store-failure', pyFail, 'bad value');
          const ok = await backend.getTaskMeta(pyOk);
          assert.equal(ok.status, 'SUCCESS');
          assert.deepEqual(ok.result, { ...PY_VALUE, tag: 'direct' });
          assert.match(String(ok.date_done), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
          const failed = await backend.getTaskMeta(pyFail);
          assert.equal(failed.status, 'FAILURE');
          assert.deepEqual(failed.result, { exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' });
          assert.match(String(failed.traceback), /ValueError: bad value/);

          // Groups, both ways.
          const jsGroup = randomUUID();
          await backend.saveGroup(jsGroup, { result: [[jsGroup, null], [[[jsOk, null], null], [[pyOk, null], null]]] });
          assert.deepEqual(await py(db, queues, 'restore-group', jsGroup), { ids: [jsOk, pyOk], results: [JS_VALUE_IN_PYTHON, pyPlain('direct')] });
          const pyGroup = randomUUID();
          await py(db, queues, 'save-group', pyGroup, pyOk, jsFail);
          assert.deepEqual((await backend.restoreGroup(pyGroup))?.result, [[pyGroup, null], [[[pyOk, null], null], [[jsFail, null], null]]]);

          await workers(first, db, queues);
        } finally {
          await backend.close();
          await db.drop();
        }
      });
    }

    it('shares tables placed in a schema by database_table_schemas (PostgreSQL)', { skip: problem || (dialect !== 'postgresql' && 'PostgreSQL only') }, async () => {
      const db = await privateDatabase(dialect);
      const queues = { js: 'unused', py: 'unused' };
      const schemaEnv = { ...env(db, queues), SQL_SCHEMA: 'results' };
      const schemaPy = async (...args: string[]): Promise<unknown> => JSON.parse(lastLine(await runPython([join(PY_DIR, 'pysql.py'), ...args], schemaEnv)));
      const admin = await openSqlDriver(db.url);
      await admin.execute('CREATE SCHEMA results');
      const backend = new SqlBackend({ url: db.url, expiresSeconds: null, backendOptions: {}, tables: { schemas: { task: 'results', group: 'results' } } });
      try {
        await backend.connect();
        const found = await admin.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'results' " +
            "UNION ALL SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'results' ORDER BY name",
        );
        assert.deepEqual(found.map((r) => r.name), ['celery_taskmeta', 'celery_tasksetmeta', 'task_id_sequence', 'taskset_id_sequence']);
        const jsId = randomUUID();
        await backend.storeResult(record(jsId, 'SUCCESS', JS_VALUE));
        await backend.storeResult(record(jsId, 'SUCCESS', JS_VALUE)); // the upsert's conflict path on a qualified table
        assert.deepEqual((await schemaPy('read', jsId)) as { result: unknown }, { state: 'SUCCESS', result: JS_VALUE_IN_PYTHON, name: null, args: null, kwargs: null, date_done: NAIVE_DATETIME });
        const pyId = randomUUID();
        await schemaPy('store', pyId, 'schema');
        assert.deepEqual((await backend.getTaskMeta(pyId)).result, { ...PY_VALUE, tag: 'schema' });
      } finally {
        await backend.close();
        await admin.close();
        await db.drop();
      }
    });

    /** Real workers: a Python client calls a celeriac worker (python first), or the reverse. */
    async function workers(first: 'python' | 'celeriac', db: PrivateDatabase, queues: { js: string; py: string }): Promise<void> {
      const app = new Celeriac('sqlinterop', {
        broker: REDIS_URL,
        backend: db.url,
        resultExtended: true,
        taskRoutes: { 'py.*': { queue: queues.py }, 'js.*': { queue: queues.js } },
        logger: captureLog().logger,
      });
      try {
        if (first === 'python') {
          app.task(function values(tag: string) {
            return { ...JS_VALUE, tag };
          }, { name: 'js.values' });
          const worker = new Worker(app, { queues: [queues.js], concurrency: 2, logger: captureLog().logger });
          await worker.start();
          try {
            assert.deepEqual(await py(db, queues, 'call', 'js.values', 'via-worker'), { ...JS_VALUE_IN_PYTHON, tag: 'via-worker' });
          } finally {
            await worker.stop();
          }
        } else {
          const pyWorker = await startPythonWorker(['-Q', queues.py, '-n', `sql-${process.pid}-${dialect}@%h`], env(db, queues), { module: 'pysql' });
          try {
            const r = await app.sendTask('py.values', ['from-js']);
            assert.deepEqual(await r.get({ timeout: 30 }), { ...PY_VALUE, tag: 'from-js' });
            const f = await app.sendTask('py.fail', ['nope']);
            await assert.rejects(f.get({ timeout: 30 }), (e: Error) => e.name === 'ValueError' && /nope/.test(e.message));
          } finally {
            pyWorker.kill('SIGTERM');
          }
        }
      } finally {
        await app.close();
      }
    }
  });
}

/** How Python shows PY_VALUE's fields (plus the tag) after pysql.py's plain(). */
function pyPlain(tag: string): Record<string, unknown> {
  return {
    int: 7, big: { int: '18446744073709551616' }, negative_big: { int: '-9223372036854775808' }, float: 1.5, text: 'ünïcødé ✓ 中文',
    nested: [1, [2, null], { k: 'v' }], pair: { tuple: [1, 'two'] }, flag: true, nothing: null, when: { datetime: '2026-12-01T03:04:05.678000' }, tag,
  };
}
