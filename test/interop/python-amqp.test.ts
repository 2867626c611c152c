/**
 * celeriac and Python Celery on the machine's RabbitMQ with the rpc:// result backend: each side's
 * client calls the other side's tasks; errors are re-raised across. Also celeriac alone on
 * RabbitMQ: a worker and rpc:// results, and a broker restart under 2,000 acksLate tasks.
 * Skipped without RabbitMQ or Python Celery, unless CELERIAC_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Celeriac, Reject, sleep, Worker } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { lastLine, PY_DIR, pythonSkip, runPython, startPythonWorker } from '../helpers/python.js';
import { serviceSkip, servicesRequired } from '../helpers/services.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672//';
const SUFFIX = randomUUID().slice(0, 8);
const PY_QUEUE = `py-${SUFFIX}`;
const JS_QUEUE = `js-${SUFFIX}`;
const PY_ENV = { ...process.env, PYTHONPATH: PY_DIR, INTEROP_BROKER_URL: AMQP_URL.replace('amqp://', 'pyamqp://'), INTEROP_BACKEND_URL: 'rpc://' };

class ValueError extends Error {
  override name = 'ValueError';
}

/** Runs Python client code (asynchronously: the celeriac worker in this process must keep running). */
async function pyClient(code: string): Promise<string> {
  return lastLine(await runPython(['-c', `import pyapp\n${code}`], PY_ENV));
}

describe('celeriac on RabbitMQ with rpc:// results', async () => {
  const skip = await serviceSkip('rabbitmq');

  it('runs tasks through a worker and returns results and errors over rpc://', { skip }, async () => {
    const app = new Celeriac('amqp-rpc', { broker: AMQP_URL, backend: 'rpc://', logger: captureLog().logger, taskDefaultQueue: `solo-${SUFFIX}` });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'js.add' });
    const fail = app.task(function fail() {
      throw new ValueError('nope');
    }, { name: 'js.fail' });
    const worker = new Worker(app, { logger: captureLog().logger });
    await worker.start();
    try {
      assert.equal(await (await add.delay(2, 3)).get({ timeout: 10 }), 5);
      await assert.rejects((await fail.delay()).get({ timeout: 10 }), (e: Error) => e.name === 'ValueError' && e.message === 'nope');
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => add.delay(i, i)));
      assert.deepEqual(await Promise.all(many.map((r) => r.get({ timeout: 10 }))), Array.from({ length: 50 }, (_, i) => 2 * i));
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});

describe('dead-lettering on RabbitMQ (the guide\'s Reject example)', async () => {
  const skip = await serviceSkip('rabbitmq');
  it('sends a task rejected without requeue to the queue\'s dead-letter exchange', { skip }, async () => {
    const queue = `dl-work-${SUFFIX}`;
    const dead = `dl-dead-${SUFFIX}`;
    const app = new Celeriac('amqp-dlx', {
      broker: AMQP_URL,
      backend: 'memory://',
      taskDefaultQueue: queue,
      taskQueues: [{ name: queue, exchange: queue, routingKey: queue, arguments: { 'x-dead-letter-exchange': `dlx-${SUFFIX}`, 'x-dead-letter-routing-key': dead } }],
      logger: captureLog().logger,
    });
    const render = app.task(function render() {
      throw new Reject({ reason: 'out of memory', requeue: false });
    }, { name: 'tasks.render_scene', acksLate: true });
    const transport = await app.getTransport();
    await transport.declareExchange(`dlx-${SUFFIX}`, 'direct');
    await transport.declareQueue({ name: dead, exchange: `dlx-${SUFFIX}`, routingKey: dead });
    const worker = new Worker(app, { logger: captureLog().logger });
    await worker.start();
    try {
      await render.delay();
      const deadline = Date.now() + 10_000;
      while ((await transport.size(dead)) === 0 && Date.now() < deadline) await sleep(100);
      assert.equal(await transport.size(dead), 1, 'the rejected message is in the dead-letter queue');
      assert.equal(await transport.size(queue), 0);
    } finally {
      await worker.stop();
      await transport.purge(dead);
      await app.close();
    }
  });
});

