import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeTaskMessage, NotRegistered, States, Worker, type TransportMessage } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

const until = async (predicate: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('the worker', () => {
  it('rejects an unregistered task with a logged error, records NotRegistered, and keeps running', async () => {
    const { app, log } = testApp();
    const ok = app.task(function ok() {
      return 'still here';
    }, { name: 'tasks.ok' });
    await withWorker(app, async () => {
      const ghost = await app.sendTask('tasks.ghost', [1]);
      await assert.rejects(ghost.get({ timeout: 5 }), NotRegistered);
      assert.equal(log.grep("Received unregistered task of type 'tasks.ghost'").length, 1);
      assert.equal(await (await ok.delay()).get({ timeout: 5 }), 'still here');
      assert.equal(await (await app.getTransport()).size('celery'), 0, 'the bad message was removed, not requeued');
    });
  });

  it('rejects malformed and disallowed messages without running them, and keeps running', async () => {
    const { app, log } = testApp();
    let runs = 0;
    const t = app.task(function counted() {
      return ++runs;
    }, { name: 'tasks.counted' });
    const transport = await app.getTransport();
    const good = encodeTaskMessage({ task: 'tasks.counted', id: 'x1', args: [], kwargs: {}, origin: 'test', serializer: 'json' }, app.codecs);
    const bad: TransportMessage[] = [
      { ...good, body: Buffer.from('{not json') },
      { ...good, body: Buffer.from('"a string body"') },
      { ...good, contentType: 'application/x-python-serialize' },
      { ...good, headers: {}, body: Buffer.from('[1,2]') },
    ];
    await withWorker(app, async (worker) => {
      const rejected: string[] = [];
      worker.on('task-rejected', (err) => rejected.push(err.name));
      for (const m of bad) await transport.publish(m, { exchange: '', routingKey: 'celery' });
      await until(() => rejected.length === 4, 'four rejections');
      assert.deepEqual(rejected.sort(), ['ContentDisallowed', 'DecodeError', 'DecodeError', 'DecodeError']);
      assert.equal(runs, 0);
      assert.equal(log.grep("refused message").length, 1);
      assert.match(log.grep('refused message')[0]!, /application\/x-python-serialize/);
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 1);
    });
  });

  it('acks early by default and late with acksLate', async () => {
    const { app } = testApp();
    const transport = await app.getTransport();
    const observed: Record<string, boolean> = {};
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const make = (name: string, acksLate: boolean) =>
      app.task(async function probe() {
        await gate;
        return name;
      }, { name, acksLate });
    const early = make('tasks.early', false);
    const late = make('tasks.late', true);
    // Run each on its own worker; a cold stop while the task runs shows whether the message was
    // still held (given back to the queue) or already acknowledged (gone).
    for (const [task, name] of [[early, 'early'], [late, 'late']] as const) {
      const worker = new Worker(app, { concurrency: 1 });
      await worker.start();
      await task.delay();
      await until(() => worker.active.size === 1, 'the task to start');
      await worker.stop({ cold: true });
      observed[name] = (await transport.size('celery')) === 1;
      await transport.purge('celery');
    }
    release();
    await app.close();
    assert.deepEqual(observed, { early: false, late: true });
  });

  it('respects concurrency and prefetch', async () => {
    const { app } = testApp();
    let running = 0;
    let peak = 0;
    const t = app.task(async function busy() {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    }, { name: 'tasks.busy' });
    await withWorker(app, async (worker) => {
      assert.equal(worker.prefetch, 6);
      const results = await Promise.all(Array.from({ length: 20 }, () => t.delay()));
      for (const r of results) await r.get({ timeout: 5 });
    }, { concurrency: 3, prefetchMultiplier: 2 });
    assert.equal(peak, 3);
  });

  it('finishes running tasks on warm shutdown and gives back the prefetched ones', async () => {
    const { app } = testApp();
    const done: number[] = [];
    const t = app.task(async function work(n: number) {
      await new Promise((r) => setTimeout(r, 30));
      done.push(n);
      return n;
    }, { name: 'tasks.work' });
    const worker = new Worker(app, { concurrency: 2, prefetchMultiplier: 4 });
    await worker.start();
    for (let i = 0; i < 6; i++) await t.delay(i);
    await until(() => worker.active.size === 2, 'two running tasks');
    await worker.stop();
    assert.deepEqual(done.sort(), [0, 1]);
    const transport = await app.getTransport();
    assert.equal(await transport.size('celery'), 4, 'the four not started are back on the queue');
    // Another worker picks them up.
    await withWorker(app, async () => {
      await until(() => done.length === 6, 'the rest to run');
    });
    assert.deepEqual(done.sort(), [0, 1, 2, 3, 4, 5]);
  });

  it('discards expired and revoked tasks as REVOKED', async () => {
    const { app, log } = testApp();
    let runs = 0;
    const t = app.task(function never() {
      runs++;
    }, { name: 'tasks.never' });
    const expired = await t.applyAsync([], {}, { expires: new Date(Date.now() - 1000) });
    const revoked = await t.delay();
    await revoked.revoke();
    await withWorker(app, async () => {
      await until(async () => (await expired.state()) === States.REVOKED && (await revoked.state()) === States.REVOKED, 'both revoked');
      assert.deepEqual((await expired.meta()).result, { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' });
      await assert.rejects(revoked.get({ timeout: 1 }), { name: 'TaskRevokedError' });
    });
    assert.equal(runs, 0);
    assert.equal(log.grep('Discarding expired task').length, 1);
    assert.equal(log.grep('Discarding revoked task').length, 1);
  });

  it('discards a task that expires or is revoked while it waits for a slot (checked as the pool takes it)', async () => {
    const { app } = testApp();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const busy = app.task(async function busy() {
      await gate;
    }, { name: 'tasks.busy' });
    let runs = 0;
    const t = app.task(function waiting() {
      runs++;
    }, { name: 'tasks.waiting' });
    await withWorker(app, async (worker) => {
      await busy.delay();
      const expiresAt = Date.now() + 300;
      const expiring = await t.applyAsync([], {}, { expires: new Date(expiresAt) });
      const revoked = await t.delay();
      // Both are received (prefetched) while the only slot is busy; then one expires, one is revoked.
      await until(() => worker.received.size >= 3, 'all three received');
      await until(() => Date.now() > expiresAt + 10, 'the expiry time');
      await revoked.revoke();
      release();
      await until(async () => (await expiring.state()) === States.REVOKED && (await revoked.state()) === States.REVOKED, 'both revoked');
    }, { concurrency: 1 });
    assert.equal(runs, 0);
  });

  it('holds a task until its ETA without blocking others', async () => {
    const { app } = testApp();
    const order: string[] = [];
    const t = app.task(function mark(label: string) {
      order.push(label);
      return Date.now();
    }, { name: 'tasks.mark' });
    await withWorker(app, async (worker) => {
      const before = Date.now();
      const later = await t.applyAsync(['later'], {}, { countdown: 0.15 });
      const now = await t.delay('now');
      await now.get({ timeout: 5 });
      assert.equal(worker.prefetch, 4 * 4 + 1, 'prefetch raised while holding an ETA task');
      const ranAt = await later.get({ timeout: 5 });
      assert.ok(ranAt - before >= 140, `ran after ${ranAt - before} ms`);
      assert.deepEqual(order, ['now', 'later']);
      assert.equal(worker.prefetch, 16);
    });
  });
});
