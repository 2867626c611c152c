import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac, GroupResult, sleep, States, Worker, type Task } from '../../src/index.js';
import { uuid } from '../../src/utils/ids.js';
import { jsonMessage, PIDBOX_EXCHANGE } from '../../src/control/pidbox.js';
import { captureLog, testApp } from '../helpers/app.js';
import { until } from '../helpers/until.js';

function tasks(app: Celeriac) {
  const add = app.task(function add(x: number, y: number) {
    return x + y;
  }, { name: 'tasks.add' });
  const slow = app.task(async function slow(self: Task, ms: number) {
    await sleep(ms, self.request.signal);
    return ms;
  }, { name: 'tasks.slow', bind: true });
  return { add, slow };
}

/** Starts `n` workers with distinct hostnames on one app; stops them after `fn`. */
async function withWorkers<T>(app: Celeriac, n: number, fn: (workers: Worker[]) => Promise<T>, extra: ConstructorParameters<typeof Worker>[1] = {}): Promise<T> {
  const workers = Array.from({ length: n }, (_, i) => new Worker(app, { hostname: `w${i}@test`, concurrency: 4, logger: captureLog().logger, ...extra }));
  for (const w of workers) await w.start();
  try {
    return await fn(workers);
  } finally {
    for (const w of workers) await w.stop();
    await app.close();
  }
}

const hosts = (replies: Array<Record<string, unknown>>): string[] => replies.flatMap((r) => Object.keys(r)).sort();

