import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp, withWorker } from '../helpers/app.js';

describe('blocked event loop', () => {
  it('is reported after the fact, naming the running task and suggesting the process pool', async () => {
    const { app, log } = testApp();
    const burn = app.task(function burn(ms: number) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // CPU-bound work on the async pool.
      }
      return ms;
    }, { name: 'tasks.burn' });
    await withWorker(app, async () => {
      const r = await burn.delay(700);
      assert.equal(await r.get({ timeout: 5 }), 700);
      await new Promise((res) => setTimeout(res, 300));
      const warnings = log.grep('event loop blocked');
      assert.equal(warnings.length, 1, log.lines.join('\n'));
      assert.match(warnings[0]!, new RegExp(`while running tasks\\.burn\\[${r.id}\\]`));
      assert.match(warnings[0]!, /-P process/);
      const quick = await burn.delay(10);
      await quick.get({ timeout: 5 });
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(log.grep('event loop blocked').length, 1, 'a short task is not reported');
    }, { blockedLoopWarning: 0.4 });
  });
});
