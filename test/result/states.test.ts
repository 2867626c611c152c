import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EXCEPTION_STATES,
  PROPAGATE_STATES,
  READY_STATES,
  RemoteTaskError,
  RuntimeTaskError,
  States,
  Task,
  TimeoutError,
  UNREADY_STATES,
} from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('states', () => {
  it('groups the states as Celery does', () => {
    assert.deepEqual([...READY_STATES].sort(), ['FAILURE', 'REVOKED', 'SUCCESS']);
    assert.deepEqual([...UNREADY_STATES].sort(), ['PENDING', 'RECEIVED', 'REJECTED', 'RETRY', 'STARTED']);
    assert.deepEqual([...EXCEPTION_STATES].sort(), ['FAILURE', 'RETRY', 'REVOKED']);
    assert.deepEqual([...PROPAGATE_STATES].sort(), ['FAILURE', 'REVOKED']);
  });

  it('stores STARTED with pid and hostname when trackStarted is on', async () => {
    const { app } = testApp();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = app.task(async function slow() {
      await gate;
      return 'done';
    }, { name: 'tasks.slow', trackStarted: true });
    await withWorker(app, async (worker) => {
      const r = await t.delay();
      while ((await r.state()) !== States.STARTED) await new Promise((res) => setTimeout(res, 2));
      assert.deepEqual(await r.info(), { pid: process.pid, hostname: worker.hostname });
      release();
      assert.equal(await r.get({ timeout: 5 }), 'done');
    });
  });

  it('does not store STARTED by default', async () => {
    const { app } = testApp();
    const states: string[] = [];
    const t = app.task(async function watch(self: Task) {
      states.push(await app.asyncResult(self.request.id!).state());
      return 1;
    }, { name: 'tasks.watch', bind: true });
    await withWorker(app, async () => {
      await (await t.delay()).get({ timeout: 5 });
    });
    assert.deepEqual(states, [States.PENDING]);
  });

  it('stores custom states with their meta', async () => {
    const { app } = testApp();
    const seen: unknown[] = [];
    let step!: () => void;
    const t = app.task(async function progress(self: Task, total: number) {
      for (let i = 1; i <= total; i++) {
        await self.updateState({ state: 'PROGRESS', meta: { current: i, total } });
        await new Promise<void>((r) => (step = r));
      }
      return total;
    }, { name: 'tasks.progress', bind: true });
    await withWorker(app, async () => {
      const r = await t.delay(2);
      for (let i = 1; i <= 2; i++) {
        while ((await r.info()) === null || (await r.info() as { current: number }).current !== i) {
          await new Promise((res) => setTimeout(res, 2));
        }
        seen.push([await r.state(), await r.info(), await r.ready()]);
        step();
      }
      assert.equal(await r.get({ timeout: 5 }), 2);
    });
    assert.deepEqual(seen, [
      ['PROGRESS', { current: 1, total: 2 }, false],
      ['PROGRESS', { current: 2, total: 2 }, false],
    ]);
  });

  it('stores FAILURE with the error and traceback, re-raised by get() under the same name', async () => {
    const { app } = testApp();
    class PaymentDeclined extends Error {
      override name = 'PaymentDeclined';
    }
    const t = app.task(function pay() {
      throw new PaymentDeclined('card expired');
    }, { name: 'tasks.pay' });
    await withWorker(app, async () => {
      const r = await t.delay();
      const err = await r.get({ timeout: 5 }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'PaymentDeclined');
      assert.equal(err.message, 'card expired');
      const meta = await r.meta();
      assert.equal(meta.status, States.FAILURE);
      assert.deepEqual(meta.result, { exc_type: 'PaymentDeclined', exc_message: ['card expired'], exc_module: 'celeriac' });
      assert.match(meta.traceback ?? '', /PaymentDeclined: card expired/);
      assert.equal(await r.failed(), true);
      assert.match((await r.traceback()) ?? '', /card expired/);
      const value: unknown = await r.get({ timeout: 5, propagate: false });
      assert.ok(value instanceof Error && value.message === 'card expired');
    });
  });

  it('re-raises an error stored by a Python worker', async () => {
    const { app } = testApp();
    const backend = await app.getBackend();
    await backend.storeResult({
      status: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['boom 1'], exc_module: 'builtins' },
      traceback: 'Traceback (most recent call last):\n  File "tasks.py", line 5\nValueError: boom 1\n',
      children: [],
      date_done: '2026-11-24T01:39:35.959474',
      task_id: 'py-1',
    });
    await assert.rejects(app.asyncResult('py-1').get({ timeout: 1 }), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'ValueError');
      assert.equal(err.message, 'boom 1');
      assert.equal(err.excModule, 'builtins');
      assert.match(err.remoteTraceback ?? '', /File "tasks.py"/);
      return true;
    });
  });

  it('honours ignoreResult and storeErrorsEvenIfIgnored', async () => {
    const { app } = testApp();
    const quiet = app.task(function quiet() {
      return 1;
    }, { name: 'tasks.quiet', ignoreResult: true });
    const quietFail = app.task(function quietFail() {
      throw new Error('kept');
    }, { name: 'tasks.quiet_fail', ignoreResult: true, storeErrorsEvenIfIgnored: true });
    const perCall = app.task(function perCall() {
      return 2;
    }, { name: 'tasks.per_call' });
    await withWorker(app, async (worker) => {
      const r1 = await quiet.delay();
      const r2 = await quietFail.delay();
      const r3 = await perCall.applyAsync([], {}, { ignoreResult: true });
      while ([...worker.processed.values()].reduce((a, b) => a + b, 0) < 3) await new Promise((r) => setTimeout(r, 2));
      assert.equal(await r1.state(), States.PENDING);
      assert.equal(await r2.state(), States.FAILURE);
      assert.equal(await r3.state(), States.PENDING);
    });
  });

  it('times out get(), forgets results, and guards against waiting inside a task', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const waiter = app.task(async function waiter(allow: boolean) {
      const r = await add.delay(1, 1);
      return r.get({ timeout: 5, ...(allow ? { disableSyncSubtasks: false } : {}) });
    }, { name: 'tasks.waiter' });
    await assert.rejects(app.asyncResult('never-sent').get({ timeout: 0.05 }), TimeoutError);
    await withWorker(app, async () => {
      const r = await add.delay(1, 2);
      assert.equal(await r.get({ timeout: 5 }), 3);
      await r.forget();
      assert.equal(await r.state(), States.PENDING);
      const guarded = await waiter.delay(false);
      await assert.rejects(guarded.get({ timeout: 5 }), (err: unknown) => {
        assert.ok(err instanceof RuntimeTaskError, `got ${String(err)}`);
        assert.match(err.message, /never wait for a result inside a task/);
        return true;
      });
      const allowed = await waiter.delay(true);
      assert.equal(await allowed.get({ timeout: 5 }), 2);
    }, { concurrency: 2 });
  });

  it('sends a task by name with sendTask', async () => {
    const { app } = testApp();
    app.task(function mul(x: number, y: number) {
      return x * y;
    }, { name: 'remote.mul' });
    await withWorker(app, async () => {
      const r = await app.sendTask<number>('remote.mul', [6], { y: 7 });
      assert.equal(await r.get({ timeout: 5 }), 42);
    });
  });
});
