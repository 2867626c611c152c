import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { sleep } from '../../src/index.js';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/utils/long-timeout.js';

const DAY = 86_400_000;

describe('setLongTimeout', () => {
  it('waits the whole delay past 2^31-1 ms, chaining timers (mock clock)', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let fired = 0;
      setLongTimeout(() => fired++, 30 * DAY);
      mock.timers.tick(1);
      assert.equal(fired, 0, 'not after 1 ms, as a bare setTimeout would');
      mock.timers.tick(MAX_TIMER_MS - 1);
      assert.equal(fired, 0, 'not after the first link of the chain');
      mock.timers.tick(30 * DAY - MAX_TIMER_MS - 1);
      assert.equal(fired, 0, 'not 1 ms early');
      mock.timers.tick(1);
      assert.equal(fired, 1);
      mock.timers.tick(MAX_TIMER_MS);
      assert.equal(fired, 1, 'once');
    } finally {
      mock.timers.reset();
    }
  });

  it('short delays behave as setTimeout; clear() stops a chain midway; Infinity never fires', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const fired: string[] = [];
      setLongTimeout(() => fired.push('short'), 10);
      const long = setLongTimeout(() => fired.push('long'), 60 * DAY);
      setLongTimeout(() => fired.push('never'), Infinity);
      setLongTimeout(() => fired.push('nan'), Number.NaN);
      mock.timers.tick(10);
      assert.deepEqual(fired, ['nan', 'short']);
      mock.timers.tick(MAX_TIMER_MS);
      long.clear();
      long.clear();
      for (let i = 0; i < 20; i++) mock.timers.tick(MAX_TIMER_MS);
      assert.deepEqual(fired, ['nan', 'short']);
    } finally {
      mock.timers.reset();
    }
  });

  it('sleep() of 60 days does not resolve early (mock clock)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let done = false;
      void sleep(60 * DAY).then(() => (done = true));
      mock.timers.tick(MAX_TIMER_MS);
      mock.timers.tick(MAX_TIMER_MS);
      await Promise.resolve();
      assert.equal(done, false);
      mock.timers.tick(60 * DAY - 2 * MAX_TIMER_MS);
      await new Promise<void>((r) => setImmediate(r));
      assert.equal(done, true);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('time limit settings', () => {
  it('refuse negative, NaN and non-numeric task_time_limit / task_soft_time_limit', async () => {
    const { Celeriac } = await import('../../src/index.js');
    for (const bad of [-1, Number.NaN, '10', Infinity]) {
      assert.throws(() => new Celeriac('x', { broker: 'memory://', task_time_limit: bad }), /taskTimeLimit' must be null or seconds >= 0/);
      assert.throws(() => new Celeriac('x', { broker: 'memory://', task_soft_time_limit: bad }), /taskSoftTimeLimit' must be null or seconds >= 0/);
    }
    assert.equal(new Celeriac('x', { broker: 'memory://', task_time_limit: 2_592_000 }).conf.taskTimeLimit, 2_592_000);
  });
});