describe('remote control', () => {
  it('a broadcast to 3 workers returns 3 replies; destination and pattern address some', async () => {
    const { app } = testApp();
    tasks(app);
    await withWorkers(app, 3, async () => {
      const pongs = await app.control.ping({ timeout: 1, limit: 3 });
      assert.deepEqual(hosts(pongs), ['w0@test', 'w1@test', 'w2@test']);
      assert.deepEqual(pongs[0]![Object.keys(pongs[0]!)[0]!], { ok: 'pong' });
      assert.deepEqual(hosts(await app.control.ping({ destination: ['w1@test'] })), ['w1@test']);
      assert.deepEqual(hosts(await app.control.ping({ pattern: 'w[02]*', timeout: 0.3 })), []);
      assert.deepEqual(hosts(await app.control.ping({ pattern: 'w2*', timeout: 0.3 })), ['w2@test']);
    });
  });

  it('inspects registered, active, reserved, scheduled, stats, query_task, conf, report, clock', async () => {
    const { app } = testApp();
    const { slow, add } = tasks(app);
    await withWorkers(app, 1, async () => {
      const running = await slow.delay(1500);
      const later = await add.applyAsync([1, 2], {}, { countdown: 30 });
      await sleep(200);
      const inspect = app.control.inspect({ timeout: 0.5, limit: 1 });
      assert.deepEqual((await inspect.registered())[0], { 'w0@test': ['tasks.add', 'tasks.slow'] });
      const active = (await inspect.active())[0]!['w0@test'] as Array<Record<string, unknown>>;
      assert.deepEqual(active.map((a) => [a['id'], a['name'], a['args']]), [[running.id, 'tasks.slow', [1500]]]);
      assert.equal(typeof active[0]!['time_start'], 'number');
      const scheduled = (await inspect.scheduled())[0]!['w0@test'] as Array<{ request: { id: string }; eta: string }>;
      assert.deepEqual(scheduled.map((s) => s.request.id), [later.id]);
      assert.deepEqual((await inspect.reserved())[0], { 'w0@test': [] });
      const stats = (await inspect.stats())[0]!['w0@test'] as Record<string, unknown>;
      assert.equal(stats['pid'], process.pid);
      assert.equal((stats['pool'] as Record<string, unknown>)['max-concurrency'], 4);
      const q = (await inspect.queryTask(running.id))[0]!['w0@test'] as Record<string, [string, unknown]>;
      assert.equal(q[running.id]![0], 'active');
      const conf = (await inspect.conf(true))[0]!['w0@test'] as Record<string, unknown>;
      assert.equal(conf['task_default_queue'], 'celery');
      assert.match(String(((await inspect.report())[0]!['w0@test'] as { ok: string }).ok), /celeriac/);
      assert.equal(typeof ((await inspect.clock())[0]!['w0@test'] as { clock: number }).clock, 'number');
      await app.control.revoke(later.id);
      assert.equal(await running.get({ timeout: 5 }), 1500);
    });
  });

  it('revokes with terminate: a running task stops and ends REVOKED; the id is listed by all workers', async () => {
    const { app } = testApp();
    const { slow } = tasks(app);
    await withWorkers(app, 2, async () => {
      const r = await slow.delay(10_000);
      await sleep(150);
      const replies = await app.control.revoke(r.id, { terminate: true, reply: true, timeout: 0.5, limit: 2 });
      assert.equal(replies.length, 2);
      assert.ok(JSON.stringify(replies).includes(`terminate: ${r.id}`));
      await assert.rejects(r.get({ timeout: 5 }), (e: Error) => e.name === 'TaskRevokedError');
      assert.equal(await r.state(), States.REVOKED);
      const revoked = await app.control.inspect({ timeout: 0.5, limit: 2 }).revoked();
      for (const reply of revoked) assert.deepEqual(Object.values(reply)[0], [r.id]);
    });
  });

  it('changes rate and time limits, consumers and pool size', async () => {
    const { app } = testApp();
    const { add } = tasks(app);
    await withWorkers(app, 1, async ([w]) => {
      const opts = { reply: true, timeout: 0.5, limit: 1 };
      assert.deepEqual(await app.control.rateLimit('tasks.add', '10/s', opts), [{ 'w0@test': { ok: 'new rate limit set successfully' } }]);
      assert.equal(add.rateLimit, '10/s');
      assert.deepEqual(await app.control.rateLimit('tasks.nope', '1/s', opts), [{ 'w0@test': { error: 'unknown task tasks.nope' } }]);
      await app.control.timeLimit('tasks.add', { soft: 5, hard: 10 }, opts);
      assert.deepEqual([add.softTimeLimit, add.timeLimit], [5, 10]);
      assert.deepEqual(await app.control.addConsumer('extra', opts), [{ 'w0@test': { ok: 'add consumer extra' } }]);
      assert.deepEqual(w!.queues, ['celery', 'extra']);
      const viaExtra = await add.applyAsync([2, 2], {}, { queue: 'extra' });
      assert.equal(await viaExtra.get({ timeout: 5 }), 4);
      const queues = (await app.control.inspect({ timeout: 0.5 }).activeQueues())[0]!['w0@test'] as Array<{ name: string }>;
      assert.deepEqual(queues.map((q) => q.name), ['celery', 'extra']);
      await app.control.cancelConsumer('extra', opts);
      assert.deepEqual(w!.queues, ['celery']);
      await app.control.poolGrow(2, opts);
      assert.equal(w!.concurrency, 6);
      await app.control.poolShrink(1, opts);
      assert.equal(w!.concurrency, 5);
    });
  });

  it('logs and ignores malformed or unknown commands, and keeps working', async () => {
    const { app } = testApp();
    const { add } = tasks(app);
    const log = captureLog();
    await withWorkers(app, 1, async () => {
      const transport = await app.getTransport();
      await transport.publish({ body: Buffer.from('{not json'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, properties: {} }, { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      await transport.publish(jsonMessage({ arguments: {} }, {}), { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      await transport.publish(jsonMessage({ method: 'ping', ticket: 't', reply_to: null }, { expires: 1 }), { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      const unknown = await app.control.broadcast('frobnicate', { reply: true, timeout: 0.5, limit: 1 });
      assert.deepEqual(unknown, [{ 'w0@test': { error: 'No such command: frobnicate' } }]);
      await sleep(50);
      assert.equal(log.grep('malformed control message').length, 2, log.lines.join('\n'));
      assert.equal(await (await add.delay(1, 1)).get({ timeout: 5 }), 2);
    }, { logger: log.logger });
  });

  it('shuts a worker down on request', async () => {
    const { app } = testApp();
    await withWorkers(app, 1, async ([w]) => {
      await app.control.shutdown({ destination: ['w0@test'] });
      await Promise.race([w!.done, sleep(3000).then(() => assert.fail('worker did not stop'))]);
    });
  });
});

describe('revoked ids across the fleet', () => {
  it('a worker starting later learns them (mingle), and statedb keeps them across restarts', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'celeriac-statedb-')), 'worker.state');
    const broker = `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-mingle-')), 'q.db')}`;
    const first = new Celeriac('a', { broker, backend: 'memory://', logger: captureLog().logger });
    const w1 = new Worker(first, { hostname: 'first@test', logger: captureLog().logger, statedb: file });
    await w1.start();
    await first.control.revoke(['r-1', 'r-2']);
    await sleep(200);
    assert.deepEqual([...first.revoked].sort(), ['r-1', 'r-2']);
    const second = new Celeriac('b', { broker, backend: 'memory://', logger: captureLog().logger });
    const w2 = new Worker(second, { hostname: 'second@test', logger: captureLog().logger });
    await w2.start();
    assert.ok(second.revoked.has('r-1') && second.revoked.has('r-2'), `learned ${[...second.revoked]}`);
    await w2.stop();
    await second.close();
    await w1.stop();
    await first.close();
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { revoked: Record<string, number> }).revoked).sort(), ['r-1', 'r-2']);
    const restarted = new Celeriac('c', { broker: 'memory://', backend: 'memory://', logger: captureLog().logger });
    const w3 = new Worker(restarted, { hostname: 'first@test', logger: captureLog().logger, statedb: file });
    await w3.start();
    assert.ok(restarted.revoked.has('r-1'));
    await w3.stop();
    await restarted.close();
  });
});

