import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { States } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('argument checking and keyword arguments', () => {
  it('rejects a call with the wrong arity at delay(), with Python wording', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    // @ts-expect-error - one argument is a type error too
    await assert.rejects(add.delay(1), { name: 'TypeError', message: "tasks.add() missing 1 required positional argument: 'y'" });
    // @ts-expect-error - three arguments
    await assert.rejects(add.delay(1, 2, 3), { name: 'TypeError', message: 'tasks.add() takes 2 positional arguments but 3 were given' });
    await assert.rejects(add.applyAsync([1], { z: 2 }), { message: "tasks.add() got an unexpected keyword argument 'z'" });
    await assert.rejects(add.applyAsync([1], { x: 2 }), { message: "tasks.add() got multiple values for argument 'x'" });
    assert.equal(await (await app.getTransport()).size('celery'), 0, 'nothing was sent');
  });

  it('sends anyway with typing: false, and the worker then fails the task with TypeError', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add', typing: false });
    await withWorker(app, async () => {
      // @ts-expect-error - deliberately wrong
      const result = await add.delay(1);
      await assert.rejects(result.get({ timeout: 5 }), { name: 'TypeError', message: /missing 1 required positional argument: 'y'/ });
      assert.equal(await result.state(), States.FAILURE);
    });
  });

  it('binds keyword arguments by parameter name, with defaults', async () => {
    const { app } = testApp();
    const greet = app.task(function greet(name: string, greeting = 'hello', punctuation = '!') {
      return `${greeting}, ${name}${punctuation}`;
    }, { name: 'tasks.greet' });
    await withWorker(app, async () => {
      const r1 = await greet.applyAsync([], { name: 'ada', punctuation: '?' });
      assert.equal(await r1.get({ timeout: 5 }), 'hello, ada?');
      const r2 = await greet.applyAsync(['bob'], { greeting: 'hi' });
      assert.equal(await r2.get({ timeout: 5 }), 'hi, bob!');
    });
  });

  it('collects unmatched keyword arguments into a trailing object pattern', async () => {
    const { app } = testApp();
    const fetchIt = app.task(function fetchIt(url: string, { timeout = 10, retries = 0 }: { timeout?: number; retries?: number } = {}) {
      return { url, timeout, retries };
    }, { name: 'tasks.fetch' });
    await withWorker(app, async () => {
      const r = await fetchIt.applyAsync([], { url: 'http://x', retries: 2 });
      assert.deepEqual(await r.get({ timeout: 5 }), { url: 'http://x', timeout: 10, retries: 2 });
    });
  });

  it('takes explicit parameter names for code whose source cannot be read', async () => {
    const { app } = testApp();
    const fn = (...args: unknown[]): unknown => args;
    const t = app.task(fn, { name: 'tasks.native', params: ['a', 'b?'] });
    await assert.rejects(t.applyAsync([], { c: 1 }), { message: "tasks.native() got an unexpected keyword argument 'c'" });
    await withWorker(app, async () => {
      const r = await t.applyAsync([], { b: 2, a: 1 });
      assert.deepEqual(await r.get({ timeout: 5 }), [1, 2]);
    });
  });

  it('accepts rest parameters', async () => {
    const { app } = testApp();
    const total = app.task(function total(...numbers: number[]) {
      return numbers.reduce((a, b) => a + b, 0);
    }, { name: 'tasks.total' });
    await withWorker(app, async () => {
      assert.equal(await (await total.delay(1, 2, 3, 4)).get({ timeout: 5 }), 10);
    });
  });
});
