/**
 * `Task.replace()` with Celery's semantics: the replacement takes the task's id, its callbacks,
 * its place in a chain, a group or a chord; a group replacement returns the group's results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain, chord, group, type Celeriac, type Task } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

function tasks(app: Celeriac) {
  const identity = app.task(function identity(x: unknown) {
    return x;
  }, { name: 'r.identity' });
  const add = app.task(function add(x: number, y: number) {
    return x + y;
  }, { name: 'r.add' });
  const addReplaced = app.task(async function addReplaced(self: Task, x: number, y: number) {
    return self.replace(add.s(x, y));
  }, { name: 'r.add_replaced', bind: true });
  const addToAll = app.task(async function addToAll(self: Task, nums: number[], val: number) {
    return self.replace(group(nums.map((n) => add.s(n, val))));
  }, { name: 'r.add_to_all', bind: true });
  const replaceWithChain = app.task(async function replaceWithChain(self: Task, x: unknown) {
    return self.replace(chain(identity.s(x), identity.s()));
  }, { name: 'r.replace_with_chain', bind: true });
  return { identity, add, addReplaced, addToAll, replaceWithChain };
}

describe('Task.replace', () => {
  it("hands the task's id and its chain's remaining steps to the replacement, callbacks included", async () => {
    const { app } = testApp();
    const { identity, addReplaced } = tasks(app);
    const seen: unknown[] = [];
    const record = app.task(function record(v: unknown) {
      seen.push(v);
    }, { name: 'r.record' });
    await withWorker(app, async () => {
      const direct = await addReplaced.delay(1, 2);
      assert.equal(await direct.get({ timeout: 5 }), 3, 'the caller waits on the replaced id');
      const sig = addReplaced.si(42, 1337);
      sig.link(record.s());
      const res = await chain(sig, identity.s()).applyAsync();
      assert.equal(await res.get({ timeout: 5 }), 1379);
      for (const deadline = Date.now() + 5000; seen.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(seen, [1379]);
    });
  });

  it('with a group: the next step gets the list of results (Celery test_group_chain)', async () => {
    const { app } = testApp();
    const { add, addToAll } = tasks(app);
    await withWorker(app, async () => {
      const res = await chain(add.s(2, 2), group([0, 1, 2, 3].map((i) => add.s(i))), addToAll.s(8)).applyAsync();
      assert.deepEqual(await res.get({ timeout: 5 }), [12, 13, 14, 15]);
    });
  });

  it('in a chord header and in a chain in the middle', async () => {
    const { app } = testApp();
    const { identity, replaceWithChain } = tasks(app);
    await withWorker(app, async () => {
      const c = await chord([replaceWithChain.si(42), identity.si(1)], identity.s()).applyAsync();
      assert.deepEqual(await c.get({ timeout: 5 }), [42, 1]);
      const mid = await chain(identity.s(42), replaceWithChain.s(), identity.s()).applyAsync();
      assert.equal(await mid.get({ timeout: 5 }), 42);
    });
  });
});
