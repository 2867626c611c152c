/** Errbacks: Celery's new style (called in place with the request, error and traceback) and old style (sent with the id). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

describe('errbacks', () => {
  it("taking (request, exc, traceback) are called in place, Celery's new style; others get the task id", async () => {
    const { app } = testApp();
    const boom = app.task(function boom() {
      throw new RangeError('boom');
    }, { name: 'r.boom' });
    const seen: unknown[] = [];
    const newStyle = app.task(function onError(request: Request, exc: Error, traceback: string) {
      seen.push(['new', request.id, exc.message, typeof traceback]);
    }, { name: 'r.on_error' });
    const oldStyle = app.task(function onErrorOld(taskId: string) {
      seen.push(['old', taskId]);
    }, { name: 'r.on_error_old' });
    await withWorker(app, async () => {
      const r = await boom.applyAsync([], {}, { linkError: [newStyle.s(), oldStyle.s()] });
      await assert.rejects(r.get({ timeout: 5 }), RangeError);
      for (const deadline = Date.now() + 5000; seen.length < 2 && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(seen, [['new', r.id, 'boom', 'string'], ['old', r.id]]);
    });
  });
});
