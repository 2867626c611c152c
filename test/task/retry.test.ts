import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffCountdown, MaxRetriesExceededError, Retry, States, Task } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('retries', () => {
  it('republishes with the same id and retries + 1, recording RETRY and calling onRetry', async () => {
    const { app } = testApp();
    const seen: Array<[string | null, number]> = [];
    const retried: string[] = [];
    class Noting extends Task {
      override onRetry(exc: Error): void {
        retried.push(exc.message);
      }
    }
    const t = app.task(async function flaky(self: Task) {
      seen.push([self.request.id, self.request.retries]);
      if (self.request.retries < 2) return self.retry({ exc: new Error(`attempt ${self.request.retries}`), countdown: 0.01 });
      return 'done';
    }, { name: 'tasks.flaky', bind: true, base: Noting });
    await withWorker(app, async () => {
      const r = await t.delay();
      assert.equal(await r.get({ timeout: 5 }), 'done');
      assert.deepEqual(seen, [[r.id, 0], [r.id, 1], [r.id, 2]]);
      assert.deepEqual(retried, ['attempt 0', 'attempt 1']);
    });
  });

  it('raises the original error past maxRetries, or MaxRetriesExceededError without one', async () => {
    const { app } = testApp();
    const withExc = app.task(async function withExc(self: Task) {
      return self.retry({ exc: new RangeError('still broken'), countdown: 0 });
    }, { name: 'tasks.with_exc', bind: true, maxRetries: 1 });
    const withoutExc = app.task(async function withoutExc(self: Task) {
      return self.retry({ countdown: 0 });
    }, { name: 'tasks.without_exc', bind: true, maxRetries: 0 });
    await withWorker(app, async () => {
      await assert.rejects((await withExc.delay()).get({ timeout: 5 }), { name: 'RangeError', message: 'still broken' });
      await assert.rejects((await withoutExc.delay()).get({ timeout: 5 }), MaxRetriesExceededError);
    });
  });

  it('records state RETRY between attempts', async () => {
    const { app } = testApp();
    const t = app.task(async function later(self: Task) {
      if (self.request.retries === 0) return self.retry({ exc: new Error('first'), countdown: 60 });
      return 1;
    }, { name: 'tasks.later', bind: true });
    await withWorker(app, async () => {
      const r = await t.delay();
      while ((await r.state()) !== States.RETRY) await new Promise((res) => setTimeout(res, 2));
      const info = await r.info();
      assert.ok(info instanceof Error && info.message === 'first');
    });
  });

  it('returns the Retry with throw: false', async () => {
    const { app } = testApp();
    const t = app.task(async function soft(self: Task) {
      if (self.request.retries > 0) return 'second run';
      const retry: unknown = await self.retry({ countdown: 0, throw: false });
      return retry instanceof Retry ? 'returned' : 'thrown';
    }, { name: 'tasks.soft', bind: true });
    await withWorker(app, async () => {
      const r = await t.delay();
      const first = await r.get({ timeout: 5 });
      assert.ok(first === 'returned' || first === 'second run');
    });
  });

  it('autoretries listed errors with backoff', async () => {
    const { app } = testApp();
    class NetworkError extends Error {}
    let attempts = 0;
    const t = app.task(function fetchIt() {
      attempts++;
      if (attempts < 3) throw new NetworkError('down');
      return attempts;
    }, { name: 'tasks.fetch', autoretryFor: [NetworkError], retryKwargs: { maxRetries: 5 }, retryBackoff: 0.01, retryJitter: false });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 3);
    });
  });

  it('computes Celery backoff: factor * 2^retries, capped, full jitter', () => {
    const policy = { backoff: true, maximum: 600, jitter: false } as const;
    assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffCountdown(policy, n)), [1, 2, 4, 8, 600]);
    assert.equal(backoffCountdown({ backoff: 3, maximum: 600, jitter: false }, 2), 12);
    assert.equal(backoffCountdown({ backoff: true, maximum: 600, jitter: true }, 3, () => 0.999), 8);
    assert.equal(backoffCountdown({ backoff: true, maximum: 600, jitter: true }, 3, () => 0), 0);
  });
});
