import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { chord, States, TimeLimitExceeded, Worker, WorkerLostError, type WorkerOptions } from '../../src/index.js';
import { add, app, burn, die, dieRequeue, nap, retryOnce, total, where } from '../fixtures/pool-app.js';

const appModule = fileURLToPath(new URL('../fixtures/pool-app.ts', import.meta.url));

async function withPool<T>(options: WorkerOptions, fn: (worker: Worker) => Promise<T>): Promise<T> {
  const worker = new Worker(app, { appModule, concurrency: 2, logLevel: 'silent', ...options });
  await worker.start();
  try {
    return await fn(worker);
  } finally {
    await worker.stop();
  }
}

for (const kind of ['process', 'threads'] as const) {
  describe(`the ${kind} pool`, () => {
    it('runs tasks in its children, results stored through the parent', async () => {
      await withPool({ pool: kind }, async () => {
        assert.equal(await (await add.delay(2, 3)).get({ timeout: 10 }), 5);
        const place = (await (await where.delay()).get({ timeout: 10 })) as { pid: number; thread: number };
        if (kind === 'process') assert.notEqual(place.pid, process.pid);
        else assert.ok(place.thread > 0 && place.pid === process.pid);
        assert.equal(await (await retryOnce.delay()).get({ timeout: 10 }), 'retried 1');
      });
    });

    it('completes a chord whose header tasks run in its children (counted in the parent)', async () => {
      await withPool({ pool: kind }, async () => {
        const body = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], total.s()).applyAsync();
        assert.equal(await body.get({ timeout: 10 }), 12);
      });
    });

    it('keeps the worker event loop free while a child burns CPU', async () => {
      await withPool({ pool: kind }, async () => {
        const r = await burn.delay(400);
        let ticks = 0;
        const timer = setInterval(() => ticks++, 10);
        await r.get({ timeout: 10 });
        clearInterval(timer);
        assert.ok(ticks >= 10, `the parent loop ticked ${ticks} times during 400 ms of child CPU`);
      });
    });

    it('kills and replaces a child past the hard time limit', async () => {
      await withPool({ pool: kind, concurrency: 1 }, async () => {
        const r = await burn.applyAsync([60_000], {}, { timeLimit: 0.3 });
        await assert.rejects(r.get({ timeout: 10 }), TimeLimitExceeded);
        assert.equal(await (await add.delay(1, 1)).get({ timeout: 10 }), 2, 'the replacement child works');
      });
    });

    it('stops a sleeping task at the soft limit through its signal', async () => {
      await withPool({ pool: kind }, async () => {
        const r = await nap.applyAsync([60_000], {}, { softTimeLimit: 0.1 });
        await assert.rejects(r.get({ timeout: 10 }), { name: 'SoftTimeLimitExceeded' });
      });
    });
  });
}

describe('a pool child killed with SIGKILL mid-task', () => {
  it('fails the task with WorkerLostError, acks it, and replaces the child', async () => {
    await withPool({ pool: 'process', concurrency: 1 }, async (worker) => {
      const before = (worker.pool as unknown as { pids: number[] }).pids[0];
      const r = await die.delay();
      await assert.rejects(r.get({ timeout: 10 }), WorkerLostError);
      assert.equal(await r.state(), States.FAILURE);
      assert.equal(await (await app.getTransport()).size('celery'), 0, 'acked, not requeued');
      const place = (await (await where.delay()).get({ timeout: 10 })) as { pid: number };
      assert.notEqual(place.pid, before, 'a new child runs tasks');
    });
  });

  it('requeues the task with rejectOnWorkerLost, and it runs again', async () => {
    await withPool({ pool: 'process', concurrency: 1 }, async () => {
      const r = await dieRequeue.delay();
      assert.equal(await r.get({ timeout: 10 }), 'ran again after the crash');
    });
  });
});

describe('pool options', () => {
  it('recycles children after maxTasksPerChild', async () => {
    await withPool({ pool: 'process', concurrency: 1, maxTasksPerChild: 2 }, async () => {
      const pids: number[] = [];
      for (let i = 0; i < 4; i++) pids.push(((await (await where.delay()).get({ timeout: 10 })) as { pid: number }).pid);
      assert.equal(pids[0], pids[1]);
      assert.notEqual(pids[1], pids[2]);
      assert.equal(pids[2], pids[3]);
    });
  });

  it('with fair scheduling, never queues work behind a busy child', async () => {
    await withPool({ pool: 'process', concurrency: 2, fair: true, prefetchMultiplier: 4 }, async () => {
      const long = await burn.delay(1500);
      const shorts = await Promise.all(Array.from({ length: 6 }, (_v, i) => add.delay(i, i)));
      const started = Date.now();
      for (const s of shorts) await s.get({ timeout: 10 });
      assert.ok(Date.now() - started < 1400, 'the short tasks did not wait for the long one');
      await long.get({ timeout: 10 });
    });
  });
});