describe('revoking from a client app (another process, as far as the worker can tell)', () => {
  /** Two apps on one SQLite broker and result store: they share nothing in memory. */
  function pair(): { client: Celeriac; workerApp: Celeriac } {
    const file = join(mkdtempSync(join(tmpdir(), 'celeriac-revoke-')), 'q.db');
    const urls = { broker: `sqlite:///${file}`, backend: `db+sqlite:///${file}` };
    return { client: new Celeriac('client', { ...urls, logger: captureLog().logger }), workerApp: new Celeriac('w', { ...urls, logger: captureLog().logger }) };
  }

  it('AsyncResult.revoke({ terminate }) and GroupResult.revoke() reach the worker through the broadcast', { timeout: 30_000 }, async () => {
    const { client, workerApp } = pair();
    tasks(workerApp);
    const { slow } = tasks(client);
    const worker = new Worker(workerApp, { hostname: `revokee-${process.pid}@test`, concurrency: 4, logger: captureLog().logger });
    await worker.start();
    try {
      const running = await slow.delay(20_000);
      await until(() => worker.active.has(running.id), 'the task to start');
      await running.revoke({ terminate: true });
      await assert.rejects(running.get({ timeout: 10 }), (e: Error) => e.name === 'TaskRevokedError');
      const later = [await slow.applyAsync([1], {}, { countdown: 2 }), await slow.applyAsync([2], {}, { countdown: 2 })];
      const group = new GroupResult(uuid(), client.resultContext, later);
      await group.revoke();
      await until(() => later.every((r) => workerApp.revoked.has(r.id)), 'the group members revoked on the worker');
      for (const r of later) await assert.rejects(r.get({ timeout: 10 }), (e: Error) => e.name === 'TaskRevokedError');
    } finally {
      await worker.stop();
      await workerApp.close();
      await client.close();
    }
  });

  it('rejects with OperationalError naming the ids when the broker is unreachable', async () => {
    const app = new Celeriac('offline', { broker: 'redis://127.0.0.1:1/0', backend: 'memory://', logger: captureLog().logger });
    try {
      await assert.rejects(app.asyncResult('t-1').revoke(), (e: Error) => e.name === 'OperationalError' && /revoke of t-1/.test(e.message));
    } finally {
      await app.close();
    }
  });
});
