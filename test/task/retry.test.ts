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

  it('retries forever with maxRetries: null on the task (not the default 3)', async () => {
    const { app } = testApp();
    let attempts = 0;
    const t = app.task(async function stubborn(self: Task) {
      attempts++;
      if (self.request.retries < 5) return self.retry({ exc: new Error('again'), countdown: 0 });
      return self.request.retries;
    }, { name: 'tasks.stubborn', bind: true, maxRetries: null });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 5);
      assert.equal(attempts, 6);
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

describe('expected errors and retry options', () => {
  it('logs errors listed in throws at INFO without a stack, others at ERROR with one', async () => {
    const { app, log } = testApp();
    class NotFound extends Error {
      override name = 'NotFound';
    }
    const t = app.task(function lookup(kind: string) {
      if (kind === 'expected') throw new NotFound('no such user');
      throw new TypeError('bug in lookup');
    }, { name: 'tasks.lookup', throws: [NotFound] });
    await withWorker(app, async () => {
      const expected = await t.delay('expected');
      const unexpected = await t.delay('bug');
      await assert.rejects(expected.get({ timeout: 5 }), { name: 'NotFound' });
      await assert.rejects(unexpected.get({ timeout: 5 }), TypeError);
      assert.equal(await expected.state(), States.FAILURE, 'still stored as FAILURE');
    });
    const info = log.grep('raised expected: NotFound');
    assert.equal(info.length, 1);
    assert.match(info[0]!, /INFO/);
    assert.doesNotMatch(info[0]!, /\n\s+at /, 'no stack');
    const error = log.grep('raised unexpected: TypeError');
    assert.equal(error.length, 1);
    assert.match(error[0]!, /ERROR/);
    assert.match(error[0]!, /\n\s+at /, 'with the stack');
  });

  it('retries with new arguments, at an eta, on another queue', async () => {
    const { app } = testApp();
    const seen: Array<[unknown[], string | undefined]> = [];
    const t = app.task(async function move(self: Task, n: number) {
      seen.push([[n], self.request.deliveryInfo?.queue]);
      if (self.request.retries === 0) return self.retry({ args: [n * 10], eta: new Date(Date.now() + 30), queue: 'slow' });
      return n;
    }, { name: 'tasks.move', bind: true });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay(4)).get({ timeout: 5 }), 40);
    }, { queues: ['celery', 'slow'] });
    assert.deepEqual(seen, [[[4], 'celery'], [[40], 'slow']]);
  });

  it('uses defaultRetryDelay when neither countdown nor eta is given', async () => {
    const { app } = testApp();
    const t = app.task(async function wait(self: Task) {
      if (self.request.retries === 0) return self.retry();
      return 'second';
    }, { name: 'tasks.wait_default', bind: true, defaultRetryDelay: 0.05 });
    await withWorker(app, async () => {
      const started = Date.now();
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 'second');
      assert.ok(Date.now() - started >= 45);
    });
  });
});
