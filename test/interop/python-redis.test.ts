/**
 * celeriac and real Python Celery (Debian's python3-celery) sharing the machine's Redis as broker
 * and result backend: a Python worker consumes queue "py" (tasks py.*), a celeriac worker queue
 * "js" (tasks js.*); each side's client calls the other's tasks. Python's side lives in
 * test/fixtures/py/pyapp.py. Skipped when Redis or Python Celery is missing, unless
 * CELERIAC_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Celeriac, chain, chord, Worker, type Task } from '../../src/index.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { captureLog } from '../helpers/app.js';
import { lastLine, PY_DIR, PYTHON, pythonSkip, runPython, startPythonWorker } from '../helpers/python.js';
import { serviceSkip } from '../helpers/services.js';
import { HttpError } from '../fixtures/errors.js';

const REDIS_URL = 'redis://127.0.0.1:6379/5';
const PY_ENV = { ...process.env, PYTHONPATH: PY_DIR, INTEROP_REDIS_URL: REDIS_URL };

/** Runs a client scenario of pyapp.py; resolves with its last output line. */
async function pyClient(...args: string[]): Promise<string> {
  return lastLine(await runPython(['-m', 'pyapp', ...args], PY_ENV));
}

class ValueError extends Error {
  override name = 'ValueError';
}

