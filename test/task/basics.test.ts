import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain, States, Task } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('tasks on the memory broker', () => {
  it('runs a task and returns its result', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    });
    assert.equal(add.name, 'task.basics.test.add', 'relative to the app root, test/helpers');
    await withWorker(app, async () => {
      const result = await add.delay(2, 3);
      assert.equal(await result.get({ timeout: 5 }), 5);
      assert.equal(await result.state(), States.SUCCESS);
      assert.equal(await result.successful(), true);
    });
  });

  it('runs a three-step chain, passing each result on', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    });
    const mul = app.task(function mul(x: number, y: number) {
      return x * y;
    });
    await withWorker(app, async () => {
      const result = await chain(add.s(1, 2), add.s(10), mul.s(2)).applyAsync();
      assert.equal(await result.get({ timeout: 5 }), 26);
      assert.ok(result.parent);
      assert.equal(await result.parent.get({ timeout: 5 }), 13);
    });
  });

  it('gives bound tasks the request', async () => {
    const { app } = testApp();
    const who = app.task(
      function who(self: Task, x: number) {
        return { id: self.request.id, retries: self.request.retries, x, same: this === self };
      },
      { bind: true },
    );
    await withWorker(app, async () => {
      const result = await who.delay(7);
      const value = await result.get({ timeout: 5 });
      assert.deepEqual(value, { id: result.id, retries: 0, x: 7, same: true });
    });
  });

  it("reads a task's own backend option in get(), asyncResult(id) and chains", async () => {
    const { app } = testApp();
    const own = app.task(function ownStore(x: number) {
      return x * 2;
    }, { name: 'tasks.own_store', backend: 'memory://own' });
    const plain = app.task(function plainStore(x: number) {
      return x + 1;
    }, { name: 'tasks.plain_store' });
    await withWorker(app, async () => {
      const sent = await own.delay(21);
      assert.equal(await sent.get({ timeout: 2 }), 42);
      assert.equal(await own.asyncResult(sent.id).get({ timeout: 2 }), 42);
      assert.equal(await app.asyncResult(sent.id, null, 'tasks.own_store').get({ timeout: 2 }), 42);
      assert.equal(await app.asyncResult(sent.id).state(), States.PENDING, "not in the app's backend");
      const last = await chain(plain.s(1), own.s()).applyAsync();
      assert.equal(await last.get({ timeout: 2 }), 4);
      assert.equal(await last.parent?.get({ timeout: 2 }), 2);
    });
  });
});
