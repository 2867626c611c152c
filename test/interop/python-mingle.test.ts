/**
 * Revokes, mingle and run-time rate limits between Python Celery (Debian's python3-celery) and
 * celeriac workers on Redis (issue 16 items 4, 5, 6): the revoked set crosses as Celery's mapping
 * of id to timestamp both ways, `celery control rate_limit` takes effect on a celeriac worker for a
 * task type that already ran, `AsyncResult.revoke()` from celeriac reaches a Python worker, and a
 * celeriac worker taking a Python worker's node name warns. Skipped without Redis or Python Celery,
 * unless CELERIAC_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Celeriac, TaskRevokedError, Worker } from '../../src/index.js';
import { captureLog, type CapturedLog } from '../helpers/app.js';
import { celeryCli, PY_DIR, pythonSkip, startPythonWorker } from '../helpers/python.js';
import { serviceSkip } from '../helpers/services.js';
import { until } from '../helpers/until.js';

// A database of its own: pidbox broadcasts reach every worker of one Redis database.
const REDIS_URL = 'redis://127.0.0.1:6379/10';
const PY_ENV = { ...process.env, PYTHONPATH: PY_DIR, INTEROP_REDIS_URL: REDIS_URL };
const tag = `${process.pid}-${Date.now()}`;
const JS_HOST = `js-mingle-${tag}@test`;
const PY_HOST = `py-mingle-${tag}@test`;
const JS_QUEUE = `js-mingle-${tag}`;
const PY_QUEUE = `py-mingle-${tag}`;

const celery = (...args: string[]): Promise<string> => celeryCli(PY_ENV, ...args);

describe('revokes, mingle and rate limits with Python Celery workers over Redis', async () => {
  const problem = (await serviceSkip('redis')) || pythonSkip(['celery', 'redis']);
  let app: Celeriac;
  let worker: Worker;
  let workerLog: CapturedLog;
  let pyWorker: ChildProcess | undefined;
  const revokedByPython = `revoked-by-python-${tag}`;
  const revokedByCeleriac = `revoked-by-celeriac-${tag}`;
  const started: number[] = [];

  before(async () => {
    if (problem) return;
    app = new Celeriac('interop-mingle', {
      broker: REDIS_URL,
      backend: REDIS_URL,
      resultBackendTransportOptions: { api_token: 'hidden-js-token' },
      logger: captureLog().logger,
    });
    app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'js.add' });
    app.task(function tick() {
      started.push(performance.now());
      return 'tick';
    }, { name: 'js.tick' });
    // A prefork pool of one: a revoke with terminate can stop its task.
    pyWorker = await startPythonWorker(['-Q', PY_QUEUE, '-n', PY_HOST, '--pool=prefork', '-c', '1'], PY_ENV);
    // Revoked while only the Python worker is up.
    const out = await celery('control', 'revoke', revokedByPython, '-d', PY_HOST, '-t', '2');
    assert.match(out, /flagged as revoked/, out);
    // The celeriac worker comes up with an id of its own (from its statedb), revoked at a whole second.
    const statedb = join(mkdtempSync(join(tmpdir(), 'celeriac-mingle-')), 'state');
    writeFileSync(statedb, JSON.stringify({ revoked: { [revokedByCeleriac]: Math.floor(Date.now() / 1000) } }));
    workerLog = captureLog();
    worker = new Worker(app, { hostname: JS_HOST, queues: [JS_QUEUE], statedb, logger: workerLog.logger });
    await worker.start();
  });

  after(async () => {
    if (problem) return;
    pyWorker?.kill('SIGTERM');
    await worker?.stop();
    await app?.close();
  });

  it('a celeriac worker started later learns the id a Python worker revoked, and discards that task as REVOKED', { skip: problem, timeout: 60_000 }, async () => {
    assert.ok(app.revoked.has(revokedByPython), `learned: ${[...app.revoked].join(', ')}\n${workerLog.lines.join('\n')}`);
    assert.ok(![...app.revoked].includes('[object Object]'));
    const r = await app.sendTask('js.add', [1, 2], {}, { taskId: revokedByPython, queue: JS_QUEUE });
    await assert.rejects(r.get({ timeout: 10 }), TaskRevokedError);
  });

  it('`inspect revoked` lists ids on both sides; the Python worker learned the celeriac worker’s id (a float timestamp)', { skip: problem, timeout: 60_000 }, async () => {
    const js = await celery('inspect', 'revoked', '-d', JS_HOST, '-t', '2');
    assert.ok(js.includes(revokedByPython) && js.includes(revokedByCeleriac), js);
    const py = await app.control.inspect({ destination: [PY_HOST], timeout: 2 }).revoked();
    const ids = py[0]?.[PY_HOST] as string[];
    assert.ok(Array.isArray(ids) && ids.includes(revokedByPython) && ids.includes(revokedByCeleriac), JSON.stringify(py));
  });

  it('`celery inspect conf` shows Celery’s setting names, secrets masked', { skip: problem, timeout: 60_000 }, async () => {
    const out = await celery('inspect', 'conf', '-d', JS_HOST, '-t', '2', '--json');
    const conf = (JSON.parse(out.trim().split('\n').pop()!) as Record<string, Record<string, unknown>>)[JS_HOST]!;
    assert.equal(conf['broker_url'], REDIS_URL);
    assert.deepEqual(conf['result_backend_transport_options'], { api_token: '********' });
    assert.ok(!out.includes('hidden-js-token'), out);
  });

  it('`celery control rate_limit` takes effect on a celeriac worker for a task type that already ran', { skip: problem, timeout: 60_000 }, async () => {
    assert.equal(await (await app.sendTask('js.tick', [], {}, { queue: JS_QUEUE })).get({ timeout: 10 }), 'tick');
    const out = await celery('control', 'rate_limit', 'js.tick', '4/s', '-d', JS_HOST, '-t', '2');
    assert.match(out, /new rate limit set successfully/, out);
    started.length = 0;
    const results = await Promise.all(Array.from({ length: 4 }, () => app.sendTask('js.tick', [], {}, { queue: JS_QUEUE })));
    for (const r of results) await r.get({ timeout: 10 });
    // 4/s: a token per 250 ms, so four runs span at least three intervals.
    assert.ok(started[3]! - started[0]! >= 3 * 250 - 25, `spanned ${started[3]! - started[0]!} ms`);
  });

  it('AsyncResult.revoke() from celeriac reaches the Python worker', { skip: problem, timeout: 60_000 }, async () => {
    const r = await app.sendTask('py.add', [2, 2], {}, { queue: PY_QUEUE, countdown: 3 });
    await r.revoke();
    await assert.rejects(r.get({ timeout: 15 }), TaskRevokedError);
  });

  it('AsyncResult.revoke({ terminate }) from celeriac stops a task running on the Python worker', { skip: problem, timeout: 60_000 }, async () => {
    const r = await app.sendTask('py.sleep', [30], {}, { queue: PY_QUEUE });
    await until(async () => (await app.control.inspect({ destination: [PY_HOST], timeout: 1 }).active()).some((reply) => JSON.stringify(reply).includes(r.id)), 'the task to run', { timeout: 20_000 });
    const t0 = Date.now();
    await r.revoke({ terminate: true });
    await assert.rejects(r.get({ timeout: 15 }), TaskRevokedError);
    assert.ok(Date.now() - t0 < 15_000);
  });

  it('a celeriac worker taking the Python worker’s node name warns at startup', { skip: problem, timeout: 60_000 }, async () => {
    const log = captureLog();
    const dup = new Worker(app, { hostname: PY_HOST, queues: [`${JS_QUEUE}-dup`], logger: log.logger });
    try {
      await dup.start();
      await until(() => log.grep('DuplicateNodenameWarning').length > 0, 'the warning');
      assert.match(log.grep('DuplicateNodenameWarning')[0]!, new RegExp(PY_HOST));
    } finally {
      await dup.stop();
    }
  });
});