describe('interop with Python Celery over RabbitMQ and rpc://', async () => {
  const problem = (await serviceSkip('rabbitmq')) || pythonSkip(['celery', 'amqp']);
  let app: Celeriac;
  let worker: Worker;
  let pyWorker: ChildProcess | undefined;

  before(async () => {
    if (problem) return;
    app = new Celeriac('interop-amqp', {
      broker: AMQP_URL,
      backend: 'rpc://',
      taskRoutes: { 'py.*': { queue: PY_QUEUE }, 'js.*': { queue: JS_QUEUE } },
      logger: captureLog().logger,
    });
    app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'js.add' });
    app.task(function fail(message: string) {
      throw new ValueError(message);
    }, { name: 'js.fail' });
    worker = new Worker(app, { queues: [JS_QUEUE], logger: captureLog().logger });
    await worker.start();
    pyWorker = await startPythonWorker(['-Q', PY_QUEUE, '-n', `py-${SUFFIX}@%h`], PY_ENV);
  });

  after(async () => {
    if (problem) return;
    pyWorker?.kill('SIGTERM');
    await worker.stop();
    await app.close();
  });

  it('a Python client calls a celeriac task and gets its result and its error', { skip: problem }, async () => {
    const route = `pyapp.app.conf.task_routes = {'js.*': {'queue': '${JS_QUEUE}'}}`;
    assert.equal(await pyClient(`${route}\nprint(pyapp.app.send_task('js.add', args=[20, 22]).get(timeout=20))`), '42');
    const err = await pyClient(`${route}\ntry:\n    pyapp.app.send_task('js.fail', args=['bad js']).get(timeout=20)\nexcept Exception as e:\n    print(type(e).__name__ + ': ' + str(e))`);
    assert.equal(err, 'ValueError: bad js');
  });

  it('a celeriac client calls a Python task and gets its result and its error', { skip: problem }, async () => {
    assert.equal(await (await app.sendTask('py.add', [1, 2])).get({ timeout: 20 }), 3);
    await assert.rejects((await app.sendTask('py.fail', ['bad python'])).get({ timeout: 20 }), (e: Error) => e.name === 'ValueError' && e.message === 'bad python');
  });
});

describe('RabbitMQ restart under load', async () => {
  const skip = (await serviceSkip('rabbitmq')) || (spawnSync('rabbitmqctl', ['status'], { stdio: 'ignore' }).status !== 0 && !servicesRequired ? 'rabbitmqctl unavailable' : false);

  it('completes 2,000 acksLate tasks across `rabbitmqctl stop_app && start_app` without restarting worker or producer', { skip, timeout: 180_000 }, async () => {
    const queue = `restart-${SUFFIX}`;
    const done = new Set<number>();
    const app = new Celeriac('amqp-restart', { broker: AMQP_URL, backend: 'memory://', taskAcksLate: true, taskDefaultQueue: queue, logger: captureLog().logger });
    const mark = app.task(async function mark(i: number) {
      await sleep(2);
      done.add(i);
    }, { name: 'restart.mark', ignoreResult: true });
    const worker = new Worker(app, { concurrency: 16, logger: captureLog().logger });
    await worker.start();
    try {
      const N = 2000;
      let restarted = false;
      for (let i = 0; i < N; i++) {
        if (i === N / 2) {
          execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore' });
          execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
          restarted = true;
        }
        for (let attempt = 0; ; attempt++) {
          try {
            await mark.delay(i);
            break;
          } catch (err) {
            if (attempt > 50) throw err;
            await sleep(200);
          }
        }
      }
      assert.ok(restarted);
      const deadline = Date.now() + 90_000;
      while (done.size < N && Date.now() < deadline) await sleep(200);
      assert.equal(done.size, N, 'every task ran');
    } finally {
      spawnSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
      await worker.stop();
      await app.close();
    }
  });
});
