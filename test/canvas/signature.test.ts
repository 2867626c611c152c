import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain, decodeTaskMessage, Signature, States, Task, type SignatureDict } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('signatures', () => {
  it('serialize to Celery dict form', () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const sig = add.s(2).set({ countdown: 10, queue: 'math', softTimeLimit: 5 });
    assert.deepEqual(sig.toJSON(), {
      task: 'tasks.add',
      args: [2],
      kwargs: {},
      options: { countdown: 10, queue: 'math', soft_time_limit: 5 },
      subtask_type: null,
      immutable: false,
    });
    assert.equal(add.si(1, 2).immutable, true);
    const cb = add.s(1);
    sig.link(cb);
    sig.linkError(app.signature('tasks.log_error'));
    const json = sig.toJSON();
    assert.deepEqual(json.options['link'], [cb.toJSON()]);
    assert.equal((json.options['link_error'] as SignatureDict[])[0]!.task, 'tasks.log_error');
    const back = Signature.fromDict(JSON.parse(JSON.stringify(json)) as SignatureDict, app);
    assert.deepEqual(back.toJSON(), json);
    // Celery's merge: partial arguments come before the signature's own.
    const clone = sig.clone([3], { z: 1 }, { priority: 5 });
    assert.deepEqual(clone.args, [3, 2]);
    assert.deepEqual(clone.kwargs, { z: 1 });
    assert.equal(clone.options['priority'], 5);
    assert.equal(sig.options['priority'], undefined, 'clone leaves the original alone');
  });

  it('serialize a chain as celery.chain and embed the rest of it in the first message, last step first', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const c = chain(add.s(1, 2), add.s(10), add.s(100));
    const dict = c.toJSON();
    assert.equal(dict.task, 'celery.chain');
    assert.equal(dict.subtask_type, 'chain');
    assert.equal((dict.kwargs['tasks'] as SignatureDict[]).length, 3);
    const result = await c.applyAsync();
    const transport = await app.getTransport();
    let seen: ReturnType<typeof decodeTaskMessage> | undefined;
    const consumer = await transport.consume(['celery'], (d) => {
      seen = decodeTaskMessage(d.message, app.codecs);
    }, { prefetch: 1 });
    while (!seen) await new Promise((r) => setTimeout(r, 2));
    await consumer.close();
    assert.deepEqual(seen.args, [1, 2]);
    const rest = seen.embed.chain!;
    assert.deepEqual(rest.map((s) => s.args), [[100], [10]]);
    assert.equal(rest[0]!.options['task_id'], result.id, 'the last step carries the id the chain result has');
    assert.equal(rest[1]!.options['reply_to'], app.oid);
    assert.equal(result.parent?.id, rest[1]!.options['task_id']);
    assert.equal(result.parent?.parent?.id, seen.id);
  });

  it('apply link callbacks with the result and errbacks with the task id', async () => {
    const { app } = testApp();
    const got: unknown[] = [];
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const fail = app.task(function fail() {
      throw new Error('nope');
    }, { name: 'tasks.fail' });
    const record = app.task(function record(value: unknown, tag: string) {
      got.push([tag, value]);
    }, { name: 'tasks.record' });
    await withWorker(app, async () => {
      const ok = await add.applyAsync([1, 1], {}, { link: record.s('ok') });
      const bad = await fail.applyAsync([], {}, { linkError: record.s('err') });
      await ok.get({ timeout: 5 });
      await assert.rejects(bad.get({ timeout: 5 }));
      while (got.length < 2) await new Promise((r) => setTimeout(r, 2));
      assert.deepEqual(got.sort(), [['err', bad.id], ['ok', 2]]);
    });
  });

  it('ignore the parent result when immutable, and fail the rest of a chain when a step fails', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const boom = app.task(function boom(_x: number) {
      throw new RangeError('step two failed');
    }, { name: 'tasks.boom' });
    await withWorker(app, async () => {
      const r = await chain(add.s(1, 1), add.si(5, 5)).applyAsync();
      assert.equal(await r.get({ timeout: 5 }), 10);
      const failing = await chain(add.s(1, 1), boom.s(), add.s(1)).applyAsync();
      await assert.rejects(failing.get({ timeout: 5 }), { name: 'RangeError', message: 'step two failed' });
      assert.equal(await failing.state(), States.FAILURE);
      assert.equal(await failing.parent!.state(), States.FAILURE);
      assert.equal(await failing.parent!.parent!.state(), States.SUCCESS);
    });
  });

  it('run a chain given to a task as a signature argument', async () => {
    const { app } = testApp();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const runIt = app.task(async function runIt(self: Task, sig: SignatureDict) {
      const r = await Signature.fromDict(sig, app).applyAsync();
      return r.id;
    }, { name: 'tasks.run_it', bind: true });
    await withWorker(app, async () => {
      const outer = await runIt.delay(chain(add.s(1, 2), add.s(3)).toJSON());
      const lastId = (await outer.get({ timeout: 5 })) as string;
      assert.equal(await app.asyncResult(lastId).get({ timeout: 5 }), 6);
    });
  });
});