describe('interop with Python Celery over Redis', async () => {
  const problem = (await serviceSkip('redis')) || pythonSkip(['celery', 'redis']);
  let app: Celeriac;
  let worker: Worker;
  let pyWorker: ChildProcess | undefined;
  const ran: Array<{ name: string; at: number }> = [];

  before(async () => {
    if (problem) return;
    const flush = new RedisTransport({ url: REDIS_URL, transportOptions: {} });
    await flush.connect();
    await flush.client.flushdb();
    await flush.close();
    app = new Celeriac('interop', {
      broker: REDIS_URL,
      backend: REDIS_URL,
      taskRoutes: { 'py.*': { queue: 'py' }, 'js.*': { queue: 'js' } },
      logger: captureLog().logger,
    });
    app.task(function add(x: number, y: number) {
      ran.push({ name: 'js.add', at: Date.now() });
      return x + y;
    }, { name: 'js.add' });
    app.task(function greet(name: string, { greeting = 'hello' }: { greeting?: string } = {}) {
      return `${greeting}, ${name}`;
    }, { name: 'js.greet' });
    app.task(function fail(message: string) {
      throw new ValueError(message);
    }, { name: 'js.fail' });
    app.task(function httpFail(message: string, statusCode: number) {
      throw new HttpError(message, statusCode);
    }, { name: 'js.http_fail', throws: [HttpError] });
    app.task(function echo(...args: unknown[]) {
      return args;
    }, { name: 'js.echo' });
    app.task(function when() {
      return Date.now() / 1000;
    }, { name: 'js.when' });
    app.task(async function flaky(self: Task, key: string) {
      if (self.request.retries === 0) return self.retry({ countdown: 1, exc: new Error('first try fails') });
      return { key, retries: self.request.retries };
    }, { name: 'js.flaky', bind: true });
    app.task(function tsum(numbers: number[]) {
      return numbers.reduce((a, b) => a + b, 0);
    }, { name: 'js.tsum' });
    worker = new Worker(app, { queues: ['js'], concurrency: 4, logger: captureLog().logger });
    await worker.start();
    pyWorker = await startPythonWorker(['-Q', 'py', '-n', `py-${process.pid}@%h`], PY_ENV);
  });

  after(async () => {
    if (problem) return;
    pyWorker?.kill('SIGTERM');
    await worker.stop();
    await app.close();
  });

  it('a Python client calls a celeriac task with positional and keyword arguments', { skip: problem }, async () => {
    assert.equal(await pyClient('call', 'js.add', '[2, 3]', '{}'), '5');
    assert.equal(await pyClient('call', 'js.greet', "['Ada']", "{'greeting': 'hi'}"), "'hi, Ada'");
  });

  it('a celeriac client calls a Python task and gets its result', { skip: problem }, async () => {
    const r = await app.sendTask<number>('py.add', [20, 22]);
    assert.equal(await r.get({ timeout: 20 }), 42);
  });

  it('a failing task error crosses both ways with its type name and message', { skip: problem }, async () => {
    const r = await app.sendTask('py.fail', ['bad python']);
    await assert.rejects(r.get({ timeout: 20 }), (err: Error) => err.name === 'ValueError' && err.message === 'bad python');
    assert.equal(await pyClient('call-error', 'js.fail', "['bad js']"), 'ValueError: bad js');
  });

  it('an error with its own fields: Python reads it as before, celeriac rebuilds the class with the fields', { skip: problem }, async () => {
    assert.equal(await pyClient('call-error', 'js.http_fail', "['not found', 404]"), 'HttpError: not found');
    const r = await app.sendTask('js.http_fail', ['gone', 410]);
    await assert.rejects(r.get({ timeout: 20 }), (err: unknown) => err instanceof HttpError && err.statusCode === 410 && err.message === 'gone');
    assert.deepEqual((await r.meta()).result, { exc_type: 'HttpError', exc_message: ['gone'], exc_module: 'celeriac', exc_fields: { statusCode: 410 } });
  });

  it('integers past 2^53 and -0.0 cross exactly both ways', { skip: problem }, async () => {
    const out = (await runPython(['-m', 'pyapp', 'exact', 'js.echo'], PY_ENV)).trim().split('\n');
    assert.deepEqual(out.slice(-2), ['[9223372036854775808, 1180591620717411303424, -0.0, -9223372036854775809, 9007199254740993, 1.5, 7]', 'True']);
    const described = await app.sendTask('py.describe', [2n ** 63n, 2n ** 70n, -0, -(2n ** 63n) - 1n, 2n ** 53n + 1n]);
    assert.deepEqual(await described.get({ timeout: 20 }), [
      ['int', '9223372036854775808'],
      ['int', '1180591620717411303424'],
      ['float', '-0.0'],
      ['int', '-9223372036854775809'],
      ['int', '9007199254740993'],
    ]);
    const big = (await (await app.sendTask('py.big')).get({ timeout: 20 })) as unknown[];
    assert.deepEqual(big, [2n ** 63n, 2n ** 70n, -0, -(2n ** 63n) - 1n]);
    assert.ok(Object.is(big[2], -0));
  });

  it('a chain alternating Python and celeriac tasks completes, from either side', { skip: problem }, async () => {
    const c = await chain(app.signature('py.add', [1, 2]), app.signature('js.add', [10]), app.signature('py.mul', [3])).applyAsync();
    assert.equal(await c.get({ timeout: 20 }), 39);
    assert.equal(await pyClient('chain'), '35');
  });

  it('countdown and ETA cross over: the other side holds the task until due', { skip: problem }, async () => {
    const sent = Date.now() / 1000;
    const r = await app.sendTask<number>('py.when', [], {}, { countdown: 2 });
    const ranAt = await r.get({ timeout: 20 });
    assert.ok(ranAt - sent >= 1.9, `python ran it ${ranAt - sent}s after sending`);
    const eta = await app.sendTask<number>('py.when', [], {}, { eta: new Date(Date.now() + 1500) });
    assert.ok((await eta.get({ timeout: 20 })) - sent >= 1.4);
    const delay = Number(await pyClient('countdown', 'js.when', '2'));
    assert.ok(delay >= 1.9 && delay < 10, `celeriac ran it ${delay}s after Python sent it`);
  });

  it('retries with countdown on each side complete', { skip: problem }, async () => {
    const py = await app.sendTask('py.flaky', ['k1']);
    assert.deepEqual(await py.get({ timeout: 20 }), { key: 'k1', retries: 1 });
    assert.equal(await pyClient('call', 'js.flaky', "['k2']", '{}'), "{'key': 'k2', 'retries': 1}");
  });

  it('chords mix sides: Python header with a celeriac body, and celeriac header with a Python body', { skip: problem }, async () => {
    const tsum = app.tasks.require('js.tsum');
    const res = await chord([1, 2, 3, 4].map((i) => app.signature('py.add', [i, i])), tsum.s()).applyAsync();
    assert.equal(await res.get({ timeout: 20 }), 20);
    assert.equal(await pyClient('chord-js-header'), '20');
  });

  it("a Python-built chain with a group in the middle completes on celeriac: the chord keeps its body's id", { skip: problem }, async () => {
    assert.equal(await pyClient('chain-group-js'), '7');
  });

  it('a Python worker with a 1 s visibility timeout does not take a message a celeriac worker holds', { skip: problem, timeout: 60_000 }, async () => {
    let runs = 0;
    const holdApp = new Celeriac('interop-hold', {
      broker: REDIS_URL,
      backend: REDIS_URL,
      brokerTransportOptions: { visibilityTimeout: 2 },
      taskAcksLate: true,
      logger: captureLog().logger,
    });
    holdApp.task(async function hold() {
      runs++;
      await new Promise((r) => setTimeout(r, 6000));
      return 'held';
    }, { name: 'js.hold' });
    const holder = new Worker(holdApp, { queues: ['js-hold'], logger: captureLog().logger });
    await holder.start();
    let strict: ChildProcess | undefined;
    try {
      const r = await holdApp.sendTask('js.hold', [], {}, { queue: 'js-hold' });
      await new Promise((res) => setTimeout(res, 300));
      // A Python worker restoring every unacked message older than 1 s, at start and every ~10 s.
      strict = spawn(PYTHON, ['-m', 'celery', '-A', 'pyapp', 'worker', '--pool=solo', '-Q', 'py-idle', '-n', `strict-${process.pid}@%h`], {
        env: { ...PY_ENV, INTEROP_VISIBILITY: '1' },
        cwd: PY_DIR,
        stdio: 'ignore',
      });
      assert.equal(await r.get({ timeout: 30 }), 'held');
      await new Promise((res) => setTimeout(res, 2500));
      assert.equal(runs, 1, 'ran exactly once');
    } finally {
      strict?.kill('SIGTERM');
      await holder.stop();
      await holdApp.close();
    }
  });
});
