import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentRequest, Request, Task } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

async function deepHelper(): Promise<string | null> {
  await new Promise((r) => setImmediate(r));
  return currentRequest()?.id ?? null;
}

describe('the request context', () => {
  it('carries every field of the guide into a bound task', async () => {
    const { app } = testApp();
    let seen: Request | undefined;
    const probe = app.task(
      function probe(self: Task, x: number, { y }: { y?: number } = {}) {
        seen = self.request;
        return x + (y ?? 0);
      },
      { name: 'tasks.probe', bind: true },
    );
    await withWorker(app, async (worker) => {
      const result = await probe.applyAsync([1], { y: 2 }, { headers: { tenant: 'acme' }, countdown: 0.05, expires: 60 });
      assert.equal(await result.get({ timeout: 5 }), 3);
      assert.ok(seen);
      const r = seen;
      assert.equal(r.id, result.id);
      assert.equal(r.task, 'tasks.probe');
      assert.equal(r.correlationId, result.id);
      assert.deepEqual(r.args, [1]);
      assert.deepEqual(r.kwargs, { y: 2 });
      assert.match(r.origin ?? '', /^gen\d+@/);
      assert.equal(r.retries, 0);
      assert.equal(r.isEager, false);
      assert.ok(r.eta instanceof Date);
      assert.ok(r.expires instanceof Date && r.expires.getTime() > Date.now());
      assert.equal(r.hostname, worker.hostname);
      assert.deepEqual(r.deliveryInfo, { exchange: '', routingKey: 'celery', priority: 0, redelivered: false, queue: 'celery' });
      assert.equal(r.replyTo, app.oid);
      assert.equal(r.calledDirectly, false);
      assert.deepEqual(r.timelimit, [null, null]);
      assert.equal(r.callbacks, null);
      assert.equal(r.errbacks, null);
      assert.equal(r.utc, true);
      assert.equal(r.headers['tenant'], 'acme');
      assert.equal(r.rootId, result.id);
      assert.equal(r.parentId, null);
      assert.equal(r.chain, null);
      assert.equal(r.group, null);
      assert.equal(r.chord, null);
      assert.equal(r.argsrepr, '(1,)');
      assert.equal(r.kwargsrepr, "{'y': 2}");
      assert.ok(r.signal instanceof AbortSignal);
    });
  });

  it('is reachable anywhere in the task async call tree, and only there', async () => {
    const { app } = testApp();
    const t = app.task(async function deep() {
      return deepHelper();
    }, { name: 'tasks.deep' });
    assert.equal(currentRequest(), undefined);
    await withWorker(app, async () => {
      const r = await t.delay();
      assert.equal(await r.get({ timeout: 5 }), r.id);
    });
  });

  it('keeps concurrent executions apart', async () => {
    const { app } = testApp();
    const t = app.task(async function slowEcho(ms: number) {
      const before = currentRequest()?.id;
      await new Promise((r) => setTimeout(r, ms));
      return before === currentRequest()?.id ? before : 'mixed up';
    }, { name: 'tasks.echo' });
    await withWorker(app, async () => {
      const results = await Promise.all([30, 5, 20, 1].map((ms) => t.delay(ms)));
      for (const r of results) assert.equal(await r.get({ timeout: 5 }), r.id);
    });
  });

  it('marks direct calls as calledDirectly and subtask calls with parent and root ids', async () => {
    const { app } = testApp();
    const child = app.task(function child(self: Task) {
      return { parentId: self.request.parentId, rootId: self.request.rootId };
    }, { name: 'tasks.child', bind: true });
    const parent = app.task(async function parent(self: Task) {
      const r = await child.delay();
      return { childId: r.id, me: self.request.id };
    }, { name: 'tasks.parent', bind: true });
    const direct = app.task(function direct(self: Task) {
      return self.request.calledDirectly;
    }, { name: 'tasks.direct', bind: true });
    assert.equal(await direct.call(), true);
    await withWorker(app, async () => {
      const r = await parent.delay();
      const { childId, me } = (await r.get({ timeout: 5 })) as { childId: string; me: string };
      assert.deepEqual(await app.asyncResult(childId).get({ timeout: 5 }), { parentId: me, rootId: me });
      const meta = await r.meta();
      assert.deepEqual(meta.children, [[[childId, null], null]], 'the subtask is in the parent record children');
    });
  });

  it('tells a redelivered message', async () => {
    const { app } = testApp();
    const flags: boolean[] = [];
    const t = app.task(function flag(self: Task) {
      flags.push(self.request.deliveryInfo?.redelivered ?? false);
      return flags.length;
    }, { name: 'tasks.flag', bind: true });
    const transport = await app.getTransport();
    await t.delay();
    // A consumer takes the message and closes without acking: the broker gives it back.
    const consumer = await transport.consume(['celery'], () => undefined, { prefetch: 1 });
    while ((await transport.size('celery')) > 0) await new Promise((r) => setImmediate(r));
    await consumer.close();
    await withWorker(app, async () => {
      while (flags.length === 0) await new Promise((r) => setTimeout(r, 5));
    });
    assert.deepEqual(flags, [true]);
  });
});
