// Calls typed from the task function: `s()`/`si()` take a leading part of its parameters,
// `applyAsync()`/`apply()` its full positional list (or a leading part with keyword arguments).
// The @ts-expect-error lines are the test's other half: the typecheck of the test run fails if
// one of those calls is accepted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('calls typed from the task function', () => {
  it('s() and si() take a leading part of the parameters, with their types', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    });
    assert.deepEqual(add.s(1).args, [1]);
    assert.deepEqual(add.si(1, 2).args, [1, 2]);
    assert.deepEqual(add.s().args, []);
    // @ts-expect-error a string where a number is expected
    add.s('1');
    // @ts-expect-error more arguments than parameters
    add.s(1, 2, 3);
    // @ts-expect-error a string where a number is expected
    add.si(1, '2');
    await withWorker(app, async () => {
      const r = await chain(add.s(1, 2), add.s(10)).applyAsync();
      assert.equal(await r.get({ timeout: 5 }), 13);
    });
  });

  it('applyAsync() and apply() take the full positional list, or a leading part with kwargs', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    });
    assert.equal(await (await add.apply([2, 3])).get(), 5);
    assert.equal(await (await add.apply([2], { y: 4 })).get(), 6);
    // @ts-expect-error a string where a number is expected
    void add.apply([2, '3']).catch(() => undefined);
    // @ts-expect-error a string where a number is expected
    void add.applyAsync(['2', 3], {}, { countdown: 1 }).catch(() => undefined);
    await withWorker(app, async () => {
      const r = await add.applyAsync([2, 2], {}, { queue: 'celery' });
      const n: number = await r.get({ timeout: 5 });
      assert.equal(n, 4);
    });
  });
});
