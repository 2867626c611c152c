/**
 * Remote control and events between Python Celery (Debian's python3-celery) and celeriac on the
 * machine's Redis: Celery's own `celery inspect` / `celery control` / `celery events` see celeriac
 * workers, and celeriac's see Python ones. Skipped without Redis or Python Celery, unless
 * CELERIAC_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Celeriac, sleep, Worker, type CeleryEvent, type Task } from '../../src/index.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { captureLog } from '../helpers/app.js';
import { celeryCli, PY_DIR, PYTHON, pythonSkip, startPythonWorker } from '../helpers/python.js';
import { serviceSkip } from '../helpers/services.js';

const REDIS_URL = 'redis://127.0.0.1:6379/4';
const PY_ENV = { ...process.env, PYTHONPATH: PY_DIR, INTEROP_REDIS_URL: REDIS_URL };
const JS_HOST = `js-${process.pid}@test`;
const PY_HOST = `py-${process.pid}@test`;

const celery = (...args: string[]): Promise<string> => celeryCli(PY_ENV, ...args);

describe('remote control and events with Python Celery over Redis', async () => {
  const problem = (await serviceSkip('redis')) || pythonSkip(['celery', 'redis']);
  let app: Celeriac;
  let worker: Worker;
  let pyWorker: ChildProcess | undefined;
  const pyEvents: CeleryEvent[] = [];
  let stopReceiver: (() => Promise<void>) | undefined;

  before(async () => {
    if (problem) return;
    const t = new RedisTransport({ url: REDIS_URL, transportOptions: {} });
    await t.connect();
    await t.client.flushdb();
    await t.close();
    app = new Celeriac('interop-control', {
      broker: REDIS_URL,
      backend: REDIS_URL,
      taskRoutes: { 'py.*': { queue: 'py' }, 'js.*': { queue: 'js' } },
      logger: captureLog().logger,
    });
    app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'js.add' });
    app.task(async function linger(self: Task, ms: number) {
      await sleep(ms, self.request.signal);
      return ms;
    }, { name: 'js.linger', bind: true });
    const receiver = app.events.receiver({ '*': (e) => e.hostname === PY_HOST && pyEvents.push(e) });
    await receiver.start();
    stopReceiver = () => receiver.stop();
    worker = new Worker(app, { queues: ['js'], hostname: JS_HOST, sendEvents: true, logger: captureLog().logger });
    await worker.start();
    pyWorker = await startPythonWorker(['-Q', 'py', '-E', '-n', PY_HOST], PY_ENV);
  });

  after(async () => {
    if (problem) return;
    pyWorker?.kill('SIGTERM');
    await stopReceiver?.();
    await worker.stop();
    await app.close();
  });

  it('`celery inspect ping` and `inspect registered` list the celeriac worker next to the Python one', { skip: problem }, async () => {
    const ping = await celery('inspect', 'ping', '-t', '2');
    assert.match(ping, new RegExp(`->  ${JS_HOST}: OK\\s+pong`));
    assert.match(ping, new RegExp(`->  ${PY_HOST}: OK\\s+pong`));
    const registered = await celery('inspect', 'registered', '-t', '2', '-d', JS_HOST);
    assert.match(registered, /js\.add/);
    assert.match(registered, /js\.linger/);
  });

  it('`celery inspect active` shows a running celeriac task and `control terminate` stops it', { skip: problem }, async () => {
    const r = await app.sendTask('js.linger', [20_000]);
    await sleep(300);
    const active = await celery('inspect', 'active', '-t', '2', '-d', JS_HOST);
    assert.ok(active.includes(r.id), active);
    const reply = await celery('control', 'terminate', 'SIGTERM', r.id, '-t', '2');
    assert.match(reply, new RegExp(`terminate: ${r.id}`));
    await assert.rejects(r.get({ timeout: 10 }), (e: Error) => e.name === 'TaskRevokedError');
  });

  it('`celeriac inspect ping` and the control API see the Python worker', { skip: problem }, async () => {
    const out: string[] = [];
    const io: CliIo = { out: (t) => out.push(t), err: () => undefined };
    const code = await main(['node', 'celeriac', 'inspect', 'ping', '-A', 'test/fixtures/cli-app.ts', '-b', REDIS_URL, '-t', '2'], io);
    assert.equal(code, 0);
    assert.ok(out.includes(`->  ${PY_HOST}: OK`), out.join('\n'));
    const stats = await app.control.inspect({ destination: [PY_HOST], timeout: 2 }).stats();
    assert.equal(typeof (stats[0]![PY_HOST] as { pid: number }).pid, 'number');
  });

  it('`celery events --dump` shows celeriac task events; the celeriac receiver shows the Python worker’s', { skip: problem }, async () => {
    const dump = spawn(PYTHON, ['-m', 'celery', '-A', 'pyapp', 'events', '--dump'], { env: PY_ENV, cwd: PY_DIR });
    let out = '';
    dump.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await sleep(2500);
    const js = await app.sendTask('js.add', [1, 2]);
    const py = await app.sendTask('py.add', [3, 4]);
    assert.equal(await js.get({ timeout: 10 }), 3);
    assert.equal(await py.get({ timeout: 10 }), 7);
    await sleep(1500);
    dump.kill('SIGTERM');
    assert.ok(out.includes(js.id), `celery events --dump output:\n${out.slice(-2000)}`);
    assert.ok(pyEvents.some((e) => e.type === 'task-succeeded' && e['uuid'] === py.id), `python events seen: ${pyEvents.map((e) => e.type).join(', ')}`);
  });
});
