import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AsyncPool } from '../../src/pool/async.js';
import { ChildPool } from '../../src/pool/child/pool.js';
import { Autoscaler } from '../../src/worker/autoscale.js';
import { silentLogger, Worker } from '../../src/index.js';
import { testApp } from '../helpers/app.js';
import { until } from '../helpers/until.js';

describe('autoscale', () => {
  it('grows at once up to max, shrinks to the load (not below min) only after keepalive', () => {
    const pool = new AsyncPool(2, async () => ({ state: 'SUCCESS', retval: null, error: null, requeue: false, runtime: 0 }));
    let load = 7;
    const scaler = new Autoscaler(pool, () => load, silentLogger, { max: 5, min: 2, keepalive: 30 });
    const t0 = Date.now();
    assert.equal(scaler.check(t0), 5, 'grows to max');
    load = 3;
    assert.equal(scaler.check(t0 + 10_000), 5, 'keeps its size within keepalive');
    assert.equal(scaler.check(t0 + 31_000), 3, 'shrinks to the load');
    load = 0;
    assert.equal(scaler.check(t0 + 62_000), 2, 'never below min');
    load = 4;
    assert.equal(scaler.check(t0 + 62_001), 4, 'grows again at once');
  });

  it('a worker with the process pool grows its children with the load and retires them afterwards', async () => {
    const { app } = testApp();
    const { gate, nap } = await import('../fixtures/proc-app.js');
    app.registerTask(gate);
    app.registerTask(nap);
    const open = join(mkdtempSync(join(tmpdir(), 'celeriac-autoscale-')), 'open');
    const worker = new Worker(app, {
      pool: 'process',
      appModule: 'test/fixtures/proc-app.ts',
      fair: true,
      handleSignals: false,
      autoscale: { max: 3, min: 1, keepalive: 4, intervalMs: 50 },
    });
    await worker.start();
    try {
      const pool = worker.pool as ChildPool;
      assert.equal(pool.pids.length, 1);
      const results = await Promise.all([1, 2, 3].map((i) => gate.delay(open, i)));
      // Each waits for the gate: all three run at once only if the pool grew to three children.
      await until(() => worker.active.size === 3, 'three tasks running at once', { timeout: 60_000, interval: 10 });
      assert.equal(pool.limit, 3);
      writeFileSync(open, '');
      assert.deepEqual(await Promise.all(results.map((r) => r.get({ timeout: 10 }))), [1, 2, 3]);
      await until(() => pool.limit === 1 && pool.pids.length === 1, 'the pool back at its minimum', { timeout: 20_000, interval: 10 });
      assert.equal(await (await nap.delay(10)).get({ timeout: 10 }), 10, 'still works after shrinking');
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});
