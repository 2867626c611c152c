/**
 * `revoke({ terminate: true })` in the first moments of a task on the process pool: the revoke
 * can arrive after the worker's revoked check and before the pool reports the task running. It
 * must never be lost (issue 16, item 7).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { States, TaskRevokedError, Worker, type Pool } from '../../src/index.js';
import { ChildPool } from '../../src/pool/child/pool.js';
import type { JobResult, PoolJob } from '../../src/pool/port.js';
import { app, nap } from '../fixtures/pool-app.js';
import { captureLog } from '../helpers/app.js';
import { until } from '../helpers/until.js';

const appModule = fileURLToPath(new URL('../fixtures/pool-app.ts', import.meta.url));

/** A process pool that calls `onAccepted` the moment a job is handed to a child, before it starts. */
function poolWithHook(onAccepted: (taskId: string) => void): Pool {
  const inner = new ChildPool({ kind: 'process', size: 1, appSpec: appModule, app, logger: captureLog().logger, logLevel: 'silent' });
  return Object.assign(Object.create(inner) as Pool, {
    run(job: PoolJob): Promise<JobResult> {
      return inner.run({
        task: job.task,
        request: job.request,
        accept: () => {
          const ok = job.accept();
          if (ok) onAccepted(job.request.id ?? '');
          return ok;
        },
        started: () => job.started(),
      });
    },
  });
}

describe('revoke with terminate at the start of a task on the process pool', () => {
  it('a terminate recorded between the hand-over to the child and its "started" stops the task', { timeout: 60_000 }, async () => {
    const worker = new Worker(app, {
      pool: poolWithHook((id) => app.recordRevoked([id], { terminate: true })),
      hostname: `race-hook-${process.pid}@test`,
      logger: captureLog().logger,
    });
    await worker.start();
    try {
      const r = await nap.delay(3000);
      await assert.rejects(r.get({ timeout: 20 }), TaskRevokedError);
      assert.equal(await r.state(), States.REVOKED);
    } finally {
      await worker.stop();
    }
  });

  it('is never lost over many tries at varied moments after the task is received', { timeout: 240_000 }, async () => {
    const worker = new Worker(app, { appModule, pool: 'process', concurrency: 2, logLevel: 'silent', hostname: `race-loop-${process.pid}@test`, logger: captureLog().logger });
    await worker.start();
    const tries = 16;
    const outcomes: string[] = [];
    try {
      for (let i = 0; i < tries; i++) {
        const received = new Promise<void>((resolve) => worker.once('task-received', () => resolve()));
        const r = await nap.delay(4000);
        await received;
        // From at once to a few milliseconds in: across the window before the child reports the start.
        if (i % 4 > 0) await new Promise((res) => setTimeout(res, (i % 4) * 2));
        await r.revoke({ terminate: true });
        await until(async () => ((await r.state()) === States.REVOKED || (await r.state()) === States.SUCCESS), `task ${i} to end`, { timeout: 20_000 });
        outcomes.push(await r.state());
      }
    } finally {
      await worker.stop();
    }
    assert.deepEqual(outcomes.filter((s) => s !== States.REVOKED), [], `outcomes: ${outcomes.join(' ')}`);
  });
});
