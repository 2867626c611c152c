import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain, chord, EagerResult, group, States, Task } from '../../src/index.js';
import { testApp } from '../helpers/app.js';

describe('eager execution', () => {
  it('apply() runs locally with isEager set and sends nothing', async () => {
    const { app } = testApp();
    const info = app.task(function info(self: Task, x: number) {
      return { x, eager: self.request.isEager, direct: self.request.calledDirectly, id: self.request.id };
    }, { name: 'tasks.info', bind: true });
    const r = await info.apply([3]);
    assert.ok(r instanceof EagerResult);
    assert.deepEqual(await r.get(), { x: 3, eager: true, direct: false, id: r.id });
    assert.equal(await r.state(), States.SUCCESS);
    assert.equal(await (await app.getTransport()).size('celery'), 0);
  });

  it('keeps the original error object of a failed eager run', async () => {
    const { app } = testApp();
    class Custom extends Error {
      override name = 'Custom';
    }
    const t = app.task(function bad() {
      throw new Custom('eager failure');
    }, { name: 'tasks.bad' });
    const r = await t.apply();
    assert.equal(await r.state(), States.FAILURE);
    await assert.rejects(r.get(), (err: unknown) => err instanceof Custom && err.message === 'eager failure');
    const value: unknown = await r.get({ propagate: false });
    assert.ok(value instanceof Custom);
  });

  it('runs everything locally with taskAlwaysEager, propagating with taskEagerPropagates', async () => {
    const { app } = testApp({ taskAlwaysEager: true });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const r = await add.delay(1, 2);
    assert.equal(await r.get(), 3);
    const { app: strict } = testApp({ task_always_eager: true, task_eager_propagates: true });
    const fail = strict.task(function fail() {
      throw new TypeError('propagated');
    }, { name: 'tasks.fail' });
    await assert.rejects(fail.delay(), { name: 'TypeError', message: 'propagated' });
  });

  it('retries eagerly until success, returning the final result', async () => {
    const { app } = testApp();
    let calls = 0;
    const flaky = app.task(async function flaky(self: Task) {
      calls++;
      if (calls < 3) return self.retry({ exc: new Error(`try ${calls}`), countdown: 100 });
      return `ok after ${self.request.retries} retries`;
    }, { name: 'tasks.flaky', bind: true });
    const r = await flaky.apply();
    assert.equal(await r.get(), 'ok after 2 retries');
    assert.equal(calls, 3);
  });
});

describe('eager canvas (task_always_eager)', () => {
  it('runs chains, groups and chords in place, sending nothing', async () => {
    const { app } = testApp({ taskAlwaysEager: true });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const tsum = app.task(function tsum(xs: number[]) {
      return xs.reduce((a, b) => a + b, 0);
    }, { name: 'tasks.tsum' });
    const c = await chain(add.s(1, 2), add.s(3)).applyAsync();
    assert.equal(await c.get({ timeout: 2 }), 6);
    const g = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    assert.deepEqual(await g.get({ timeout: 2 }), [2, 4]);
    const ch = await chord([add.s(1, 1), add.s(2, 2)], tsum.s()).applyAsync();
    assert.equal(await ch.get({ timeout: 2 }), 6);
    assert.equal(await (await app.getTransport()).size('celery'), 0);
  });
});
