import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import {
  parseRate,
  sleep,
  SoftTimeLimitExceeded,
  States,
  TaskRevokedError,
  Task,
  TimeLimitExceeded,
  TokenBucket,
  encodeTaskMessage,
} from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

const until = async (predicate: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('rate limits', () => {
  it('parses Celery rate strings', () => {
    assert.equal(parseRate('100/m'), 100 / 60);
    assert.equal(parseRate('10/s'), 10);
    assert.equal(parseRate('2/h'), 2 / 3600);
    assert.equal(parseRate('5'), 5);
    assert.equal(parseRate(0.5), 0.5);
    assert.equal(parseRate(null), null);
    assert.equal(parseRate('0/s'), null);
    assert.throws(() => parseRate('fast'), /bad rate limit 'fast'/);
  });

  it('hands out tokens at the rate, in order (fake clock)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let now = 0;
      const bucket = new TokenBucket(2, 1, () => now);
      const order: number[] = [];
      const flush = async (): Promise<void> => {
        for (let i = 0; i < 5; i++) await Promise.resolve();
      };
      for (let i = 0; i < 4; i++) void bucket.take().then(() => order.push(i));
      await flush();
      assert.deepEqual(order, [0], 'one token at once');
      for (const expected of [[0, 1], [0, 1, 2], [0, 1, 2, 3]]) {
        now += 499;
        mock.timers.tick(499);
        await flush();
        assert.equal(order.length, expected.length - 1, 'not before the token is due');
        now += 1;
        mock.timers.tick(1);
        await flush();
        assert.deepEqual(order, expected);
      }
    } finally {
      mock.timers.reset();
    }
  });

  it('makes tasks over the rate wait in the worker, not fail', async () => {
    const { app } = testApp();
    const times: number[] = [];
    const t = app.task(function limited() {
      times.push(performance.now());
    }, { name: 'tasks.limited', rateLimit: '20/s' });
    await withWorker(app, async () => {
      const results = await Promise.all(Array.from({ length: 5 }, () => t.delay()));
      for (const r of results) assert.equal(await r.get({ timeout: 5 }), null);
    });
    assert.equal(times.length, 5);
    // 20/s: one token per 50 ms, so five runs span at least four intervals.
    assert.ok(times[4]! - times[0]! >= 4 * 50 - 5, `spanned ${times[4]! - times[0]!} ms`);
  });
});

describe('rate limits changed at run time', () => {
  it('a limit set by remote control applies to a task type that already ran', async () => {
    const { app } = testApp();
    const times: number[] = [];
    const t = app.task(function tick() {
      times.push(performance.now());
    }, { name: 'tasks.tick' });
    await withWorker(app, async () => {
      await (await t.delay()).get({ timeout: 5 });
      const replies = await app.control.rateLimit('tasks.tick', '5/s', { reply: true, timeout: 1, limit: 1 });
      assert.deepEqual(Object.values(replies[0]!)[0], { ok: 'new rate limit set successfully' });
      times.length = 0;
      const results = await Promise.all(Array.from({ length: 4 }, () => t.delay()));
      for (const r of results) await r.get({ timeout: 10 });
    });
    // 5/s: one token per 200 ms, so four runs span at least three intervals.
    assert.ok(times[3]! - times[0]! >= 3 * 200 - 20, `spanned ${times[3]! - times[0]!} ms`);
  });

  it('tasks already waiting for a token follow the new rate; a bad rate is refused and changes nothing', async () => {
    const { app } = testApp();
    const t = app.task(function slowly() {
      return 'ran';
    }, { name: 'tasks.slowly', rateLimit: '1/h' });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 'ran', 'the first token is free');
      const waiting = await t.delay();
      await sleep(100);
      assert.equal(await waiting.state(), States.PENDING, 'waiting for the next token, an hour away');
      const bad = await app.control.rateLimit('tasks.slowly', 'fast', { reply: true, timeout: 1, limit: 1 });
      assert.match(String((Object.values(bad[0]!)[0] as { error: string }).error), /Invalid rate limit string/);
      assert.equal(t.rateLimit, '1/h');
      await app.control.rateLimit('tasks.slowly', '50/s', { reply: true, timeout: 1, limit: 1 });
      assert.equal(await waiting.get({ timeout: 3 }), 'ran');
    });
  });
});

