import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterState, Reject, sleep, Worker, type CeleryEvent } from '../../src/index.js';
import { captureLog, testApp } from '../helpers/app.js';

describe('monitoring events', () => {
  it('a worker with sendEvents publishes worker and task events with Celery fields, in order', async () => {
    const { app } = testApp({ taskSendSentEvent: true });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const boom = app.task(function boom() {
      throw new RangeError('bad');
    }, { name: 'tasks.boom' });
    const picky = app.task(function picky() {
      throw new Reject({ reason: 'no', requeue: false });
    }, { name: 'tasks.picky', acksLate: true });
    const seen: CeleryEvent[] = [];
    const state = app.events.state();
    const receiver = app.events.receiver({
      '*': (e) => {
        seen.push(e);
        state.event(e);
      },
    });
    await receiver.start();
    const worker = new Worker(app, { hostname: 'ev@test', sendEvents: true, logger: captureLog().logger });
    await worker.start();
    try {
      const ok = await add.delay(2, 3);
      await ok.get({ timeout: 5 });
      const bad = await boom.delay();
      await assert.rejects(bad.get({ timeout: 5 }));
      const rejected = await picky.delay();
      const revoked = await add.applyAsync([1, 1], {}, { countdown: 0.3 });
      await app.control.revoke(revoked.id);
      await sleep(600);
      const types = (id: string): string[] => seen.filter((e) => e['uuid'] === id).map((e) => e.type);
      assert.deepEqual(types(ok.id), ['task-sent', 'task-received', 'task-started', 'task-succeeded']);
      assert.deepEqual(types(bad.id), ['task-sent', 'task-received', 'task-started', 'task-failed']);
      assert.deepEqual(types(rejected.id), ['task-sent', 'task-received', 'task-started', 'task-rejected']);
      assert.deepEqual(types(revoked.id), ['task-sent', 'task-received', 'task-revoked']);
      const received = seen.find((e) => e.type === 'task-received' && e['uuid'] === ok.id)!;
      assert.equal(received['name'], 'tasks.add');
      assert.equal(received['args'], '(2, 3)');
      assert.equal(received.hostname, 'ev@test');
      assert.equal(typeof received.timestamp, 'number');
      assert.equal(typeof received.clock, 'number');
      const succeeded = seen.find((e) => e.type === 'task-succeeded')!;
      assert.equal(succeeded['result'], '5');
      assert.equal(typeof succeeded['runtime'], 'number');
      assert.equal(seen.find((e) => e.type === 'task-failed')!['exception'], "RangeError('bad')");
      const online = seen.find((e) => e.type === 'worker-online')!;
      assert.equal(online['sw_ident'], 'celeriac');
      assert.equal(online['freq'], 2);
      assert.deepEqual(state.aliveWorkers(), ['ev@test']);
      assert.equal(state.tasks.get(ok.id)?.state, 'SUCCESS');
      assert.equal(state.tasks.get(bad.id)?.state, 'FAILURE');
    } finally {
      await worker.stop();
      await sleep(50);
      await receiver.stop();
      await app.close();
    }
    assert.ok(seen.some((e) => e.type === 'worker-offline' && e.hostname === 'ev@test'));
    assert.deepEqual(state.aliveWorkers(), [], 'offline after worker-offline');
  });

  it('sends a heartbeat every 2 s and the state counts a worker dead after two missed ones', async () => {
    const { app } = testApp();
    const seen: CeleryEvent[] = [];
    const receiver = app.events.receiver({ 'worker-heartbeat': (e) => seen.push(e) });
    await receiver.start();
    const worker = new Worker(app, { hostname: 'hb@test', sendEvents: true, logger: captureLog().logger });
    await worker.start();
    await sleep(2300);
    await worker.stop();
    await receiver.stop();
    await app.close();
    assert.equal(seen.length, 1);
    const state = new ClusterState();
    state.event(seen[0]!);
    const t = seen[0]!.timestamp;
    assert.equal(state.isAlive('hb@test', t + 3.9), true);
    assert.equal(state.isAlive('hb@test', t + 4.1), false);
  });
});