describe('time limits', () => {
  it('aborts the request signal with SoftTimeLimitExceeded so the task can clean up', async () => {
    const { app, log } = testApp();
    const t = app.task(async function slow(self: Task) {
      try {
        await sleep(10_000, self.request.signal);
        return 'finished';
      } catch (err) {
        if (err instanceof SoftTimeLimitExceeded) return 'cleaned up in a hurry';
        throw err;
      }
    }, { name: 'tasks.slow', bind: true, softTimeLimit: 0.05 });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 'cleaned up in a hurry');
    });
    assert.equal(log.grep('Soft time limit (0.05s) exceeded').length, 1);
  });

  it('fails a task past its hard limit with TimeLimitExceeded and keeps working', async () => {
    const { app } = testApp();
    const hang = app.task(function hang() {
      return new Promise(() => undefined);
    }, { name: 'tasks.hang' });
    const ok = app.task(function ok() {
      return 'ok';
    }, { name: 'tasks.ok' });
    await withWorker(app, async (worker) => {
      const r = await hang.applyAsync([], {}, { timeLimit: 0.05 });
      await assert.rejects(r.get({ timeout: 5 }), TimeLimitExceeded);
      assert.equal(await r.state(), States.FAILURE);
      assert.equal(worker.active.size, 0);
      assert.equal(await (await ok.delay()).get({ timeout: 5 }), 'ok');
    }, { concurrency: 1 });
  });

  it('takes per-call limits from the timelimit header', async () => {
    const { app } = testApp();
    const t = app.task(async function wait(self: Task) {
      await sleep(10_000, self.request.signal);
    }, { name: 'tasks.wait', bind: true, timeLimit: 100 });
    await withWorker(app, async () => {
      const r = await t.applyAsync([], {}, { softTimeLimit: 0.02, timeLimit: 0.5 });
      await assert.rejects(r.get({ timeout: 5 }), SoftTimeLimitExceeded);
    });
  });
});

describe('revoke', () => {
  it('stops a running task with terminate and records REVOKED', async () => {
    const { app } = testApp();
    const t = app.task(async function forever(self: Task) {
      await sleep(60_000, self.request.signal);
    }, { name: 'tasks.forever', bind: true });
    await withWorker(app, async (worker) => {
      const r = await t.delay();
      await until(() => worker.active.has(r.id), 'the task to start');
      await r.revoke({ terminate: true });
      await assert.rejects(r.get({ timeout: 5 }), TaskRevokedError);
      assert.equal(await r.state(), States.REVOKED);
    });
  });

  it('skips a task revoked while it waits for its ETA', async () => {
    const { app } = testApp();
    let ran = false;
    const t = app.task(function later() {
      ran = true;
    }, { name: 'tasks.later' });
    await withWorker(app, async (worker) => {
      const r = await t.applyAsync([], {}, { countdown: 0.1 });
      await until(() => worker.prefetch > 16, 'the task to be held');
      await r.revoke();
      await until(async () => (await r.state()) === States.REVOKED, 'REVOKED');
    });
    assert.equal(ran, false);
  });
});

describe('limits beyond 2^31-1 ms', () => {
  it('a 30-day hard and soft time limit does not fire at once (Node would run it after 1 ms)', async () => {
    const { app } = testApp();
    const t = app.task(async function slowish() {
      await new Promise((r) => setTimeout(r, 50));
      return 'finished';
    }, { name: 'tasks.month', timeLimit: 2_592_000, softTimeLimit: 2_591_000 });
    await withWorker(app, async () => {
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 'finished');
      const r = await t.applyAsync([], {}, { timeLimit: 3_000_000 });
      assert.equal(await r.get({ timeout: 5 }), 'finished');
    });
  });

  it('a task whose ETA is 30 days ahead waits (mock clock), and runs once it is due', async () => {
    const { app } = testApp();
    let runs = 0;
    const t = app.task(function later() {
      return ++runs;
    }, { name: 'tasks.later' });
    const DAY = 86_400_000;
    await withWorker(app, async (worker) => {
      mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
      try {
        await t.applyAsync([], {}, { countdown: 30 * 86_400 });
        for (let i = 0; i < 200 && worker.received.size === 0; i++) await new Promise<void>((r) => setImmediate(r));
        assert.equal(worker.received.size, 1, 'received and held');
        mock.timers.tick(2 ** 31);
        for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
        assert.equal(runs, 0, 'not after 24.8 days');
        mock.timers.tick(30 * DAY - 2 ** 31 + 10);
        for (let i = 0; i < 200 && runs === 0; i++) await new Promise<void>((r) => setImmediate(r));
        assert.equal(runs, 1);
      } finally {
        mock.timers.reset();
      }
    });
  });

  it('refuses a message whose timelimit is not [hard|null, soft|null] seconds >= 0, with one line', async () => {
    const { app, log } = testApp();
    let runs = 0;
    app.task(function limited() {
      return ++runs;
    }, { name: 'tasks.limited' });
    const transport = await app.getTransport();
    const bad: unknown[] = [[-1, null], [null, 'x'], 'soon', [1, 2, 3], { hard: 1 }, [Number.NaN, null]];
    await withWorker(app, async (worker) => {
      const rejected: Error[] = [];
      worker.on('task-rejected', (err) => rejected.push(err));
      for (const [i, timelimit] of bad.entries()) {
        const m = encodeTaskMessage({ task: 'tasks.limited', id: `tl-${i}`, args: [], kwargs: {}, origin: 't', serializer: 'json' }, app.codecs);
        await transport.publish({ ...m, headers: { ...m.headers, timelimit } }, { exchange: '', routingKey: 'celery' });
      }
      await until(() => rejected.length === bad.length, 'every bad timelimit rejected');
      assert.equal(runs, 0);
      assert.equal(log.grep("field 'timelimit' must be [hard, soft]").filter((l) => l.endsWith('; message rejected')).length, bad.length);
      assert.equal(log.grep('Hard time limit').length, 0);
    });
  });
});
